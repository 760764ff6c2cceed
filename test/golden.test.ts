import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { explain } from '../src/walk';
import { diffWalks, formatDiff, goldenToYaml, normalise, parseTraceFile, type GoldenTrace } from '../src/trace/golden';

const seed = () => explain(DEFAULT_CONFIG, 'write hello /hello.txt');

test('normalising keeps the crossings and exit handlers, and drops time, rip, host pointers and qemu fds', () => {
  const w = seed();
  const g = normalise(w.events);
  expect(g.length).to.equal(w.events.filter((e) => e.from !== e.to || e.kind === 'exit-handler').length);
  const text = JSON.stringify(g);
  expect(text).not.to.match(/t_ns|"seq"|"rip"|0x7f[0-9a-f]{10}/);
  const submit = g.find((e) => e.name === 'io_submit' && e.kind === 'syscall')!;
  expect(submit.detail.ctx).to.equal('<ptr>');
  const run = g.find((e) => e.name === 'KVM_RUN' && e.kind === 'ioctl')!;
  expect(run.detail.fd).to.equal('<fd>');
  // The guest's own file descriptor is part of the walk.
  expect(g.find((e) => e.name === 'write' && e.kind === 'syscall')!.detail.fd).to.equal(3);
  expect(g.filter((e) => e.stage !== undefined).map((e) => e.stage)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('a golden trace survives its own YAML: written, read back, and compared equal', () => {
  const w = seed();
  const g: GoldenTrace = { title: 'seed', config: w.config, walk: normalise(w.events) };
  const back = parseTraceFile(goldenToYaml(g), 'seed.yaml');
  expect(back.walk).to.deep.equal(g.walk);
  expect(formatDiff(g, back, ['a', 'b']).same).to.equal(true);
  // explain's JSON is read as a trace too, and normalised on the way in.
  const fromJson = parseTraceFile(JSON.stringify({ config: w.config, events: w.events }), 'seed.json');
  expect(fromJson.walk).to.deep.equal(g.walk);
});

test('turning ioeventfd on fails the comparison with a diff that names the vanished KVM_EXIT_IO crossing', () => {
  const before = seed();
  const after = explain({ ...DEFAULT_CONFIG, ioeventfd: true }, 'write hello /hello.txt');
  const d = formatDiff({ config: before.config, walk: normalise(before.events) }, { config: after.config, walk: normalise(after.events) }, ['golden', 'this run']);
  expect(d.same).to.equal(false);
  expect(d.text).to.contain('config ioeventfd: false → true');
  // With ioeventfd, handle_io finds the notify port on kvm's I/O bus and signals an eventfd: the
  // kick never returns from KVM_RUN, so ④ KVM_EXIT_IO and the ⑦ KVM_RUN that answered it vanish.
  const vanished = d.text.split('\n').filter((l) => l.startsWith('- '));
  expect(vanished.some((l) => /④ kvm → qemu-kvm\s+ioctl-return\s+KVM_EXIT_IO/.test(l)), d.text).to.equal(true);
  expect(vanished.some((l) => /⑦ qemu-kvm → kvm\s+ioctl\s+KVM_RUN/.test(l)), d.text).to.equal(true);
  expect(d.text).to.match(/the walk changed: \d+ vanished, \d+ appeared, \d+ changed/);
});

test('a crossing whose values change is reported as changed, not as one vanished and one appeared', () => {
  const a = normalise(seed().events);
  const b = structuredClone(a);
  const i = b.findIndex((e) => e.name === 'outw' && e.kind === 'instruction');
  b[i]!.detail.port = '0xc051';
  const ops = diffWalks(a, b).filter((o) => o.op !== 'same');
  expect(ops.map((o) => o.op)).to.deep.equal(['changed']);
  expect(formatDiff({ walk: a }, { walk: b }, ['a', 'b']).text).to.contain('port 0xc050 → 0xc051');
  // An appeared crossing is named as such.
  const c = [...a.slice(0, 3), { vcpu: 0, from: 'guest kernel' as const, to: 'VMX CPU' as const, kind: 'instruction' as const, name: 'cpuid', detail: {} }, ...a.slice(3)];
  expect(formatDiff({ walk: a }, { walk: c }, ['a', 'b']).text).to.match(/\n\+ .*guest kernel → VMX CPU\s+instruction\s+cpuid/);
});

test('a configuration key added since the golden was written is not a change; a changed value is', () => {
  const w = seed();
  const walk = normalise(w.events);
  const old = structuredClone(w.config) as unknown as Record<string, unknown>;
  delete old.apicv;
  expect(formatDiff({ config: old, walk }, { config: w.config, walk }, ['a', 'b']).same).to.equal(true);
  const other = { ...w.config, irqchip: 'split' };
  const d = formatDiff({ config: w.config, walk }, { config: other, walk }, ['a', 'b']);
  expect(d.same).to.equal(false);
  expect(d.text).to.contain('config irqchip: "kernel" → "split"');
});

test('a malformed trace file is refused with its file and line and what was expected', () => {
  expect(() => parseTraceFile('walk:\n  - {vcpu: 0, from: guest process, to: nowhere, kind: syscall, name: write}\n', 'x.yaml'))
    .to.throw(/^x\.yaml:2: event 1: 'nowhere' is not a layer/);
  expect(() => parseTraceFile('title: t\n', 'y.yaml')).to.throw(/^y\.yaml:1: expected a 'walk:' list/);
  expect(() => parseTraceFile('walk: [1\n', 'z.yaml')).to.throw(/^z\.yaml:\d+: not YAML or JSON/);
});
