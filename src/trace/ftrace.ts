// The walk as a host's kvm tracepoints print it, in three tools' text:
//   raw ftrace (`cat /sys/kernel/tracing/trace_pipe`): the kernel's TP_printk of each event, after
//       kernel/trace/trace_output.c's context: "%16s-%-7d " task-pid, "[%03d] " CPU, the latency
//       flags (4 columns in 3.x, 5 since 5.15: irqs-off, need-resched, hard/softirq, preempt-depth,
//       migrate-disable), "%5lu.%06lu: " seconds, then `event: payload`;
//   trace-cmd report (tracecmd/trace-read.c, libtraceevent event-parse.c): "%16s-%-5d [%03d] %5lu.%06lu:"
//       then " %s: " padded to 20 columns; the comm cut at its first space (saved cmdlines read with
//       "%d %s"); kvm_exit and kvm_entry (and kvm_emulate_insn) rendered by plugin_kvm.c;
//   perf script (tools/perf/builtin-script.c): "%16s %7d [%03d] %5lu.%06lu: " then `kvm:event: `
//       right-aligned to the session's longest event name — 34 with `perf record -e 'kvm:*'` on 6.1
//       (kvm:kvm_vmgexit_msr_protocol_enter); payloads through libtraceevent and the same plugin.
// Each in the profile's era:
//   linux-6.1      arch/x86/kvm/trace.h and include/trace/events/kvm.h of 6.1 (kvm_exit with
//                  info1/info2/intr_info/error_code, kvm_entry with the RIP, kvm_page_fault with vcpu and
//                  RIP, `IRQ 0x%x`), libtraceevent 1.x's plugin_kvm.c (rostedt/libtraceevent @ 6643bf9a);
//   qemu-kvm-2013  Linux 3.2 (kvm_exit `reason %s rip 0x%lx info %llx %llx` with info2 the interruption
//                  information, kvm_entry `vcpu %u`, kvm_pio without val, `irq %u`, 3.x kvm_cpuid,
//                  `vec=`), trace-cmd 2.x's in-tree plugin (kvm_exit's `info %llx %llx\n`: its newline
//                  leaves an empty line; no kvm_entry handler), perf 3.x script ("%5d" tid, no name
//                  padding, the kernel's text).
//
// Where the model records less than the tracepoint prints, it says so here rather than invent:
//   - kvm_exit's info2 (IDT-vectoring information) is 0: no exit the model takes interrupts the
//     delivery of an event; error_code is 0: the exceptions kvm intercepts here (#UD, #DB, #BP, #AC,
//     #MC) push none but #AC, whose code is always 0;
//   - kvm_pio's count is 1 (no string I/O); kvm_set_irq's source is KVM_USERSPACE_IRQ_SOURCE_ID (0);
//   - 3.x kvm_apic_accept_irq's `(coalesced)` suffix is never printed;
//   - host threads: qemu-kvm is process 4000, vCPU n's thread 4001 + n, all on host CPU 0 (the model
//     runs one host thread at a time and numbers none).
// The latency flags follow where kvm fires each tracepoint: kvm_entry and kvm_exit in vmx_vcpu_run with
// interrupts off and preemption disabled (`d..1.`; 3.x traced kvm_exit later, from vmx_handle_exit:
// `....`), so are the tracepoints of handle_fastpath_set_msr_irqoff; kvm_pic_set_irq and
// kvm_ioapic_set_irq (and the kvm_apic_accept_irq an IOAPIC delivers) under a spinlock (`...1.`).

import type { TraceEvent } from './recorder';
import { KVM_EXIT_NAMES } from '../uapi/kvm';

export type FtraceEra = 'linux-6.1' | 'qemu-kvm-2013';
export type TraceTool = 'ftrace' | 'trace-cmd' | 'perf-script';

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
/** kvm_trace_symbol_apic (trace.h): the register names kvm_apic prints. */
const APIC_REG_NAMES = new Map<number, string>([[0x20, 'APIC_ID'], [0x30, 'APIC_LVR'], [0x80, 'APIC_TASKPRI'], [0x90, 'APIC_ARBPRI'],
  [0xa0, 'APIC_PROCPRI'], [0xb0, 'APIC_EOI'], [0xc0, 'APIC_RRR'], [0xd0, 'APIC_LDR'], [0xe0, 'APIC_DFR'], [0xf0, 'APIC_SPIV'],
  [0x100, 'APIC_ISR'], [0x180, 'APIC_TMR'], [0x200, 'APIC_IRR'], [0x280, 'APIC_ESR'], [0x300, 'APIC_ICR'], [0x310, 'APIC_ICR2'],
  [0x320, 'APIC_LVTT'], [0x330, 'APIC_LVTTHMR'], [0x340, 'APIC_LVTPC'], [0x350, 'APIC_LVT0'], [0x360, 'APIC_LVT1'],
  [0x370, 'APIC_LVTERR'], [0x380, 'APIC_TMICT'], [0x390, 'APIC_TMCCT'], [0x3e0, 'APIC_TDCR'], [0x3f0, 'APIC_SELF_IPI'],
  [0x400, 'APIC_EFEAT'], [0x410, 'APIC_ECTRL']]);
/** Exits that are failed VM entries: bit 31 of the exit reason, printed as the FAILED_VMENTRY flag. */
const FAILED_ENTRY = new Set(['INVALID_STATE', 'MSR_LOAD_FAIL', 'MCE_DURING_VMENTRY']);
/**
 * libtraceevent plugin_kvm.c's VMX table (@ 6643bf9a): a reason it lacks prints `UNKNOWN (%llu)` of the
 * full exit_reason. trace-cmd 2.x's in-tree copy ended at INVPCID.
 */
const PLUGIN_VMX = new Set([0, 1, 2, 7, 8, 9, 10, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
  36, 39, 40, 41, 43, 44, 45, 48, 49, 50, 52, 54, 55, 56, 58, 62, 63, 64]);
/** kvm_trace_exit_reason (include/trace/events/kvm.h) ends at KVM_EXIT_X86_WRMSR in 6.1, at OSI in 3.2; beyond, __print_symbolic prints hex. */
const LAST_NAMED_EXIT = { 'linux-6.1': 30, 'qemu-kvm-2013': 18 };

const num = (v: string | number | undefined): number => (typeof v === 'number' ? v : v === undefined ? 0 : Number(v));
const hexOf = (v: string | number | undefined): string => (typeof v === 'string' && v.startsWith('0x') ? v.slice(2) : num(v).toString(16));
const pad = (h: string, n: number) => h.padStart(n, '0');

/** One tracepoint, as its TP_printk and (for the events it handles) plugin_kvm.c render it. */
interface TraceRecord {
  e: TraceEvent;
  event: string;
  kernel: string;
  /** plugin_kvm.c's rendering, for trace-cmd and perf script. */
  plugin?: string;
  /** ftrace's latency flags: interrupts off, and the preempt depth. */
  irqsOff: boolean;
  preempt: number;
}

/** The kvm tracepoints a walk fires, in order, each with its kernel (and plugin) text for the era. */
export function tracepointRecords(events: readonly TraceEvent[], era: FtraceEra = 'linux-6.1'): TraceRecord[] {
  const old = era === 'qemu-kvm-2013';
  const out: TraceRecord[] = [];
  /** Each vCPU's last exit: the RIP kvm_page_fault prints, and whether the fastpath runs with interrupts off. */
  const lastExit = new Map<number, TraceEvent>();
  const fastpath = new Set<number>();
  for (const e of events) {
    const d = e.detail;
    const rec = (event: string, kernel: string, extra: Partial<TraceRecord> = {}) => out.push({ e, event, kernel, irqsOff: false, preempt: 0, ...extra });
    if (e.kind === 'vm-exit') {
      if (e.name === 'VMfailValid') continue; // vmx->fail: vmx_vcpu_run returns before trace_kvm_exit
      lastExit.set(e.vcpu, e);
      fastpath.delete(e.vcpu);
      const failed = FAILED_ENTRY.has(e.name);
      const reasonNumber = num(d.reasonNumber);
      const intrInfo = failed ? 0 : num(d.intrInfo);
      const info1 = hexOf(d.qualification);
      const full = failed ? 0x80000000 + reasonNumber : reasonNumber;
      const pluginName = PLUGIN_VMX.has(reasonNumber) && !failed && (!old || reasonNumber <= 58)
        ? (reasonNumber === 7 ? 'PENDING_INTERRUPT' : e.name) : `UNKNOWN (${full})`;
      if (old) {
        const name = e.name === 'INTERRUPT_WINDOW' ? 'PENDING_INTERRUPT' : e.name;
        rec('kvm_exit', `reason ${name} rip 0x${hexOf(d.rip)} info ${info1} ${intrInfo.toString(16)}`, {
          plugin: `reason ${pluginName} rip 0x${hexOf(d.rip)} info ${info1} ${intrInfo.toString(16)}\n`,
        });
      } else {
        rec('kvm_exit', `vcpu ${e.vcpu} reason ${e.name}${failed ? ' FAILED_VMENTRY' : ''} rip 0x${hexOf(d.rip)} info1 0x${pad(info1, 16)} `
          + `info2 0x${pad('0', 16)} intr_info 0x${pad(intrInfo.toString(16), 8)} error_code 0x${pad('0', 8)}`, {
          irqsOff: true, preempt: 1, plugin: `reason ${pluginName} rip 0x${hexOf(d.rip)} info ${info1} 0`,
        });
      }
      continue;
    }
    if (e.kind === 'exit-handler') { if (e.name === 'handle_fastpath_set_msr_irqoff') fastpath.add(e.vcpu); continue; }
    if (e.kind === 'vm-entry') {
      fastpath.delete(e.vcpu);
      rec('kvm_entry', old ? `vcpu ${e.vcpu}` : `vcpu ${e.vcpu}, rip 0x${hexOf(d.rip)}`, {
        irqsOff: true, preempt: 1, ...(old ? {} : { plugin: ` vcpu ${e.vcpu} rip 0x${hexOf(d.rip)}` }),
      });
      continue;
    }
    if (e.kind !== 'tracepoint' || e.from !== 'kvm') continue;
    const irqsOff = e.vcpu >= 0 && fastpath.has(e.vcpu);
    const ctx = irqsOff ? { irqsOff: true, preempt: 1 } : {};
    switch (e.name) {
      case 'kvm_userspace_exit': {
        const errno = num(d.errno);
        const reason = num(d.reason);
        const name = errno < 0 ? (errno === -4 ? 'restart' : 'error')
          : reason <= LAST_NAMED_EXIT[era] && KVM_EXIT_NAMES.has(reason) ? `KVM_EXIT_${KVM_EXIT_NAMES.get(reason)}` : `0x${reason.toString(16)}`;
        rec('kvm_userspace_exit', `reason ${name} (${errno < 0 ? -errno : reason})`);
        break;
      }
      case 'kvm_fpu': rec('kvm_fpu', num(d.load) ? 'load' : 'unload'); break;
      case 'kvm_pio': {
        const head = `pio_${num(d.rw) ? 'write' : 'read'} at 0x${hexOf(d.port)} size ${num(d.size)} count 1`;
        rec('kvm_pio', old ? head : `${head} val 0x${hexOf(d.val)} `, ctx);
        break;
      }
      case 'kvm_msr':
        rec('kvm_msr', `msr_${num(d.write) ? 'write' : 'read'} ${hexOf(d.msr)} = 0x${hexOf(d.data)}${num(d.gp) ? ' (#GP)' : ''}`, ctx);
        break;
      case 'kvm_cpuid': {
        const [rax, rbx, rcx, rdx] = String(d.regs ?? '0 0 0 0').split(' ');
        rec('kvm_cpuid', old ? `func ${hexOf(d.function)} rax ${rax} rbx ${rbx} rcx ${rcx} rdx ${rdx}`
          : `func ${hexOf(d.function)} idx ${hexOf(d.index)} rax ${rax} rbx ${rbx} rcx ${rcx} rdx ${rdx}, cpuid entry ${d.entry}`);
        break;
      }
      case 'kvm_hypercall': {
        const [a2, a3] = String(d.a2a3 ?? '0x0 0x0').split(' ');
        rec('kvm_hypercall', `nr 0x${hexOf(d.nr)} a0 0x${hexOf(d.a0)} a1 0x${hexOf(d.a1)} a2 ${a2} a3 ${a3}`);
        break;
      }
      case 'kvm_set_irq': rec('kvm_set_irq', `gsi ${num(d.gsi)} level ${num(d.level)} source 0`); break;
      case 'kvm_pic_set_irq': {
        const irq = num(d.irq);
        const pin = irq & 7;
        rec('kvm_pic_set_irq', `chip ${irq >> 3} pin ${pin} (${num(d.elcr) & (1 << pin) ? 'level' : 'edge'}${num(d.imr) & (1 << pin) ? '|masked' : ''})${num(d.coalesced) ? ' (coalesced)' : ''}`, { preempt: 1 });
        break;
      }
      case 'kvm_ioapic_set_irq': {
        const lo = num(d.entry);
        rec('kvm_ioapic_set_irq', `pin ${num(d.pin)} dst ${num(d.dest).toString(16)} vec${old ? '=' : ' '}${lo & 0xff} (${DELIVERY_MODE[(lo >> 8) & 7]}|${lo & (1 << 11) ? 'logical' : 'physical'}|`
          + `${lo & (1 << 15) ? 'level' : 'edge'}${lo & (1 << 16) ? '|masked' : ''})${num(d.coalesced) ? ' (coalesced)' : ''}`, { preempt: 1 });
        break;
      }
      case 'kvm_msi_set_irq': {
        const a = num(d.address);
        const data = num(d.data);
        const dst = ((a >>> 12) & 0xff) + (old ? 0 : Math.floor(a / 2 ** 32) & 0xffffff00);
        const flags = `(${DELIVERY_MODE[(data >> 8) & 7]}|${a & 4 ? 'logical' : 'physical'}|${data & (1 << 15) ? 'level' : 'edge'}${a & 8 ? '|rh' : ''})`;
        rec('kvm_msi_set_irq', old ? `dst ${dst} vec ${(data & 0xff).toString(16)} ${flags}` : `dst ${dst.toString(16)} vec ${data & 0xff} ${flags}`);
        break;
      }
      case 'kvm_inj_virq': {
        const v = num(d.vector);
        rec('kvm_inj_virq', old ? `irq ${v}` : `IRQ 0x${v.toString(16)}`);
        break;
      }
      case 'kvm_inj_exception': {
        const v = num(d.vector);
        const name = EXC.get(v) ?? `0x${v.toString(16)}`;
        const err = HAS_ERROR_CODE.has(v);
        rec('kvm_inj_exception', old ? `${name} (0x${err ? hexOf(d.errorCode) : '0'})` : `${name}${err ? ` (0x${hexOf(d.errorCode)})` : ''}`);
        break;
      }
      case 'kvm_apic_ipi': {
        const lo = num(d.icr_low);
        rec('kvm_apic_ipi', `dst ${hexOf(d.dest_id)} vec ${lo & 0xff} (${DELIVERY_MODE[(lo >> 8) & 7]}|${lo & (1 << 11) ? 'logical' : 'physical'}|`
          + `${lo & (1 << 14) ? 'assert' : 'de-assert'}|${lo & (1 << 15) ? 'level' : 'edge'}|${SHORTHAND[(lo >> 18) & 3]})`, ctx);
        break;
      }
      case 'kvm_apic_accept_irq': case 'kvm_apicv_accept_irq':
        if (old && e.name === 'kvm_apicv_accept_irq') break;
        rec(e.name, `apicid ${num(d.apicid).toString(16)} vec ${num(d.vec)} (${DELIVERY_MODE[(num(d.dm) >> 8) & 7]}|${num(d.tm) ? 'level' : 'edge'})`, ctx);
        break;
      case 'kvm_eoi': case 'kvm_pv_eoi': rec(e.name, `apicid ${num(d.apicid ?? e.vcpu).toString(16)} vector ${num(d.vector)}`, ctx); break;
      case 'kvm_apic': {
        const reg = num(d.reg);
        rec('kvm_apic', `apic_${num(d.rw) ? 'write' : 'read'} ${APIC_REG_NAMES.get(reg) ?? `0x${reg.toString(16)}`} = 0x${hexOf(d.val)}`, ctx);
        break;
      }
      case 'kvm_cr': rec('kvm_cr', `cr_${num(d.rw) ? 'write' : 'read'} ${num(d.cr).toString(16)} = 0x${hexOf(d.val)}`); break;
      case 'kvm_mmio': {
        const t = ['unsatisfied-read', 'read', 'write'][num(d.type)] ?? 'unknown';
        rec('kvm_mmio', `mmio ${t} len ${num(d.len)} gpa 0x${hexOf(d.gpa)} val 0x${hexOf(d.val)}`);
        break;
      }
      case 'kvm_page_fault': {
        if (old) { rec('kvm_page_fault', `address ${hexOf(d.address)} error_code ${hexOf(d.errorCode)}`); break; }
        const x = lastExit.get(e.vcpu);
        rec('kvm_page_fault', `vcpu ${e.vcpu} rip 0x${hexOf(x?.detail.rip)} address 0x${pad(hexOf(d.address), 16)} error_code 0x${hexOf(d.errorCode)}`);
        break;
      }
      case 'kvm_fast_mmio': if (!old) rec('kvm_fast_mmio', `fast mmio at gpa 0x${hexOf(d.gpa)}`); break;
      case 'kvm_emulate_insn': {
        const flags = num(d.flags);
        const mode = ['real', 'prot16', 'vm16', '?', 'prot32', '?', '?', '?', 'prot64'][flags & 0xf] ?? 'prot64';
        const failed = (flags & 0x100) !== 0;
        const bytes = String(d.insn ?? '');
        rec('kvm_emulate_insn', `${hexOf(d.csbase)}:${hexOf(d.rip)}:${bytes} (${mode})${failed ? ' failed' : ''}`, {
          plugin: `${hexOf(d.csbase)}:${hexOf(d.rip)}: ${bytes}${failed ? ' FAIL' : ''}`,
        });
        break;
      }
      // kvm_vcpu_block had no wakeup tracepoint in 3.2; 6.1 prints whether it waited or polled.
      case 'kvm_vcpu_wakeup': {
        if (old) break;
        const waited = d.waited === undefined || num(d.waited) !== 0;
        const valid = d.valid === undefined || num(d.valid) !== 0;
        rec('kvm_vcpu_wakeup', `${waited ? 'wait' : 'poll'} time ${Math.round(num(d.ns ?? d.haltedNs))} ns, polling ${valid ? 'valid' : 'invalid'}`);
        break;
      }
      // Halt polling (kvm_vcpu_halt's grow_halt_poll_ns/shrink_halt_poll_ns) is rendered when the model
      // records it, with the fields of include/trace/events/kvm.h: vcpu_id, new, old, grow.
      case 'kvm_halt_poll_ns': {
        if (old) break;
        const grow = d.grow === 'grow' || num(d.grow) === 1 || (d.grow === undefined && num(d.new) > num(d.old));
        rec('kvm_halt_poll_ns', `vcpu ${num(d.vcpu_id ?? e.vcpu)}: halt_poll_ns ${num(d.new)} (${grow ? 'grow' : 'shrink'} ${num(d.old)})`);
        break;
      }
      case 'kvm_ple_window_update':
        if (!old) rec('kvm_ple_window_update', `vcpu ${num(d.vcpu_id)} old ${num(d.old)} new ${num(d.new)} (${num(d.old) < num(d.new) ? 'growed' : 'shrinked'})`);
        break;
      case 'kvm_pml_full': if (!old) rec('kvm_pml_full', `vcpu ${e.vcpu}: PML full`); break;
      default: break;
    }
  }
  // An IOAPIC delivers under its lock: the kvm_apic_accept_irq just before kvm_ioapic_set_irq ran inside it.
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.event !== 'kvm_ioapic_set_irq') continue;
    for (let j = i - 1; j >= 0 && out[j]!.event === 'kvm_apic_accept_irq' && out[j]!.e.vcpu === out[i]!.e.vcpu; j--) out[j]!.preempt = 1;
  }
  return out;
}

/** The thread that fires a record: a vCPU thread, or qemu-kvm's main thread for the rest. */
function thread(r: TraceRecord, era: FtraceEra, pid: number): { comm: string; tid: number } {
  const v = r.e.vcpu;
  // qemu names its vCPU threads "CPU n/KVM" (4.0+); qemu-kvm 0.15's threads kept the process name.
  if (era === 'qemu-kvm-2013') return { comm: 'qemu-kvm', tid: v >= 0 ? pid + 1 + v : pid };
  return v >= 0 ? { comm: `CPU ${v}/KVM`, tid: pid + 1 + v } : { comm: 'qemu-system-x86', tid: pid };
}

function timestamp(tNs: number): string {
  const us = Math.round(tNs / 1000);
  return `${Math.floor(us / 1e6)}`.padStart(5) + '.' + `${us % 1e6}`.padStart(6, '0');
}

function flags(r: TraceRecord, era: FtraceEra): string {
  const depth = r.preempt ? String(r.preempt) : '.';
  // 3.x traced kvm_exit from vmx_handle_exit, with interrupts on again.
  const off = r.irqsOff && !(era === 'qemu-kvm-2013' && r.event === 'kvm_exit');
  return era === 'qemu-kvm-2013' ? `${off ? 'd' : '.'}..${depth}` : `${off ? 'd' : '.'}..${depth}.`;
}

/** One line per kvm tracepoint of the walk, in the era's formats, with the thread that fired it. */
function toolLines(events: readonly TraceEvent[], opts: FtraceOptions, line: (r: TraceRecord, t: { comm: string; tid: number }, era: FtraceEra) => string): string[] {
  const era = opts.era ?? 'linux-6.1';
  const pid = opts.pid ?? 4000;
  return tracepointRecords(events, era).map((r) => line(r, thread(r, era, pid), era));
}

/** The kvm tracepoints of a walk, one line each, as trace_pipe prints them. */
export function ftraceText(events: readonly TraceEvent[], opts: FtraceOptions = {}): string {
  const out = toolLines(events, opts, (r, t, era) =>
    `${t.comm.padStart(16)}-${String(t.tid).padEnd(era === 'qemu-kvm-2013' ? 5 : 7)} [000] ${flags(r, era)} ${timestamp(r.e.t_ns)}: ${r.event}: ${r.kernel}`);
  return out.join('\n') + (out.length ? '\n' : '');
}

/** `trace-cmd report` of a `trace-cmd record -e kvm` of the walk. */
export function traceCmdText(events: readonly TraceEvent[], opts: FtraceOptions = {}): string {
  const out = toolLines(events, opts, (r, t) => {
    // The saved cmdlines are read back with "%d %s": a comm with a space is cut there.
    const comm = t.comm.split(' ')[0]!;
    return `${comm.padStart(16)}-${String(t.tid).padEnd(5)} [000] ${timestamp(r.e.t_ns)}: ${`${r.event}:`.padEnd(21)} ${r.plugin ?? r.kernel}`;
  });
  return ['cpus=1', ...out].join('\n') + '\n';
}

/** `perf script` of a `perf record -e 'kvm:*'` of the walk. */
export function perfScriptText(events: readonly TraceEvent[], opts: FtraceOptions = {}): string {
  const out = toolLines(events, opts, (r, t, era) => {
    const old = era === 'qemu-kvm-2013';
    const name = `kvm:${r.event}`;
    // perf 3.x printed the kernel's text and the name unpadded; later perf pads to the longest name.
    const payload = old ? r.kernel : (r.plugin ?? r.kernel).replace(/\n$/, '');
    return `${t.comm.padStart(16)} ${String(t.tid).padStart(old ? 5 : 7)} [000] ${timestamp(r.e.t_ns)}: ${old ? name : name.padStart(34)}: ${payload}`;
  });
  return out.join('\n') + (out.length ? '\n' : '');
}

/** The text of a walk in one of the three tools' output. */
export function toolText(tool: TraceTool, events: readonly TraceEvent[], opts: FtraceOptions = {}): string {
  return tool === 'ftrace' ? ftraceText(events, opts) : tool === 'trace-cmd' ? traceCmdText(events, opts) : perfScriptText(events, opts);
}
