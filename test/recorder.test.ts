// The compact trace store: what goes in comes out exactly, whatever the number; the store's own
// accounting; and the writers that stream a large run without decoding it all at once.

import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { Clock } from '../src/sim/clock';
import { defineEvent } from '../src/trace/events';
import { COLUMN_BYTES, TraceRecorder } from '../src/trace/recorder';
import { explain, runWalk, writeTraceNdjson, writeWalkJson } from '../src/walk';

const EV = defineEvent('tracepoint', 'kvm', 'kvm', 'recorder_test', ['a', 'b:hex', 'c', 'd:str']);

function recorder(): { r: TraceRecorder; clock: Clock } {
  const clock = new Clock(2.5);
  const r = new TraceRecorder(clock);
  r.on = true;
  return { r, clock };
}

test('arguments come back exactly: int32 and uint32 values in the columns, everything else through the escape list', () => {
  const { r } = recorder();
  const values = [0, 1, -1, 0x7fffffff, -0x80000000, -0x7fffffff, 0xffffffff, 2 ** 32, 2 ** 53 - 1, -(2 ** 53), 0.5,
    19583.199999999983, -0, 0x7f0000001080, -0x7f000000, Number.MAX_VALUE];
  for (const v of values) r.rec(EV, 0, v, v, v, 0);
  values.forEach((v, seq) => {
    for (let k = 0; k < 3; k++) expect(Object.is(r.argAt(seq, k), v), `event ${seq} arg ${k}: ${r.argAt(seq, k)} vs ${v}`).to.equal(true);
  });
  // int32 and uint32 values stay in the columns; 2^32, 2^53-1, -2^53, 0.5, the fraction, -0, the
  // 47-bit address and MAX_VALUE go to the escape list.
  expect(r.residentBytes().escapes).to.equal(8 * 3 * 12);
});

test('events decode with their time, vcpu, names and formatted details, across chunk boundaries', () => {
  const { r, clock } = recorder();
  const n = (1 << 16) * 2 + 5;
  const s = r.str('virtio-blk-pci');
  for (let i = 0; i < n; i++) {
    clock.spend(1);
    r.rec(EV, i % 3 - 1, i, -0x7f000000 + i, i % 7 === 0 ? 2 ** 40 + i : i, s);
  }
  expect(r.length).to.equal(n);
  for (const seq of [0, 1, 65535, 65536, 65537, 131071, 131072, n - 1]) {
    const e = r.get(seq);
    expect(e).to.deep.equal({
      seq, t_ns: (seq + 1) / 2.5, vcpu: seq % 3 - 1, from: 'kvm', to: 'kvm', kind: 'tracepoint', name: 'recorder_test',
      detail: { a: seq, b: '0x' + BigInt.asUintN(64, BigInt(-0x7f000000 + seq)).toString(16), c: seq % 7 === 0 ? 2 ** 40 + seq : seq, d: 'virtio-blk-pci' },
    });
  }
  expect(() => r.get(n)).to.throw(RangeError);
  expect(() => r.get(-1)).to.throw(RangeError);
  expect(r.slice(5, 8).map((e) => e.seq)).to.deep.equal([5, 6, 7]);
});

test('the store accounts for its columns, escapes and strings, and clear() empties it', () => {
  const { r } = recorder();
  expect(r.residentBytes().total).to.equal(0);
  r.str('abc');
  for (let i = 0; i < 10; i++) r.rec(EV, 0, i, 2 ** 40);
  const b = r.residentBytes();
  expect(b.columns).to.equal((1 << 16) * COLUMN_BYTES);
  expect(b.escapes).to.equal(10 * 12);
  expect(b.strings).to.equal(6);
  expect(b.total).to.equal(b.columns + b.escapes + b.strings);
  r.clear();
  expect(r.length).to.equal(0);
  expect(r.residentBytes().columns).to.equal(0);
  r.rec(EV, 0, 7, 2 ** 40);
  expect(r.get(0).detail.a).to.equal(7);
  expect(r.get(0).detail.b).to.equal('0x10000000000');
});

test('onEvent sees every event as it is recorded', () => {
  const { r } = recorder();
  const seen: number[] = [];
  r.onEvent = (rec, seq) => seen.push(rec.argAt(seq, 0));
  for (let i = 0; i < 5; i++) r.rec(EV, 0, i * 10);
  expect(seen).to.deep.equal([0, 10, 20, 30, 40]);
});

test('a streamed run writes exactly what explain --format json prints, and its events as ndjson', () => {
  for (const action of ['write hello /hello.txt', 'cpuid 0x0', 'rdtsc', 'nop', 'loop 3 inl 0x1234', 'write-blocks 3 4 /f']) {
    const walk = explain(DEFAULT_CONFIG, action);
    const run = runWalk(DEFAULT_CONFIG, action);
    const parts: string[] = [];
    writeWalkJson(run, (s) => parts.push(s));
    expect(parts.join(''), action).to.equal(JSON.stringify({ config: walk.config, events: walk.events, summary: walk.summary }, null, 2) + '\n');
    const lines: string[] = [];
    const n = writeTraceNdjson(run, (s) => lines.push(s));
    expect(n).to.equal(walk.events.length);
    expect(lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown), action).to.deep.equal(JSON.parse(JSON.stringify(walk.events)));
  }
});
