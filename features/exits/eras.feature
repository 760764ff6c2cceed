Feature: The seed's era: the same exits through kvm of 2.6.36-3.0 and qemu-kvm 0.15

  `profile: qemu-kvm-2013` runs the same mechanism with the names and the table of the seed's
  era: kvm_vmx_exit_handlers[] of arch/x86/kvm/vmx.c before the 3.1 nested-VMX rework
  (handle_cpuid, handle_rdmsr, handle_halt, handle_vmcall, handle_vmx_insn, handle_invalid_op for
  MWAIT and MONITOR), `__vcpu_run`, and qemu-kvm's kvm_run and kvm_handle_io with laio_submit.
  That kvm did not intercept RDPMC (the vPMU came in 3.3), had no per-vCPU PAUSE window, no
  preemption timer, no x2APIC virtualization; a reason with no handler went to userspace as
  KVM_EXIT_UNKNOWN with the hardware exit reason.

  Background:
    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """

  Scenario Outline: <instruction> is handled by <handler>
    When the guest executes "<instruction>"
    Then the VM exit reason is <reason>
    And kvm handles the exit with <handler>
    And the exit is handled in the kernel

    Examples:
      | instruction      | reason              | handler         |
      | cpuid 0x0        | CPUID               | handle_cpuid    |
      | rdmsr 0x1b       | MSR_READ            | handle_rdmsr    |
      | wrmsr 0x80b 0x0  | MSR_WRITE           | handle_wrmsr    |
      | invd             | INVD                | handle_invd     |
      | wbinvd           | WBINVD              | handle_wbinvd   |
      | vmcall           | VMCALL              | handle_vmcall   |
      | xsetbv 0 0x7     | XSETBV              | handle_xsetbv   |
      | ud2              | EXCEPTION_NMI       | handle_exception |

  Scenario Outline: <instruction> was not emulated as a NOP then: handle_invalid_op injects #UD
    When the guest executes "<instruction>"
    Then the VM exit reason is <reason>
    And kvm handles the exit with handle_invalid_op
    And the guest takes a #UD fault

    Examples:
      | instruction | reason              |
      | mwait       | MWAIT_INSTRUCTION   |
      | monitor     | MONITOR_INSTRUCTION |

  Scenario: a VMX instruction goes to handle_vmx_insn, which injects #UD
    When the guest executes "vmxon"
    Then the VM exit reason is VMON
    And kvm handles the exit with handle_vmx_insn
    And the guest takes a #UD fault

  Scenario: INVEPT has no handler in that table: KVM_EXIT_UNKNOWN with the hardware exit reason
    INVEPT exits unconditionally, but the table ends its VMX entries at VMON: vmx_handle_exit
    sets kvm_run->hw.hardware_exit_reason = 50 and returns KVM_EXIT_UNKNOWN, and qemu-kvm stops.

    When the guest executes "invept", which stops the VM
    Then the VM exit reason is INVEPT
    And the exit reaches qemu-kvm as KVM_EXIT_UNKNOWN
    And kvm_run's hw.hardware_exit_reason is 50
    And qemu-kvm stops the VM: "KVM: unknown exit, hardware reason 50"

  Scenario: RDPMC ran natively: kvm of that era did not set RDPMC exiting
    When the guest executes "rdpmc 0x0"
    Then there is no VM exit

  Scenario: the x2APIC TPR MSR exits: there was no "virtualize x2APIC mode"
    When the guest executes "wrmsr 0x808 0x20"
    Then the VM exit reason is MSR_WRITE
    And kvm handles the exit with handle_wrmsr

  Scenario: the seed's write walk, with the era's names
    handle_io of the era skipped the OUT before going to userspace (RIP is already past it when
    KVM_RUN returns); qemu-kvm's kvm_run switches on the exit reason and calls kvm_handle_io, and
    the request goes to the host with laio_submit.

    When the guest process writes "hello" to "/hello.txt"
    Then the walk passes through stages 1 to 10 in order
    And kvm handles the exit with handle_io
    And the walk includes __vcpu_run
    And the walk includes kvm_run
    And the walk includes kvm_handle_io
    And the walk includes laio_submit
    And the walk does not include vcpu_run
    And the walk does not include kvm_cpu_exec
