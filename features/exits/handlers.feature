Feature: The 6.1 handlers that need a particular guest state, configuration or host CPU

  Some entries of kvm_vmx_exit_handlers[] are reached only in a particular state: a TPR that
  masks a pending interrupt, interrupts blocked when one arrives, CR4.UMIP on a CPU without UMIP,
  a guest CPUID without RDRAND, a host CPU with SGX, bus-lock detection or notify VM exits.

  Scenario: the guest lowers its TPR below a masked interrupt: TPR_BELOW_THRESHOLD
    MOV to CR8 writes the TPR shadow without an exit. With TPR 15 the self-IPI's vector 0xfd (class
    15) stays pending in IRR; before the next entry kvm sets TPR_THRESHOLD to that class
    (update_cr8_intercept: 15). Lowering CR8 to 0 drops below it: a trap-like exit after the MOV,
    handle_tpr_below_threshold updates the PPR, and kvm injects 0xfd. The vector is edge-triggered
    and no IOAPIC waits for its EOI, so kvm offers PV EOI at that entry (apic_sync_pv_eoi_to_guest):
    the guest's handler EOIs it by clearing a bit in its own memory (kvm_guest_apic_eoi_write), with
    no exit. One exit.

    When the guest executes "mov cr8 0xf; wrmsr 0x83f 0xfd"
    And the guest executes "mov cr8 0x0"
    Then the VM exits are:
      | reason              | handler                    | handled in |
      | TPR_BELOW_THRESHOLD | handle_tpr_below_threshold | kernel     |
    And the guest takes interrupt 0xfd

  Scenario: an interrupt arrives while the guest has interrupts disabled: INTERRUPT_WINDOW
    The self-IPI (x2APIC SELF_IPI, an MSR write kvm emulates) comes while IF = 0: kvm cannot
    inject, so it sets interrupt-window exiting (vmx_enable_irq_window). STI enables interrupts
    after one more instruction; then the CPU exits, handle_interrupt_window clears the control, and
    kvm injects 0xfd. Its handler's EOI goes through PV EOI (an edge-triggered vector no IOAPIC
    handles): no third exit.

    When the guest executes "cli; wrmsr 0x83f 0xfd; sti; nop"
    Then the VM exits are:
      | reason           | handler                 | handled in |
      | MSR_WRITE        | kvm_emulate_wrmsr       | kernel     |
      | INTERRUPT_WINDOW | handle_interrupt_window | kernel     |
    And the guest takes interrupt 0xfd

  Scenario Outline: with CR4.UMIP set, <instruction> exits as <reason>: kvm emulates UMIP on this CPU
    Skylake-SP has no UMIP. kvm offers it to the guest anyway: when the guest sets CR4.UMIP,
    vmx_set_cr4 turns on descriptor-table exiting and keeps UMIP out of the CR4 the CPU runs with.
    The descriptor-table instructions then exit, and handle_desc lets the emulator run them (at
    CPL 0 they are allowed; the emulator would #GP them at CPL 3).

    When the guest executes "mov cr4 0x370ef0; <instruction>"
    Then VM exit 2 is <reason>
    And the walk includes handle_desc
    And the instruction returns <result>

    Examples:
      | instruction                       | reason    | result | what the result is                    |
      | str                               | LDTR_TR   | 64     | TR = GDT entry 8                       |
      | sldt                              | LDTR_TR   | 0      | no LDT                                 |
      | sgdt 0x100000; readw 0x100000     | GDTR_IDTR | 127    | the GDT limit: 16 descriptors          |
      | sidt 0x100000; readw 0x100000     | GDTR_IDTR | 4095   | the IDT limit: 256 gates of 16 bytes   |

  Scenario: without CR4.UMIP the same instruction runs natively
    When the guest executes "str"
    Then there is no VM exit
    And the instruction returns 64

  Scenario: a guest CPUID without RDRAND: kvm sets RDRAND exiting, and kvm_handle_invalid_op answers #UD
    vmx_vcpu_after_set_cpuid sets an "exiting" control exactly when the guest's CPUID lacks the
    feature, so that an instruction the guest was not offered is #UD even though the CPU has it.

    Given the VM is configured as:
      """
      cpu: host,-rdrand,-rdseed
      """
    When the guest executes "rdrand"
    Then the VM exit reason is RDRAND
    And kvm handles the exit with kvm_handle_invalid_op
    And the guest takes a #UD fault
    When the guest executes "rdseed"
    Then the VM exit reason is RDSEED
    And kvm handles the exit with kvm_handle_invalid_op

  Scenario: the monitor trap flag: an exit after the instruction, which handle_monitor_trap only re-enters
    kvm sets MTF only for a nested guest; here the step sets the control for one action. The exit
    is trap-like: the instruction has completed (no instruction length).

    When the monitor trap flag is set and the guest executes "nop"
    Then the VM exit reason is MONITOR_TRAP_FLAG
    And kvm handles the exit with handle_monitor_trap
    And the walk includes MONITOR_TRAP_FLAG with instructionLength 0
    And the exit is handled in the kernel

  Scenario: on Skylake-SP ENCLS is no exit of its own: no SGX, #UD, which kvm's exception bitmap intercepts
    When the guest executes "encls"
    Then the VM exit reason is EXCEPTION_NMI
    And kvm handles the exit with handle_exception_nmi
    And the guest takes a #UD fault

  Scenario: on a host with SGX, kvm intercepts every ENCLS leaf, and handle_encls injects #UD
    The guest's CPUID has no SGX, so vmx_write_encls_bitmap sets every bit of the ENCLS-exiting
    bitmap.

    Given the VM is configured as:
      """
      host_cpu: sapphire-rapids
      """
    When the guest executes "encls"
    Then the VM exit reason is ENCLS
    And kvm handles the exit with handle_encls
    And the guest takes a #UD fault

  Scenario: on a host with UMIP the guest's CR4.UMIP is the CPU's own: no descriptor-table exits
    Given the VM is configured as:
      """
      host_cpu: sapphire-rapids
      """
    When the guest executes "mov cr4 0x370ef0; str"
    Then there is 1 VM exit
    And the VM exit reason is CR_ACCESS

  Scenario: a split lock with bus-lock exits on: BUS_LOCK, and KVM_EXIT_X86_BUS_LOCK for qemu-kvm to rate-limit
    qemu enables KVM_CAP_X86_BUS_LOCK_EXIT only with bus-lock-ratelimit set. A locked add of 4
    bytes at 0x10003e crosses the cache line at 0x100040: the CPU takes a bus lock and, with
    bus-lock detection on, exits after the instruction (trap-like). handle_bus_lock_vmexit only
    flags it; vmx_handle_exit turns the exit into KVM_EXIT_X86_BUS_LOCK with KVM_RUN_X86_BUS_LOCK
    in kvm_run->flags, and qemu-kvm's kvm_arch_post_run rate-limits the guest.

    Given the VM is configured as:
      """
      host_cpu: sapphire-rapids
      accel:
        bus_lock_ratelimit: 1000
      """
    When the guest executes "lock addl 0x10003e 0x1"
    Then the VM exit reason is BUS_LOCK
    And kvm handles the exit with handle_bus_lock_vmexit
    And the exit reaches qemu-kvm as KVM_EXIT_X86_BUS_LOCK
    And kvm_run's flags is KVM_RUN_X86_BUS_LOCK
    And the walk includes kvm_rate_limit_on_bus_lock

  Scenario: a locked add inside one cache line takes no bus lock
    Given the VM is configured as:
      """
      host_cpu: sapphire-rapids
      accel:
        bus_lock_ratelimit: 1000
      """
    When the guest executes "lock addl 0x100030 0x1"
    Then there is no VM exit

  Scenario: the guest holds the CPU past the notify window: NOTIFY, and KVM_EXIT_NOTIFY to qemu-kvm
    QEMU's default -accel kvm,notify-vmexit=run enables notify VM exits where the host has them,
    with notify-window 0. A guest that keeps the CPU from an instruction boundary (an
    event-delivery livelock) exits as NOTIFY; with KVM_X86_NOTIFY_VMEXIT_USER handle_notify tells
    userspace (KVM_EXIT_NOTIFY, context still valid), and qemu-kvm warns once and resumes the guest.

    Given the VM is configured as:
      """
      host_cpu: sapphire-rapids
      """
    When the guest keeps the CPU from an instruction boundary for 100000 cycles
    Then the VM exit reason is NOTIFY
    And kvm handles the exit with handle_notify
    And the exit reaches qemu-kvm as KVM_EXIT_NOTIFY
    And kvm_run's notify.flags is 0
    And the walk includes warn_report

  Scenario: on Skylake-SP there are no notify VM exits: the same livelock goes unnoticed
    When the guest keeps the CPU from an instruction boundary for 100000 cycles
    Then there is no VM exit

  Scenario: MSR_CORE_THREAD_COUNT is qemu's: its MSR filter sends the read to qemu-kvm as KVM_EXIT_X86_RDMSR
    QEMU enables KVM_CAP_X86_USER_SPACE_MSR for filter exits and installs a filter that denies
    reads of MSR 0x35 in kvm. kvm_emulate_rdmsr finds the MSR filtered and exits to userspace with
    kvm_run->msr filled; qemu's kvm_rdmsr_core_thread_count answers 1 thread and 1 core (0x10001),
    and the next KVM_RUN completes the RDMSR with that value (complete_fast_rdmsr).

    When the guest executes "rdmsr 0x35"
    Then the VM exit reason is MSR_READ
    And kvm handles the exit with kvm_emulate_rdmsr
    And the exit reaches qemu-kvm as KVM_EXIT_X86_RDMSR
    And kvm_run's msr.index is 0x35
    And kvm_run's msr.reason is KVM_MSR_EXIT_REASON_FILTER
    And the instruction returns 0x10001

  Scenario: the seed's era had no MSR filter: the same read is #GP
    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest executes "rdmsr 0x35"
    Then kvm handles the exit with handle_rdmsr
    And the guest takes a #GP fault
