// One action on a fresh VM, as `exitpath explain` and the report show it: the configuration, the
// recorded events with the seed's stages marked, and the summary.

import * as fs from 'node:fs';
import type { VmConfig } from './config';
import { parseAction, umountAction } from './guest/actions';
import { errnoName } from './uapi/errno';
import { Stack } from './stack';
import type { TraceEvent } from './trace/recorder';
import { markStages, summarize, type Summary } from './trace/query';

export interface Walk {
  config: VmConfig; action: string; events: TraceEvent[]; summary: Summary;
  /** Why the action did not complete (the VM stopped, or the vCPU halted with nothing to wake it). */
  unfinished?: string;
}

export function walkEvents(stack: Stack, from: number, to: number): TraceEvent[] {
  const events = stack.trace.slice(from, to);
  markStages(events);
  return events;
}

export interface WalkOptions { traceBoot?: boolean; vcpu?: number; diskOut?: string }

export function explain(config: VmConfig, actionText: string, opts: WalkOptions = {}): Walk {
  const action = parseAction(actionText);
  const stack = new Stack(config, opts);
  const o = stack.submit(action, opts.vcpu ?? 0);
  const events = walkEvents(stack, o.from, o.to);
  const w: Walk = { config, action: actionText, events, summary: summarize(events, o.result ?? { value: Number.NaN, errno: null }, o.cycles, errnoName) };
  if (o.state !== 'done') w.unfinished = o.why ?? o.state;
  if (opts.diskOut !== undefined) saveDisk(stack, opts.diskOut, o.state === 'done');
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
  const img = stack.image;
  const fd = fs.openSync(path, 'w');
  try {
    fs.ftruncateSync(fd, img.size);
    const CHUNK = 1 << 20;
    for (let off = 0; off < img.size; off += CHUNK) {
      const part = img.peek(off, Math.min(CHUNK, img.size - off));
      for (let i = 0; i < part.length; i += 4096) {
        const page = part.subarray(i, i + 4096);
        if (!allZero(page)) fs.writeSync(fd, page, 0, page.length, off + i);
      }
    }
  } finally { fs.closeSync(fd); }
}

// ------------------------------------------------------------------ large runs

/**
 * What `explain` ran, with its events left in the compact trace store and decoded one at a time
 * when written out: a run of a million events is written without holding a million objects or
 * one giant string. The summary and the stage marks are computed once, over the decoded walk.
 */
export interface WalkRun {
  config: VmConfig; action: string; stack: Stack; from: number; to: number; summary: Summary; stages: ReadonlyMap<number, number>;
  unfinished?: string;
}

export function runWalk(config: VmConfig, actionText: string, opts: WalkOptions = {}): WalkRun {
  const action = parseAction(actionText);
  const stack = new Stack(config, opts);
  const o = stack.submit(action, opts.vcpu ?? 0);
  if (opts.diskOut !== undefined) saveDisk(stack, opts.diskOut, o.state === 'done');
  const events = walkEvents(stack, o.from, o.to);
  const summary = summarize(events, o.result ?? { value: Number.NaN, errno: null }, o.cycles, errnoName);
  const stages = new Map<number, number>();
  for (const e of events) if (e.stage !== undefined) stages.set(e.seq, e.stage);
  const run: WalkRun = { config, action: actionText, stack, from: o.from, to: o.to, summary, stages };
  if (o.state !== 'done') run.unfinished = o.why ?? o.state;
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
  for (let seq = run.from; seq < run.to; seq++) out.push(JSON.stringify(runEvent(run, seq)) + '\n');
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

/** Whether a 4 KiB page (at a 4-byte aligned offset of its buffer) holds only zeros. */
function allZero(page: Uint8Array): boolean {
  const w = new Int32Array(page.buffer, page.byteOffset, page.length >> 2);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  for (let i = w.length << 2; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}
