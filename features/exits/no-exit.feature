Feature: Instructions kvm does not intercept run with no VM exit

  What kvm leaves out of the VMCS controls never exits: RDTSC (no RDTSC exiting: the TSC offset
  does the work), RDTSCP/INVPCID/XSAVES (enabled in the secondary controls, no exiting asked),
  RDRAND/RDSEED (their exiting controls are set only when the guest's CPUID lacks them), INVLPG and
  MOV CR3 (with EPT there is no INVLPG or CR3 exiting), MOV CR8 (the TPR shadow), CR0.TS and the
  CR4 bits the guest owns, the MSRs kvm passes through the MSR bitmap, and an exception the
  exception bitmap does not name, which the guest's own IDT handles.

  Scenario Outline: <instruction> runs natively
    When the guest executes "<instruction>"
    Then there is no VM exit
    And the host makes no syscall

    Examples:
      | instruction              | why                                                           |
      | rdtsc                    | RDTSC exiting is off                                          |
      | rdtscp                   | ENABLE_RDTSCP on, RDTSC exiting off                           |
      | rdrand                   | RDRAND is in the guest's CPUID: no RDRAND exiting             |
      | rdseed                   | same for RDSEED                                               |
      | xsaves 0x100000          | the XSS-exiting bitmap is 0                                   |
      | xrstors 0x100000         | same                                                          |
      | invpcid 0x0              | INVPCID exits only with INVLPG exiting, which EPT turns off   |
      | invlpg 0x1000            | no INVLPG exiting with EPT                                    |
      | mov cr3 0x2000           | no CR3-load exiting with EPT                                  |
      | mov rax cr3              | no CR3-store exiting with EPT                                 |
      | mov cr8 0x0              | the TPR shadow: CR8 is the virtual-APIC page's TPR            |
      | mov cr0 0x80050033       | the value the read shadow already holds: no owned bit changes |
      | mov cr0 0x8005003b       | CR0.TS is the guest's (CR0_GUEST_HOST_MASK)                   |
      | mov cr4 0x3706f8         | CR4.DE is the guest's (KVM_POSSIBLE_CR4_GUEST_BITS)            |
      | mov rax cr0              | a read of CR0 is served from the read shadow                  |
      | wrmsr 0xc0000100 0x1000  | IA32_FS_BASE is passed through the MSR bitmap                 |
      | rdmsr 0x10               | IA32_TSC reads are passed through                             |
      | wrmsr 0x808 0x20         | x2APIC TPR: virtualized through the virtual-APIC page         |
      | pause                    | one PAUSE is no loop: PLE only exits after ple_window cycles  |

  Scenario: a read of CR0 returns the read shadow for the bits kvm owns
    CR0.NE is forced on in the CR0 VT-x runs with (unrestricted guest), but the guest reads the
    value it wrote, 0x80050033, from CR0_READ_SHADOW.

    When the guest executes "mov rax cr0"
    Then the instruction returns 0x80050033

  Scenario: MOV to and from CR8 go to the TPR shadow and back
    When the guest executes "mov cr8 0x5; mov rax cr8"
    Then there is no VM exit
    And the instruction returns 5

  Scenario: #UD is in kvm's exception bitmap, #BP is not
    vmx_update_exception_bitmap sets #UD, #DB, #AC and #MC. UD2 raises #UD: a VM exit, and
    handle_exception_nmi sends it to the emulator (handle_ud), which cannot emulate UD2 and gives
    the #UD back to the guest. INT3 raises #BP, which the guest's IDT takes without any exit.

    When the guest executes "ud2"
    Then the VM exit reason is EXCEPTION_NMI
    And kvm handles the exit with handle_exception_nmi
    And the walk includes EXCEPTION_NMI with intrInfo 0x80000306
    And the guest takes a #UD fault
    When the guest executes "int3"
    Then there is no VM exit
    And the guest's own handler takes #BP

  Scenario: RDMSR of an MSR kvm does not emulate is #GP
    When the guest executes "rdmsr 0x12345"
    Then the VM exit reason is MSR_READ
    And kvm handles the exit with kvm_emulate_rdmsr
    And the guest takes a #GP fault
