// The walk as the host's kvm tracepoints would print it in /sys/kernel/tracing/trace_pipe: kvm_exit,
// kvm_entry, kvm_pio, kvm_userspace_exit, kvm_msr, kvm_set_irq, kvm_inj_virq, … (arch/x86/kvm/trace.h
// and include/trace/events/kvm.h). The format follows the profile's kernel:
//   linux-6.1      kvm_exit "vcpu %u reason %s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info
//                  0x%08x error_code 0x%08x", kvm_entry "vcpu %u, rip 0x%lx", kvm_inj_virq "IRQ 0x%x"
//   qemu-kvm-2013  (Linux 3.2) kvm_exit "reason %s rip 0x%lx info %llx %llx", kvm_entry "vcpu %u",
//                  kvm_inj_virq "irq %u"; exit reason 7 was still named PENDING_INTERRUPT.
// Each line starts as ftrace's context does: task-pid, [cpu], irq/preempt flags, seconds.
//
// What the model does not record is not invented: kvm_cpuid and kvm_hypercall are left out (the
// model records only the leaf and rax, and the number), info2/intr_info/error_code of kvm_exit are 0
// (no exit the model takes is delivering an event), kvm_pio's count is 1 (no string I/O), thread ids
// are the qemu-kvm process id, and every vCPU thread runs on host CPU 0 (the model runs one host
// thread at a time).

import type { TraceEvent } from './recorder';

export type FtraceEra = 'linux-6.1' | 'qemu-kvm-2013';

export interface FtraceOptions {
  era?: FtraceEra;
  /** The qemu-kvm process id (the model starts qemu-kvm as the host's first process, 4000). */
  pid?: number;
}

const EXC = new Map<number, string>([[0, '#DE'], [1, '#DB'], [3, '#BP'], [4, '#OF'], [5, '#BR'], [6, '#UD'], [7, '#NM'],
  [8, '#DF'], [10, '#TS'], [11, '#NP'], [12, '#SS'], [13, '#GP'], [14, '#PF'], [16, '#MF'], [17, '#AC'], [18, '#MC']]);
/** kvm_deliver_mode and kvm_apic_dst_shorthand of arch/x86/kvm/trace.h. */
export const DELIVERY_MODE = ['Fixed', 'LowPrio', 'SMI', 'Res3', 'NMI', 'INIT', 'SIPI', 'ExtINT'];
const SHORTHAND = ['dst', 'self', 'all', 'all-but-self'];
const HAS_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17]);

const num = (v: string | number | undefined): number => (typeof v === 'number' ? v : v === undefined ? 0 : Number(v));
const hexOf = (v: string | number | undefined): string => (typeof v === 'string' && v.startsWith('0x') ? v.slice(2) : num(v).toString(16));
const pad = (h: string, n: number) => h.padStart(n, '0');

function exitName(name: string, era: FtraceEra): string {
  return era === 'qemu-kvm-2013' && name === 'INTERRUPT_WINDOW' ? 'PENDING_INTERRUPT' : name;
}

/** The text after "event: ", or null when the event is not a kvm tracepoint (or not recorded fully). */
function line(e: TraceEvent, era: FtraceEra): [string, string] | null {
  const d = e.detail;
  const old = era === 'qemu-kvm-2013';
  if (e.kind === 'vm-exit' && e.name !== 'VMfailValid') {
    const info1 = hexOf(d.qualification);
    return ['kvm_exit', old
      ? `reason ${exitName(e.name, era)} rip 0x${hexOf(d.rip)} info ${info1} 0`
      : `vcpu ${e.vcpu} reason ${e.name} rip 0x${hexOf(d.rip)} info1 0x${pad(info1, 16)} info2 0x${pad('0', 16)} intr_info 0x${pad('0', 8)} error_code 0x${pad('0', 8)}`];
  }
  if (e.kind === 'vm-entry') return ['kvm_entry', old ? `vcpu ${e.vcpu}` : `vcpu ${e.vcpu}, rip 0x${hexOf(d.rip)}`];
  if (e.kind === 'ioctl-return' && e.from === 'kvm' && e.name.startsWith('KVM_EXIT_')) {
    return ['kvm_userspace_exit', `reason ${e.name} (${num(d.exitReason)})`];
  }
  if (e.kind !== 'tracepoint' || e.from !== 'kvm') return null;
  switch (e.name) {
    case 'kvm_pio':
      return ['kvm_pio', `pio_${num(d.rw) ? 'write' : 'read'} at 0x${hexOf(d.port)} size ${num(d.size)} count 1 val 0x${hexOf(d.val)} `];
    case 'kvm_msr':
      return ['kvm_msr', `msr_${num(d.write) ? 'write' : 'read'} ${hexOf(d.msr)} = 0x${hexOf(d.data)}${num(d.gp) ? ' (#GP)' : ''}`];
    case 'kvm_set_irq':
      // source: KVM_IRQ_LINE asserts as KVM_USERSPACE_IRQ_SOURCE_ID, 0.
      return ['kvm_set_irq', `gsi ${num(d.gsi)} level ${num(d.level)} source 0`];
    case 'kvm_inj_virq': {
      const v = num(d.vector);
      return ['kvm_inj_virq', old ? `irq ${v}` : `IRQ 0x${v.toString(16)}`];
    }
    case 'kvm_inj_exception': {
      const v = num(d.vector);
      const name = EXC.get(v) ?? String(v);
      const err = HAS_ERROR_CODE.has(v);
      return ['kvm_inj_exception', old ? `${name} (0x${err ? hexOf(d.errorCode) : '0'})` : `${name}${err ? ` (0x${hexOf(d.errorCode)})` : ''}`];
    }
    // kvm_apic_ipi: "dst %x vec %u (%s|%s|%s|%s|%s)" — delivery mode, destination mode, level, trigger, shorthand.
    case 'kvm_apic_ipi': {
      const lo = num(d.icr_low);
      return ['kvm_apic_ipi', `dst ${hexOf(d.dest_id)} vec ${lo & 0xff} (${DELIVERY_MODE[(lo >> 8) & 7]}|${lo & (1 << 11) ? 'logical' : 'physical'}|`
        + `${lo & (1 << 14) ? 'assert' : 'de-assert'}|${lo & (1 << 15) ? 'level' : 'edge'}|${SHORTHAND[(lo >> 18) & 3]})`];
    }
    // kvm_apic_accept_irq / kvm_apicv_accept_irq: "apicid %x vec %u (%s|%s)".
    case 'kvm_apic_accept_irq': case 'kvm_apicv_accept_irq':
      return [e.name, `apicid ${num(d.apicid).toString(16)} vec ${num(d.vec)} (${DELIVERY_MODE[num(d.dm) & 7]}|${num(d.tm) ? 'level' : 'edge'})`];
    case 'kvm_eoi': return ['kvm_eoi', `apicid ${e.vcpu.toString(16)} vector ${num(d.vector)}`];
    case 'kvm_mmio': {
      const t = ['unsatisfied-read', 'read', 'write'][num(d.type)] ?? 'unknown';
      return ['kvm_mmio', `mmio ${t} len ${num(d.len)} gpa 0x${hexOf(d.gpa)} val 0x${hexOf(d.val)}`];
    }
    case 'kvm_page_fault': return ['kvm_page_fault', `address ${hexOf(d.address)} error_code ${hexOf(d.errorCode)}`];
    case 'kvm_fast_mmio': return old ? null : ['kvm_fast_mmio', `fast mmio at gpa 0x${hexOf(d.gpa)}`];
    // kvm_vcpu_block had no wakeup tracepoint in 3.2; 6.1 prints whether it waited or polled.
    case 'kvm_vcpu_wakeup': return old ? null : ['kvm_vcpu_wakeup', `${num(d.waited) ? 'wait' : 'poll'} time ${num(d.ns)} ns, polling ${num(d.valid) ? 'valid' : 'invalid'}`];
    default: return null;
  }
}

/** The kvm tracepoints of a walk, one line each, as trace_pipe prints them. */
export function ftraceText(events: readonly TraceEvent[], opts: FtraceOptions = {}): string {
  const era = opts.era ?? 'linux-6.1';
  const pid = opts.pid ?? 4000;
  const old = era === 'qemu-kvm-2013';
  const out: string[] = [];
  for (const e of events) {
    const l = line(e, era);
    if (!l) continue;
    // qemu names its vCPU threads "CPU n/KVM"; qemu-kvm 0.14's threads kept the process name.
    const comm = e.vcpu >= 0 ? (old ? 'qemu-kvm' : `CPU ${e.vcpu}/KVM`) : (old ? 'qemu-kvm' : 'qemu-system-x86');
    const irqsOff = l[0] === 'kvm_entry';
    const flags = old ? (irqsOff ? 'd..1' : '....') : (irqsOff ? 'd..1.' : '.....');
    const us = Math.round(e.t_ns / 1000);
    const ts = `${Math.floor(us / 1e6)}`.padStart(5) + '.' + `${us % 1e6}`.padStart(6, '0');
    const task = `${comm.padStart(16)}-${String(pid).padEnd(old ? 5 : 7)}`;
    out.push(`${task} [000] ${flags} ${ts}: ${l[0]}: ${l[1]}`);
  }
  return out.join('\n') + (out.length ? '\n' : '');
}
