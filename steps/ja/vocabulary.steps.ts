// 日本語のステップ: the step vocabulary in Japanese, in the seed talk's words (プロセス, ゲストOS,
// vt-x, kvm, qemu-kvm, ホストOS; システムコール, センシティブ命令, VMExit, VMEnter). Each phrase comes from
// src/report/vocabulary.ts next to its English twin, and does what the English step does, on the same
// world and the same recorded trace. Failure messages stay in English, like the trace's names.

import * as fs from 'node:fs';
import { Given, Then, When, type DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { loadConfigFile, parseConfig } from '../../src/config';
import { fsyncAction, instructionAction, readAction, writeAction } from '../../src/guest/actions';
import { DISPATCH_EVENTS } from '../../src/qemu/memory';
import { LAYER_JA, VOCABULARY as V, pattern, type Concept } from '../../src/report/vocabulary';
import { formatDiff, normalise, parseTraceFile } from '../../src/trace/golden';
import { LAYERS } from '../../src/trace/events';
import { exitReasonName } from '../../src/uapi/vmx';
import { scenarioOf } from '../support/hooks';
import type { ExitpathWorld } from '../support/world';

const ja = (c: Concept) => pattern(V[c].ja);

// ---------------------------------------------------------------- 前提: the machine

Given(ja('vmWith'), function (this: ExitpathWorld, vcpus: number, mib: number) {
  this.configure((c) => { c.vcpus = vcpus; c.memory_mib = mib; });
});
Given(ja('configuredAs'), function (this: ExitpathWorld, yaml: string) {
  const next = parseConfig(yaml, 'the doc string', this.config);
  this.configure((c) => Object.assign(c, next));
});
Given(ja('configFile'), function (this: ExitpathWorld, path: string) {
  const next = loadConfigFile(path, this.config);
  this.configure((c) => Object.assign(c, next));
});
Given(ja('ioeventfdOn'), function (this: ExitpathWorld) { this.configure((c) => { c.ioeventfd = true; }); });
Given(ja('ioeventfdOff'), function (this: ExitpathWorld) { this.configure((c) => { c.ioeventfd = false; }); });
Given(ja('irqchipKernel'), function (this: ExitpathWorld) { this.configure((c) => { c.irqchip = 'kernel'; }); });
Given(ja('irqchipUser'), function (this: ExitpathWorld) { this.configure((c) => { c.irqchip = 'userspace'; }); });
Given(ja('backend'), function (this: ExitpathWorld, backend: string) {
  if (!['linux-aio', 'threads', 'io_uring'].includes(backend)) throw new Error(`'${backend}' is not a block backend (linux-aio, threads, io_uring)`);
  this.configure((c) => { c.disk.backend = backend as typeof c.disk.backend; });
});
Given(ja('bootTraced'), function (this: ExitpathWorld) { this.configure(() => { this.traceBoot = true; }); });

// ---------------------------------------------------------------- もし: the guest acts

When(ja('writes'), function (this: ExitpathWorld, path: string, text: string) {
  this.run(writeAction(new TextEncoder().encode(text), path));
});
When(ja('reads'), function (this: ExitpathWorld, path: string, n: number) { this.run(readAction(n, path)); });
When(ja('fsync'), function (this: ExitpathWorld, path: string) { this.run(fsyncAction(path)); });
When(ja('executes'), function (this: ExitpathWorld, insn: string) { this.run(instructionAction(insn)); });

// ---------------------------------------------------------------- ならば: what must have happened

function firstExit(w: ExitpathWorld) {
  const e = w.last.summary.exits[0];
  if (!e) throw new Error('the action caused no VM exit');
  return e;
}
const hostNames = (w: ExitpathWorld) => w.last.summary.hostSyscalls.map((s) => (s.request ? `ioctl(${s.request})` : s.name));
const calls = (w: ExitpathWorld, name: string) => w.last.summary.hostSyscalls.filter((s) => s.name === name || s.request === name).length;
const stages = (w: ExitpathWorld) => w.last.events.filter((e) => e.stage !== undefined).map((e) => e.stage!);

Then(ja('exitReason'), function (this: ExitpathWorld, reason: number) {
  const e = firstExit(this);
  expect(e.reason, `first VM exit: ${e.reason} (${e.reasonNumber})`).to.equal(exitReasonName(reason));
});
Then(ja('handler'), function (this: ExitpathWorld, h: string) { expect(firstExit(this).handler).to.equal(h); });
Then(ja('inKernel'), function (this: ExitpathWorld) {
  const e = firstExit(this);
  expect(e.handledIn, `the ${e.reason} exit reached qemu-kvm as ${e.userspaceExit}`).to.equal('kernel');
});
Then(ja('reachesQemu'), function (this: ExitpathWorld, exit: string) { expect(firstExit(this).userspaceExit).to.equal(exit); });
Then(ja('dispatches'), function (this: ExitpathWorld, device: string) {
  const d = this.last.events.filter((e) => e.kind === 'call' && DISPATCH_EVENTS.has(e.name));
  expect(d.length, 'qemu-kvm dispatched no device access').to.be.greaterThan(0);
  expect(d[0]!.detail.device).to.equal(device);
});
Then(ja('hostCalls'), function (this: ExitpathWorld, name: string) {
  expect(calls(this, name), `host syscalls: ${hostNames(this).join(', ') || 'none'}`).to.be.greaterThan(0);
});
Then(ja('hostDoesNotCall'), function (this: ExitpathWorld, name: string) {
  expect(calls(this, name), `host syscalls: ${hostNames(this).join(', ')}`).to.equal(0);
});
Then(ja('hostCallsTimes'), function (this: ExitpathWorld, name: string, n: number) {
  expect(calls(this, name), `host syscalls: ${hostNames(this).join(', ')}`).to.equal(n);
});
Then(ja('hostNoSyscall'), function (this: ExitpathWorld) { expect(hostNames(this)).to.deep.equal([]); });
Then(ja('syscallCount'), function (this: ExitpathWorld, n: number) { expect(hostNames(this).length, hostNames(this).join(', ')).to.equal(n); });
Then(ja('exitsCount'), function (this: ExitpathWorld, n: number) {
  const x = this.last.summary.exits;
  expect(x.length, `exits: ${x.map((e) => e.reason).join(', ') || 'none'}`).to.equal(n);
});
Then(ja('userspaceCount'), function (this: ExitpathWorld, n: number) {
  expect(this.last.summary.exits.filter((e) => e.handledIn === 'userspace').length).to.equal(n);
});
Then(ja('noExit'), function (this: ExitpathWorld) { expect(this.last.summary.exits.map((e) => e.reason)).to.deep.equal([]); });
Then(ja('interrupts'), function (this: ExitpathWorld, n: number) { expect(this.last.summary.guestInterrupts).to.equal(n); });
Then(ja('firstEntry'), function (this: ExitpathWorld, name: string) { expect(this.last.summary.entries[0]).to.equal(name); });
Then(ja('laterEntries'), function (this: ExitpathWorld, name: string) {
  const later = this.last.summary.entries.slice(1);
  expect(later.length, 'there is no later VM entry').to.be.greaterThan(0);
  expect(later.filter((e) => e !== name), `entries: ${later.join(', ')}`).to.deep.equal([]);
});
Then(ja('everyEntry'), function (this: ExitpathWorld, name: string) {
  const all = this.last.summary.entries;
  expect(all.length, 'there is no VM entry').to.be.greaterThan(0);
  expect(all.filter((e) => e !== name)).to.deep.equal([]);
});

/** A crossing table in Japanese: columns 送り手 | 受け手 | 名前 (or from | to | name), boxes by the seed's names. */
Then(ja('crosses'), function (this: ExitpathWorld, table: DataTable) {
  const [head, ...body] = table.raw();
  const col = (names: string[]) => head!.findIndex((h) => names.includes(h));
  const [f, t, n] = [col(['送り手', 'from']), col(['受け手', 'to']), col(['名前', 'name'])];
  if (f < 0 || t < 0 || n < 0) throw new Error(`the table needs columns 送り手 | 受け手 | 名前 (got ${head!.join(' | ')})`);
  const layer = (s: string) => {
    const l = LAYER_JA[s] ?? s;
    if (!(LAYERS as readonly string[]).includes(l)) throw new Error(`'${s}' is not a box: ${Object.keys(LAYER_JA).join(', ')}`);
    return l;
  };
  const rows = body.map((r) => ({ from: layer(r[f]!), to: layer(r[t]!), name: r[n]! }));
  const crossings = this.last.events.filter((e) => e.from !== e.to);
  let i = 0;
  for (const [k, r] of rows.entries()) {
    while (i < crossings.length && !(crossings[i]!.from === r.from && crossings[i]!.to === r.to && crossings[i]!.name === r.name)) i++;
    if (i === crossings.length) {
      throw new Error(`row ${k + 1} (${r.from} | ${r.to} | ${r.name}) does not follow row ${k} in the walk. The crossings were:\n  ${crossings.map((e) => `${e.from} | ${e.to} | ${e.name}`).join('\n  ')}`);
    }
    i++;
  }
});
Then(ja('stagesRange'), function (this: ExitpathWorld, a: number, b: number) {
  expect(stages(this), 'stages in trace order').to.deep.equal(Array.from({ length: b - a + 1 }, (_, k) => a + k));
});
Then(ja('stagesList'), function (this: ExitpathWorld, list: string) {
  expect(stages(this)).to.deep.equal(list.split(/[ ,、]+/).filter(Boolean).map(Number));
});
Then(ja('diskHolds'), function (this: ExitpathWorld, offset: number, text: string) {
  const got = this.stack.image.pread(offset, new TextEncoder().encode(text).length);
  expect(new TextDecoder().decode(got)).to.equal(text);
});
Then(ja('returns'), function (this: ExitpathWorld, n: string) {
  const r = this.last.summary.guestResult;
  expect(r.value, r.errno ? `it failed with ${r.errno}` : '').to.equal(Number(n));
});
Then(ja('returnsHex'), function (this: ExitpathWorld, hex: string) {
  expect('0x' + this.last.summary.guestResult.value.toString(16)).to.equal(hex.toLowerCase());
});
Then(ja('fails'), function (this: ExitpathWorld, errno: string) { expect(this.last.summary.guestResult.errno).to.equal(errno); });
Then(ja('fault'), function (this: ExitpathWorld, fault: string) { expect(this.last.summary.guestResult.fault).to.equal(fault); });
Then(ja('processReads'), function (this: ExitpathWorld, text: string) {
  expect(new TextDecoder().decode(this.last.data ?? new Uint8Array(0))).to.equal(text);
});
Then(ja('golden'), function (this: ExitpathWorld, name: string) {
  const file = `features/golden/${name}`;
  if (!fs.existsSync(file)) throw new Error(`no golden file ${file}: write it from the English scenario with UPDATE_GOLDEN=1`);
  const d = formatDiff(parseTraceFile(fs.readFileSync(file, 'utf8'), file),
    { title: scenarioOf(this).name, config: this.config, walk: normalise(this.last.events) }, [`${file} (golden)`, 'this run']);
  if (!d.same) throw new Error(`the walk differs from ${file}\n${d.text}`);
});
