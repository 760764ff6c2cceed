// When: workloads — many operations in one action, without returning to the harness in between.

import { When } from '@cucumber/cucumber';
import { loopAction, writeBlocksAction } from '../src/guest/actions';
import type { ExitpathWorld } from './support/world';

When('the guest process writes {int} blocks of {int} KiB to {string}', function (this: ExitpathWorld, blocks: number, kib: number, path: string) {
  this.run(writeBlocksAction(blocks, kib, path));
});

When('the guest executes {string} {int} times', function (this: ExitpathWorld, insn: string, n: number) {
  this.run(loopAction(insn, n));
});
