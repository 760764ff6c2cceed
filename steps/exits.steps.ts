// Then: VM exits and entries, as the trace recorded them.

import { Then } from '@cucumber/cucumber';
import { expect } from 'chai';
import { exitReasonName } from '../src/uapi/vmx';
import type { ExitpathWorld } from './support/world';

function firstExit(w: ExitpathWorld) {
  const e = w.last.summary.exits[0];
  if (!e) throw new Error('the action caused no VM exit');
  return e;
}

Then('the VM exit reason is {exitReason}', function (this: ExitpathWorld, reason: number) {
  const e = firstExit(this);
  expect(e.reason, `first VM exit: ${e.reason} (${e.reasonNumber})`).to.equal(exitReasonName(reason));
  expect(e.reasonNumber).to.equal(reason);
});

Then('kvm handles the exit with {word}', function (this: ExitpathWorld, handler: string) {
  expect(firstExit(this).handler).to.equal(handler);
});

Then('the exit is handled in the kernel', function (this: ExitpathWorld) {
  const e = firstExit(this);
  expect(e.handledIn, `the ${e.reason} exit reached qemu-kvm as ${e.userspaceExit}`).to.equal('kernel');
});

Then('the exit reaches qemu-kvm as {word}', function (this: ExitpathWorld, exit: string) {
  expect(firstExit(this).userspaceExit).to.equal(exit);
});

Then(/^there (?:is|are) (\d+) VM exits?$/, function (this: ExitpathWorld, n: string) {
  const exits = this.last.summary.exits;
  expect(exits.length, `exits: ${exits.map((e) => e.reason).join(', ') || 'none'}`).to.equal(Number(n));
});

Then(/^(\d+) exits? reach(?:es)? userspace$/, function (this: ExitpathWorld, n: string) {
  const up = this.last.summary.exits.filter((e) => e.handledIn === 'userspace');
  expect(up.length, `userspace exits: ${up.map((e) => `${e.reason}→${e.userspaceExit}`).join(', ') || 'none'}`).to.equal(Number(n));
});

Then('there is no VM exit', function (this: ExitpathWorld) {
  expect(this.last.summary.exits.map((e) => e.reason)).to.deep.equal([]);
});

Then('the first VM entry is {word}', function (this: ExitpathWorld, name: string) {
  expect(this.last.summary.entries[0]).to.equal(name);
});

Then('every later VM entry is {word}', function (this: ExitpathWorld, name: string) {
  const later = this.last.summary.entries.slice(1);
  expect(later.length, 'there is no later VM entry').to.be.greaterThan(0);
  expect(later.filter((e) => e !== name), `entries: ${later.join(', ')}`).to.deep.equal([]);
});

Then('every VM entry is {word}', function (this: ExitpathWorld, name: string) {
  const all = this.last.summary.entries;
  expect(all.length, 'there is no VM entry').to.be.greaterThan(0);
  expect(all.filter((e) => e !== name)).to.deep.equal([]);
});

Then(/^the guest takes (\d+) interrupts?$/, function (this: ExitpathWorld, n: string) {
  expect(this.last.summary.guestInterrupts).to.equal(Number(n));
});
