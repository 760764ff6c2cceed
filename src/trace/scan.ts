// The walk's stages and summary computed event by event, as the events are recorded, so that a run
// of any length can be summarised and written out without being held: what markStages and
// summarize (query.ts) compute over a whole walk, the scanner computes looking at each event once,
// in order, from the compact store. Its only look back is for stages ① and ②, which are known
// at the first VM exit: until then the events from the last candidate on must stay in the store
// (`holdFrom`). The two give the same answer on every walk (test/scan.test.ts).

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

export class WalkScanner {
  /** Events scanned so far: [from, next). */
  next: number;
  /** Stages marked, by seq (at most ten). */
  readonly stages = new Map<number, number>();
  // ---- stages: the state of markStages, kept as the walk goes by
  private phase: 'before-exit' | 'after-exit' | 'done' = 'before-exit';
  private lastSyscall = -1;
  private lastInsn = -1;
  private s1Name = '';
  private s2Rip = Number.NaN;
  private s4: 'look' | 'found' | 'absent' = 'look';
  private s5: 'look' | 'found' | 'stopped' = 'look';
  private s5Name = '';
  private s6 = false;
  private s7 = false;
  private s8 = false;
  private s9 = false;
  private s10 = false;
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

  /** The first event that may still get a stage (① or ②): events before it are final. */
  get holdFrom(): number {
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

  private mark(seq: number, stage: number): void { this.stages.set(seq, stage); }

  /** markStages, one event at a time. */
  private stage(seq: number, i: TypeInfo): void {
    const r = this.r;
    if (this.phase === 'done') return;
    if (this.phase === 'before-exit') {
      if (i.k === K.GuestSyscall) this.lastSyscall = seq;
      else if (i.k === K.Instruction) this.lastInsn = seq;
      else if (i.k === K.Exit || i.k === K.FailedEntry) {
        if (this.lastInsn < 0) { this.phase = 'done'; return; }
        if (this.lastSyscall >= 0) { this.mark(this.lastSyscall, 1); this.s1Name = info(r.typeAt(this.lastSyscall)).name; }
        this.mark(this.lastInsn, 2);
        const ii = info(r.typeAt(this.lastInsn));
        this.s2Rip = ii.argRip >= 0 ? r.argAt(this.lastInsn, ii.argRip) : Number.NaN;
        this.mark(seq, 3);
        this.s10 = this.lastSyscall < 0;
        this.lastSyscall = this.lastInsn = -1;
        this.phase = 'after-exit';
      }
      return;
    }
    // After the first exit: each search looks forward from where markStages starts it.
    if (!this.s10 && i.k === K.GuestSyscallReturn && i.name === this.s1Name) { this.mark(seq, 10); this.s10 = true; }
    if (this.s4 === 'look') {
      if (i.k === K.UserspaceExit) { this.mark(seq, 4); this.s4 = 'found'; return; }
      if (i.k === K.Entry) { this.s4 = 'absent'; this.mark(seq, 8); this.s8 = true; return; }
      return;
    }
    if (this.s4 === 'found') {
      if (this.s5 === 'look') {
        if (i.k === K.QemuSyscall) { this.mark(seq, 5); this.s5 = 'found'; this.s5Name = i.name; return; }
        if (i.k === K.KvmRunIoctl) this.s5 = 'stopped';
      } else if (this.s5 === 'found' && !this.s6 && i.k === K.HostSyscallReturn && !i.ioctl && i.to === 'qemu-kvm' && i.name === this.s5Name) {
        this.mark(seq, 6); this.s6 = true; return;
      }
      if (!this.s7) {
        if (i.k === K.KvmRunIoctl) { this.mark(seq, 7); this.s7 = true; }
        return;
      }
      if (!this.s8) {
        if (i.k === K.Entry) { this.mark(seq, 8); this.s8 = true; }
        return;
      }
    }
    if (this.s8 && !this.s9 && i.k === K.EmulationComplete && i.argRip >= 0 && r.argAt(seq, i.argRip) === this.s2Rip) {
      this.mark(seq, 9); this.s9 = true;
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
