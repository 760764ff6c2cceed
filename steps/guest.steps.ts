// When: what the guest does. Each step runs one action in the running guest until it completes, or
// until nothing more can happen (the VM paused, the guest halted or waiting): then the Then steps say how.

import { fsyncAction, instructionAction, readAction, writeAction, writeWhileComputingAction } from '../src/guest/actions';
import { VOCABULARY as V } from '../src/report/vocabulary';
import { stepsAbout } from './support/define';
import type { ExitpathWorld } from './support/world';

const { When } = stepsAbout('what the guest does');

When(V.writes, { doc: 'open(O_CREAT|O_WRONLY|O_SYNC), one write() — through the page cache, written back and flushed before it returns — close' }, function (this: ExitpathWorld, text: string, path: string) {
  this.run(writeAction(new TextEncoder().encode(text), path));
});

When(V.reads, { doc: 'open, one read(), close' }, function (this: ExitpathWorld, n: number, path: string) {
  this.run(readAction(n, path));
});

When(V.fsync, { doc: 'open, fsync() — writeback of dirty cached pages, then a virtio-blk FLUSH (host fdatasync) — close' }, function (this: ExitpathWorld, path: string) {
  this.run(fsyncAction(path));
});

When(V.executes, { doc: 'one instruction, or several separated by `;`: `cpuid 0x0`, `outw 0xc050 0x0`, `inl 0x1234`, `writel GPA V`, `rdmsr 0x1b`, `wrmsr MSR V`, `mov cr0 V`, `hlt`, `vmcall`, … (the instruction syntax is below)' }, function (this: ExitpathWorld, insn: string) {
  this.run(instructionAction(insn));
});

/** The write, while another process on vCPU 0 computes: the writer sleeps and the CPU stays in the guest. */
When('the guest process writes {string} to {string} while another process computes for {int} µs', { doc: 'the write, but while the writer sleeps the scheduler runs a process that computes (no exit): the completion interrupt arrives while the vCPU is in guest mode' }, function (this: ExitpathWorld, text: string, path: string, us: number) {
  this.run(writeWhileComputingAction(new TextEncoder().encode(text), path, us * 1000 * this.stack.clock.ghz));
});
