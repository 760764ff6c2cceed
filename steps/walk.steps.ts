// Then: the walk through the boxes — crossings in order, and the seed's stages.

import { type DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { LAYER_JA, VOCABULARY as V } from '../src/report/vocabulary';
import type { TraceEvent } from '../src/trace/recorder';
import { DISPATCH_EVENTS } from '../src/qemu/memory';
import { stepsAbout } from './support/define';
import { SpecError, type ExitpathWorld } from './support/world';

const { Then } = stepsAbout('the walk through the boxes');

const fmt = (e: TraceEvent) => `${e.from} | ${e.to} | ${e.name}`;

/**
 * The rows of a crossing table (columns from | to | name, or the seed's 送り手 | 受け手 | 名前 with
 * the boxes named in Japanese) are a subsequence of the trace's crossings.
 */
Then(V.crosses, { doc: 'a table `from | to | name` (in Japanese `送り手 | 受け手 | 名前`): its rows are a subsequence of the trace\'s crossings' }, function (this: ExitpathWorld, table: DataTable) {
  const [head, ...body] = table.raw();
  const col = (names: string[]) => head!.findIndex((h) => names.includes(h));
  const [f, t, n] = [col(['from', '送り手']), col(['to', '受け手']), col(['name', '名前'])];
  if (f < 0 || t < 0 || n < 0) throw new SpecError(`the table needs columns from | to | name (got ${head!.join(' | ')})`);
  const layer = (s: string) => {
    const l = LAYER_JA[s] ?? s;
    this.checkName('layer', l, false);
    return l;
  };
  const rows = body.map((r) => ({ from: layer(r[f]!), to: layer(r[t]!), name: r[n]! }));
  for (const r of rows) this.checkName('event', r.name, false);
  const crossings = this.last.events.filter((e) => e.from !== e.to);
  let i = 0;
  for (const [k, r] of rows.entries()) {
    while (i < crossings.length && !(crossings[i]!.from === r.from && crossings[i]!.to === r.to && crossings[i]!.name === r.name)) i++;
    if (i === crossings.length) {
      throw new Error(`row ${k + 1} (${r.from} | ${r.to} | ${r.name}) does not follow row ${k} in the walk. The crossings were:\n  ${crossings.map(fmt).join('\n  ')}`);
    }
    i++;
  }
});

/** Code run inside one box (a call, a tracepoint, an exit handler), in order, others allowed between. */
Then('the walk runs, in order:', { doc: 'a table `in | name`: code run inside one box (a call, a tracepoint, an exit handler), a subsequence of the walk\'s events inside boxes' }, function (this: ExitpathWorld, table: DataTable) {
  const rows = table.hashes();
  for (const r of rows) {
    if (!('in' in r) || !('name' in r)) throw new SpecError(`the table needs columns in | name (got ${Object.keys(r).join(' | ')})`);
    this.checkName('layer', r.in!, false);
    this.checkName('event', r.name!, false);
  }
  const inside = this.last.events.filter((e) => e.from === e.to);
  let i = 0;
  for (const [n, r] of rows.entries()) {
    while (i < inside.length && !(inside[i]!.from === r.in && inside[i]!.name === r.name)) i++;
    if (i === inside.length) {
      throw new Error(`row ${n + 1} (${r.in} | ${r.name}) does not follow row ${n} in the walk. It ran:\n  ${inside.map((e) => `${e.from} | ${e.name}`).join('\n  ')}`);
    }
    i++;
  }
});

const stages = (w: ExitpathWorld) => w.last.events.filter((e) => e.stage !== undefined).map((e) => e.stage!);

Then(V.stagesRange, { doc: 'the seed\'s ①–⑩ found on the walk, in order, and no other', names: ['stage', 'stage'] }, function (this: ExitpathWorld, a: number, b: number) {
  const want = Array.from({ length: b - a + 1 }, (_, k) => a + k);
  expect(stages(this), 'stages in trace order').to.deep.equal(want);
});

Then(V.stagesList, { doc: 'exactly those stages, in order (`"1 2 3 8 9 10"`)' }, function (this: ExitpathWorld, list: string) {
  const want = list.split(/[ ,、]+/).filter(Boolean);
  for (const s of want) this.checkName('stage', s, false);
  expect(stages(this)).to.deep.equal(want.map(Number));
});

Then(V.dispatches, { doc: 'qemu\'s memory-region dispatch sent the first device access to that device (`virtio-blk-pci`)', names: ['device'] }, function (this: ExitpathWorld, device: string) {
  const d = this.last.events.filter((e) => e.kind === 'call' && DISPATCH_EVENTS.has(e.name));
  expect(d.length, 'qemu-kvm dispatched no device access').to.be.greaterThan(0);
  expect(d[0]!.detail.device, `devices: ${d.map((e) => e.detail.device).join(', ')}`).to.equal(device);
});

Then(/^the guest kicks the device (\d+) times?$/, { doc: 'virtqueue notifications the guest\'s driver sent', example: 'the guest kicks the device 1 time', scope: true }, function (this: ExitpathWorld, n: string) {
  const kicks = this.scoped.events.filter((e) => e.kind === 'call' && e.name === 'vp_notify');
  expect(kicks.length, `kicks ${this.scopeWords}`).to.equal(Number(n));
});
