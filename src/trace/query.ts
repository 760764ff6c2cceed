// Questions asked of a recorded walk: its crossings, which of them are the seed's ①–⑩, and the
// summary `exitpath explain --format json` prints. Everything here is derived from the
// events; nothing is looked up in the simulator's state.

import type { TraceEvent } from './recorder';

export const isCrossing = (e: TraceEvent): boolean => e.from !== e.to;

export interface ExitSummary {
  reason: string;
  reasonNumber: number;
  qualification: string;
  handler: string | null;
  /** For an imported host trace: how the handler was found (inferred from kvm's table, or seen in a stack trace). */
  handlerEvidence?: string;
  handledIn: 'kernel' | 'userspace';
  userspaceExit: string | null;
  /** The vCPU that exited. */
  vcpu: number;
}

export interface Summary {
  exits: ExitSummary[];
  entries: string[];
  /** Every syscall a host process made (qemu-kvm, or a vhost-user backend), with its result. */
  hostSyscalls: { name: string; request?: string; result: number; process: string }[];
  stages: number[];
  guestResult: { value: number; errno: string | null; fault?: string };
  guestInterrupts: number;
  cycles: number;
}

const isUserspaceExit = (e: TraceEvent) => e.kind === 'ioctl-return' && e.from === 'kvm' && e.name.startsWith('KVM_EXIT_');

/** The syscalls whose walk is the talk's: the process's data moving (or made durable). */
const DATA_SYSCALLS = new Set(['write', 'read', 'fsync', 'fdatasync']);

/**
 * Mark the seed's stages ①–⑩ on a walk: the guest syscall that leads to a VM exit (①), the
 * instruction that exits (②), the exit (③), KVM_RUN returning to qemu-kvm (④), qemu's first host
 * syscall while handling it (⑤) and its return (⑥), KVM_RUN again (⑦), the VM entry (⑧), the
 * instruction completing in the guest (⑨), and the syscall returning (⑩). Stages a path does not
 * take (④–⑦ for an exit handled in the kernel) are simply absent. The exit is the walk's first,
 * unless that came inside a syscall that moves no data — an open whose lookup read the disk: then,
 * if the next syscall is a write, read, fsync or fdatasync that exits, its first exit (the open's
 * I/O is the preamble of the talk's walk).
 */
export function markStages(events: TraceEvent[]): void {
  const find = (from: number, pred: (e: TraceEvent) => boolean, stop?: (e: TraceEvent) => boolean): number => {
    for (let i = from; i < events.length; i++) {
      const e = events[i]!;
      if (pred(e)) return i;
      if (stop?.(e)) return -1;
    }
    return -1;
  };
  const isGuestSyscall = (e: TraceEvent) => e.kind === 'syscall' && e.from === 'guest process';
  const returnOf = (name: string) => (e: TraceEvent) => e.kind === 'syscall-return' && e.to === 'guest process' && e.name === name;
  let firstExit = find(0, (e) => e.kind === 'vm-exit');
  // No instruction before the first exit: no stages at all.
  if (firstExit < 0 || !events.slice(0, firstExit).some((e) => e.kind === 'instruction')) return;
  {
    let before = -1;
    for (let i = firstExit - 1; i >= 0; i--) if (isGuestSyscall(events[i]!)) { before = i; break; }
    if (before >= 0 && !DATA_SYSCALLS.has(events[before]!.name)) {
      const ret = find(firstExit + 1, returnOf(events[before]!.name));
      const next = ret >= 0 ? find(ret + 1, isGuestSyscall) : -1;
      if (next >= 0 && DATA_SYSCALLS.has(events[next]!.name)) {
        const exit = find(next + 1, (e) => e.kind === 'vm-exit', returnOf(events[next]!.name));
        if (exit >= 0) firstExit = exit;
      }
    }
  }
  if (firstExit < 0) return;
  let s1 = -1;
  for (let i = firstExit - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.kind === 'syscall' && e.from === 'guest process') { s1 = i; break; }
  }
  let s2 = -1;
  for (let i = firstExit - 1; i >= 0; i--) if (events[i]!.kind === 'instruction') { s2 = i; break; }
  if (s2 < 0) return;
  const mark = (i: number, stage: number) => { if (i >= 0) events[i]!.stage = stage; };
  mark(s1, 1);
  mark(s2, 2);
  mark(firstExit, 3);
  const nextEntry = (from: number) => find(from, (e) => e.kind === 'vm-entry');
  const s4 = find(firstExit + 1, isUserspaceExit, (e) => e.kind === 'vm-entry');
  let s8: number;
  if (s4 >= 0) {
    mark(s4, 4);
    const s7 = find(s4 + 1, (e) => e.kind === 'ioctl' && e.name === 'KVM_RUN');
    const s5 = find(s4 + 1, (e) => e.kind === 'syscall' && e.from === 'qemu-kvm', (e) => e.kind === 'ioctl' && e.name === 'KVM_RUN');
    if (s5 >= 0) {
      mark(s5, 5);
      mark(find(s5 + 1, (e) => e.kind === 'syscall-return' && e.to === 'qemu-kvm' && e.name === events[s5]!.name), 6);
    }
    mark(s7, 7);
    s8 = s7 >= 0 ? nextEntry(s7 + 1) : -1;
  } else s8 = nextEntry(firstExit + 1);
  mark(s8, 8);
  const rip = events[s2]!.detail.rip;
  if (s8 >= 0) mark(find(s8, (e) => e.kind === 'emulation-complete' && e.detail.rip === rip), 9);
  if (s1 >= 0) mark(find(firstExit, (e) => e.kind === 'syscall-return' && e.to === 'guest process' && e.name === events[s1]!.name), 10);
}

export function summarize(events: TraceEvent[], result: { value: number; errno: number | null; fault?: number }, cycles: number,
  errnoName: (n: number) => string): Summary {
  const exits: ExitSummary[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind !== 'vm-exit' || e.name === 'VMfailValid') continue;
    let handler: string | null = null;
    let evidence: string | undefined;
    let userspaceExit: string | null = null;
    for (let j = i + 1; j < events.length; j++) {
      const f = events[j]!;
      // With several vCPUs, other vCPUs' events interleave: follow this one's.
      if (f.vcpu !== e.vcpu) continue;
      if (f.kind === 'vm-entry' || f.kind === 'vm-exit') break;
      if (f.kind === 'exit-handler' && handler === null) { handler = f.name; if (f.detail.evidence !== undefined) evidence = String(f.detail.evidence); }
      if (isUserspaceExit(f)) { userspaceExit = f.name; break; }
    }
    const x: ExitSummary = {
      reason: e.name, reasonNumber: Number(e.detail.reasonNumber), qualification: String(e.detail.qualification),
      handler, handledIn: userspaceExit ? 'userspace' : 'kernel', userspaceExit, vcpu: e.vcpu,
    };
    if (evidence !== undefined) x.handlerEvidence = evidence;
    exits.push(x);
  }
  const hostSyscalls: Summary['hostSyscalls'] = [];
  for (const e of events) {
    if (e.kind === 'syscall-return' && e.from === 'host kernel') hostSyscalls.push({ name: e.name, result: Number(e.detail.result), process: e.to });
    else if (e.kind === 'ioctl-return' && e.from === 'kvm') {
      hostSyscalls.push({ name: 'ioctl', request: e.name.startsWith('KVM_EXIT_') ? 'KVM_RUN' : e.name, result: Number(e.detail.result), process: e.to });
    }
  }
  const stages = events.filter((e) => e.stage !== undefined).map((e) => e.stage!).sort((a, b) => a - b);
  const guestResult: Summary['guestResult'] = { value: result.value, errno: result.errno === null ? null : errnoName(result.errno) };
  if (result.fault !== undefined) guestResult.fault = result.fault === 13 ? '#GP' : result.fault === 6 ? '#UD' : `vector ${result.fault}`;
  return {
    exits,
    entries: events.filter((e) => e.kind === 'vm-entry').map((e) => e.name),
    hostSyscalls,
    stages,
    guestResult,
    guestInterrupts: events.filter((e) => e.kind === 'irq' && e.name === 'interrupt').length,
    cycles: Math.round(cycles),
  };
}
