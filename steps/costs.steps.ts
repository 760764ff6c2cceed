// The cost model against published ratios: each action on a fresh VM, cycles from its walk.

import { Then } from '@cucumber/cucumber';
import { expect } from 'chai';
import { applySet } from '../src/config';
import { explain } from '../src/walk';
import type { ExitpathWorld } from './support/world';

function cycles(w: ExitpathWorld, action: string, sets: string): number {
  let c = w.config;
  for (const s of sets.split(/\s+/).filter(Boolean)) c = applySet(c, s);
  return explain(c, action).summary.cycles;
}

Then(/^"([^"]+)"( with [^"]+)? costs between ([\d.]+) and ([\d.]+) times "([^"]+)"$/,
  function (this: ExitpathWorld, a: string, sets: string | undefined, lo: string, hi: string, b: string) {
    const ca = cycles(this, a, (sets ?? '').replace(/^ with /, ''));
    const cb = cycles(this, b, '');
    const ratio = ca / cb;
    expect(ratio, `${a}: ${ca} cycles, ${b}: ${cb} cycles`).to.be.within(Number(lo), Number(hi));
  });
