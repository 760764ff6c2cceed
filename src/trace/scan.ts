// The walk's stages and summary computed event by event, as the events are recorded, so that a run
// of any length can be summarised and written out without being held: what markStages and
// summarize (query.ts) compute over a whole walk, the scanner computes looking at each event once,
// in order, from the compact store. Its only look back is for stages ① and ②, which are known
// at the first VM exit — or, when that exit came inside an open, at the next syscall's first exit:
// until then the events from the first candidate on must stay in the store (`holdFrom`). The two
// give the same answer on every walk (test/scan.test.ts).

import { eventType } from './events';
import { hex } from './recorder';
import type { ExitSummary, Summary } from './query';

/** What the scanner reads from a trace store. */
export interface ScanReader {
  typeAt(seq: number): number;
  argAt(seq: number, k: number): number;
  vcpuAt(seq: number): number;
}

/** A summary with repeated items counted: what a run of millions of events can keep. */
export interface CountedSummary {
  /** Events in the walk. */
  events: number;
  exits: (Omit<ExitSummary, 'qualification'> & { count: number })[];
  entries: { name: string; count: number }[];
  hostSyscalls: { name: string; request?: string; result: number; process: string; count: number }[];
  stages: number[];
  guestResult: Summary['guestResult'];
  guestInterrupts: number;
  cycles: number;
}

const enum K {
  Other, Exit, FailedEntry, Entry, Handler, UserspaceExit, HostSyscallReturn, GuestSyscall, GuestSyscallReturn,
  Instruction, EmulationComplete, QemuSyscall, KvmRunIoctl, Interrupt,
}

interface TypeInfo {
  k: K; name: string; to: string;
  /** A HostSyscallReturn that is an ioctl returning from kvm (not a syscall-return). */
  ioctl: boolean;
  /** For an exit: reasonNumber and qualification; for returns: result; for instructions and completions: rip. */
  argRip: number;
}

const infos: (TypeInfo | undefined)[] = [];
function info(type: number): TypeInfo {
  let i = infos[type];
  if (i !== undefined) return i;
  const t = eventType(type);
  let k = K.Other;
  if (t.kind === 'vm-exit') k = t.name === 'VMfailValid' ? K.FailedEntry : K.Exit;
  else if (t.kind === 'vm-entry') k = K.Entry;
  else if (t.kind === 'exit-handler') k = K.Handler;
  else if (t.kind === 'ioctl-return' && t.from === 'kvm') k = t.name.startsWith('KVM_EXIT_') ? K.UserspaceExit : K.HostSyscallReturn;
  else if (t.kind === 'syscall-return' && t.from === 'host kernel') k = K.HostSyscallReturn;
  else if (t.kind === 'syscall' && t.from === 'guest process') k = K.GuestSyscall;
  else if (t.kind === 'syscall-return' && t.to === 'guest process') k = K.GuestSyscallReturn;
  else if (t.kind === 'instruction') k = K.Instruction;
  else if (t.kind === 'emulation-complete') k = K.EmulationComplete;
  else if (t.kind === 'syscall' && t.from === 'qemu-kvm') k = K.QemuSyscall;
  else if (t.kind === 'ioctl' && t.name === 'KVM_RUN') k = K.KvmRunIoctl;
  else if (t.kind === 'irq' && t.name === 'interrupt') k = K.Interrupt;
  i = { k, name: t.name, to: t.to, ioctl: t.kind === 'ioctl-return', argRip: t.args.findIndex((a) => a.name === 'rip') };
  infos[type] = i;
  return i;
}

/** An exit whose handler and userspace exit are still being looked for (on its vCPU). */
interface OpenExit { e: ExitSummary; done: boolean }

/**
 * Stages ① and ② are looked for among the events since the last candidate before the first VM
 * exit; a walk that goes this many events past both candidates without an exit gets no stages (the
 * store would otherwise have to keep all of them).
 */
export const MAX_STAGE_LOOKBACK = 1 << 22;

/** DATA_SYSCALLS of query.ts: the syscalls whose walk is the talk's. */
const DATA_SYSCALLS = new Set(['write', 'read', 'fsync', 'fdatasync']);

/** markStages' searches after stage ③, for one candidate first exit: where each stage stands. */
interface StageWalk {
  /** Where this walk's marks go: the scanner's stages, or held apart while it may yet be replaced. */
  marks: Map<number, number>;
  /** Its first marked event (① or ②). */
  first: number;
  s1Name: string;
  s2Rip: number;
  s4: 'look' | 'found' | 'absent';
  s5: 'look' | 'found' | 'stopped';
  s5Name: string;
  s6: boolean; s7: boolean; s8: boolean; s9: boolean; s10: boolean;
}

export class WalkScanner {
  /** Events scanned so far: [from, next). */
  next: number;
  /** Stages marked, by seq (at most ten). */
  readonly stages = new Map<number, number>();
  // ---- stages: the state of markStages, kept as the walk goes by
  private phase: 'before-exit' | 'deferred' | 'after-exit' | 'done' = 'before-exit';
  private lastSyscall = -1;
  private lastInsn = -1;
  /** The walk from the candidate first exit. */
  private w: StageWalk | undefined;
  /**
   * While deferred (the first exit came inside a syscall that is not a data syscall): waiting for
   * that syscall's return, then for the next syscall, then — a data syscall — for its first exit.
   */
  private defer: 'return' | 'next' | 'data' = 'return';
  private dataSyscall = -1;
  // ---- summary
  private readonly open = new Map<number, OpenExit>();
  private readonly pending: OpenExit[] = [];
  private exitList: ExitSummary[] | undefined;
  private readonly exitCounts = new Map<string, CountedSummary['exits'][number]>();
  private entryList: string[] | undefined;
  private readonly entryCounts = new Map<string, number>();
  private syscallList: Summary['hostSyscalls'] | undefined;
  private readonly syscallCounts = new Map<string, CountedSummary['hostSyscalls'][number]>();
  private interrupts = 0;

  /** `full`: keep every exit, entry and syscall (the Summary of query.ts); otherwise only counts. */
  constructor(private readonly r: ScanReader, readonly from: number, full: boolean) {
    this.next = from;
    if (full) { this.exitList = []; this.entryList = []; this.syscallList = []; }
  }

  /** The first event that may still get a stage (① or ②), or lose one: events before it are final. */
  get holdFrom(): number {
    if (this.phase === 'deferred') return Math.min(this.w!.first, this.next);
    if (this.phase !== 'before-exit') return this.next;
    const c = [this.lastSyscall, this.lastInsn].filter((x) => x >= 0);
    return c.length ? Math.min(...c) : this.next;
  }

  /** Scan events up to `to`. */
  scan(to: number): void {
    const r = this.r;
    for (let seq = this.next; seq < to; seq++) {
      const i = info(r.typeAt(seq));
      if (i.k === K.Other) continue;
      this.stage(seq, i);
      this.summarise(seq, i);
    }
    this.next = Math.max(this.next, to);
    if (this.phase === 'before-exit' && this.next - this.holdFrom > MAX_STAGE_LOOKBACK) {
      this.phase = 'done';
      this.lastSyscall = this.lastInsn = -1;
    }
  }

  /** The walk has ended: a deferred first exit keeps its stages (no data syscall took them). */
  end(): void {
    if (this.phase === 'deferred') this.commit();
  }

  /** Stages ①–③ of a candidate first exit; ④–⑩ follow as the walk goes on. */
  private begin(syscall: number, insn: number, exit: number, marks: Map<number, number>): StageWalk {
    const r = this.r;
    const ii = info(r.typeAt(insn));
    const w: StageWalk = {
      marks, first: syscall >= 0 ? Math.min(syscall, insn) : insn, s1Name: syscall >= 0 ? info(r.typeAt(syscall)).name : '',
      s2Rip: ii.argRip >= 0 ? r.argAt(insn, ii.argRip) : Number.NaN,
      s4: 'look', s5: 'look', s5Name: '', s6: false, s7: false, s8: false, s9: false, s10: syscall < 0,
    };
    if (syscall >= 0) marks.set(syscall, 1);
    marks.set(insn, 2);
    marks.set(exit, 3);
    return w;
  }

  /** The deferred walk's stages are the walk's. */
  private commit(): void {
    const w = this.w!;
    for (const [seq, st] of w.marks) this.stages.set(seq, st);
    w.marks = this.stages;
    this.phase = 'after-exit';
  }

  /** markStages, one event at a time. */
  private stage(seq: number, i: TypeInfo): void {
    if (this.phase === 'done') return;
    if (i.k === K.Instruction) this.lastInsn = seq;
    if (this.phase === 'before-exit') {
      if (i.k === K.GuestSyscall) this.lastSyscall = seq;
      else if (i.k === K.Exit || i.k === K.FailedEntry) {
        if (this.lastInsn < 0) { this.phase = 'done'; return; }
        const deferred = this.lastSyscall >= 0 && !DATA_SYSCALLS.has(info(this.r.typeAt(this.lastSyscall)).name);
        this.w = this.begin(this.lastSyscall, this.lastInsn, seq, deferred ? new Map() : this.stages);
        this.lastSyscall = -1;
        this.phase = deferred ? 'deferred' : 'after-exit';
        this.defer = 'return';
      }
      return;
    }
    this.follow(this.w!, seq, i);
    if (this.phase !== 'deferred') return;
    // The first exit came inside an open (or another syscall that is not the talk's): the next
    // syscall takes the stages if it is a data syscall and exits before it returns.
    if (this.defer === 'return') {
      if (i.k === K.GuestSyscallReturn && i.name === this.w!.s1Name) this.defer = 'next';
    } else if (this.defer === 'next') {
      if (i.k === K.GuestSyscall) {
        if (DATA_SYSCALLS.has(i.name)) { this.dataSyscall = seq; this.defer = 'data'; } else this.commit();
      }
    } else if (i.k === K.GuestSyscallReturn && i.name === info(this.r.typeAt(this.dataSyscall)).name) {
      this.commit();
    } else if (i.k === K.Exit || i.k === K.FailedEntry) {
      this.w = this.begin(this.dataSyscall, this.lastInsn, seq, this.stages);
      this.phase = 'after-exit';
    }
  }

  /** After stage ③: each search looks forward from where markStages starts it. */
  private follow(w: StageWalk, seq: number, i: TypeInfo): void {
    const r = this.r;
    const mark = (s: number, st: number) => w.marks.set(s, st);
    if (!w.s10 && i.k === K.GuestSyscallReturn && i.name === w.s1Name) { mark(seq, 10); w.s10 = true; }
    if (w.s4 === 'look') {
      if (i.k === K.UserspaceExit) { mark(seq, 4); w.s4 = 'found'; return; }
      if (i.k === K.Entry) { w.s4 = 'absent'; mark(seq, 8); w.s8 = true; return; }
      return;
    }
    if (w.s4 === 'found') {
      if (w.s5 === 'look') {
        if (i.k === K.QemuSyscall) { mark(seq, 5); w.s5 = 'found'; w.s5Name = i.name; return; }
        if (i.k === K.KvmRunIoctl) w.s5 = 'stopped';
      } else if (w.s5 === 'found' && !w.s6 && i.k === K.HostSyscallReturn && !i.ioctl && i.to === 'qemu-kvm' && i.name === w.s5Name) {
        mark(seq, 6); w.s6 = true; return;
      }
      if (!w.s7) {
        if (i.k === K.KvmRunIoctl) { mark(seq, 7); w.s7 = true; }
        return;
      }
      if (!w.s8) {
        if (i.k === K.Entry) { mark(seq, 8); w.s8 = true; }
        return;
      }
    }
    if (w.s8 && !w.s9 && i.k === K.EmulationComplete && i.argRip >= 0 && r.argAt(seq, i.argRip) === w.s2Rip) {
      mark(seq, 9); w.s9 = true;
    }
  }

  /** summarize, one event at a time. */
  private summarise(seq: number, i: TypeInfo): void {
    const r = this.r;
    switch (i.k) {
      case K.Exit: {
        const v = r.vcpuAt(seq);
        this.close(v);
        const e: ExitSummary = { reason: i.name, reasonNumber: r.argAt(seq, 0), qualification: hex(r.argAt(seq, 1)), handler: null, handledIn: 'kernel', userspaceExit: null, vcpu: v };
        const o = { e, done: false };
        this.open.set(v, o);
        this.pending.push(o);
        this.exitList?.push(e);
        return;
      }
      case K.FailedEntry: case K.Entry: {
        this.close(r.vcpuAt(seq));
        if (i.k === K.Entry) {
          if (this.entryList) this.entryList.push(i.name);
          else this.entryCounts.set(i.name, (this.entryCounts.get(i.name) ?? 0) + 1);
        }
        return;
      }
      case K.Handler: {
        const o = this.open.get(r.vcpuAt(seq));
        if (o && o.e.handler === null) o.e.handler = i.name;
        return;
      }
      case K.UserspaceExit: {
        const v = r.vcpuAt(seq);
        const o = this.open.get(v);
        if (o) { o.e.userspaceExit = i.name; o.e.handledIn = 'userspace'; this.close(v); }
        this.syscall('ioctl', 'KVM_RUN', r.argAt(seq, 0), i.to);
        return;
      }
      case K.HostSyscallReturn:
        if (i.ioctl) this.syscall('ioctl', i.name, r.argAt(seq, 0), i.to);
        else this.syscall(i.name, undefined, r.argAt(seq, 0), i.to);
        return;
      case K.Interrupt: this.interrupts++; return;
      default: return;
    }
  }

  private syscall(name: string, request: string | undefined, result: number, process: string): void {
    if (this.syscallList) {
      this.syscallList.push(request === undefined ? { name, result, process } : { name, request, result, process });
      return;
    }
    const key = `${name}|${request ?? ''}|${process}|${result}`;
    const c = this.syscallCounts.get(key);
    if (c) c.count++;
    else this.syscallCounts.set(key, request === undefined ? { name, result, process, count: 1 } : { name, request, result, process, count: 1 });
  }

  /** The exit open on this vCPU has all it will get; exits are counted in the order they happened. */
  private close(v: number): void {
    const o = this.open.get(v);
    if (!o) return;
    o.done = true;
    this.open.delete(v);
    this.drain();
  }

  private drain(): void {
    const p = this.pending;
    let n = 0;
    while (n < p.length && p[n]!.done) n++;
    if (n === 0) return;
    if (!this.exitList) for (let k = 0; k < n; k++) this.count(p[k]!.e);
    p.splice(0, n);
  }

  private count(e: ExitSummary): void {
    const key = `${e.reason}|${e.reasonNumber}|${e.handler ?? ''}|${e.userspaceExit ?? ''}|${e.vcpu}`;
    const c = this.exitCounts.get(key);
    if (c) { c.count++; return; }
    this.exitCounts.set(key, { reason: e.reason, reasonNumber: e.reasonNumber, handler: e.handler, handledIn: e.handledIn, userspaceExit: e.userspaceExit, vcpu: e.vcpu, count: 1 });
  }

  private sortedStages(): number[] { return [...this.stages.values()].sort((a, b) => a - b); }

  private finish(): void {
    this.end();
    for (const o of this.pending) o.done = true;
    this.open.clear();
    this.drain();
  }

  /** The Summary of query.ts (the scanner must have been made with `full`). */
  summary(result: { value: number; errno: number | null; fault?: number }, cycles: number, errnoName: (n: number) => string): Summary {
    this.finish();
    if (!this.exitList || !this.entryList || !this.syscallList) throw new Error('WalkScanner: a counted scanner has no full summary');
    return { exits: this.exitList, entries: this.entryList, hostSyscalls: this.syscallList, stages: this.sortedStages(),
      guestResult: guestResult(result, errnoName), guestInterrupts: this.interrupts, cycles: Math.round(cycles) };
  }

  /** The summary with repeats counted. */
  counted(result: { value: number; errno: number | null; fault?: number }, cycles: number, errnoName: (n: number) => string): CountedSummary {
    this.finish();
    const exits = this.exitList ? countList(this.exitList, (e) => this.count(e), this.exitCounts) : [...this.exitCounts.values()];
    return {
      events: this.next - this.from, exits,
      entries: [...(this.entryList ? tally(this.entryList) : this.entryCounts)].map(([name, count]) => ({ name, count })),
      hostSyscalls: this.syscallList ? countSyscalls(this.syscallList) : [...this.syscallCounts.values()],
      stages: this.sortedStages(), guestResult: guestResult(result, errnoName), guestInterrupts: this.interrupts, cycles: Math.round(cycles),
    };
  }
}

function countList<T, C>(list: T[], add: (x: T) => void, into: Map<string, C>): C[] {
  into.clear();
  for (const x of list) add(x);
  return [...into.values()];
}
function tally(list: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of list) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
function countSyscalls(list: Summary['hostSyscalls']): CountedSummary['hostSyscalls'] {
  const m = new Map<string, CountedSummary['hostSyscalls'][number]>();
  for (const s of list) {
    const key = `${s.name}|${s.request ?? ''}|${s.process}|${s.result}`;
    const c = m.get(key);
    if (c) c.count++; else m.set(key, { ...s, count: 1 });
  }
  return [...m.values()];
}

export function guestResult(result: { value: number; errno: number | null; fault?: number }, errnoName: (n: number) => string): Summary['guestResult'] {
  const g: Summary['guestResult'] = { value: result.value, errno: result.errno === null ? null : errnoName(result.errno) };
  if (result.fault !== undefined) g.fault = result.fault === 13 ? '#GP' : result.fault === 6 ? '#UD' : `vector ${result.fault}`;
  return g;
}
