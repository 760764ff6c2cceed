// The exit-reason vocabularies of real kvm traces, mapped onto the model's: the basic VMX exit
// reasons of arch/x86/include/uapi/asm/vmx.h (src/uapi/vmx.ts).
//
// A kvm_exit line names its reason in one of five vocabularies:
//   - the kernel's VMX_EXIT_REASONS (asm/vmx.h): `IO_INSTRUCTION`, `EPT_VIOLATION`, … — with 7 still
//     `PENDING_INTERRUPT` before Linux 4.x renamed it INTERRUPT_WINDOW, and the VM-exit flags after it
//     (`INVALID_STATE FAILED_VMENTRY`, Linux 5.8+, VMX_EXIT_REASON_FLAGS);
//   - the lower-case names of 2.6.31's vmx_exit_reasons_str (`io_instruction`, `apic_access`);
//   - the kernel's SVM_EXIT_REASONS (arch/x86/include/uapi/asm/svm.h): `io`, `npf`, `msr`, `vintr`, `PF excp`;
//   - libtraceevent plugin_kvm.c's own tables (rostedt/libtraceevent @ 6643bf9a, plugins/plugin_kvm.c):
//     the VMX names above, and `EXIT_IOIO`, `EXIT_NPF`, `EXIT_MSR`, … for SVM; `UNKNOWN (N)` for a
//     number its table lacks (exit_reason is not masked, so a failed entry reads UNKNOWN (2147483681));
//   - __print_symbolic's fallback for a number the kernel's table lacks: `0x4a`.
// SVM exits with a VMX counterpart get its name (io → IO_INSTRUCTION; msr → MSR_READ or MSR_WRITE by
// exit_info_1, 1 for WRMSR); the others keep the kernel's SVM name.

import { EXIT_REASON, VMX_EXIT_REASONS, VMX_EXIT_REASONS_FAILED_VMENTRY } from '../../uapi/vmx';

export interface ExitReason {
  /** The model's name (a key of EXIT_REASON), an SVM name without VMX counterpart, or `UNKNOWN(n)`. */
  name: string;
  /** Basic VMX exit reason number, or -1 (an SVM exit without counterpart, or unknown). */
  number: number;
  isa: 'vmx' | 'svm';
  /** VM-exit flags printed after the name (`FAILED_VMENTRY`), space-separated; '' when none. */
  flags: string;
}

const VMX_NAMES = new Map<string, number>(Object.entries(EXIT_REASON));
VMX_NAMES.set('PENDING_INTERRUPT', EXIT_REASON.INTERRUPT_WINDOW);

/** 2.6.31 arch/x86/kvm/vmx.c vmx_exit_reasons_str (the H1 traces of the linux-kvm.org tracing page). */
const VMX_LOWER: Record<string, number> = {
  exception: 0, ext_irq: 1, triple_fault: 2, nmi_window: 8, io_instruction: 30, cr_access: 28, dr_access: 29, cpuid: 10,
  rdmsr: 31, wrmsr: 32, interrupt_window: 7, halt: 12, invlpg: 14, hypercall: 18, tpr_below_thres: 43,
  apic_access: 44, wbinvd: 54, task_switch: 9, ept_violation: 48,
};

/** SVM_EXIT_REASONS of asm/svm.h → the VMX reason with the same meaning ('' = none). `msr` is decided by info1. */
const SVM_TO_VMX: Record<string, string> = {
  interrupt: 'EXTERNAL_INTERRUPT', nmi: 'EXCEPTION_NMI', smi: '', init: 'INIT_SIGNAL', vintr: 'INTERRUPT_WINDOW',
  cr0_sel_write: 'CR_ACCESS', rdtsc: 'RDTSC', rdpmc: 'RDPMC', pushf: '', popf: '', cpuid: 'CPUID', rsm: '', iret: '',
  swint: '', invd: 'INVD', pause: 'PAUSE_INSTRUCTION', hlt: 'HLT', invlpg: 'INVLPG', invlpga: '', io: 'IO_INSTRUCTION',
  msr: 'MSR', task_switch: 'TASK_SWITCH', ferr_freeze: '', shutdown: 'TRIPLE_FAULT', vmrun: '', hypercall: 'VMCALL',
  vmload: '', vmsave: '', stgi: '', clgi: '', skinit: '', rdtscp: 'RDTSCP', icebp: '', wbinvd: 'WBINVD', monitor: 'MONITOR_INSTRUCTION',
  mwait: 'MWAIT_INSTRUCTION', mwait_cond: 'MWAIT_INSTRUCTION', xsetbv: 'XSETBV', rdpru: '', write_efer_trap: '',
  invpcid: 'INVPCID', npf: 'EPT_VIOLATION', avic_incomplete_ipi: '', avic_unaccelerated_access: 'APIC_ACCESS',
  vmgexit: '', invalid_guest_state: 'INVALID_STATE', read_idtr: 'GDTR_IDTR', read_gdtr: 'GDTR_IDTR', write_idtr: 'GDTR_IDTR',
  write_gdtr: 'GDTR_IDTR', read_ldtr: 'LDTR_TR', read_tr: 'LDTR_TR', write_ldtr: 'LDTR_TR', write_tr: 'LDTR_TR',
  idtr_read: 'GDTR_IDTR', gdtr_read: 'GDTR_IDTR', idtr_write: 'GDTR_IDTR', gdtr_write: 'GDTR_IDTR', ldtr_read: 'LDTR_TR',
  tr_read: 'LDTR_TR', ldtr_write: 'LDTR_TR', tr_write: 'LDTR_TR',
};

/** plugin_kvm.c SVM_EXIT_REASONS (EXIT_*) → the kernel's SVM name. */
const PLUGIN_SVM: Record<string, string> = {
  EXIT_INTR: 'interrupt', EXIT_NMI: 'nmi', EXIT_SMI: 'smi', EXIT_INIT: 'init', EXIT_VINTR: 'vintr', EXIT_CR0_SEL_WRITE: 'cr0_sel_write',
  EXIT_IDTR_READ: 'idtr_read', EXIT_GDTR_READ: 'gdtr_read', EXIT_LDTR_READ: 'ldtr_read', EXIT_TR_READ: 'tr_read',
  EXIT_IDTR_WRITE: 'idtr_write', EXIT_GDTR_WRITE: 'gdtr_write', EXIT_LDTR_WRITE: 'ldtr_write', EXIT_TR_WRITE: 'tr_write',
  EXIT_RDTSC: 'rdtsc', EXIT_RDPMC: 'rdpmc', EXIT_PUSHF: 'pushf', EXIT_POPF: 'popf', EXIT_CPUID: 'cpuid', EXIT_RSM: 'rsm',
  EXIT_IRET: 'iret', EXIT_SWINT: 'swint', EXIT_INVD: 'invd', EXIT_PAUSE: 'pause', EXIT_HLT: 'hlt', EXIT_INVLPG: 'invlpg',
  EXIT_INVLPGA: 'invlpga', EXIT_IOIO: 'io', EXIT_MSR: 'msr', EXIT_TASK_SWITCH: 'task_switch', EXIT_FERR_FREEZE: 'ferr_freeze',
  EXIT_SHUTDOWN: 'shutdown', EXIT_VMRUN: 'vmrun', EXIT_VMMCALL: 'hypercall', EXIT_VMLOAD: 'vmload', EXIT_VMSAVE: 'vmsave',
  EXIT_STGI: 'stgi', EXIT_CLGI: 'clgi', EXIT_SKINIT: 'skinit', EXIT_RDTSCP: 'rdtscp', EXIT_ICEBP: 'icebp', EXIT_WBINVD: 'wbinvd',
  EXIT_MONITOR: 'monitor', EXIT_MWAIT: 'mwait', EXIT_MWAIT_COND: 'mwait_cond', EXIT_XSETBV: 'xsetbv', EXIT_NPF: 'npf',
  EXIT_AVIC_INCOMPLETE_IPI: 'avic_incomplete_ipi', EXIT_AVIC_UNACCELERATED_ACCESS: 'avic_unaccelerated_access', EXIT_ERR: 'invalid_guest_state',
};

/** An SVM reason by its kernel name: the VMX counterpart when there is one. */
function svm(kernelName: string, info1: number): ExitReason | null {
  let vmx = SVM_TO_VMX[kernelName];
  if (vmx === undefined) {
    // read_cr0 … write_cr15_trap, read_dr0 … write_dr7, and the exception intercepts (`PF excp`, EXIT_EXCP_PF).
    if (/^(read|write)_cr\d+(_trap)?$/.test(kernelName)) vmx = 'CR_ACCESS';
    else if (/^(read|write)_dr\d$/.test(kernelName)) vmx = 'DR_ACCESS';
    else if (kernelName.endsWith(' excp') || kernelName.startsWith('excp_')) vmx = 'EXCEPTION_NMI';
    else return null;
  }
  if (vmx === 'MSR') vmx = info1 === 1 ? 'MSR_WRITE' : 'MSR_READ';
  if (vmx === '') return { name: kernelName, number: -1, isa: 'svm', flags: '' };
  return { name: vmx, number: VMX_NAMES.get(vmx)!, isa: 'svm', flags: '' };
}

const FLAG_NAMES = new Set(['FAILED_VMENTRY']);

/**
 * The reason text between `reason ` and ` rip` of a kvm_exit line. `info1` decides SVM's `msr`.
 * Returns null only for empty text; a name no vocabulary knows is kept as printed, with number -1.
 */
export function parseExitReason(text: string, info1: number): ExitReason | null {
  // Traces repeat a handful of reasons: each text is decoded once (SVM's `msr` twice, by direction).
  const key = text === 'msr' || text === 'EXIT_MSR' ? `${text}:${info1 === 1 ? 1 : 0}` : text;
  let r = cache.get(key);
  if (r === undefined) {
    r = decode(text, info1);
    if (cache.size < 4096) cache.set(key, r);
  }
  return r;
}

const cache = new Map<string, ExitReason | null>();

function decode(text: string, info1: number): ExitReason | null {
  const t = text.trim();
  const sp = t.indexOf(' ');
  const head = sp < 0 ? t : t.slice(0, sp);
  const tail = sp < 0 ? '' : t.slice(sp + 1).trim();
  const n = VMX_NAMES.get(head);
  if (n !== undefined) {
    if (tail !== '' && !tail.split(' ').every((f) => FLAG_NAMES.has(f))) return null;
    return { name: VMX_EXIT_REASONS.get(n)!, number: n, isa: 'vmx', flags: tail };
  }
  // plugin: `UNKNOWN (N)`, N the full exit_reason (flags included).
  if (head === 'UNKNOWN' && tail.startsWith('(') && tail.endsWith(')')) {
    const full = Number(tail.slice(1, -1));
    if (!Number.isInteger(full)) return null;
    return byNumber(full);
  }
  // __print_symbolic's fallback for a value missing from the kernel's table.
  if (/^0x[0-9a-f]+$/i.test(head) && tail === '') return byNumber(Number(head));
  if (sp < 0 && VMX_LOWER[head] !== undefined) {
    const num = VMX_LOWER[head]!;
    return { name: VMX_EXIT_REASONS.get(num)!, number: num, isa: 'vmx', flags: '' };
  }
  const plugin = PLUGIN_SVM[head];
  if (plugin !== undefined && tail === '') return svm(plugin, info1);
  // EXIT_READ_CR0 … EXIT_WRITE_DR7, EXIT_EXCP_PF: the lower-case kernel name.
  if (head.startsWith('EXIT_') && tail === '') return svm(head.slice(5).toLowerCase(), info1);
  if (t === '') return null;
  // A name no table here knows (a newer kernel's reason): kept as printed.
  return svm(t, info1) ?? { name: t, number: -1, isa: 'vmx', flags: '' };
}

/**
 * A full exit_reason value: the basic reason in bits 15:0, FAILED_VMENTRY in bit 31. A value with
 * other high bits is no VMX exit this table knows (perf kvm stat's "unknown kvm exit code:131072"):
 * it is kept by its number.
 */
function byNumber(full: number): ExitReason {
  if (full > 0xffffffff || (full % 0x80000000) >= 0x10000) return { name: `UNKNOWN(${full})`, number: -1, isa: 'vmx', flags: '' };
  const basic = full & 0xffff;
  const flags = full >= VMX_EXIT_REASONS_FAILED_VMENTRY ? 'FAILED_VMENTRY' : '';
  const name = VMX_EXIT_REASONS.get(basic);
  return name ? { name, number: basic, isa: 'vmx', flags } : { name: `UNKNOWN(${basic})`, number: basic, isa: 'vmx', flags };
}
