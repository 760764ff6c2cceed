// Then: what the host kernel saw — syscalls from qemu-kvm, and the disk image.

import { Then } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { ExitpathWorld } from './support/world';

const names = (w: ExitpathWorld) => w.last.summary.hostSyscalls.map((s) => (s.request ? `ioctl(${s.request})` : s.name));

Then('the host calls {word}', function (this: ExitpathWorld, name: string) {
  const all = this.last.summary.hostSyscalls;
  expect(all.some((s) => s.name === name || s.request === name), `host syscalls: ${names(this).join(', ') || 'none'}`).to.equal(true);
});

Then('the host does not call {word}', function (this: ExitpathWorld, name: string) {
  const all = this.last.summary.hostSyscalls;
  expect(all.some((s) => s.name === name || s.request === name), `host syscalls: ${names(this).join(', ')}`).to.equal(false);
});

Then('the host makes no syscall', function (this: ExitpathWorld) {
  expect(names(this)).to.deep.equal([]);
});

Then('the host calls {word} {int} time(s)', function (this: ExitpathWorld, name: string, n: number) {
  const c = this.last.summary.hostSyscalls.filter((s) => s.name === name || s.request === name).length;
  expect(c, `host syscalls: ${names(this).join(', ')}`).to.equal(n);
});

Then('the disk image holds {string} at byte {int}', function (this: ExitpathWorld, text: string, offset: number) {
  const want = new TextEncoder().encode(text);
  const got = this.stack.image.pread(offset, want.length);
  expect(new TextDecoder().decode(got)).to.equal(text);
});

Then(/^the host makes (\d+) syscalls?$/, function (this: ExitpathWorld, n: string) {
  expect(names(this).length, `host syscalls: ${names(this).join(', ')}`).to.equal(Number(n));
});

Then('the disk image is blank at byte {int}', function (this: ExitpathWorld, offset: number) {
  const block = this.stack.image.pread(offset, 4096);
  expect(block.every((b) => b === 0), 'the 4 KiB there hold data').to.equal(true);
});

Then(/^(qemu-kvm|the vhost-user-blk backend) makes no syscall$/, function (this: ExitpathWorld, who: string) {
  const proc = who === 'qemu-kvm' ? 'qemu-kvm' : 'vhost-user-blk';
  const mine = this.last.summary.hostSyscalls.filter((s) => s.process === proc).map((s) => (s.request ? `ioctl(${s.request})` : s.name));
  expect(mine, `${who}'s syscalls`).to.deep.equal([]);
});

Then(/^the vhost-user-blk backend calls (\w+)$/, function (this: ExitpathWorld, name: string) {
  const mine = this.last.summary.hostSyscalls.filter((s) => s.process === 'vhost-user-blk');
  expect(mine.map((s) => s.name), 'the backend\'s syscalls').to.include(name);
});
