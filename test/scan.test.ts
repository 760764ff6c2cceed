// The scanner (stages and summary event by event) against markStages and summarize (the whole walk
// at once), and the streamed run against the held one: the same answer, byte for byte.

import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG, applySet, type VmConfig } from '../src/config';
import { Stack } from '../src/stack';
import { parseAction } from '../src/guest/actions';
import { markStages, summarize } from '../src/trace/query';
import { WalkScanner } from '../src/trace/scan';
import { errnoName } from '../src/uapi/errno';
import { explain, streamWalk } from '../src/walk';

const cfg = (...sets: string[]): VmConfig => sets.reduce(applySet, DEFAULT_CONFIG);
const CASES: [VmConfig, string][] = [
  [DEFAULT_CONFIG, 'write hello /hello.txt'], [DEFAULT_CONFIG, 'cpuid 0x0'], [DEFAULT_CONFIG, 'inl 0x1234'], [DEFAULT_CONFIG, 'rdtsc'],
  [DEFAULT_CONFIG, 'hlt'], [DEFAULT_CONFIG, 'fsync /x'], [DEFAULT_CONFIG, 'read 5 /nothing'], [DEFAULT_CONFIG, 'loop 5 inl 0x1234'],
  [DEFAULT_CONFIG, 'write-blocks 3 8 /f'], [DEFAULT_CONFIG, 'ud2'], [DEFAULT_CONFIG, 'rdmsr 0x12345'], [DEFAULT_CONFIG, 'mov cr3 0x2000; mov rax cr3'],
  [cfg('ioeventfd=true'), 'write hello /a'], [cfg('ioeventfd=true', 'disk.vectors=2', 'irqfd=true', 'apicv=true'), 'write hello /a'],
  [cfg('disk.backend=threads', 'disk.cache=writeback'), 'fsync /a'], [cfg('disk.backend=io_uring'), 'write hello /a'],
  [cfg('irqchip=userspace'), 'write hello /a'], [cfg('irqchip=split'), 'write hello /a'], [cfg('profile=qemu-kvm-2013'), 'write hello /a'],
  [cfg('vcpus=2', 'apicv=true'), 'ipi 0'], [cfg('disk.transport=virtio-pci-modern'), 'write hello /a'],
  [cfg('ioeventfd=true', 'disk.vectors=2', 'irqfd=true', 'disk.device=vhost-user-blk'), 'write hello /a'],
];

test('the scanner marks the same stages and makes the same summary as markStages and summarize', () => {
  for (const [config, action] of CASES) {
    const stack = new Stack(config);
    const scanner = new WalkScanner(stack.trace, stack.actionStart, true);
    const o = stack.submit(parseAction(action), action === 'ipi 0' ? 1 : 0);
    // Scan in uneven pieces, as chunks arrive.
    for (let to = o.from; to < o.to; to += 7) scanner.scan(to);
    scanner.scan(o.to);
    scanner.end();
    const events = stack.trace.slice(o.from, o.to);
    markStages(events);
    const marks = new Map(events.filter((e) => e.stage !== undefined).map((e) => [e.seq, e.stage!]));
    expect(new Map([...scanner.stages].sort((a, b) => a[0] - b[0])), action).to.deep.equal(marks);
    const result = o.result ?? { value: Number.NaN, errno: null };
    expect(scanner.summary(result, o.cycles, errnoName), action).to.deep.equal(summarize(events, result, o.cycles, errnoName));
    // Every event as one JSON line, exactly as JSON.stringify writes it.
    for (const e of events) expect(stack.trace.jsonLine(e.seq, e.stage), action).to.equal(JSON.stringify(e));
  }
});

test('a counted scanner counts what the full one lists', () => {
  for (const [config, action] of CASES.slice(0, 12)) {
    const run = (full: boolean) => {
      const stack = new Stack(config);
      const s = new WalkScanner(stack.trace, stack.actionStart, full);
      const o = stack.submit(parseAction(action));
      s.scan(o.to);
      return s.counted(o.result ?? { value: Number.NaN, errno: null }, o.cycles, errnoName);
    };
    const counted = run(false);
    expect(counted, action).to.deep.equal(run(true));
    expect(counted.exits.reduce((n, e) => n + e.count, 0), action).to.equal(explain(config, action).summary.exits.length);
  }
});

test('a streamed run writes the held walk\'s events, across chunks the store lets go, in bounded store memory', () => {
  for (const action of ['loop 60000 cpuid 0x0', 'write-blocks 800 4 /log']) {
    const held = explain(DEFAULT_CONFIG, action);
    const parts: string[] = [];
    const progress: number[] = [];
    const s = streamWalk(DEFAULT_CONFIG, action, {}, (x) => parts.push(x), (n) => progress.push(n));
    const lines = parts.join('').split('\n').filter(Boolean);
    expect(lines.length, action).to.equal(held.events.length);
    expect(held.events.length, action).to.be.greaterThan(65536);
    lines.forEach((l, i) => { if (l !== JSON.stringify(held.events[i])) expect(l, `${action}: event ${i}`).to.equal(JSON.stringify(held.events[i])); });
    expect(s.events).to.equal(held.events.length);
    expect(s.summary.stages).to.deep.equal(held.summary.stages);
    expect(s.summary.exits.reduce((n, e) => n + e.count, 0)).to.equal(held.summary.exits.length);
    expect(progress.length, 'progress after each chunk').to.be.greaterThan(0);
    // The store never held more than two chunks of columns (the one being filled, the one being written).
    expect(s.peakStoreBytes, action).to.be.at.most(2 * 65536 * 28);
    expect(s.problems).to.deep.equal([]);
  }
});
