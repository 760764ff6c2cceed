// struct kvm_vcpu / struct vcpu_vmx: the per-vCPU state kvm keeps.

import { WaitQueue, type Scheduler, type Thread } from '../sim/scheduler';
import type { VmxCpu } from '../vmx/cpu';
import type { Regs } from '../vmx/insn';
import { Vmcs } from '../vmx/vmcs';
import { KvmLapic } from './lapic';
import { KvmRunPage } from './run_page';
import type { KvmVm } from './vm';

import { KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED } from './kvm_host';
export { KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, KVM_REQ_EVENT } from './kvm_host';

export interface PendingException { vector: number; hasError: boolean; errorCode: number }

export class KvmVcpu {
  readonly run = new KvmRunPage();
  readonly vmcs = new Vmcs();
  readonly wq: WaitQueue;
  readonly apic: KvmLapic | undefined;
  readonly arch = {
    mp_state: KVM_MP_STATE_RUNNABLE,
    requests: 0,
    /** vcpu->arch.complete_userspace_io: finishes an exit to userspace on the next KVM_RUN. */
    complete_userspace_io: null as ((v: KvmVcpu) => number) | null,
    pio: { port: 0, size: 0, count: 0, in: false },
    mmio: { gpa: 0, len: 0, isWrite: false, needed: false },
    exception: null as PendingException | null,
    /** The RIP an exit to userspace was taken at (cui_linear_rip). */
    cui_linear_rip: 0,
    xcr0: 1,
    /** MSR values kvm emulates (kvm_get_msr_common / kvm_set_msr_common). */
    msrs: new Map<number, number>(),
    /** vcpu->arch.apic_base when the local APIC is in userspace (no in-kernel LAPIC to keep it). */
    apic_base: 0xfee00900,
    /** NMIs: queued by KVM_NMI, pending (at most two), one being injected (process_nmi). */
    nmi_queued: 0,
    nmi_pending: 0,
    nmi_injected: false,
    /** KVM_INTERRUPT with a userspace irqchip: the vector to inject (vcpu->arch.interrupt). */
    interrupt: -1,
    /** KVM_DEBUGREG_* bits (vcpu->arch.switch_db_regs). */
    switch_db_regs: 0,
    /** A level-triggered EOI for a userspace IOAPIC (split irqchip), or -1. */
    pending_ioapic_eoi: -1,
    /** vcpu->arch.pv_eoi.msr_val: MSR_KVM_PV_EOI_EN as the guest wrote it (the area's GPA | KVM_MSR_ENABLED). */
    pv_eoi_msr_val: 0,
    /** vcpu->arch.apic_attention: KVM_APIC_PV_EOI_PENDING while the guest may EOI through the PV EOI area. */
    apic_attention: 0,
  };
  readonly stat = { exits: 0, io_exits: 0, halt_exits: 0, irq_injections: 0, mmio_exits: 0, irq_exits: 0,
    irq_window_exits: 0, nmi_window_exits: 0, nmi_injections: 0, request_irq_exits: 0, hypercalls: 0 };
  /** struct vcpu_vmx: loaded_vmcs->launched and vmx->fail (VMfailValid on the last entry). */
  readonly vmx = { launched: false, fail: false };
  /** vcpu->halt_poll_ns: how long kvm_vcpu_halt polls before blocking (grows and shrinks; 0 at first). */
  halt_poll_ns = 0;
  /** The hardware exit reason of the last VM exit (vmx->exit_reason). */
  exitReason = 0;
  /** The host thread in KVM_RUN for this vCPU (qemu's vCPU thread), once it has run. */
  thread: Thread | undefined;
  /** signal_pending(current) for the thread in KVM_RUN (a tgkill from userspace). */
  sigpending = false;

  constructor(readonly vm: KvmVm, readonly id: number, readonly cpu: VmxCpu, sched: Scheduler, lapicInKernel: boolean) {
    this.wq = new WaitQueue(sched, `vcpu${id}`);
    if (lapicInKernel) this.apic = new KvmLapic(id);
    // kvm_arch_vcpu_create: with the local APIC in the kernel, only the BSP (vcpu 0) starts runnable;
    // an AP waits for INIT and SIPI from another CPU.
    if (lapicInKernel && id !== 0) this.arch.mp_state = KVM_MP_STATE_UNINITIALIZED;
  }

  get regs(): Regs { return this.cpu.regs; }
}
