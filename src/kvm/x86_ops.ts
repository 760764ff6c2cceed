// struct kvm_x86_ops: the vendor hooks x86.c calls (vmx_x86_ops for Intel).

import type { KvmVcpu } from './vcpu';

export interface KvmX86Ops {
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
}

/** vcpu_run result when the simulator's breakpoint stopped the world inside the guest. */
export const VCPU_RUN_BREAK = 0x100;
