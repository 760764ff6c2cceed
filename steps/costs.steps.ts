// The cost model against published ratios: each action on a fresh VM, cycles from its walk.

import { stepsAbout } from './support/define';
import { expect } from 'chai';
import { applySet } from '../src/config';
import { explain } from '../src/walk';
import type { ExitpathWorld } from './support/world';

const { Then } = stepsAbout('modelled cost');

function cycles(w: ExitpathWorld, action: string, sets: string): number {
  let c = w.config;
  for (const s of sets.split(/\s+/).filter(Boolean)) c = applySet(c, s);
  return explain(c, action).summary.cycles;
}

Then(/^"([^"]+)"( with [^"]+)? costs between ([\d.]+) and ([\d.]+) times "([^"]+)"$/,
  { doc: 'the ratio of two actions\' modelled cycles, each on a fresh VM; the first may name settings as `with KEY=VALUE …`', example: '"write hello /a" with ioeventfd=true costs between 0.5 and 1 times "write hello /a"' },
  function (this: ExitpathWorld, a: string, sets: string | undefined, lo: string, hi: string, b: string) {
    const ca = cycles(this, a, (sets ?? '').replace(/^ with /, ''));
    const cb = cycles(this, b, '');
    const ratio = ca / cb;
    expect(ratio, `${a}: ${ca} cycles, ${b}: ${cb} cycles`).to.be.within(Number(lo), Number(hi));
  });
