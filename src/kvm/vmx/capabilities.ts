// arch/x86/kvm/vmx/capabilities.h (Linux 6.1): what the host CPU's VT-x offers kvm, and the
// kvm_intel module parameters the model uses (6.1's defaults).

/** kvm_intel module parameters (6.1 defaults). */
export const KVM_DEFAULT_PLE_GAP = 128;
export const KVM_VMX_DEFAULT_PLE_WINDOW = 4096;
export const KVM_DEFAULT_PLE_WINDOW_GROW = 2;
export const KVM_VMX_DEFAULT_PLE_WINDOW_MAX = 0xffffffff;

/** What the host CPU offers beyond what kvm needs everywhere (vmcs_config, kvm_caps, boot_cpu_has). */
export interface HostVmxCaps {
  /** SECONDARY_EXEC_BUS_LOCK_DETECTION (Sapphire Rapids and later). */
  busLockDetection: boolean;
  /** SECONDARY_EXEC_NOTIFY_VM_EXITING (Sapphire Rapids and later). */
  notifyVmExit: boolean;
  /** SGX with ENCLS exiting (kvm intercepts every ENCLS leaf the guest may not use). */
  enclsExiting: boolean;
  /** X86_FEATURE_UMIP: the CPU has UMIP itself, so kvm need not emulate it with descriptor-table exiting. */
  umip: boolean;
}
export const HOST_VMX_CAPS: Readonly<Record<'skylake-sp' | 'sapphire-rapids', HostVmxCaps>> = {
  'skylake-sp': { busLockDetection: false, notifyVmExit: false, enclsExiting: false, umip: false },
  'sapphire-rapids': { busLockDetection: true, notifyVmExit: true, enclsExiting: true, umip: true },
};
