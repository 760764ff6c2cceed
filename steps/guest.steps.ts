// When: what the guest does. Each step runs one action to completion in the running guest.

import { When } from '@cucumber/cucumber';
import { fsyncAction, instructionAction, readAction, writeAction, writeWhileComputingAction } from '../src/guest/actions';
import type { ExitpathWorld } from './support/world';

When('the guest process writes {string} to {string}', function (this: ExitpathWorld, text: string, path: string) {
  this.run(writeAction(new TextEncoder().encode(text), path));
});

When('the guest process reads {int} bytes from {string}', function (this: ExitpathWorld, n: number, path: string) {
  this.run(readAction(n, path));
});

When('the guest process calls fsync on {string}', function (this: ExitpathWorld, path: string) {
  this.run(fsyncAction(path));
});

When('the guest executes {string}', function (this: ExitpathWorld, insn: string) {
  this.run(instructionAction(insn));
});

/** The write, while another process on vCPU 0 computes: the writer sleeps and the CPU stays in the guest. */
When('the guest process writes {string} to {string} while another process computes for {int} µs', function (this: ExitpathWorld, text: string, path: string, us: number) {
  this.run(writeWhileComputingAction(new TextEncoder().encode(text), path, us * 1000 * this.stack.clock.ghz));
});
