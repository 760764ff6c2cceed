// A failing host: faults injected into the host kernel's AIO (an io_submit that fails, a completion
// with an error), a power loss; the monitor's cont for a VM an I/O error stopped; and what is left
// on the disk afterwards.

import { expect } from 'chai';
import { ERRNO } from '../src/uapi/errno';
import type { ActionResult, GuestKernel } from '../src/guest/kernel';
import type { KCode } from '../src/guest/io';
import type { Durability } from '../src/host/disk';
import { queueWrite } from './support/guest_requests';
import { stepsAbout } from './support/define';
import { SpecError, type ExitpathWorld } from './support/world';

const { Given, When, Then } = stepsAbout('host faults and durability');

/** An errno by name (the steps check the name against the vocabulary first). */
const errno = (name: string): number => (ERRNO as Record<string, number>)[name]!;

Given('the AIO completes with {word}', { doc: 'the next host AIO completion carries `-EIO`, `-ENOSPC`… instead of the I/O', names: ['errno'] }, function (this: ExitpathWorld, name: string) {
  this.stack.host.aio.faults.complete = { errno: errno(name), count: 1 };
});

Given('every AIO completes with {word}', { doc: 'every host AIO completion from here on carries that error instead of the I/O', names: ['errno'] }, function (this: ExitpathWorld, name: string) {
  this.stack.host.aio.faults.complete = { errno: errno(name), count: Infinity };
});

Given('the host\'s io_submit fails with {word}', { doc: 'the next io_submit returns `-EAGAIN` (or another errno) before looking at an iocb', names: ['errno'] }, function (this: ExitpathWorld, name: string) {
  this.stack.host.aio.faults.submit = { errno: errno(name), count: 1 };
});

Given('the host\'s AIO ring has room for {int} request(s)', { doc: 'qemu\'s AIO context gets that many request slots (aio_get_req then says EAGAIN)' }, function (this: ExitpathWorld, n: number) {
  const ctxs = this.stack.host.aio.contexts();
  if (ctxs.length === 0) throw new SpecError('qemu has no AIO context (the disk backend is not linux-aio)');
  for (const c of ctxs) c.slots = n;
});

When('the host loses power', { doc: 'the host\'s page cache and the disk\'s write cache are gone, and so is the machine' }, function (this: ExitpathWorld) {
  this.stack.powerLoss();
});

When('the VM is resumed', { doc: 'the monitor\'s `cont` for a VM an I/O error stopped: vm_start, and the unfinished action goes on' }, function (this: ExitpathWorld) {
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

When('the guest writes {string} to sector {int} and {string} to sector {int}, kicking after each', { doc: 'two one-sector writes, each kicked as soon as queued, then the wait for both' }, function (this: ExitpathWorld, t1: string, s1: number, t2: string, s2: number) {
  this.rawDiskWrites = true;
  this.run(twoKicks({ text: t1, sector: s1 }, { text: t2, sector: s2 }));
});

// ---------------------------------------------------------------- Then

Then('the VM is paused with an I\\/O error', { doc: 'the run state is io-error, vm_stop in the walk, the action unfinished' }, function (this: ExitpathWorld) {
  this.stateStated = true;
  expect(this.last.state, `the action ended ${this.last.state}`).to.equal('paused');
  expect(this.stack.qemu.runstate).to.equal('io-error');
  const stops = this.last.events.filter((e) => e.name === 'vm_stop').map((e) => String(e.detail.reason));
  expect(stops).to.deep.equal(['io-error']);
});

Then('no vCPU enters the guest once the VM is stopped', { doc: 'no VM entry and no KVM_RUN after vm_stop in the walk' }, function (this: ExitpathWorld) {
  const ev = this.last.events;
  const stop = ev.findIndex((e) => e.name === 'vm_stop');
  expect(stop, 'the walk has no vm_stop').to.be.greaterThan(-1);
  const after = ev.slice(stop + 1).filter((e) => e.kind === 'vm-entry' || (e.kind === 'ioctl' && e.name === 'KVM_RUN'));
  expect(after.map((e) => `${e.from} → ${e.to}: ${e.name}`), 'entries and KVM_RUN after vm_stop').to.deep.equal([]);
});

Then('the VM runs again', { doc: 'running, with vm_start in the walk' }, function (this: ExitpathWorld) {
  expect(this.stack.qemu.runstate).to.equal('running');
  expect(this.last.events.filter((e) => e.name === 'vm_start').length, 'vm_start in the walk').to.equal(1);
});

Then('qemu applies the {word} policy to the {word} error', { doc: 'virtio_blk_handle_rw_error\'s action (`report`, `ignore`, `stop`) for that errno', names: [null, 'errno'] }, function (this: ExitpathWorld, action: string, name: string) {
  const e = this.last.events.filter((x) => x.name === 'virtio_blk_handle_rw_error').map((x) => `${String(x.detail.action)} ${Number(x.detail.error)}`);
  expect(e).to.deep.equal([`${action} ${errno(name)}`]);
});

Then('the host\'s io_submit fails with {word} {int} time(s)', { doc: 'io_submit syscalls that returned that errno', names: ['errno'], scope: true }, function (this: ExitpathWorld, name: string, n: number) {
  const failed = this.scoped.summary.hostSyscalls.filter((s) => s.name === 'io_submit' && s.result === -errno(name));
  expect(failed.length).to.equal(n);
});

Then('the disk image does not hold {string} at byte {int}', { doc: 'the bytes the disk returns there differ' }, function (this: ExitpathWorld, text: string, offset: number) {
  const want = new TextEncoder().encode(text);
  const got = new TextDecoder().decode(this.stack.image.pread(offset, want.length));
  expect(got).to.not.equal(text);
});

const WHERE: Record<string, Durability> = {
  'in the host page cache': 'host page cache', "in the disk's write cache": 'disk write cache', 'on stable storage': 'stable storage',
};
Then(/^the data at byte (\d+) is (in the host page cache|in the disk's write cache|on stable storage)$/, { doc: 'the least durable place the sector\'s newest bytes are held: `in the host page cache`, `in the disk\'s write cache` or `on stable storage`', example: 'the data at byte 0 is on stable storage' }, function (this: ExitpathWorld, offset: string, where: string) {
  expect(this.stack.image.durability(Number(offset), 512)).to.equal(WHERE[where]);
});
