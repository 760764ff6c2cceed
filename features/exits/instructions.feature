Feature: Instructions that exit, and the 6.1 handler kvm runs for each

  VT-x leaves the guest for an instruction only when the VMCS says so. CPUID, INVD, XSETBV, VMCALL
  and the VMX instructions exit unconditionally; HLT, RDPMC, MWAIT and MONITOR because kvm sets
  their exiting controls (vmx_exec_control); WBINVD by a secondary control; RDMSR/WRMSR because the
  MSR bitmap has the MSR's bit set; MOV to CR0/CR4 when it changes a bit the guest/host mask keeps
  for kvm; MOV DR because kvm sets MOV-DR exiting. The exit reason picks the entry of
  kvm_vmx_exit_handlers[] (arch/x86/kvm/vmx/vmx.c, Linux 6.1), and each handler ends in the kernel:
  kvm emulates the instruction, moves RIP past it and re-enters. Each action below is one
  instruction, so it takes exactly one VM exit.

  Scenario Outline: <instruction> exits as <reason> and kvm's <handler> emulates it
    When the guest executes "<instruction>"
    Then the VM exit reason is <reason>
    And kvm handles the exit with <handler>
    And the exit is handled in the kernel
    And there is 1 VM exit
    And the host makes no syscall
    And the instruction returns <result>

    Examples: unconditional, and by the processor-based controls
      | instruction     | reason              | handler               | result | why the result is what it is                                   |
      | cpuid 0x0       | CPUID               | kvm_emulate_cpuid     | 13     | max basic leaf 0xd of the vCPU's CPUID entries                 |
      | invd            | INVD                | kvm_emulate_invd      | 0      | an INVD is a NOP for kvm                                       |
      | wbinvd          | WBINVD              | kvm_emulate_wbinvd    | 0      | no non-coherent DMA: nothing to flush                          |
      | xsetbv 0 0x7    | XSETBV              | kvm_emulate_xsetbv    | 0      | x87, SSE, AVX: all in CPUID.0DH's XCR0 mask                    |
      | rdpmc 0x0       | RDPMC               | kvm_emulate_rdpmc     | 0      | GP counter 0 of four (CPUID.0AH), not programmed: 0            |
      | rdpmc 0x40000000| RDPMC               | kvm_emulate_rdpmc     | 0      | fixed counter 0 (ECX bit 30) of three                          |
      | mwait           | MWAIT_INSTRUCTION   | kvm_emulate_mwait     | 0      | the MWAIT_NEVER_UD_FAULTS quirk: a NOP with a warning          |
      | monitor         | MONITOR_INSTRUCTION | kvm_emulate_monitor   | 0      | same quirk                                                     |
      | rdmsr 0x1b      | MSR_READ            | kvm_emulate_rdmsr     | 0xfee00d00 | IA32_APIC_BASE: base, BSP, enabled, x2APIC mode            |
      | wrmsr 0x80b 0x0 | MSR_WRITE           | kvm_emulate_wrmsr     | 0      | the x2APIC EOI register, emulated by the in-kernel LAPIC      |

  Scenario: VMCALL with an unknown hypercall number gets -KVM_ENOSYS in RAX
    kvm_emulate_hypercall: RAX 0 is not one of KVM_HC_*; RAX becomes -1000 (-KVM_ENOSYS), which the
    64-bit register holds as 0xfffffffffffffc18.

    When the guest executes "vmcall"
    Then the VM exit reason is VMCALL
    And kvm handles the exit with kvm_emulate_hypercall
    And the exit is handled in the kernel
    And the walk includes kvm_hypercall
    And the instruction returns -1000

  Scenario Outline: MOV to <register> exits when it changes a bit kvm keeps, and <handler> emulates it
    The CR0 guest/host mask leaves only CR0.TS to the guest (KVM_POSSIBLE_CR0_GUEST_BITS); setting
    CR0.EM changes a bit kvm owns, so the CPU exits with the CR number and the access type in the
    qualification. CR4.UMIP is kvm's too.

    When the guest executes "mov <register> <value>"
    Then the VM exit reason is CR_ACCESS
    And kvm handles the exit with <handler>
    And the exit is handled in the kernel
    And the instruction returns 0

    Examples:
      | register | value      | handler  |
      | cr0      | 0x80050037 | handle_cr |
      | cr4      | 0x370ef0   | handle_cr |

  Scenario Outline: a value the guest may not load is refused with #GP: <why>
    kvm_set_cr0 / kvm_set_cr4 check the value against the architecture and the vCPU's CPUID
    (kvm_is_valid_cr4); kvm_complete_insn_gp injects #GP instead of skipping the instruction.

    When the guest executes "mov <register> <value>"
    Then the VM exit reason is CR_ACCESS
    And kvm handles the exit with handle_cr
    And the guest takes a #GP fault

    Examples:
      | register | value      | why                                               |
      | cr0      | 0x00050033 | clearing CR0.PG in 64-bit mode                     |
      | cr4      | 0x3716f0   | CR4.LA57: this CPU's CPUID has no 5-level paging   |
      | cr4      | 0x3726f0   | CR4.VMXE: no nested VMX, so no VMX in CPUID        |
      | cr4      | 0x3706d0   | clearing CR4.PAE in long mode                      |

  Scenario: XSETBV with AVX but without SSE is refused with #GP
    __kvm_set_xcr: XCR0 must keep x87 (bit 0), and AVX (bit 2) needs SSE (bit 1).

    When the guest executes "xsetbv 0 0x5"
    Then kvm handles the exit with kvm_emulate_xsetbv
    And the guest takes a #GP fault

  Scenario: RDPMC of a counter the vPMU does not have is #GP
    CPUID.0AH reports four general-purpose counters: index 0x10 is out of range (intel_rdpmc_ecx_to_pmc).

    When the guest executes "rdpmc 0x10"
    Then the VM exit reason is RDPMC
    And kvm handles the exit with kvm_emulate_rdpmc
    And the guest takes a #GP fault

  Scenario Outline: <instruction> is a VMX instruction: with no nested VMX, handle_vmx_instruction injects #UD
    When the guest executes "<instruction>"
    Then the VM exit reason is <reason>
    And kvm handles the exit with handle_vmx_instruction
    And the exit is handled in the kernel
    And the guest takes a #UD fault

    Examples:
      | instruction | reason   |
      | vmxon       | VMON     |
      | vmclear     | VMCLEAR  |
      | vmlaunch    | VMLAUNCH |
      | vmresume    | VMRESUME |
      | vmptrld     | VMPTRLD  |
      | vmptrst     | VMPTRST  |
      | vmread      | VMREAD   |
      | vmwrite     | VMWRITE  |
      | vmxoff      | VMOFF    |
      | invept      | INVEPT   |
      | invvpid     | INVVPID  |
      | vmfunc      | VMFUNC   |

  Scenario: MOV to DR7 exits once; handle_dr lets the guest have its debug registers until the next exit
    With no host debugger attached (guest_debug = 0) handle_dr clears MOV-DR exiting and re-enters
    at the same instruction, which now runs natively: one exit, and the instruction completes in the
    guest, not by emulation. The second MOV DR of the same action does not exit either; kvm takes
    DR7 back and sets MOV-DR exiting again at the next exit (vmx_sync_dirty_debug_regs).

    When the guest executes "mov dr7 0x400; mov dr7 0x401; mov rax dr7"
    Then the VM exit reason is DR_ACCESS
    And kvm handles the exit with handle_dr
    And there is 1 VM exit
    And the instruction returns 0x401

  Scenario: the exit qualification of an I/O instruction, as handle_io decodes it
    SDM Table 28-5: size - 1 in bits 2:0 (4 bytes → 3), IN in bit 3, the port in bits 31:16. An IN
    from port 0x1234 is 0x1234000b; no in-kernel device claims the port, so it goes to qemu-kvm.

    When the guest executes "inl 0x1234"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the walk includes IO_INSTRUCTION with qualification 0x1234000b
    And the exit reaches qemu-kvm as KVM_EXIT_IO
    And kvm_run's io.port is 0x1234
    And kvm_run's io.size is 4
    And kvm_run's io.direction is KVM_EXIT_IO_IN
