// target/i386/kvm/kvm.c (QEMU 8.x): the x86 side of qemu's kvm accelerator — what it asks of kvm
// at start-up (kvm_arch_init: the userspace MSR filter for MSR_CORE_THREAD_COUNT, bus-lock and
// notify VM exits when configured), around each KVM_RUN (kvm_arch_pre_run / kvm_arch_post_run) and
// for the exits kvm_cpu_exec leaves to the target (kvm_arch_handle_exit). The seed's era, qemu-kvm
// 0.14, did none of the start-up requests (those capabilities came with Linux 5.x and QEMU 7.x).

import { WaitQueue, type Scheduler } from '../sim/scheduler';
import { defineEvent, type Tracer } from '../trace/events';
import {
  KVM_BUS_LOCK_DETECTION_EXIT, KVM_CAP_X86_BUS_LOCK_EXIT, KVM_CAP_X86_NOTIFY_VMEXIT, KVM_CAP_X86_USER_SPACE_MSR,
  KVM_ENABLE_CAP, KVM_EXIT, KVM_MSR_EXIT_REASON_FILTER, KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_READ, KVM_NMI,
  KVM_NOTIFY_CONTEXT_INVALID, KVM_RUN_X86_BUS_LOCK, KVM_X86_NOTIFY_VMEXIT_ENABLED, KVM_X86_NOTIFY_VMEXIT_USER,
  KVM_X86_SET_MSR_FILTER, KVM_INTERRUPT, kvm_interrupt, kvm_enable_cap, kvm_msr_filter, kvm_msr_filter_range, kvm_run,
} from '../uapi/kvm';
import type { HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import type { Heap } from './heap';
import type { QemuApic } from './apic';
import type { KvmArchOps, KvmCpu, RunState } from './kvm_all';

/** MSR_CORE_THREAD_COUNT: qemu answers it itself from its -smp topology. */
export const MSR_CORE_THREAD_COUNT = 0x35;

const EV_RDMSR = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'kvm_handle_rdmsr', ['msr:hex', 'data:hex']);
const EV_EOI_BROADCAST = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'ioapic_eoi_broadcast', ['vector:hex']);
const EV_WARN = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'warn_report', ['msg:str']);
const EV_INJECT_NMI = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qmp_inject_nmi', []);
const EV_BUS_LOCK_RATELIMIT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'kvm_rate_limit_on_bus_lock', []);
const EV_HANDLE_HALT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'kvm_handle_halt', ['halted']);
/** qemu-kvm 0.14: KVM_EXIT_HLT went to kvm_arch_halt (qemu-kvm-x86.c). */
const EV_ARCH_HALT_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'kvm_arch_halt', ['halted']);

export interface X86KvmOptions {
  era: 'linux-6.1' | 'qemu-kvm-2013';
  /** -accel kvm,bus-lock-ratelimit=N: 0 leaves bus-lock exits off. */
  busLockRatelimit: number;
  /** -accel kvm,notify-vmexit=run|internal-error|disable,notify-window=N (QEMU 7.2 defaults: run, 0). */
  notifyVmexit: 'run' | 'internal-error' | 'disable';
  notifyWindow: number;
  /** The host kvm offers KVM_CAP_X86_NOTIFY_VMEXIT only on CPUs with notify VM exits. */
  hostHasNotifyVmexit: boolean;
  hostHasBusLockDetection: boolean;
  /** -smp: for MSR_CORE_THREAD_COUNT. */
  cores: number;
  threads: number;
}

export interface X86Machine {
  stop(reason: RunState, why: string): void;
  /** ioapic_eoi_broadcast: a userspace IOAPIC (split irqchip) learns of a level-triggered EOI. */
  ioapicEoi?(vector: number): void;
}

export class X86KvmArch implements KvmArchOps {
  readonly haltCond: WaitQueue;
  private notifyWarned = false;
  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, private readonly heap: Heap,
    private readonly t: Tracer, sched: Scheduler, private readonly opts: X86KvmOptions, private readonly machine: X86Machine) {
    this.haltCond = new WaitQueue(sched, 'cpu->halt_cond');
  }

  private enableCap(vmfd: number, cap: number, arg0: number): number {
    const a = this.heap.alloc(kvm_enable_cap.sizeof);
    const mm = this.proc.mm;
    mm.slice(a, kvm_enable_cap.sizeof).fill(0);
    mm.setU32(a + kvm_enable_cap.cap, cap);
    mm.setU64(a + kvm_enable_cap.args, arg0);
    const r = this.host.ioctlNow(this.proc, vmfd, KVM_ENABLE_CAP, a);
    this.heap.release(a);
    return r;
  }

  /**
   * kvm_arch_init: kvm_vm_enable_userspace_msr (KVM_CAP_X86_USER_SPACE_MSR with filter exits, and
   * a filter that denies reads of MSR_CORE_THREAD_COUNT so they come to qemu), then the bus-lock
   * and notify VM-exit capabilities as -accel asks.
   */
  kvm_arch_init(vmfd: number): void {
    if (this.opts.era === 'qemu-kvm-2013') return;
    if (this.enableCap(vmfd, KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_FILTER) >= 0) {
      // kvm_filter_msr → kvm_install_msr_filters: one range, one MSR, its read bit clear (deny).
      const mm = this.proc.mm;
      const f = this.heap.alloc(kvm_msr_filter.sizeof);
      const bitmap = this.heap.alloc(8);
      mm.slice(f, kvm_msr_filter.sizeof).fill(0);
      mm.setU64(bitmap, 0);
      mm.setU32(f + kvm_msr_filter.flags, KVM_MSR_FILTER_DEFAULT_ALLOW);
      const r0 = f + kvm_msr_filter.ranges;
      mm.setU32(r0 + kvm_msr_filter_range.flags, KVM_MSR_FILTER_READ);
      mm.setU32(r0 + kvm_msr_filter_range.nmsrs, 1);
      mm.setU32(r0 + kvm_msr_filter_range.base, MSR_CORE_THREAD_COUNT);
      mm.setU64(r0 + kvm_msr_filter_range.bitmap, bitmap);
      this.host.ioctlNow(this.proc, vmfd, KVM_X86_SET_MSR_FILTER, f);
      this.heap.release(bitmap);
      this.heap.release(f);
    }
    if (this.opts.busLockRatelimit > 0 && this.opts.hostHasBusLockDetection) {
      this.enableCap(vmfd, KVM_CAP_X86_BUS_LOCK_EXIT, KVM_BUS_LOCK_DETECTION_EXIT);
    }
    // kvm_vm_enable_notify_vmexit
    if (this.opts.notifyVmexit !== 'disable' && this.opts.hostHasNotifyVmexit) {
      const flags = KVM_X86_NOTIFY_VMEXIT_ENABLED | (this.opts.notifyVmexit === 'run' ? KVM_X86_NOTIFY_VMEXIT_USER : 0);
      this.enableCap(vmfd, KVM_CAP_X86_NOTIFY_VMEXIT, this.opts.notifyWindow * 2 ** 32 + flags);
    }
  }

  /** With `irqchip: userspace`: qemu's local APIC (hw/intc/apic.c). */
  apic: QemuApic | undefined;
  /** cpu->interrupt_request & CPU_INTERRUPT_HARD: the userspace APIC has an interrupt for the vCPU. */
  private interruptHard = false;
  /** env->eflags & IF_MASK, as kvm_arch_post_run last read it from kvm_run->if_flag. */
  private ifFlag = false;

  /**
   * cpu_interrupt / cpu_reset_interrupt (CPU_INTERRUPT_HARD) from the userspace APIC: a halted vCPU
   * wakes (qemu_cond_broadcast(cpu->halt_cond)); one inside KVM_RUN is kicked out (qemu_cpu_kick).
   */
  cpu_interrupt(cpus: readonly KvmCpu[], pending: boolean): void {
    const was = this.interruptHard;
    this.interruptHard = pending;
    if (!pending || was) return;
    this.haltCond.wakeAll();
    for (const c of cpus) if (!c.halted) c.run_on_cpu(() => {});
  }

  /**
   * kvm_arch_pre_run: with the APIC in userspace, inject its interrupt with KVM_INTERRUPT when kvm
   * said the guest can take one (ready_for_interrupt_injection, IF); else ask kvm for an exit as
   * soon as it can (request_interrupt_window). CR8 carries the APIC's TPR in.
   */
  kvm_arch_pre_run(cpu: KvmCpu): void {
    const apic = this.apic;
    if (!apic) return;
    const mm = cpu.mm;
    const run = cpu.runHva;
    if (mm.u8(run + kvm_run.ready_for_interrupt_injection) && this.interruptHard && this.ifFlag) {
      const irq = apic.getInterrupt();
      if (irq >= 0) {
        const a = this.heap.alloc(kvm_interrupt.sizeof);
        mm.setU32(a + kvm_interrupt.irq, irq);
        cpu.kvm_vcpu_ioctl(KVM_INTERRUPT, a);
        this.heap.release(a);
      }
    }
    mm.setU8(run + kvm_run.request_interrupt_window, this.interruptHard ? 1 : 0);
    mm.setU64(run + kvm_run.cr8, apic.tpr >> 4);
  }

  /**
   * kvm_arch_post_run: IF and the TPR back into qemu's view of the CPU (env->eflags,
   * cpu_set_apic_tpr); a detected bus lock is rate-limited here (kvm_rate_limit_on_bus_lock).
   */
  kvm_arch_post_run(cpu: KvmCpu): void {
    const mm = cpu.mm;
    const run = cpu.runHva;
    const flags = mm.u16(run + kvm_run.flags);
    if (flags & KVM_RUN_X86_BUS_LOCK && this.t.on) this.t.rec(EV_BUS_LOCK_RATELIMIT, cpu.index);
    this.ifFlag = mm.u8(run + kvm_run.if_flag) !== 0;
    if (this.apic) this.apic.tpr = (mm.u64(run + kvm_run.cr8) & 0xf) << 4;
  }

  /** cpu_thread_is_idle → !x86_cpu_has_work: halted until an interrupt it can take arrives. */
  cpu_thread_is_idle(_cpu: KvmCpu): boolean { return !(this.interruptHard && this.ifFlag); }

  /** kvm_arch_handle_exit */
  kvm_arch_handle_exit(cpu: KvmCpu, reason: number): 'continue' | 'halt' | 'stop' {
    const mm = cpu.mm;
    const run = cpu.runHva;
    switch (reason) {
      case KVM_EXIT.HLT: {
        // kvm_handle_halt: with no interrupt to take, the vCPU is halted in userspace (EXCP_HLT).
        const halt = !(this.interruptHard && this.ifFlag);
        if (this.t.on) this.t.rec(this.opts.era === 'qemu-kvm-2013' ? EV_ARCH_HALT_0_14 : EV_HANDLE_HALT, cpu.index, halt ? 1 : 0);
        return halt ? 'halt' : 'continue';
      }
      case KVM_EXIT.SET_TPR:
        // The new TPR is in run->cr8, which kvm_arch_post_run hands to the userspace APIC.
        return 'continue';
      case KVM_EXIT.IOAPIC_EOI: {
        const vector = mm.u8(run + kvm_run['eoi.vector']);
        if (this.t.on) this.t.rec(EV_EOI_BROADCAST, cpu.index, vector);
        this.machine.ioapicEoi?.(vector);
        return 'continue';
      }
      case KVM_EXIT.X86_RDMSR: {
        // kvm_handle_rdmsr: only filter exits were asked for; the handler of the filtered MSR answers.
        const index = mm.u32(run + kvm_run['msr.index']);
        if (mm.u32(run + kvm_run['msr.reason']) !== KVM_MSR_EXIT_REASON_FILTER || index !== MSR_CORE_THREAD_COUNT) {
          this.machine.stop('internal-error', `KVM: unexpected MSR exit for 0x${index.toString(16)}`);
          return 'stop';
        }
        // kvm_rdmsr_core_thread_count: threads in bits 15:0, cores in 31:16.
        const data = this.opts.threads * this.opts.cores + this.opts.cores * 0x10000;
        mm.setU64(run + kvm_run['msr.data'], data);
        mm.setU8(run + kvm_run['msr.error'], 0);
        if (this.t.on) this.t.rec(EV_RDMSR, cpu.index, index, data);
        return 'continue';
      }
      case KVM_EXIT.X86_BUS_LOCK:
        // Already handled in kvm_arch_post_run.
        return 'continue';
      case KVM_EXIT.NOTIFY: {
        const invalid = (mm.u32(run + kvm_run['notify.flags']) & KVM_NOTIFY_CONTEXT_INVALID) !== 0;
        const msg = `Encounter a notify exit with ${invalid ? 'in' : ''}valid context in guest. There can be possible misbehaves in guest. Please have a look.`;
        if (invalid || this.opts.notifyVmexit === 'internal-error') {
          if (this.t.on) this.t.rec(EV_WARN, cpu.index, this.t.str(`KVM internal error: ${msg}`));
          this.machine.stop('internal-error', `KVM internal error: ${msg}`);
          return 'stop';
        }
        if (!this.notifyWarned && this.t.on) this.t.rec(EV_WARN, cpu.index, this.t.str(`KVM: ${msg}`));
        this.notifyWarned = true;
        return 'continue';
      }
      default:
        this.machine.stop('internal-error', `KVM: unknown exit reason ${reason}`);
        return 'stop';
    }
  }

  /**
   * qmp_inject_nmi (the monitor's `nmi`) → x86_nmi → apic_deliver_nmi → kvm_apic_external_nmi:
   * each vCPU's thread does KVM_NMI itself (run_on_cpu → do_inject_external_nmi).
   */
  qmp_inject_nmi(cpus: readonly KvmCpu[]): void {
    if (this.t.on) this.t.rec(EV_INJECT_NMI, -1);
    for (const cpu of cpus) cpu.run_on_cpu(() => { cpu.kvm_vcpu_ioctl(KVM_NMI); });
  }
}
