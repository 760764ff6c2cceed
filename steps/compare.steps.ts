// Comparing paths: the same action on fresh VMs of each configuration of `exitpath compare`.

import { stepsAbout } from './support/define';
import { expect } from 'chai';
import { IO_PATHS, compare, type Row } from '../src/compare';
import type { ExitpathWorld } from './support/world';

const { When, Then } = stepsAbout('the I/O paths side by side');

const rowsOf = new WeakMap<ExitpathWorld, Row[]>();

When('the guest process writes {string} to {string} on each path of "exitpath compare"', { doc: 'the same write on a fresh VM per I/O path of `exitpath compare`' }, function (this: ExitpathWorld, text: string, path: string) {
  const { rows, problems } = compare(`write "${text}" ${path}`, IO_PATHS, this.config);
  if (problems.length > 0) throw new Error(`the runs broke their invariants:\n  ${problems.join('\n  ')}`);
  rowsOf.set(this, rows);
});

Then('each path costs fewer modelled cycles than the one before, or the same when only the kind of syscall changed', { doc: 'the comparison\'s cycles along the ladder' }, function (this: ExitpathWorld) {
  const rows = rowsOf.get(this);
  if (!rows) throw new Error('no comparison has run: a When … on each path step must come first');
  for (let i = 1; i < rows.length; i++) {
    // Along the ladder each path adds a setting to the one before; a branch (vhost-user-blk) is
    // compared with the last path whose settings it keeps.
    const b = rows[i]!;
    const a = rows.slice(0, i).reverse().find((r) => r.sets.every((s) => b.sets.includes(s)))!;
    const sameShape = a.vmExits === b.vmExits && a.userspaceExits === b.userspaceExits && a.hostSyscalls === b.hostSyscalls;
    const msg = `${b.label} (${b.cycles}) vs ${a.label} (${a.cycles})`;
    // A walk that waits for the device jumps to the completion's absolute time, so two walks of the
    // same shape whose boots ended a fraction of a nanosecond apart differ by up to one cycle for
    // each completion waited for (one guest interrupt each).
    if (sameShape) expect(b.cycles, msg).to.be.at.most(a.cycles + Math.max(1, b.guestInterrupts));
    else expect(b.cycles, msg).to.be.below(a.cycles);
  }
});
