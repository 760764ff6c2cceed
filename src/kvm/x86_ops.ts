// struct kvm_x86_ops: the vendor hooks x86.c calls (vmx_x86_ops for Intel).

import type { KvmVcpu } from './vcpu';

export interface KvmX86Ops {
  /** kvm_caps: what userspace may enable with KVM_ENABLE_CAP on this host. */
  readonly caps?: { busLockDetection: boolean; notifyVmExit: boolean };
  /** vmx_vcpu_create + init_vmcs: program the VMCS controls. */
  vcpu_create(vcpu: KvmVcpu): void;
  /** vmx_vcpu_run: enter the guest and come back on a VM exit; returns the fastpath result or a breakpoint. */
  vcpu_run(vcpu: KvmVcpu): number;
  /** vmx_handle_exit: 1 = re-enter the guest, 0 = return to userspace, < 0 = error. */
  handle_exit(vcpu: KvmVcpu): number;
  skip_emulated_instruction(vcpu: KvmVcpu): void;
  get_rflags(vcpu: KvmVcpu): number;
  inject_irq(vcpu: KvmVcpu, vector: number): void;
  inject_exception(vcpu: KvmVcpu): void;
  enable_irq_window(vcpu: KvmVcpu): void;
  interrupt_allowed(vcpu: KvmVcpu): boolean;
  /** vmx_inject_nmi, vmx_nmi_allowed, vmx_enable_nmi_window */
  inject_nmi(vcpu: KvmVcpu): void;
  nmi_allowed(vcpu: KvmVcpu): boolean;
  enable_nmi_window(vcpu: KvmVcpu): void;
  /** vmx_set_cr0 / vmx_set_cr4: the value the guest reads (read shadow) and the one VT-x runs with. */
  set_cr0(vcpu: KvmVcpu, cr0: number): void;
  set_cr4(vcpu: KvmVcpu, cr4: number): void;
  /** vmx_set_virtual_apic_mode: xAPIC ↔ x2APIC changes which APIC virtualization VT-x does. */
  set_virtual_apic_mode(vcpu: KvmVcpu): void;
  /** vmx_update_cr8_intercept: the TPR threshold below which a TPR write exits. */
  update_cr8_intercept(vcpu: KvmVcpu, tpr: number, irr: number): void;
  /** vmx_vcpu_after_set_cpuid: controls that follow the guest's CPUID (RDRAND/RDSEED exiting, …). */
  vcpu_after_set_cpuid(vcpu: KvmVcpu): void;
  /** vmx_sync_pir_to_irr + vmx_hwapic_irr_update + vcpu_load_eoi_exitmap: RVI and the EOI-exit bitmap for APICv. */
  sync_pir_to_irr(vcpu: KvmVcpu): void;
  /**
   * vmx_deliver_interrupt: a fixed interrupt accepted by the local APIC — posted (PIR, and a
   * notification IPI to a vCPU in guest mode) with APICv, else IRR, KVM_REQ_EVENT and a kick.
   */
  deliver_interrupt(vcpu: KvmVcpu, vector: number, level: boolean, context: number): void;
  /** vmx_vcpu_reset(init_event = true): the guest state an INIT leaves in the VMCS. */
  vcpu_reset(vcpu: KvmVcpu): void;
  /** kvm_vcpu_deliver_sipi_vector: the AP starts at the SIPI vector's page. */
  deliver_sipi_vector(vcpu: KvmVcpu, vector: number): void;
  /** vmx_update_cpu_dirty_logging: PML on while any memslot logs dirty pages. */
  update_cpu_dirty_logging(vcpu: KvmVcpu): void;
  /** vmx_flush_pml_buffer: the logged addresses into the slots' dirty bitmaps (on every exit, and for KVM_GET_DIRTY_LOG). */
  flush_pml_buffer(vcpu: KvmVcpu): void;
  /** vmx_sync_dirty_debug_regs: take DR7 back from the guest and intercept MOV DR again. */
  sync_dirty_debug_regs(vcpu: KvmVcpu): void;
}

/** vcpu_run result when the simulator's breakpoint stopped the world inside the guest. */
export const VCPU_RUN_BREAK = 0x100;
/** vcpu_run result when the guest, still computing in non-root mode, lets the host's other threads run. */
export const VCPU_RUN_PARK = 0x101;
