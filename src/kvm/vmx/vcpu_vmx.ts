// arch/x86/kvm/vmx/vmx.h (Linux 6.1): struct vcpu_vmx, the VMX part of a vCPU, and to_vmx().

import type { KvmVcpu } from '../vcpu';

export /** struct vcpu_vmx beyond what KvmVcpu keeps: to_vmx(vcpu). */
interface VcpuVmx {
  msrBitmap: Uint8Array;
  ple_window: number;
  ple_window_dirty: boolean;
  hv_timer_soft_disabled: boolean;
  bus_lock_detected: boolean;
  /** The CPU the last VM entry ran on (vcpu->arch.last_vmentry_cpu). */
  last_vmentry_cpu: number;
  /** The page-modification log (vmx->pml_pg), with enable_pml. */
  pml_pg: Float64Array | undefined;
  /**
   * struct pi_desc (posted_intr.h), 64 bytes: PIR, 256 bits (u32 pir[8]), then the control word —
   * ON (bit 256, outstanding notification), SN (bit 257), NV (bits 279:272), NDST (bits 319:288).
   * VT-x reads it at POSTED_INTR_DESC_ADDR.
   */
  pi_desc: DataView;
}

const vmxOf = new WeakMap<KvmVcpu, VcpuVmx>();
export const to_vmx = (vcpu: KvmVcpu): VcpuVmx => vmxOf.get(vcpu)!;
/** vmx_vcpu_create: the vCPU's struct vcpu_vmx. */
export const vmx_attach = (vcpu: KvmVcpu, vmx: VcpuVmx): void => { vmxOf.set(vcpu, vmx); };
