// When: workloads — many operations in one action, without returning to the harness in between.

import { stepsAbout } from './support/define';
import { loopAction, writeBlocksAction } from '../src/guest/actions';
import type { ExitpathWorld } from './support/world';

const { When } = stepsAbout('workloads');

When('the guest process writes {int} blocks of {int} KiB to {string}', { doc: 'a workload: open(O_CREAT|O_WRONLY|O_DIRECT), N write() calls of one buffer each (write i filled with the letter \'A\' + i mod 26), close; one action, so the Then steps see every walk (`exitpath explain "write-blocks N KIB PATH"`)' }, function (this: ExitpathWorld, blocks: number, kib: number, path: string) {
  this.run(writeBlocksAction(blocks, kib, path));
});

When('the guest executes {string} {int} times', { doc: 'an exit storm: the instruction in a loop in the guest kernel, without returning to the harness; stops at the first fault (`exitpath explain "loop N INSN"`)' }, function (this: ExitpathWorld, insn: string, n: number) {
  this.run(loopAction(insn, n));
});
