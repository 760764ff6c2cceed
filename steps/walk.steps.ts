// Then: the walk through the boxes — crossings in order, and the seed's stages.

import { Then, type DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { LAYERS } from '../src/trace/events';
import type { TraceEvent } from '../src/trace/recorder';
import { DISPATCH_EVENTS } from '../src/qemu/memory';
import type { ExitpathWorld } from './support/world';

const fmt = (e: TraceEvent) => `${e.from} | ${e.to} | ${e.name}`;

Then('the walk crosses, in order:', function (this: ExitpathWorld, table: DataTable) {
  const rows = table.hashes();
  for (const r of rows) {
    for (const k of ['from', 'to', 'name']) if (!(k in r)) throw new Error(`the table needs columns from | to | name (got ${Object.keys(r).join(' | ')})`);
    for (const k of ['from', 'to'] as const) {
      if (!(LAYERS as readonly string[]).includes(r[k]!)) throw new Error(`'${r[k]}' is not a layer: ${LAYERS.join(', ')}`);
    }
  }
  const crossings = this.last.events.filter((e) => e.from !== e.to);
  let i = 0;
  for (const [n, r] of rows.entries()) {
    while (i < crossings.length && !(crossings[i]!.from === r.from && crossings[i]!.to === r.to && crossings[i]!.name === r.name)) i++;
    if (i === crossings.length) {
      throw new Error(`row ${n + 1} (${r.from} | ${r.to} | ${r.name}) does not follow row ${n} in the walk. The crossings were:\n  ${crossings.map(fmt).join('\n  ')}`);
    }
    i++;
  }
});

/** Code run inside one box (a call, a tracepoint, an exit handler), in order, others allowed between. */
Then('the walk runs, in order:', function (this: ExitpathWorld, table: DataTable) {
  const rows = table.hashes();
  for (const r of rows) {
    if (!('in' in r) || !('name' in r)) throw new Error(`the table needs columns in | name (got ${Object.keys(r).join(' | ')})`);
    if (!(LAYERS as readonly string[]).includes(r.in!)) throw new Error(`'${r.in}' is not a layer: ${LAYERS.join(', ')}`);
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

Then('the walk passes through stages {int} to {int} in order', function (this: ExitpathWorld, a: number, b: number) {
  const seen = this.last.events.filter((e) => e.stage !== undefined).map((e) => e.stage!);
  const want = Array.from({ length: b - a + 1 }, (_, k) => a + k);
  expect(seen, 'stages in trace order').to.deep.equal(want);
});

Then('the walk passes through stages {string}', function (this: ExitpathWorld, list: string) {
  const seen = this.last.events.filter((e) => e.stage !== undefined).map((e) => e.stage!);
  expect(seen).to.deep.equal(list.split(/[ ,]+/).filter(Boolean).map(Number));
});

Then('qemu-kvm dispatches it to the {string} device', function (this: ExitpathWorld, device: string) {
  const d = this.last.events.filter((e) => e.kind === 'call' && DISPATCH_EVENTS.has(e.name));
  expect(d.length, 'qemu-kvm dispatched no device access').to.be.greaterThan(0);
  expect(d[0]!.detail.device, `devices: ${d.map((e) => e.detail.device).join(', ')}`).to.equal(device);
});

Then(/^the guest kicks the device (\d+) times?$/, function (this: ExitpathWorld, n: string) {
  const kicks = this.last.events.filter((e) => e.kind === 'call' && e.name === 'vp_notify');
  expect(kicks.length).to.equal(Number(n));
});
