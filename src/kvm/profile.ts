// Two eras of kvm, one model (issue: the seed's 2013 walk and Linux 6.1). What differs is the name of
// a handler and the few behaviours listed here; the mechanism is shared.

export type Era = 'linux-6.1' | 'qemu-kvm-2013';

export interface KvmEra {
  readonly era: Era;
  /** The vcpu run loop: `vcpu_run` (6.1) or `__vcpu_run` (2.6.x-3.x). */
  readonly vcpuRunName: string;
  /** Handler names that differ from 6.1 (arch/x86/kvm/vmx.c of the era); `null` = no entry in the table. */
  readonly handlerNames: Readonly<Record<string, string | null>>;
  /** An exit reason with no handler: KVM_EXIT_INTERNAL_ERROR (6.1) or KVM_EXIT_UNKNOWN (2.6.x). */
  readonly unexpectedExit: 'internal-error' | 'unknown';
  /** 2.6.x-3.x handle_io advanced RIP before exiting to userspace; 6.1 skips on the next KVM_RUN (complete_fast_pio_out). */
  readonly pioSkipsBeforeUserspace: boolean;
}

export const LINUX_6_1: KvmEra = {
  era: 'linux-6.1',
  vcpuRunName: 'vcpu_run',
  handlerNames: {},
  unexpectedExit: 'internal-error',
  pioSkipsBeforeUserspace: false,
};

/** Fedora 15's 2.6.42 (3.2) kernel with qemu-kvm 0.15, as in the seed talk. */
export const QEMU_KVM_2013: KvmEra = {
  era: 'qemu-kvm-2013',
  vcpuRunName: '__vcpu_run',
  handlerNames: {
    handle_exception_nmi: 'handle_exception',
    kvm_emulate_cpuid: 'handle_cpuid',
    kvm_emulate_rdmsr: 'handle_rdmsr',
    kvm_emulate_wrmsr: 'handle_wrmsr',
    kvm_emulate_halt: 'handle_halt',
    kvm_emulate_invd: 'handle_invd',
    kvm_emulate_hypercall: 'handle_vmcall',
    handle_vmx_instruction: 'handle_vmx_insn',
    kvm_emulate_wbinvd: 'handle_wbinvd',
    kvm_emulate_xsetbv: 'handle_xsetbv',
    kvm_emulate_mwait: 'handle_invalid_op',
    kvm_emulate_monitor: 'handle_invalid_op',
    kvm_emulate_rdpmc: null,
    handle_apic_write: null,
    handle_apic_eoi_induced: null,
    handle_desc: null,
    handle_monitor_trap: null,
    handle_invpcid: null,
    kvm_handle_invalid_op: null,
    handle_pml_full: null,
    handle_preemption_timer: null,
    handle_encls: null,
    handle_bus_lock_vmexit: null,
    handle_notify: null,
  },
  unexpectedExit: 'unknown',
  pioSkipsBeforeUserspace: true,
};

export function kvmEra(era: Era): KvmEra { return era === 'linux-6.1' ? LINUX_6_1 : QEMU_KVM_2013; }
