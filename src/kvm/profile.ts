// Two eras of kvm, one model (issue: the seed's 2013 walk and Linux 6.1). What differs is the exit
// handler table (names, and which reasons have a handler at all), the VT-x features kvm programs,
// and the few behaviours listed here; the mechanism is shared.

import type { ExitReasonName } from '../uapi/vmx';

export type Era = 'linux-6.1' | 'qemu-kvm-2013';

export interface KvmEra {
  readonly era: Era;
  /** The vcpu run loop: `vcpu_run` (6.1) or `__vcpu_run` (2.6.x-3.x). */
  readonly vcpuRunName: string;
  /**
   * kvm_vmx_exit_handlers[] of the era, by basic exit reason: the handler's name, which also
   * selects the behaviour (kvm/vmx/handlers.ts). A reason missing here has no handler.
   */
  readonly exitHandlers: Readonly<Partial<Record<ExitReasonName, string>>>;
  /**
   * 6.1 handler name → the era's name for it, or null when no reason it serves has a handler in
   * that era (derived from exitHandlers; for readers that go by handler name).
   */
  readonly handlerNames: Readonly<Record<string, string | null>>;
  /** An exit reason with no handler: KVM_EXIT_INTERNAL_ERROR (6.1) or KVM_EXIT_UNKNOWN (2.6.x). */
  readonly unexpectedExit: 'internal-error' | 'unknown';
  /** 2.6.x-3.x handle_io advanced RIP before exiting to userspace; 6.1 skips on the next KVM_RUN (complete_fast_pio_out). */
  readonly pioSkipsBeforeUserspace: boolean;
  /** 2.6.x-3.x handle_io sent IN (as string I/O) to the emulator (`if (string || in) return emulate_instruction(vcpu, 0)`); 6.1 has kvm_fast_pio_in. */
  readonly pioInEmulated: boolean;
  /** VT-x features kvm of the era uses (setup_vmcs_config / vmx_secondary_exec_control of that kernel). */
  readonly features: {
    /** handle_fastpath_set_msr_irqoff: a fixed x2APIC IPI handled right after the exit (5.8+). */
    readonly fastpathIcr: boolean;
    /** RDPMC exiting and kvm_emulate_rdpmc: the vPMU came in 3.3. */
    readonly rdpmcExiting: boolean;
    /** grow_ple_window: the per-vcpu PAUSE-loop window came in 3.18. */
    readonly pleWindowGrow: boolean;
    /** The VMX-preemption timer as the hv timer (4.10), always armed (5.x). */
    readonly preemptionTimer: boolean;
    /** Descriptor-table exiting to emulate UMIP on CPUs without it (4.16). */
    readonly umipEmulation: boolean;
    /** Virtualize x2APIC mode with the TPR passed through the MSR bitmap (3.9). */
    readonly virtualizeX2apicMode: boolean;
    /** Pass IA32_TSC reads through the MSR bitmap (vmx_vcpu_create of 4.x+). */
    readonly tscReadPassthrough: boolean;
    /** #AC in the exception bitmap (4.4, CVE-2015-5307). */
    readonly interceptAc: boolean;
    /** Enable XSAVES, INVPCID in the secondary controls (4.0, 3.15). */
    readonly xsaves: boolean;
    readonly invpcid: boolean;
    /** Page-modification logging for dirty logging (4.0); before it, write protection. */
    readonly pml: boolean;
    /** MSR_KVM_PV_EOI_EN and apic_sync_pv_eoi_to_guest (3.6). */
    readonly pvEoi: boolean;
    /** Coalesced zones on KVM_PIO_BUS (KVM_CAP_COALESCED_PIO, 4.18). */
    readonly coalescedPio: boolean;
    /** Halt polling before blocking a halted vCPU (4.0; kvm_vcpu_halt since 5.16). */
    readonly haltPoll: boolean;
    /** The kvm_eoi tracepoint in apic_set_eoi: not in Linux 3.2's arch/x86/kvm/trace.h (it came with PV EOI's, 3.6). */
    readonly eoiTrace: boolean;
  };
  /** KVM_POSSIBLE_CR4_GUEST_BITS of the era: CR4 bits the guest changes without an exit. */
  readonly cr4GuestOwned: number;
}

const X86_CR4_PVI = 0x2, X86_CR4_TSD = 0x4, X86_CR4_DE = 0x8, X86_CR4_PGE = 0x80, X86_CR4_PCE = 0x100;
const X86_CR4_OSFXSR = 0x200, X86_CR4_OSXMMEXCPT = 0x400, X86_CR4_FSGSBASE = 0x10000;

/** kvm_vmx_exit_handlers[] of arch/x86/kvm/vmx/vmx.c, Linux 6.1, entry for entry (kvm_intel.nested=0). */
const VMX_EXIT_HANDLERS_6_1: Readonly<Partial<Record<ExitReasonName, string>>> = {
  EXCEPTION_NMI: 'handle_exception_nmi',
  EXTERNAL_INTERRUPT: 'handle_external_interrupt',
  TRIPLE_FAULT: 'handle_triple_fault',
  NMI_WINDOW: 'handle_nmi_window',
  IO_INSTRUCTION: 'handle_io',
  CR_ACCESS: 'handle_cr',
  DR_ACCESS: 'handle_dr',
  CPUID: 'kvm_emulate_cpuid',
  MSR_READ: 'kvm_emulate_rdmsr',
  MSR_WRITE: 'kvm_emulate_wrmsr',
  INTERRUPT_WINDOW: 'handle_interrupt_window',
  HLT: 'kvm_emulate_halt',
  INVD: 'kvm_emulate_invd',
  INVLPG: 'handle_invlpg',
  RDPMC: 'kvm_emulate_rdpmc',
  VMCALL: 'kvm_emulate_hypercall',
  VMCLEAR: 'handle_vmx_instruction',
  VMLAUNCH: 'handle_vmx_instruction',
  VMPTRLD: 'handle_vmx_instruction',
  VMPTRST: 'handle_vmx_instruction',
  VMREAD: 'handle_vmx_instruction',
  VMRESUME: 'handle_vmx_instruction',
  VMWRITE: 'handle_vmx_instruction',
  VMOFF: 'handle_vmx_instruction',
  VMON: 'handle_vmx_instruction',
  TPR_BELOW_THRESHOLD: 'handle_tpr_below_threshold',
  APIC_ACCESS: 'handle_apic_access',
  APIC_WRITE: 'handle_apic_write',
  EOI_INDUCED: 'handle_apic_eoi_induced',
  WBINVD: 'kvm_emulate_wbinvd',
  XSETBV: 'kvm_emulate_xsetbv',
  TASK_SWITCH: 'handle_task_switch',
  MCE_DURING_VMENTRY: 'handle_machine_check',
  GDTR_IDTR: 'handle_desc',
  LDTR_TR: 'handle_desc',
  EPT_VIOLATION: 'handle_ept_violation',
  EPT_MISCONFIG: 'handle_ept_misconfig',
  PAUSE_INSTRUCTION: 'handle_pause',
  MWAIT_INSTRUCTION: 'kvm_emulate_mwait',
  MONITOR_TRAP_FLAG: 'handle_monitor_trap',
  MONITOR_INSTRUCTION: 'kvm_emulate_monitor',
  INVEPT: 'handle_vmx_instruction',
  INVVPID: 'handle_vmx_instruction',
  RDRAND: 'kvm_handle_invalid_op',
  RDSEED: 'kvm_handle_invalid_op',
  PML_FULL: 'handle_pml_full',
  INVPCID: 'handle_invpcid',
  VMFUNC: 'handle_vmx_instruction',
  PREEMPTION_TIMER: 'handle_preemption_timer',
  ENCLS: 'handle_encls',
  BUS_LOCK: 'handle_bus_lock_vmexit',
  NOTIFY: 'handle_notify',
};

/** 6.1 handler name → the era's name (or null): by the reasons each serves. */
function namesAgainst61(table: Readonly<Partial<Record<ExitReasonName, string>>>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [reason, name] of Object.entries(VMX_EXIT_HANDLERS_6_1) as [ExitReasonName, string][]) {
    const old = table[reason];
    if (old !== undefined) out[name] = old;
    else if (!(name in out)) out[name] = null;
  }
  return out;
}

export const LINUX_6_1: KvmEra = {
  era: 'linux-6.1',
  vcpuRunName: 'vcpu_run',
  exitHandlers: VMX_EXIT_HANDLERS_6_1,
  handlerNames: {},
  unexpectedExit: 'internal-error',
  pioSkipsBeforeUserspace: false,
  pioInEmulated: false,
  features: {
    fastpathIcr: true, rdpmcExiting: true, pleWindowGrow: true, preemptionTimer: true, umipEmulation: true, virtualizeX2apicMode: true,
    tscReadPassthrough: true, interceptAc: true, xsaves: true, invpcid: true, pml: true, pvEoi: true, coalescedPio: true, haltPoll: true, eoiTrace: true,
  },
  // KVM_POSSIBLE_CR4_GUEST_BITS less LA57, which this guest's CPUID does not have (cr4_guest_rsvd_bits).
  cr4GuestOwned: X86_CR4_PVI | X86_CR4_DE | X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_PGE | X86_CR4_TSD | X86_CR4_FSGSBASE,
};

/**
 * The seed's era: kvm_vmx_exit_handlers[] of arch/x86/kvm/vmx.c as of 2.6.36-3.0 (handle_vmx_insn
 * for the VMX instructions, handle_invalid_op for MWAIT/MONITOR; no handler for RDPMC, INVEPT,
 * INVVPID or anything newer), with qemu-kvm 0.14.
 */
const VMX_EXIT_HANDLERS_2013: Readonly<Partial<Record<ExitReasonName, string>>> = {
  EXCEPTION_NMI: 'handle_exception',
  EXTERNAL_INTERRUPT: 'handle_external_interrupt',
  TRIPLE_FAULT: 'handle_triple_fault',
  NMI_WINDOW: 'handle_nmi_window',
  IO_INSTRUCTION: 'handle_io',
  CR_ACCESS: 'handle_cr',
  DR_ACCESS: 'handle_dr',
  CPUID: 'handle_cpuid',
  MSR_READ: 'handle_rdmsr',
  MSR_WRITE: 'handle_wrmsr',
  INTERRUPT_WINDOW: 'handle_interrupt_window',
  HLT: 'handle_halt',
  INVD: 'handle_invd',
  INVLPG: 'handle_invlpg',
  VMCALL: 'handle_vmcall',
  VMCLEAR: 'handle_vmx_insn',
  VMLAUNCH: 'handle_vmx_insn',
  VMPTRLD: 'handle_vmx_insn',
  VMPTRST: 'handle_vmx_insn',
  VMREAD: 'handle_vmx_insn',
  VMRESUME: 'handle_vmx_insn',
  VMWRITE: 'handle_vmx_insn',
  VMOFF: 'handle_vmx_insn',
  VMON: 'handle_vmx_insn',
  TPR_BELOW_THRESHOLD: 'handle_tpr_below_threshold',
  APIC_ACCESS: 'handle_apic_access',
  WBINVD: 'handle_wbinvd',
  XSETBV: 'handle_xsetbv',
  TASK_SWITCH: 'handle_task_switch',
  MCE_DURING_VMENTRY: 'handle_machine_check',
  EPT_VIOLATION: 'handle_ept_violation',
  EPT_MISCONFIG: 'handle_ept_misconfig',
  PAUSE_INSTRUCTION: 'handle_pause',
  MWAIT_INSTRUCTION: 'handle_invalid_op',
  MONITOR_INSTRUCTION: 'handle_invalid_op',
};

export const QEMU_KVM_2013: KvmEra = {
  era: 'qemu-kvm-2013',
  vcpuRunName: '__vcpu_run',
  exitHandlers: VMX_EXIT_HANDLERS_2013,
  handlerNames: namesAgainst61(VMX_EXIT_HANDLERS_2013),
  unexpectedExit: 'unknown',
  pioSkipsBeforeUserspace: true,
  pioInEmulated: true,
  features: {
    fastpathIcr: false, rdpmcExiting: false, pleWindowGrow: false, preemptionTimer: false, umipEmulation: false, virtualizeX2apicMode: false,
    tscReadPassthrough: false, interceptAc: false, xsaves: false, invpcid: false, pml: false, pvEoi: false, coalescedPio: false, haltPoll: false, eoiTrace: false,
  },
  // KVM_CR4_GUEST_OWNED_BITS of 3.x.
  cr4GuestOwned: X86_CR4_PVI | X86_CR4_DE | X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | X86_CR4_PGE,
};

/** KVM_HALT_POLL_NS_DEFAULT (arch/x86/include/asm/kvm_host.h): the kvm module's halt_poll_ns on x86. */
export const KVM_HALT_POLL_NS_DEFAULT = 200000;

export function kvmEra(era: Era): KvmEra { return era === 'linux-6.1' ? LINUX_6_1 : QEMU_KVM_2013; }
