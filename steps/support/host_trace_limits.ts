// What a host's kvm trace can show, step by step. A scenario that reads a host trace (`Given the host
// trace …`) runs the model's Then-steps on what kvm's tracepoints printed: exits, kvm's side of them,
// the returns to qemu-kvm and back, injections, IPIs, wake-ups (and qemu-kvm's syscalls when the trace
// has the syscalls tracepoints). Each step that reads only that is listed here by its pattern; any
// other step — the guest's own view, qemu-kvm's insides, the disk, the simulated machine's state, a
// When that would run the simulated machine — fails before it runs, with one line saying what is
// missing. The list is of steps, not of step texts, so a step's Japanese phrasing is judged the same.

import { LAYER_JA, pattern, VOCABULARY as V, type Phrase } from '../../src/report/vocabulary';
import { PAYLOAD_READERS } from '../../src/trace/import/payload';
import { EXIT_REASON } from '../../src/uapi/vmx';

export type StepKeyword = 'Given' | 'When' | 'Then';
const key = (p: Phrase | string): string => String(typeof p === 'string' ? p : pattern(p.en));

/** The crossings a kvm trace shows (src/trace/import/walk.ts): the kvm-level part of the walk. */
const KVM_LEVEL: readonly [string, string, (name: string) => boolean][] = [
  ['VMX CPU', 'kvm', () => true],
  ['kvm', 'VMX CPU', () => true],
  ['kvm', 'qemu-kvm', (n) => n.startsWith('KVM_EXIT_') || n === 'KVM_RUN'],
  ['qemu-kvm', 'kvm', (n) => n === 'KVM_RUN'],
  ['VMX CPU', 'guest kernel', (n) => n === 'interrupt' || n === 'exception'],
];

/** Then-steps that read only what kvm's tracepoints print. */
const KVM_TRACE_STEPS = new Set([
  V.exitReason, V.handler, V.inKernel, V.reachesQemu, V.exitsCount, V.userspaceCount, V.noExit,
  V.firstEntry, V.laterEntries, V.everyEntry, V.interrupts, V.crosses,
  'VM exit {int} is {exitReason}', 'the VM exits are:', 'the walk includes {word}', 'the walk does not include {word}',
  'the walk includes {word} with {word} {word}', 'the guest takes interrupt {word}', 'KVM_RUN returns -{word}',
  'vCPU {int}\'s VM exits are:', 'vCPU {int} has no VM exit', 'the IPIs are:', 'vCPU {int} wakes from kvm_vcpu_block',
  'vCPU {int} takes interrupt {word}', 'the walk matches the host trace {string}',
].map(key));

/** Then-steps on qemu-kvm's syscalls: only when the trace has the syscalls tracepoints, and never an absence or a total. */
const SYSCALL_STEPS = new Set([V.hostCalls, V.hostCallsTimes].map(key));

const NO_SYSCALLS = 'a host kvm trace holds no syscalls: qemu-kvm\'s (io_submit, ppoll, …) need a syscall trace of it (record the syscalls:* events with kvm:*)';

/** Why some steps cannot run on a host trace, in their words; any other step gets the general reason. */
const WHY: readonly [readonly (Phrase | string)[], string][] = [
  [[V.hostCalls, V.hostCallsTimes, V.hostDoesNotCall, V.hostNoSyscall, V.syscallCount, '/^(qemu-kvm|the vhost-user-blk backend) makes no syscall$/'],
    NO_SYSCALLS],
  [[V.returns, V.returnsHex, '/^the instruction returns (-\\d+)$/', V.fails, V.processReads, V.fault],
    'a host kvm trace holds no guest results: what a guest call returned is known inside the guest only'],
  [[V.stagesRange, V.stagesList],
    'the seed\'s stages ①–⑩ span the guest process and qemu-kvm; a host kvm trace shows only ③④⑦⑧ (exit, KVM_EXIT_*, KVM_RUN, entry)'],
  [[V.dispatches], 'qemu-kvm\'s device dispatch happens inside qemu-kvm; a host kvm trace ends at KVM_EXIT_* (qemu\'s own trace events would show it)'],
  [['/^the guest kicks the device (\\d+) times?$/'], 'the guest driver\'s kicks are guest code; a host kvm trace shows the exits they cause (an IO_INSTRUCTION, kvm_pio)'],
  [['the guest\'s own handler takes {word}', 'the guest takes an NMI'],
    'what the guest\'s own IDT handled is invisible to kvm unless kvm injected it (kvm_inj_virq, kvm_inj_exception)'],
  [[V.golden], 'a golden trace is the whole walk, guest and qemu-kvm included; a host kvm trace holds its kvm-level part only (use `the walk matches the host trace` from a simulated scenario)'],
  [['{string} takes the BQL {int} time(s)', 'no vCPU thread takes the BQL'], 'the BQL is qemu-kvm\'s lock; a host kvm trace does not see it'],
];
const WHY_BY_STEP = new Map(WHY.flatMap(([steps, why]) => steps.map((s) => [key(s), why] as const)));
const GENERAL = 'this step reads the simulated machine; a host kvm trace holds kvm\'s side only (exits, returns to qemu-kvm, entries, injections, IPIs, wake-ups and kvm\'s other tracepoints)';

/** Names a host trace can hold an event of: kvm's tracepoints and the crossings the importer makes of them. */
function traceCanHold(name: string, syscalls: boolean): boolean {
  return PAYLOAD_READERS.has(name) || name in EXIT_REASON || name.startsWith('KVM_EXIT_')
    || ['KVM_RUN', 'VMLAUNCH', 'VMRESUME', 'VMRUN', 'interrupt', 'exception', 'exit-handler'].includes(name) || syscalls;
}

/**
 * Why a step cannot run on a host trace, in one line, or null when it can. `stepPattern` is the
 * step's English pattern (as defined); `args` its arguments, a data table's rows last.
 */
export function hostTraceRefusal(keyword: StepKeyword, stepPattern: string, args: readonly unknown[] = [], trace: { syscalls?: boolean } = {}): string | null {
  if (keyword !== 'Then') {
    if (stepPattern.startsWith('the host trace')) return null;
    return 'a host trace replaces the simulated machine: no VM is set up or run after it (give the host trace in a scenario of its own)';
  }
  if (trace.syscalls && SYSCALL_STEPS.has(stepPattern)) return null;
  if (trace.syscalls && WHY_BY_STEP.get(stepPattern) === NO_SYSCALLS) {
    return 'a trace of the syscalls tracepoints holds the syscalls it was recorded for: no absence or total of them can be read from it';
  }
  if (!KVM_TRACE_STEPS.has(stepPattern)) return WHY_BY_STEP.get(stepPattern) ?? GENERAL;
  if (stepPattern === 'the walk does not include {word}' && !traceCanHold(String(args[0]), !!trace.syscalls)) {
    return `a host kvm trace holds kvm's tracepoints and the crossings they make, and ${String(args[0])} is neither: its absence from the trace says nothing`;
  }
  if (stepPattern === key(V.crosses)) return crossingsRefusal(tableRows(args.at(-1)), !!trace.syscalls);
  return null;
}

/** A cucumber DataTable's rows, or an array of rows as given. */
function tableRows(t: unknown): readonly (readonly string[])[] | undefined {
  if (Array.isArray(t)) return t as string[][];
  if (t !== null && typeof t === 'object' && typeof (t as { raw?: unknown }).raw === 'function') return (t as { raw(): string[][] }).raw();
  return undefined;
}

/** The crossings table's rows outside the kvm-level crossings (qemu-kvm's syscalls allowed with the syscalls tracepoints). */
function crossingsRefusal(table: readonly (readonly string[])[] | undefined, syscalls: boolean): string | null {
  if (!table || table.length < 2) return null;
  const head = table[0]!.map((h) => h.trim());
  const col = (names: string[]) => head.findIndex((h) => names.includes(h));
  const [fi, ti, ni] = [col(['from', '送り手']), col(['to', '受け手']), col(['name', '名前'])];
  const layer = (s: string) => LAYER_JA[s] ?? s;
  for (const [k, row] of table.slice(1).entries()) {
    const [from, to, name] = [layer(row[fi] ?? ''), layer(row[ti] ?? ''), row[ni] ?? ''];
    const syscall = syscalls && ((from === 'qemu-kvm' && to === 'host kernel') || (from === 'host kernel' && to === 'qemu-kvm'));
    if (!syscall && !KVM_LEVEL.some(([f, t, ok]) => f === from && t === to && ok(name))) {
      return `row ${k + 1} (${from} | ${to} | ${name}): a host kvm trace holds no such crossing; it shows VMX CPU ↔ kvm (exits, entries), kvm → qemu-kvm (KVM_EXIT_*, KVM_RUN errors), qemu-kvm → kvm (KVM_RUN) and injected interrupts`;
    }
  }
  return null;
}
