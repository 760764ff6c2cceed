// One action on a fresh VM, as `exitpath explain` and the report show it: the configuration, the
// recorded events with the seed's stages marked, and the summary. Three ways to run one:
//   explain     the walk held as event objects (the narrative, the diagram, the ftrace text, compare);
//   runWalk     the walk kept in the compact store and decoded one event at a time when written out
//               (`--format json`);
//   streamWalk  the walk written out as it is recorded and let go (`--trace-out FILE`): memory stays
//               bounded whatever the length of the run, and the summary counts repeats.
// The first two hold every event, so a run that would record more than MAX_HELD_EVENTS is refused
// (estimated up front for a workload, and checked as the events come).

import * as fs from 'node:fs';
import type { VmConfig } from './config';
import { parseAction, umountAction } from './guest/actions';
import { errnoName } from './uapi/errno';
import { Stack, type ActionProgress } from './stack';
import type { ImageFile } from './host/disk';
import type { TraceEvent } from './trace/recorder';
import { markStages, summarize, type Summary } from './trace/query';
import { WalkScanner, type CountedSummary } from './trace/scan';

/**
 * Events a walk may have when it is held in memory: a million event objects (about 230 bytes each)
 * and their narrative fit comfortably in the engine's default heap. Larger runs go to a file.
 */
export const MAX_HELD_EVENTS = 1_000_000;

/** A run that would hold more events than MAX_HELD_EVENTS: a user error, with the way out. */
export class TooManyEventsError extends Error {}

export interface Walk {
  config: VmConfig; action: string; events: TraceEvent[]; summary: Summary;
  /** Why the action did not complete (the VM stopped, or the vCPU halted with nothing to wake it). */
  unfinished?: string;
  /** Invariants the run broke and guard-rail refusals (Stack.problems): empty for every sound run. */
  problems: string[];
}

export interface WalkOptions {
  traceBoot?: boolean; vcpu?: number;
  /** `--disk-out FILE`: after the action, unmount and write the disk image to FILE (saveDisk). */
  diskOut?: string;
}

/** What an action may ask of this machine (a buffer must fit in guest RAM). */
const limitsOf = (config: VmConfig) => ({ ramBytes: config.memory_mib * 1024 * 1024 });

export function walkEvents(stack: Stack, from: number, to: number): TraceEvent[] {
  const events = stack.trace.slice(from, to);
  markStages(events);
  return events;
}

const tooMany = (action: string, what: string): TooManyEventsError => new TooManyEventsError(
  `action "${action}" ${what}; explain holds at most ${MAX_HELD_EVENTS.toLocaleString('en-US')} in memory: `
  + 'write them to a file with --trace-out FILE (memory stays bounded)');

/** Refuse, as the events come, a held run that grows past MAX_HELD_EVENTS. */
function limitHeld(stack: Stack, actionText: string): void {
  const from = stack.actionStart;
  stack.trace.onChunkFull = (t) => {
    if (t.length - from > MAX_HELD_EVENTS) throw tooMany(actionText, `records more than ${MAX_HELD_EVENTS.toLocaleString('en-US')} events`);
  };
}

function unfinished(o: ActionProgress): string | undefined { return o.state !== 'done' ? o.why ?? o.state : undefined; }

export function explain(config: VmConfig, actionText: string, opts: WalkOptions = {}): Walk {
  const action = parseAction(actionText, limitsOf(config));
  const stack = new Stack(config, opts);
  limitHeld(stack, actionText);
  let o: ActionProgress;
  let events: TraceEvent[];
  let problems: string[];
  try {
    o = stack.submit(action, opts.vcpu ?? 0);
    events = walkEvents(stack, o.from, o.to);
    problems = stack.problems();
    if (opts.diskOut !== undefined) saveDisk(stack, opts.diskOut, o.state === 'done');
  } finally { stack.close(); }
  const w: Walk = { config, action: actionText, events, summary: summarize(events, o.result ?? { value: Number.NaN, errno: null }, o.cycles, errnoName), problems };
  const u = unfinished(o);
  if (u !== undefined) w.unfinished = u;
  return w;
}

/**
 * `--disk-out FILE`: after the action the guest unmounts its file system (sync_filesystem and
 * ext2_put_super: every dirty page and buffer written, the superblock marked clean) — outside the
 * walk shown — and the image, as a process on the host reads it, is written to FILE (sparse: runs
 * of zeros are holes). An action that did not complete leaves the file system mounted.
 */
export function saveDisk(stack: Stack, path: string, unmount: boolean): void {
  if (unmount) stack.run(umountAction());
  writeImageFile(stack.image, path);
}

/**
 * The image as a process on the host reads it (peek), written to `path` as a sparse file: only the
 * pieces that may hold data are read, and a 4 KiB page of zeros is left a hole.
 */
export function writeImageFile(img: ImageFile, path: string): void {
  const fd = fs.openSync(path, 'w');
  try {
    fs.ftruncateSync(fd, img.size);
    const SPAN = 64 * 1024;
    for (const i of img.spansInUse(SPAN)) {
      const off = i * SPAN;
      const part = img.peek(off, Math.min(SPAN, img.size - off));
      for (let p = 0; p < part.length; p += 4096) {
        const page = part.subarray(p, p + 4096);
        if (!allZero(page)) fs.writeSync(fd, page, 0, page.length, off + p);
      }
    }
  } finally { fs.closeSync(fd); }
}

/** Whether a 4 KiB page (at a 4-byte aligned offset of its buffer) holds only zeros. */
function allZero(page: Uint8Array): boolean {
  const w = new Int32Array(page.buffer, page.byteOffset, page.length >> 2);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  for (let i = w.length << 2; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}

// ------------------------------------------------------------------ the size of a workload

/**
 * How many events an action will record, estimated before it runs: for a workload of N
 * repetitions (loop N …, write-blocks N …), the first repetition's events plus N − 1 times what the
 * second adds, measured on two small runs on fresh VMs; undefined for a single action.
 */
export function estimateEvents(config: VmConfig, actionText: string, opts: WalkOptions = {}): number | undefined {
  const t = actionText.trim();
  const m = /^(loop|write-blocks)\s+(\d+)(\s.*)$/.exec(t);
  if (!m) return undefined;
  const n = Number(m[2]);
  parseAction(t, limitsOf(config));      // refuse a malformed workload before probing it
  if (!(n > 2)) return undefined;
  const probe = (k: number): number => {
    const stack = new Stack(config, opts);
    try {
      const o = stack.submit(parseAction(`${m[1]} ${k}${m[3]}`, limitsOf(config)), opts.vcpu ?? 0);
      return o.to - o.from;
    } finally { stack.close(); }
  };
  const one = probe(1);
  return one + (n - 1) * Math.max(0, probe(2) - one);
}

/** Refuse up front an action whose estimated events do not fit in memory (a held walk). */
export function checkHeldSize(config: VmConfig, actionText: string, opts: WalkOptions = {}): void {
  const est = estimateEvents(config, actionText, opts);
  if (est !== undefined && est > MAX_HELD_EVENTS) throw tooMany(actionText, `records about ${est.toLocaleString('en-US')} events`);
}

// ------------------------------------------------------------------ large runs, decoded one event at a time

/**
 * What `explain` ran, with its events left in the compact trace store and decoded one at a time
 * when written out: a run of a million events is written without holding a million objects or
 * one giant string. The summary and the stage marks are computed as the events are recorded.
 */
export interface WalkRun {
  config: VmConfig; action: string; stack: Stack; from: number; to: number; summary: Summary; stages: ReadonlyMap<number, number>;
  unfinished?: string;
  problems: string[];
}

export function runWalk(config: VmConfig, actionText: string, opts: WalkOptions = {}): WalkRun {
  const action = parseAction(actionText, limitsOf(config));
  const stack = new Stack(config, opts);
  limitHeld(stack, actionText);
  const scanner = new WalkScanner(stack.trace, stack.actionStart, true);
  const o = stack.submit(action, opts.vcpu ?? 0);
  scanner.scan(o.to);
  if (opts.diskOut !== undefined) saveDisk(stack, opts.diskOut, o.state === 'done');
  const summary = scanner.summary(o.result ?? { value: Number.NaN, errno: null }, o.cycles, errnoName);
  const run: WalkRun = { config, action: actionText, stack, from: o.from, to: o.to, summary, stages: scanner.stages, problems: stack.problems() };
  const u = unfinished(o);
  if (u !== undefined) run.unfinished = u;
  return run;
}

/** Event `seq` of a run, decoded as in `Walk.events` (stage included). */
export function runEvent(run: WalkRun, seq: number): TraceEvent {
  const e = run.stack.trace.get(seq);
  const stage = run.stages.get(seq);
  if (stage !== undefined) e.stage = stage;
  return e;
}

/** Collects text and hands it on in blocks of about a megabyte. */
class BlockWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly sink: (s: string) => void) {}
  push(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 20) this.flush();
  }
  flush(): void {
    if (this.size === 0) return;
    this.sink(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

/** The run's events as ndjson: one event object a line, as in `--format json`; returns how many. */
export function writeTraceNdjson(run: WalkRun, sink: (s: string) => void): number {
  const out = new BlockWriter(sink);
  const t = run.stack.trace;
  for (let seq = run.from; seq < run.to; seq++) out.push(t.jsonLine(seq, run.stages.get(seq)) + '\n');
  out.flush();
  return run.to - run.from;
}

/**
 * `{ config, events, summary }` exactly as `JSON.stringify(walk, null, 2)` prints it, written in
 * blocks, so that the size of the output is not bounded by the largest string the engine can hold.
 */
export function writeWalkJson(run: WalkRun, sink: (s: string) => void): void {
  const nested = (v: unknown, indent: string) => JSON.stringify(v, null, 2).replace(/\n/g, '\n' + indent);
  const out = new BlockWriter(sink);
  out.push(`{\n  "config": ${nested(run.config, '  ')},\n  "events": [`);
  for (let seq = run.from; seq < run.to; seq++) out.push(`${seq === run.from ? '' : ','}\n    ${nested(runEvent(run, seq), '    ')}`);
  out.push(`${run.to > run.from ? '\n  ' : ''}],\n  "summary": ${nested(run.summary, '  ')}${run.unfinished ? `,\n  "unfinished": ${JSON.stringify(run.unfinished)}` : ''}\n}\n`);
  out.flush();
}

// ------------------------------------------------------------------ runs of any length, streamed

export interface StreamedWalk {
  config: VmConfig; action: string;
  /** Events written. */
  events: number;
  summary: CountedSummary;
  unfinished?: string;
  problems: string[];
  /** The most the trace store held at once, in bytes of its columns (its own accounting). */
  peakStoreBytes: number;
}

/**
 * Run an action and write its events as ndjson while they are recorded — one object a line, the
 * objects of `--format json`, stages included — letting each chunk of the store go once it is
 * written and checked. Memory stays bounded however long the run: the store keeps the chunk being
 * filled and those the stage marks still look back into (see WalkScanner), and the summary keeps
 * counts. `onProgress` is told the events so far after each chunk.
 */
export function streamWalk(config: VmConfig, actionText: string, opts: WalkOptions, sink: (s: string) => void,
  onProgress?: (events: number) => void): StreamedWalk {
  const action = parseAction(actionText, limitsOf(config));
  const stack = new Stack(config, opts);
  const t = stack.trace;
  const from = stack.actionStart;
  const scanner = new WalkScanner(t, from, false);
  const out = new BlockWriter(sink);
  let written = from;
  let peakStoreBytes = 0;
  const writeUpTo = (to: number): void => {
    for (let seq = written; seq < to; seq++) out.push(t.jsonLine(seq, scanner.stages.get(seq)) + '\n');
    written = Math.max(written, to);
  };
  t.onChunkFull = () => {
    scanner.scan(t.length);
    stack.invariants.check(t);
    writeUpTo(scanner.holdFrom);
    peakStoreBytes = Math.max(peakStoreBytes, t.residentBytes().columns);
    t.release(Math.min(written, stack.invariants.checked));
    onProgress?.(t.length - from);
  };
  let o: ActionProgress;
  let w: StreamedWalk;
  try {
    try { o = stack.submit(action, opts.vcpu ?? 0); } finally { t.onChunkFull = undefined; }
    if (opts.diskOut !== undefined) saveDisk(stack, opts.diskOut, o.state === 'done');
    scanner.scan(o.to);
    scanner.end();
    writeUpTo(o.to);
    out.flush();
    w = {
      config, action: actionText, events: o.to - o.from,
      summary: scanner.counted(o.result ?? { value: Number.NaN, errno: null }, o.cycles, errnoName),
      problems: stack.problems(), peakStoreBytes: Math.max(peakStoreBytes, t.residentBytes().columns),
    };
  } finally { stack.close(); }
  const u = unfinished(o);
  if (u !== undefined) w.unfinished = u;
  return w;
}
