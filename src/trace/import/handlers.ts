// Which kvm exit handler ran: no tracepoint says, so it is inferred from the exit reason, the events
// kvm traced before the next entry, and kvm_vmx_exit_handlers[] of the trace's era (the model's two
// tables, src/kvm/profile.ts). A stack trace of the exit (ftrace's stacktrace trigger) that names a
// handler of the table overrules the inference: then the handler was observed.
//
// The event sequence matters where the table alone does not decide:
//   - MSR_WRITE on Linux 5.8+: handle_fastpath_set_msr_irqoff (arch/x86/kvm/x86.c) handles a WRMSR to
//     the x2APIC ICR (0x830) that sends a fixed IPI to one physical destination, no shorthand, not
//     the broadcast ID, before the table is consulted; it traces kvm_msr too, with interrupts still
//     off (ftrace's irqs-off flag `d` on that kvm_msr line, where the tool printed flags).
// Everything else is the table's entry for the reason; a reason without one has no handler (6.1:
// KVM_EXIT_INTERNAL_ERROR, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON follows).

import { LINUX_6_1, QEMU_KVM_2013, type KvmEra } from '../../kvm/profile';
import type { ExitReasonName } from '../../uapi/vmx';
import type { HostEvent } from './host_event';

const X2APIC_ICR = 0x830;
const APIC_SHORT_MASK = 0xc0000;
const APIC_DEST_LOGICAL = 0x800;
const APIC_MODE_MASK = 0x700;
const X2APIC_BROADCAST = 0xffffffff;

export interface Inference {
  handler: string | null;
  /** How it was found: a sentence for the evidence. */
  how: string;
  /** True when the handler was seen (a stack trace), false when inferred. */
  observed: boolean;
}

interface EraTable { table: KvmEra; label: string; names: ReadonlySet<string>; how: string; byReason: Map<string, Inference> }
const ERA_TABLES: Record<'modern' | 'old' | 'unknown', EraTable> = {
  old: table(QEMU_KVM_2013, 'kvm_vmx_exit_handlers[] of Linux 3.x (the model\'s table for traces older than Linux 5.10)'),
  modern: table(LINUX_6_1, 'kvm_vmx_exit_handlers[] of Linux 6.1 (the trace prints Linux 5.10+ formats)'),
  unknown: table(LINUX_6_1, 'kvm_vmx_exit_handlers[] of Linux 6.1 (the trace shows no era-specific format)'),
};
function table(t: KvmEra, label: string): EraTable {
  return { table: t, label, names: new Set(Object.values(t.exitHandlers)), how: `inferred from ${label}`, byReason: new Map() };
}

/** The era table for a trace whose formats are of Linux 5.10+ (`modern`) or older. */
export function eraTable(era: 'modern' | 'old' | 'unknown'): EraTable { return ERA_TABLES[era]; }

/**
 * The handler of one exit: its reason, whether it was an SVM exit, and the events of its vCPU up to
 * the next entry (kvm_msr, kvm_mmio, `<stack trace>` frames, …).
 */
export function inferHandler(reason: string, isa: string, events: readonly HostEvent[], era: 'modern' | 'old' | 'unknown'): Inference {
  const { table, label, names, how, byReason } = ERA_TABLES[era];
  for (const e of events) {
    // A simulated walk's own record of the handler (src/trace/import/simulated.ts).
    if (e.name === 'exit-handler' && e.f !== null) return { handler: String(e.f.handler), how: 'recorded by the model', observed: true };
    for (const f of e.stack ?? []) {
      const fn = f.replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+$/, '');
      if (names.has(fn) || fn === 'handle_fastpath_set_msr_irqoff') return { handler: fn, how: `seen in the stack trace of line ${e.line}`, observed: true };
    }
  }
  if (isa === 'svm') return { handler: null, how: 'an SVM exit: the model has kvm\'s VMX handler tables only', observed: false };
  if (reason === 'MSR_WRITE' && table.features.fastpathIcr) {
    const msr = events.find((e) => e.name === 'kvm_msr' && e.f !== null && e.f.write === 1);
    if (msr !== undefined && msr.f!.msr === X2APIC_ICR && fastpathIcr(Number(msr.f!.data))) {
      return { handler: 'handle_fastpath_set_msr_irqoff', how: `inferred: kvm_msr writes the x2APIC ICR a fixed physical IPI (line ${msr.line}), which the 5.8+ fastpath takes before ${label}`, observed: false };
    }
  }
  // Inferences from the table alone, by reason (shared: callers do not change them).
  let r = byReason.get(reason);
  if (r === undefined) {
    const h = table.exitHandlers[reason as ExitReasonName];
    r = h === undefined ? { handler: null, how: `inferred: ${reason} has no entry in ${label}`, observed: false } : { handler: h, how, observed: false };
    if (byReason.size < 1024) byReason.set(reason, r);
  }
  return r;
}

/** handle_fastpath_set_x2apic_icr_irqoff's test: no shorthand, physical, fixed, not broadcast. */
function fastpathIcr(data: number): boolean {
  const lo = data % 2 ** 32;
  const hi = Math.floor(data / 2 ** 32);
  return (lo & APIC_SHORT_MASK) === 0 && (lo & APIC_DEST_LOGICAL) === 0 && (lo & APIC_MODE_MASK) === 0 && hi !== X2APIC_BROADCAST;
}
