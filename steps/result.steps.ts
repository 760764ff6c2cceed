// Then: what the guest process or instruction got back — or that it has not got anything back yet.

import { expect } from 'chai';
import { VOCABULARY as V } from '../src/report/vocabulary';
import { stepsAbout } from './support/define';
import type { ExitpathWorld } from './support/world';

const { Then } = stepsAbout('what the guest got back');

Then(V.returns, { doc: 'the guest\'s result: bytes written or read, or the instruction\'s value (`the write returns 5`)' }, function (this: ExitpathWorld, n: string) {
  const r = this.result;
  expect(r.value, r.errno ? `it failed with ${r.errno}` : '').to.equal(Number(n));
});

/** The instruction's result as a signed 64-bit value (RAX = -KVM_ENOSYS after an unknown hypercall). */
Then(/^the instruction returns (-\d+)$/, { doc: 'a negative result (`-1000`: RAX = -KVM_ENOSYS after an unknown hypercall)', example: 'the instruction returns -1000' }, function (this: ExitpathWorld, n: string) {
  expect(this.result.value).to.equal(Number(n));
});

Then(V.returnsHex, { doc: 'the instruction\'s value in hex (`the instruction returns 0xffffffff`)', example: 'the instruction returns 0xffffffff' }, function (this: ExitpathWorld, hex: string) {
  expect('0x' + this.result.value.toString(16)).to.equal(hex.toLowerCase());
});

Then(V.fails, { doc: 'the call failed with that errno (`EIO`)', names: ['errno'] }, function (this: ExitpathWorld, errno: string) {
  expect(this.result.errno).to.equal(errno);
});

Then(V.fault, { doc: 'kvm injected that exception into the guest (`#GP`, `#UD`)' }, function (this: ExitpathWorld, fault: string) {
  if (!/^#[A-Z]{2}$/.test(fault)) throw new Error(`'${fault}' is not an exception mnemonic such as #GP or #UD`);
  expect(this.last.summary.guestResult.fault).to.equal(fault);
});

Then(V.processReads, { doc: 'the bytes a read() returned' }, function (this: ExitpathWorld, text: string) {
  void this.result;
  expect(new TextDecoder().decode(this.last.data ?? new Uint8Array(0))).to.equal(text);
});

/** The guest's call or instruction is still in progress: the VM is paused, or the guest waits and nothing will wake it. */
Then(/^the (?:write|read|call|instruction|fsync) has not returned$/, { doc: 'the action is unfinished: the VM is paused, or the guest waits (halted, or for the device) and nothing will wake it', example: 'the write has not returned' }, function (this: ExitpathWorld) {
  this.stateStated = true;
  expect(this.last.state, `the action ${this.last.state === 'done' ? 'returned' : this.last.state}`).to.not.equal('done');
});

Then('the VM is paused', { doc: 'qemu-kvm stopped the VM (an I/O error with werror or rerror `stop`, or a guest that stops it) and the action is unfinished' }, function (this: ExitpathWorld) {
  this.stateStated = true;
  expect(this.last.state, `the action ended ${this.last.state}${this.last.why ? `: ${this.last.why}` : ''}`).to.equal('paused');
});
