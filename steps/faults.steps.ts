// A failing host: faults injected into the host kernel's AIO (an io_submit that fails, a completion
// with an error), a power loss; the monitor's cont for a VM an I/O error stopped; and what is left
// on the disk afterwards.

import { Given, When, Then } from '@cucumber/cucumber';
import { expect } from 'chai';
import { ERRNO } from '../src/uapi/errno';
import type { ActionResult, GuestKernel } from '../src/guest/kernel';
import type { KCode } from '../src/guest/io';
import type { Durability } from '../src/host/disk';
import { queueWrite } from './support/guest_requests';
import type { ExitpathWorld } from './support/world';

function errno(name: string): number {
  const n = (ERRNO as Record<string, number>)[name];
  if (n === undefined) throw new Error(`'${name}' is not an errno this model knows (${Object.keys(ERRNO).join(', ')})`);
  return n;
}

Given('the AIO completes with {word}', function (this: ExitpathWorld, name: string) {
  this.stack.host.aio.faults.complete = { errno: errno(name), count: 1 };
  this.faultsInjected = true;
});

Given('every AIO completes with {word}', function (this: ExitpathWorld, name: string) {
  this.stack.host.aio.faults.complete = { errno: errno(name), count: Infinity };
  this.faultsInjected = true;
});

Given('the host\'s io_submit fails with {word}', function (this: ExitpathWorld, name: string) {
  this.stack.host.aio.faults.submit = { errno: errno(name), count: 1 };
  this.faultsInjected = true;
});

Given('the host\'s AIO ring has room for {int} request(s)', function (this: ExitpathWorld, n: number) {
  const ctxs = this.stack.host.aio.contexts();
  if (ctxs.length === 0) throw new Error('qemu has no AIO context (the disk backend is not linux-aio)');
  for (const c of ctxs) c.slots = n;
  this.faultsInjected = true;
});

When('the host loses power', function (this: ExitpathWorld) {
  this.stack.powerLoss();
});

When('the VM is resumed', function (this: ExitpathWorld) {
  this.resume();
});

/** Two one-sector writes, each kicked as soon as it is queued, then the wait for both. */
function twoKicks(a: { text: string; sector: number }, b: { text: string; sector: number }) {
  return (k: GuestKernel): KCode<ActionResult> => (function* () {
    const first = queueWrite(k, a.text, a.sector);
    yield* k.blk.vp_notify();
    const second = queueWrite(k, b.text, b.sector);
    yield* k.blk.vp_notify();
    yield* k.wait_for_completion(first.req);
    yield* k.wait_for_completion(second.req);
    const st = first.req.status || second.req.status;
    return { value: st, errno: st < 0 ? -st : null };
  })();
}

When('the guest writes {string} to sector {int} and {string} to sector {int}, kicking after each', function (this: ExitpathWorld, t1: string, s1: number, t2: string, s2: number) {
  this.run(twoKicks({ text: t1, sector: s1 }, { text: t2, sector: s2 }));
});

// ---------------------------------------------------------------- Then

Then('the VM is paused with an I\\/O error', function (this: ExitpathWorld) {
  expect(this.last.state, `the action ended ${this.last.state}`).to.equal('paused');
  expect(this.stack.qemu.runstate).to.equal('io-error');
  const stops = this.last.events.filter((e) => e.name === 'vm_stop').map((e) => String(e.detail.reason));
  expect(stops).to.deep.equal(['io-error']);
});

Then('no vCPU enters the guest once the VM is stopped', function (this: ExitpathWorld) {
  const ev = this.last.events;
  const stop = ev.findIndex((e) => e.name === 'vm_stop');
  expect(stop, 'the walk has no vm_stop').to.be.greaterThan(-1);
  const after = ev.slice(stop + 1).filter((e) => e.kind === 'vm-entry' || (e.kind === 'ioctl' && e.name === 'KVM_RUN'));
  expect(after.map((e) => `${e.from} → ${e.to}: ${e.name}`), 'entries and KVM_RUN after vm_stop').to.deep.equal([]);
});

Then('the VM runs again', function (this: ExitpathWorld) {
  expect(this.stack.qemu.runstate).to.equal('running');
  expect(this.last.events.filter((e) => e.name === 'vm_start').length, 'vm_start in the walk').to.equal(1);
});

Then('qemu applies the {word} policy to the {word} error', function (this: ExitpathWorld, action: string, name: string) {
  const e = this.last.events.filter((x) => x.name === 'virtio_blk_handle_rw_error').map((x) => `${String(x.detail.action)} ${Number(x.detail.error)}`);
  expect(e).to.deep.equal([`${action} ${errno(name)}`]);
});

Then('the host\'s io_submit fails with {word} {int} time(s)', function (this: ExitpathWorld, name: string, n: number) {
  const failed = this.last.summary.hostSyscalls.filter((s) => s.name === 'io_submit' && s.result === -errno(name));
  expect(failed.length).to.equal(n);
});

Then('the disk image does not hold {string} at byte {int}', function (this: ExitpathWorld, text: string, offset: number) {
  const want = new TextEncoder().encode(text);
  const got = new TextDecoder().decode(this.stack.image.pread(offset, want.length));
  expect(got).to.not.equal(text);
});

const WHERE: Record<string, Durability> = {
  'in the host page cache': 'host page cache', "in the disk's write cache": 'disk write cache', 'on stable storage': 'stable storage',
};
Then(/^the data at byte (\d+) is (in the host page cache|in the disk's write cache|on stable storage)$/, function (this: ExitpathWorld, offset: string, where: string) {
  expect(this.stack.image.durability(Number(offset), 512)).to.equal(WHERE[where]);
});
