// Then: what the host kernel saw — syscalls from qemu-kvm (ioctls by their request), and the disk image.

import { expect } from 'chai';
import { VOCABULARY as V } from '../src/report/vocabulary';
import { stepsAbout } from './support/define';
import type { ExitpathWorld } from './support/world';

const { Then } = stepsAbout('the host kernel: syscalls and the disk image');

const named = (s: { name: string; request?: string }) => (s.request ? `ioctl(${s.request})` : s.name);
const names = (w: ExitpathWorld) => w.scoped.summary.hostSyscalls.map(named);
const calls = (w: ExitpathWorld, name: string) => w.scoped.summary.hostSyscalls.filter((s) => s.name === name || s.request === name).length;

Then(V.hostCalls, { doc: 'a syscall from a host process (`io_submit`), or an ioctl by its request (`KVM_RUN`, `KVM_IRQ_LINE_STATUS`)', names: ['host syscall'], scope: true }, function (this: ExitpathWorld, name: string) {
  expect(calls(this, name), `host syscalls ${this.scopeWords}: ${names(this).join(', ') || 'none'}`).to.be.greaterThan(0);
});

Then(V.hostDoesNotCall, { doc: 'no such syscall or ioctl', names: ['host syscall'], negative: true, scope: true }, function (this: ExitpathWorld, name: string) {
  expect(calls(this, name), `host syscalls ${this.scopeWords}: ${names(this).join(', ') || 'none'}`).to.equal(0);
});

Then(V.hostCallsTimes, { doc: 'exactly that many', names: ['host syscall'], negative: true, scope: true }, function (this: ExitpathWorld, name: string, n: number) {
  expect(calls(this, name), `host syscalls ${this.scopeWords}: ${names(this).join(', ') || 'none'}`).to.equal(n);
});

Then(V.hostNoSyscall, { doc: 'no syscall at all, ioctls included', scope: true }, function (this: ExitpathWorld) {
  expect(names(this), `host syscalls ${this.scopeWords}`).to.deep.equal([]);
});

Then(V.syscallCount, { doc: 'every syscall of every host process, ioctls included', scope: true }, function (this: ExitpathWorld, n: string | number) {
  expect(names(this).length, `host syscalls ${this.scopeWords}: ${names(this).join(', ')}`).to.equal(Number(n));
});

Then(/^(qemu-kvm|the vhost-user-blk backend) makes no syscall$/, { doc: 'no syscall of that one process', example: 'qemu-kvm makes no syscall', scope: true }, function (this: ExitpathWorld, who: string) {
  const proc = who === 'qemu-kvm' ? 'qemu-kvm' : 'vhost-user-blk';
  const mine = this.scoped.summary.hostSyscalls.filter((s) => s.process === proc).map(named);
  expect(mine, `${who}'s syscalls ${this.scopeWords}`).to.deep.equal([]);
});

Then(/^the vhost-user-blk backend calls (\w+)$/, { doc: 'a syscall of the backend process', example: 'the vhost-user-blk backend calls io_submit', names: ['host syscall'] }, function (this: ExitpathWorld, name: string) {
  const mine = this.last.summary.hostSyscalls.filter((s) => s.process === 'vhost-user-blk');
  expect(mine.map((s) => s.name), 'the backend\'s syscalls').to.include(name);
});

Then(V.diskHolds, { doc: 'those bytes are in the host\'s image at that offset (as a read of the disk returns them)' }, function (this: ExitpathWorld, text: string, offset: number) {
  const want = new TextEncoder().encode(text);
  const got = this.stack.image.pread(offset, want.length);
  expect(new TextDecoder().decode(got)).to.equal(text);
});

Then('the disk image is blank at byte {int}', { doc: 'the 4 KiB there are still zero' }, function (this: ExitpathWorld, offset: number) {
  const block = this.stack.image.pread(offset, 4096);
  expect(block.every((b) => b === 0), 'the 4 KiB there hold data').to.equal(true);
});
