// npm run bench: how fast the simulator runs, with the trace recording. Each figure is a warm-up run
// and then RUNS measured runs on a fresh VM; the median is reported. Speed is never asserted here or
// in a test: the figures go to stdout as a table and to reports/bench.json, next to the targets of
// issue 17, and the machine they ran on; bench.json keeps every run (`history`). `--quick` runs every
// measurement once on tiny sizes, to prove the benchmark still works (npm test does that); its
// figures mean nothing.
//
//   npm run bench [-- --quick] [-- --out FILE] [-- --only NAME[,NAME]]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../runner/paths';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_CONFIG, applySet, type VmConfig } from '../src/config';
import { loopAction, writeBlocksAction } from '../src/guest/actions';
import type { Action } from '../src/guest/kernel';
import { Stack } from '../src/stack';
import { COLUMN_BYTES, releaseSpareChunks } from '../src/trace/recorder';
import { toolText } from '../src/trace/ftrace';
import { statFiles } from '../src/trace/import';
import { TOOLS } from '../src/trace/import/roundtrip';
import { explain } from '../src/walk';

const ROOT = packageRoot();

export interface BenchOptions {
  quick: boolean;
  /** Figures to measure (all when absent). */
  only?: readonly FigureName[];
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export const FIGURES = [
  'inKernelExitsPerSec', 'userspaceRoundTripsPerSec', 'writeWalksPerSec', 'traceBytesPerEvent',
  'inKernelExitVsBaseline', 'importLinesPerSec', 'bootMs', 'suiteSeconds', 'suiteParallelSeconds', 'featureSeconds',
  'explainColdSeconds',
] as const;
export type FigureName = (typeof FIGURES)[number];

/** The targets (issue 17) on the reference 2-core machine. */
export const TARGETS: Record<FigureName, { op: '>=' | '<='; value: number; unit: string }> = {
  inKernelExitsPerSec: { op: '>=', value: 2_500_000, unit: 'exits/s' },
  userspaceRoundTripsPerSec: { op: '>=', value: 700_000, unit: 'round trips/s' },
  writeWalksPerSec: { op: '>=', value: 50_000, unit: 'walks/s' },
  traceBytesPerEvent: { op: '<=', value: 64, unit: 'bytes/event' },
  inKernelExitVsBaseline: { op: '<=', value: 30, unit: '× baseline' },
  /** Issue 13: `exitpath stat` reading a host's trace text. */
  importLinesPerSec: { op: '>=', value: 1_000_000, unit: 'lines/s' },
  /** A machine's creation and boot, as every scenario makes one: about what its simulation costs. */
  bootMs: { op: '<=', value: 2, unit: 'ms' },
  suiteSeconds: { op: '<=', value: 10, unit: 's' },
  suiteParallelSeconds: { op: '<=', value: 10, unit: 's' },
  featureSeconds: { op: '<=', value: 3, unit: 's' },
  explainColdSeconds: { op: '<=', value: 0.3, unit: 's' },
};

export interface Figure {
  /** The median of the measured runs (null when it could not be measured, with `note` saying why). */
  value: number | null;
  runs: number[];
  target: string;
  met: boolean | null;
  note?: string;
  [extra: string]: unknown;
}

export interface BenchReport {
  mode: 'full' | 'quick';
  machine: { nproc: number; cpuModel: string; node: string; os: string; loadAverage: number[]; totalMemMiB: number };
  /** The headline numbers, one per figure (null when not measured). */
  inKernelExitsPerSec: number | null;
  userspaceRoundTripsPerSec: number | null;
  writeWalksPerSec: number | null;
  traceBytesPerEvent: number | null;
  inKernelExitVsBaseline: number | null;
  recordsPerExit: number | null;
  baselineRecordsPerSec: number | null;
  importLinesPerSec: number | null;
  bootMs: number | null;
  suiteSeconds: number | null;
  suiteParallelSeconds: number | null;
  featureSeconds: number | null;
  explainColdSeconds: number | null;
  figures: Partial<Record<FigureName, Figure>>;
  /** When the run ended (ISO 8601). */
  at: string;
  /** The default of `exitpath test --parallel` this run measured to be faster, when it measured both. */
  fasterParallel?: number;
}

/** reports/bench.json: the last run's report, and every run so far (oldest first, the last included). */
export interface BenchFile extends BenchReport { history: BenchReport[] }

// ------------------------------------------------------------------ helpers

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function figure(name: FigureName, runs: number[], extra: Record<string, unknown> = {}): Figure {
  const t = TARGETS[name];
  const value = runs.length ? median(runs) : null;
  const met = value === null ? null : t.op === '>=' ? value >= t.value : value <= t.value;
  return { value, runs, target: `${t.op} ${t.value.toLocaleString('en-US')} ${t.unit}`, met, ...extra };
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

interface Timed { seconds: number; cpuSeconds: number; events: number }

/**
 * Run one action on a fresh VM (its creation and boot are not timed), then drop its trace. With
 * `reuse`, the store's memory goes to the next run's store, as in any process that runs action
 * after action; without, every run's store starts on fresh pages from the kernel.
 */
function timeAction(config: VmConfig, action: Action, expect: (events: number, value: number) => string | null, reuse: boolean): Timed {
  if (!reuse) releaseSpareChunks();
  const stack = new Stack(config);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const o = stack.run(action);
  const s = seconds(t0);
  const c = process.cpuUsage(c0);
  const bad = expect(o.to - o.from, o.result.value);
  if (bad) throw new Error(`benchmark workload did not do what it should: ${bad}`);
  stack.assertSound();
  // With reuse, the machine is closed: its RAM and trace chunks go to the next run's machine.
  if (reuse) stack.close(); else stack.trace.clear(false);
  return { seconds: s, cpuSeconds: (c.user + c.system) / 1e6, events: o.to - o.from };
}

/**
 * Warm-up, then `runs` measured runs of `one`; returns rates per second of wall time (and of the
 * process's CPU time, all threads, GC included). Then the same on fresh memory, for comparison.
 */
function repeat(runs: number, n: number, one: (reuse: boolean) => Timed): { rates: number[]; cpuRates: number[]; freshMemoryRates: number[] } {
  const measure = (reuse: boolean) => {
    one(reuse);
    const rates: number[] = [];
    const cpuRates: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = one(reuse);
      rates.push(Math.round(n / r.seconds));
      cpuRates.push(Math.round(n / r.cpuSeconds));
    }
    return { rates, cpuRates };
  };
  const warm = measure(true);
  const fresh = measure(false);
  return { ...warm, freshMemoryRates: fresh.rates };
}

/**
 * Events one iteration of a loop records: what 2N iterations record beyond N, over N (past the
 * first iterations, which differ: a file's first writes read ext2's bitmaps and allocate its
 * indirect block).
 */
function eventsPerIteration(config: VmConfig, make: (n: number) => Action, n: number): number {
  const one = new Stack(config).run(make(n));
  const many = new Stack(config).run(make(2 * n));
  const per = ((many.to - many.from) - (one.to - one.from)) / n;
  if (!Number.isInteger(per)) throw new Error(`a loop iteration records ${per} events: not a whole number`);
  return per;
}

// ------------------------------------------------------------------ the figures

interface Sizes { runs: number; exits: number; roundTrips: number; walks: number; traceEvents: number; importLines: number; boots: number }
const FULL: Sizes = { runs: 5, exits: 400_000, roundTrips: 150_000, walks: 10_000, traceEvents: 1_000_000, importLines: 1_500_000, boots: 50 };
const QUICK: Sizes = { runs: 2, exits: 2_000, roundTrips: 1_000, walks: 50, traceEvents: 20_000, importLines: 20_000, boots: 2 };

/** The default VM, with a disk big enough for `blocks` 4 KiB writes. */
function benchConfig(blocks = 0): VmConfig {
  return applySet(DEFAULT_CONFIG, `disk.size_mib=${Math.max(64, Math.ceil((blocks + 64) / 256))}`);
}

function inKernelExits(z: Sizes): { figure: Figure; recordsPerExit: number } {
  const config = benchConfig();
  const recordsPerExit = eventsPerIteration(config, (n) => loopAction('cpuid 0x0', n), 100);
  const { rates, cpuRates, freshMemoryRates } = repeat(z.runs, z.exits, (reuse) => timeAction(config, loopAction('cpuid 0x0', z.exits),
    (ev, v) => (ev < z.exits * recordsPerExit ? `${ev} events for ${z.exits} exits` : v !== 0xd ? `cpuid 0 returned ${v}` : null), reuse));
  const f = figure('inKernelExitsPerSec', rates, {
    workload: `cpuid 0x0 executed ${z.exits.toLocaleString('en-US')} times in one guest loop (kvm_emulate_cpuid, VMRESUME), trace on`,
    recordsPerExit, cpuTimeRates: cpuRates, freshMemory: median(freshMemoryRates), freshMemoryRuns: freshMemoryRates,
  });
  return { figure: f, recordsPerExit };
}

function userspaceRoundTrips(z: Sizes): Figure {
  const config = benchConfig();
  const per = eventsPerIteration(config, (n) => loopAction('inl 0x1234', n), 100);
  const { rates, cpuRates, freshMemoryRates } = repeat(z.runs, z.roundTrips, (reuse) => timeAction(config, loopAction('inl 0x1234', z.roundTrips),
    (ev) => (ev < z.roundTrips * per ? `${ev} events for ${z.roundTrips} round trips` : null), reuse));
  return figure('userspaceRoundTripsPerSec', rates, {
    workload: `inl 0x1234 executed ${z.roundTrips.toLocaleString('en-US')} times (KVM_EXIT_IO to qemu-kvm, unassigned port, KVM_RUN again), trace on`,
    eventsPerRoundTrip: per, cpuTimeRates: cpuRates, freshMemory: median(freshMemoryRates), freshMemoryRuns: freshMemoryRates,
  });
}

function writeWalks(z: Sizes): Figure {
  const config = benchConfig(z.walks);
  const per = eventsPerIteration(config, (n) => writeBlocksAction(n, 4, '/bench'), 20);
  const { rates, cpuRates, freshMemoryRates } = repeat(z.runs, z.walks, (reuse) => timeAction(config, writeBlocksAction(z.walks, 4, '/bench'),
    (ev, v) => (v !== z.walks * 4096 ? `wrote ${v} bytes, not ${z.walks * 4096}` : ev < z.walks * per ? `${ev} events` : null), reuse));
  return figure('writeWalksPerSec', rates, {
    workload: `${z.walks.toLocaleString('en-US')} write() calls of 4 KiB with O_DIRECT in one process (each: outw kick → KVM_EXIT_IO → virtio-blk → io_submit → AIO completion → irq → EOI), trace on`,
    eventsPerWalk: per, cpuTimeRates: cpuRates, freshMemory: median(freshMemoryRates), freshMemoryRuns: freshMemoryRates,
  });
}

/**
 * Resident bytes per event: run a write workload until the trace holds `traceEvents` events, then
 * measure (after a full GC) what the heap and array buffers shrink by when the store drops its
 * events. The same run also gives the growth of the whole process per event, simulation included.
 */
function traceBytes(z: Sizes): Figure {
  const gc = gcFunction();
  const per = eventsPerIteration(benchConfig(), (n) => writeBlocksAction(n, 4, '/bench'), 20);
  const walks = Math.ceil(z.traceEvents / per);
  const config = benchConfig(walks);
  const runs: number[] = [];
  let detail: Record<string, unknown> = {};
  for (let i = 0; i < Math.max(1, z.runs - 2); i++) {
    const stack = new Stack(config);
    const mem = () => { gc(); gc(); const m = process.memoryUsage(); return { heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss }; };
    const m0 = mem();
    const o = stack.run(writeBlocksAction(walks, 4, '/bench'));
    const m1 = mem();
    const events = stack.trace.length;
    const accounting = stack.trace.residentBytes();
    stack.trace.clear(false);
    const m2 = mem();
    const held = (m1.heap + m1.buffers) - (m2.heap + m2.buffers);
    runs.push(+(held / events).toFixed(2));
    detail = {
      events, actionEvents: o.to - o.from,
      storeAccountingBytesPerEvent: +(accounting.total / events).toFixed(2),
      storeAccounting: accounting, columnBytesPerEvent: COLUMN_BYTES,
      processGrowthBytesPerEvent: +(((m1.heap + m1.buffers) - (m0.heap + m0.buffers)) / events).toFixed(2),
      rssGrowthBytesPerEvent: +((m1.rss - m0.rss) / events).toFixed(2),
    };
  }
  return figure('traceBytesPerEvent', runs, {
    workload: `${walks.toLocaleString('en-US')} 4 KiB O_DIRECT writes; bytes the heap and array buffers give back when the store drops its events, after a full GC`,
    ...detail,
  });
}

/**
 * The floor of any recording simulator: appending fixed-size records (the store's own layout:
 * float64 time, uint16 type, int8 vcpu, four int32 arguments, a tag byte) to preallocated typed
 * arrays. Returns a function that appends `records` of them and says how long it took.
 */
function baselineAppender(records: number): () => number {
  const t = new Float64Array(records);
  const ty = new Uint16Array(records);
  const cpu = new Int8Array(records);
  const a = new Int32Array(records * 4);
  const tag = new Uint8Array(records);
  return () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < records; i++) {
      t[i] = i * 0.4;
      ty[i] = i & 7;
      cpu[i] = 0;
      const j = i << 2;
      a[j] = i; a[j + 1] = 0x1f; a[j + 2] = -0x7f000000 + i; a[j + 3] = 2;
      tag[i] = 0;
    }
    const s = seconds(t0);
    if (a[(records - 1) << 2] !== records - 1) throw new Error('baseline did not write');
    return s;
  };
}

/**
 * Each measured run of the cpuid loop is followed at once by the baseline for the same number of
 * records, repeated for as long as the loop took, and the ratio is taken per pair: on a shared
 * machine both halves of a ratio see the same load. The figure is the median ratio.
 */
function vsBaseline(z: Sizes, recordsPerExit: number): { figure: Figure; baseline: number } {
  const config = benchConfig();
  const records = z.exits * recordsPerExit;
  const append = baselineAppender(records);
  const exits = () => timeAction(config, loopAction('cpuid 0x0', z.exits),
    (ev) => (ev < records ? `${ev} events for ${z.exits} exits` : null), true).seconds;
  exits();
  append();
  const ratios: number[] = [];
  const baseRates: number[] = [];
  for (let i = 0; i < z.runs; i++) {
    const e = exits();
    // Append for as long as the exits took (at least once), so both halves see the same stretch of load.
    let passes = 0;
    const t0 = process.hrtime.bigint();
    do { append(); passes++; } while (seconds(t0) < e);
    const b = seconds(t0) / passes;
    baseRates.push(Math.round(records / b));
    ratios.push(+(e / b).toFixed(2));
  }
  const baseline = median(baseRates);
  return {
    figure: figure('inKernelExitVsBaseline', ratios, {
      recordsPerExit, baselineRecordsPerSec: baseline, baselineRuns: baseRates,
      meaning: 'time per simulated in-kernel exit ÷ time to append recordsPerExit records to preallocated typed arrays, per pair of runs',
    }),
    baseline,
  };
}

/**
 * The importer's hot loop, as `exitpath stat` runs it: read a host trace file in blocks, parse each
 * line (prefix and payload), pair exits with entries per vCPU, count by reason. The text is the write
 * walk's kvm tracepoints as each tool prints them (raw ftrace, trace-cmd report, perf script), a third
 * of the lines each, repeated to size; it is written once to temporary files, which are then read.
 */
function importLines(z: Sizes): Figure {
  const gc = gcFunction();
  const walks = Math.min(2000, Math.max(20, Math.ceil(z.importLines / 28)));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'exitpath-bench-import-'));
  try {
    // The text is made first and the walk dropped, so the measurement starts on a quiet heap.
    const files = ((): { file: string; lines: number }[] => {
      const w = explain(benchConfig(walks), `write-blocks ${walks} 4 /bench`);
      return TOOLS.map((tool) => {
        const text = toolText(tool, w.events);
        const perCopy = text.split('\n').length - 1;
        const copies = Math.max(1, Math.round(z.importLines / TOOLS.length / perCopy));
        const file = path.join(dir, `${tool}.txt`);
        writeFileSync(file, text.repeat(copies));
        return { file, lines: perCopy * copies };
      });
    })();
    const lines = files.reduce((n, f) => n + f.lines, 0);
    const once = (): { rate: number; cpu: number } => {
      gc();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const { reads } = statFiles(files.map((f) => f.file), { event: 'vmexit', key: 'sample' });
      const s = seconds(t0);
      const c = process.cpuUsage(c0);
      const read = reads.reduce((n, r) => n + r.lines, 0);
      const bad = reads.reduce((n, r) => n + r.malformedTotal, 0);
      if (read !== lines || bad !== 0) throw new Error(`benchmark import read ${read} lines (${bad} unread), not ${lines}`);
      return { rate: Math.round(lines / s), cpu: Math.round(lines / ((c.user + c.system) / 1e6)) };
    };
    once();
    const runs: number[] = [];
    const cpuRuns: number[] = [];
    for (let i = 0; i < z.runs; i++) { const r = once(); runs.push(r.rate); cpuRuns.push(r.cpu); }
    return figure('importLinesPerSec', runs, {
      workload: `exitpath stat over ${lines.toLocaleString('en-US')} lines: the kvm tracepoints of ${walks.toLocaleString('en-US')} write walks as raw ftrace, trace-cmd report and perf script print them, repeated to size`,
      lines, cpuTimeRates: cpuRuns,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnSeconds(runs: number, warm: boolean, cmd: string, args: string[], env: NodeJS.ProcessEnv): number[] {
  const once = (): number => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
    const s = seconds(t0);
    if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return s;
  };
  if (warm) once();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(+once().toFixed(3));
  return out;
}

const EXITPATH = path.join(ROOT, 'bin', 'exitpath.js');
/** The feature file the one-feature figure runs (the seed's walk), as a user runs one. */
const ONE_FEATURE = 'features/seed/write-walk.feature';

/**
 * Every feature through the command a user runs, serially and on two workers (`--parallel 2`); the
 * two kinds of run alternate, so that both see the same stretch of load on a shared machine.
 */
function suite(z: Sizes, quick: boolean): { serial: Figure; parallel: Figure } {
  const args = quick ? [EXITPATH, 'test', ONE_FEATURE] : [EXITPATH, 'test'];
  const runs = quick ? 1 : z.runs;
  if (!quick) { spawnSeconds(1, false, process.execPath, args, {}); spawnSeconds(1, false, process.execPath, [...args, '--parallel', '2'], {}); }
  const serial: number[] = [];
  const parallel: number[] = [];
  for (let i = 0; i < runs; i++) {
    serial.push(...spawnSeconds(1, false, process.execPath, args, {}));
    parallel.push(...spawnSeconds(1, false, process.execPath, [...args, '--parallel', '2'], {}));
  }
  const what = quick ? `node bin/exitpath.js test ${ONE_FEATURE}` : 'node bin/exitpath.js test (every feature, compiled steps, no report)';
  const extra = quick ? { note: 'quick mode: one feature' } : {};
  return {
    serial: figure('suiteSeconds', serial, { command: what, ...extra }),
    parallel: figure('suiteParallelSeconds', parallel, { command: `${what} --parallel 2`, ...extra }),
  };
}

/** One feature file from the command line, start-up included. */
function oneFeature(z: Sizes, quick: boolean): Figure {
  const runs = spawnSeconds(quick ? 1 : z.runs, !quick, process.execPath, [EXITPATH, 'test', ONE_FEATURE], {});
  return figure('featureSeconds', runs, { command: `node bin/exitpath.js test ${ONE_FEATURE}` });
}

/**
 * A machine's creation and boot (to its first breakpoint, the running system), as each scenario makes
 * one and closes it: `Stack` of the default configuration, then `close()`, so its memory goes to the
 * next. Each run times `boots` of them in a row; the figure is milliseconds per machine.
 */
function bootCost(z: Sizes): Figure {
  const boots = z.boots;
  const once = (): { ms: number; cpuMs: number } => {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < boots; i++) new Stack(DEFAULT_CONFIG).close();
    const c = process.cpuUsage(c0);
    return { ms: +(seconds(t0) * 1000 / boots).toFixed(3), cpuMs: +((c.user + c.system) / 1000 / boots).toFixed(3) };
  };
  once();
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < z.runs; i++) { const r = once(); runs.push(r.ms); cpu.push(r.cpuMs); }
  // Without the pool: a fresh machine's memory from the engine every time, dropped afterwards.
  const fresh: number[] = [];
  for (let i = 0; i < Math.max(1, z.runs - 2); i++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < boots; k++) { const s = new Stack(DEFAULT_CONFIG); s.trace.clear(false); }
    fresh.push(+(seconds(t0) * 1000 / boots).toFixed(3));
  }
  return figure('bootMs', runs, {
    workload: `${boots} machines of the default configuration created, booted and closed in a row, per run`,
    cpuMsRuns: cpu, notClosedRuns: fresh, notClosed: median(fresh),
  });
}

function explainCold(z: Sizes, quick: boolean): Figure {
  const bin = path.join(ROOT, 'bin', 'exitpath.js');
  if (!quick) execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js')], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    return { ...figure('explainColdSeconds', []), note: 'not built (npm run build)' };
  }
  const runs = spawnSeconds(quick ? 1 : z.runs, !quick, process.execPath, [bin, 'explain', 'cpuid 0x0'], {});
  return figure('explainColdSeconds', runs, { command: 'node bin/exitpath.js explain "cpuid 0x0"' });
}

// ------------------------------------------------------------------ the report

function machine(): BenchReport['machine'] {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch { /* not Linux */ }
  return {
    nproc: os.availableParallelism(), cpuModel, node: process.version, os: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)), totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
  };
}

export function runBench(opts: BenchOptions): BenchReport {
  const z = opts.quick ? QUICK : FULL;
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const want = (f: FigureName) => !opts.only || opts.only.includes(f);
  const figures: BenchReport['figures'] = {};
  const report: BenchReport = {
    mode: opts.quick ? 'quick' : 'full', machine: machine(),
    inKernelExitsPerSec: null, userspaceRoundTripsPerSec: null, writeWalksPerSec: null, traceBytesPerEvent: null,
    inKernelExitVsBaseline: null, recordsPerExit: null, baselineRecordsPerSec: null, importLinesPerSec: null, bootMs: null,
    suiteSeconds: null, suiteParallelSeconds: null, featureSeconds: null, explainColdSeconds: null,
    figures, at: '',
  };
  const step = <T>(name: string, fn: () => T): T => {
    const t0 = process.hrtime.bigint();
    const r = fn();
    log(`bench: ${name} (${seconds(t0).toFixed(1)} s)`);
    return r;
  };
  /** A figure measured on its own: into the figures and the headline numbers alike. */
  const measure = (name: Exclude<FigureName, 'inKernelExitsPerSec' | 'inKernelExitVsBaseline' | 'suiteSeconds' | 'suiteParallelSeconds'>, label: string, fn: () => Figure): void => {
    if (!want(name)) return;
    const f = figures[name] = step(label, fn);
    report[name] = f.value;
  };

  if (want('inKernelExitsPerSec') || want('inKernelExitVsBaseline')) {
    const k = step('in-kernel exits', () => inKernelExits(z));
    figures.inKernelExitsPerSec = k.figure;
    report.inKernelExitsPerSec = k.figure.value;
    report.recordsPerExit = k.recordsPerExit;
    if (want('inKernelExitVsBaseline')) {
      const b = step('baseline', () => vsBaseline(z, k.recordsPerExit));
      figures.inKernelExitVsBaseline = b.figure;
      report.inKernelExitVsBaseline = b.figure.value;
      report.baselineRecordsPerSec = b.baseline;
    }
  }
  measure('userspaceRoundTripsPerSec', 'userspace round trips', () => userspaceRoundTrips(z));
  measure('writeWalksPerSec', 'write walks', () => writeWalks(z));
  measure('traceBytesPerEvent', 'trace bytes per event', () => traceBytes(z));
  measure('importLinesPerSec', 'import', () => importLines(z));
  measure('bootMs', 'boot', () => bootCost(z));
  if (want('suiteSeconds') || want('suiteParallelSeconds')) {
    const r = step('suite', () => suite(z, opts.quick));
    figures.suiteSeconds = r.serial;
    figures.suiteParallelSeconds = r.parallel;
    report.suiteSeconds = r.serial.value;
    report.suiteParallelSeconds = r.parallel.value;
    if (r.serial.value !== null && r.parallel.value !== null) report.fasterParallel = r.parallel.value < r.serial.value ? 2 : 0;
  }
  measure('featureSeconds', 'one feature', () => oneFeature(z, opts.quick));
  measure('explainColdSeconds', 'explain cold', () => explainCold(z, opts.quick));
  report.at = new Date().toISOString();
  report.machine.loadAverage = machine().loadAverage;
  return report;
}

const fmt = (v: number | null): string => (v === null ? '—' : v >= 1000 ? Math.round(v).toLocaleString('en-US') : String(+v.toFixed(2)));

export function formatTable(r: BenchReport): string {
  const rows: string[][] = [['figure', 'median', 'target', 'met', 'per CPU-second', 'runs']];
  for (const name of FIGURES) {
    const f = r.figures[name];
    if (!f) continue;
    const cpu = Array.isArray(f.cpuTimeRates) ? fmt(median(f.cpuTimeRates as number[])) : '';
    rows.push([name, fmt(f.value), f.target, f.met === null ? '—' : f.met ? 'yes' : 'NO', cpu, f.runs.map(fmt).join(' ')]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i === 1 || i === 4 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd();
  const m = r.machine;
  const out = [
    `exitpath bench (${r.mode}) on ${m.nproc} × ${m.cpuModel}, node ${m.node}, load ${m.loadAverage.join(' ')}`,
    '',
    line(rows[0]!),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.slice(1).map(line),
  ];
  const imp = r.figures.importLinesPerSec;
  if (imp && typeof imp.lines === 'number') out.push('', `import: exitpath stat over ${fmt(imp.lines)} lines of raw ftrace, trace-cmd and perf script text`);
  const fresh = (['inKernelExitsPerSec', 'userspaceRoundTripsPerSec', 'writeWalksPerSec'] as const)
    .map((n) => [n, r.figures[n]?.freshMemory] as const).filter(([, v]) => typeof v === 'number');
  if (fresh.length) out.push('', `each run's trace store on fresh pages (no reuse): ${fresh.map(([n, v]) => `${n} ${fmt(v as number)}`).join(', ')}`);
  if (r.recordsPerExit !== null) out.push(`records per in-kernel exit: ${r.recordsPerExit}; baseline: ${fmt(r.baselineRecordsPerSec)} records/s`);
  const boot = r.figures.bootMs;
  if (boot && typeof boot.notClosed === 'number') out.push(`a machine that is not closed (fresh memory from the engine each time): ${fmt(boot.notClosed)} ms`);
  if (r.fasterParallel !== undefined) out.push(`exitpath test is faster ${r.fasterParallel ? 'with --parallel 2' : 'serially'} on this machine`);
  out.push('', 'median: per second of wall time, the figure the targets are about; per CPU-second: the same work over the',
    "process's CPU time (all threads, GC included), less sensitive to other processes on a shared machine.");
  if (r.mode === 'quick') out.push('', 'quick mode: tiny sizes, one run each: these figures prove the benchmark runs, nothing more.');
  return out.join('\n') + '\n';
}

/** The runs an earlier bench.json kept (a file of the older shape is one run). */
function previousRuns(file: string): BenchReport[] {
  if (!existsSync(file)) return [];
  try {
    const old = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchFile>;
    if (Array.isArray(old.history)) return old.history;
    const { history: _, ...one } = old;
    return typeof one.mode === 'string' ? [one as BenchReport] : [];
  } catch { return []; }
}

function main(argv: string[]): void {
  let quick = false;
  let out = path.join(ROOT, 'reports', 'bench.json');
  let only: FigureName[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--out') out = path.resolve(argv[++i] ?? '');
    else if (a === '--only') {
      only = (argv[++i] ?? '').split(',') as FigureName[];
      const bad = only.filter((f) => !FIGURES.includes(f));
      if (bad.length) throw new Error(`--only: unknown figure ${bad.join(', ')} (one of ${FIGURES.join(', ')})`);
    } else throw new Error(`bench: unknown argument ${a} (--quick, --out FILE, --only NAME,…)`);
  }
  const r = runBench({ quick, only });
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ ...r, history: [...previousRuns(out), r] } satisfies BenchFile, null, 2) + '\n');
  process.stdout.write(formatTable(r) + `\nJSON: ${path.relative(process.cwd(), out) || out}\n`);
}

if (require.main === module) main(process.argv.slice(2));
