Feature: Events that make the CPU leave the guest: the host's interrupts and NMIs, INIT, NMIs for the guest, a triple fault, a failed VM entry

  Not every exit comes from a guest instruction. kvm sets "external-interrupt exiting" and "NMI
  exiting" in the pin-based controls, so an interrupt or NMI meant for the host takes the CPU out
  of the guest at the next instruction boundary; with "acknowledge interrupt on exit" the vector
  is in the exit interruption information, and kvm runs the host's handler before re-entering
  (vmx_handle_exit_irqoff). A triple fault always exits. A VM entry that finds the guest state
  invalid, or meets a machine check, fails with bit 31 of the exit reason set, and kvm hands the
  failure to userspace as KVM_EXIT_FAIL_ENTRY with the full hardware exit reason.

  Scenario: the host's timer interrupt arrives while the guest runs
    LOCAL_TIMER_VECTOR is 0xec; the interruption information is 0x800000ec (valid, external
    interrupt). handle_external_interrupt only counts it: the host's handler already ran.

    When an external interrupt arrives for the host
    Then the VM exit reason is EXTERNAL_INTERRUPT
    And the walk includes EXTERNAL_INTERRUPT with intrInfo 0x800000ec
    And the walk includes handle_external_interrupt_irqoff with handler sysvec_apic_timer_interrupt
    And kvm handles the exit with handle_external_interrupt
    And the exit is handled in the kernel
    And there is 1 VM exit

  Scenario: an NMI for the host exits as EXCEPTION_NMI and is not the guest's
    The interruption information says NMI (type 2, vector 2): 0x80000202. kvm runs the host's NMI
    handler with interrupts off; handle_exception_nmi then has nothing left to do.

    When an NMI arrives for the host
    Then the VM exit reason is EXCEPTION_NMI
    And the walk includes EXCEPTION_NMI with intrInfo 0x80000202
    And the walk includes handle_exception_nmi_irqoff
    And kvm handles the exit with handle_exception_nmi
    And the exit is handled in the kernel
    And the walk does not include exc_nmi

  Scenario: qemu-kvm injects an NMI: the vCPU thread is kicked out of KVM_RUN and does KVM_NMI itself
    The monitor's `nmi` runs in qemu's main loop; run_on_cpu queues the work for the vCPU thread
    and kicks it with SIG_IPI (tgkill). The signal makes the CPU leave the guest (a reschedule IPI:
    EXTERNAL_INTERRUPT) and KVM_RUN return -EINTR with kvm_run->exit_reason = KVM_EXIT_INTR. The
    thread then issues KVM_NMI and KVM_RUN again; kvm injects the NMI at the entry, and the guest's
    NMI handler reads the NMI reason from port 0x61 (an I/O exit qemu-kvm serves).

    When qemu-kvm injects an NMI into the guest
    Then the walk crosses, in order:
      | from          | to            | name               |
      | qemu-kvm      | host kernel   | tgkill             |
      | VMX CPU       | kvm           | EXTERNAL_INTERRUPT |
      | kvm           | qemu-kvm      | KVM_RUN            |
      | qemu-kvm      | kvm           | KVM_NMI            |
      | qemu-kvm      | kvm           | KVM_RUN            |
      | kvm           | VMX CPU       | VMRESUME           |
      | VMX CPU       | guest kernel  | nmi                |
      | guest kernel  | VMX CPU       | inb                |
    And KVM_RUN returns -EINTR
    And the guest takes an NMI
    And the walk includes kvm_inj_nmi

  Scenario: a second NMI waits for the first handler's IRET: an NMI-window exit
    Two NMIs are queued before the vCPU runs again; process_nmi keeps both pending (at most two).
    kvm injects one; the guest is then blocked for NMIs until its handler returns, so kvm asks for
    an NMI-window exit (vmx_enable_nmi_window). When the handler IRETs, the CPU exits with
    NMI_WINDOW and handle_nmi_window lets kvm inject the second. Exits: the kick
    (EXTERNAL_INTERRUPT), the first handler's port read (IO_INSTRUCTION), NMI_WINDOW, the second
    handler's port read: four.

    When qemu-kvm injects 2 NMIs into the guest
    Then the VM exits are:
      | reason             | handler                   | handled in  |
      | EXTERNAL_INTERRUPT | handle_external_interrupt | kernel      |
      | IO_INSTRUCTION     | handle_io                 | KVM_EXIT_IO |
      | NMI_WINDOW         | handle_nmi_window         | kernel      |
      | IO_INSTRUCTION     | handle_io                 | KVM_EXIT_IO |

  Scenario: an INIT signal at the host CPU has no handler in kvm's table: KVM_EXIT_INTERNAL_ERROR
    INIT in VMX non-root mode exits unconditionally, but kvm_vmx_exit_handlers[] has no entry for
    EXIT_REASON_INIT_SIGNAL (3): __vmx_handle_exit reports an unexpected exit reason with the full
    exit reason and the CPU of the last VM entry as data, and qemu-kvm stops the VM.

    When an INIT signal arrives at the host CPU
    Then the VM exit reason is INIT_SIGNAL
    And the walk includes vcpu_unimpl
    And the exit reaches qemu-kvm as KVM_EXIT_INTERNAL_ERROR
    And kvm_run's internal.suberror is KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON
    And kvm_run's internal.ndata is 2
    And kvm_run's internal.data[0] is 3
    And kvm_run's internal.data[1] is 0
    And qemu-kvm stops the VM: "KVM internal error. Suberror: 4"

  Scenario: a triple fault: the guest's IDT cannot deliver an exception, kvm reports a shutdown, qemu resets the machine
    `lidt 0x0` loads an IDT of limit 0 from zeroed memory (the page is mapped on its first use: an
    EPT violation). UD2 then raises #UD: kvm's exception bitmap intercepts it and kvm gives it back
    (EXCEPTION_NMI). Delivering the injected #UD finds no gate: #GP; no gate for #GP: a double
    fault; no gate for #DF: a triple fault, which always exits. handle_triple_fault returns
    KVM_EXIT_SHUTDOWN; qemu-kvm's kvm_cpu_exec asks for a guest reset
    (qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET)), stops the vCPU and wakes the main
    loop, which resets the machine (qemu_system_reset): the devices, and each vCPU back at the
    reset vector (KVM_SET_REGS with RIP 0xfff0, KVM_SET_MP_STATE). The guest boots again — the
    firmware is not modelled, its kernel starts anew — and takes the next action.

    When the guest triple-faults
    Then the VM exits are:
      | reason        | handler              | handled in        |
      | EPT_VIOLATION | handle_ept_violation | kernel            |
      | EXCEPTION_NMI | handle_exception_nmi | kernel            |
      | TRIPLE_FAULT  | handle_triple_fault  | KVM_EXIT_SHUTDOWN |
    And qemu-kvm resets the machine
    When the guest executes "cpuid 0x0"
    Then the instruction returns 13

  Scenario: a triple fault with on_triple_fault: shutdown (qemu's -no-reboot): qemu exits instead
    With -no-reboot a guest reset is a shutdown request: qemu stops and exits; nothing boots again.

    Given the VM is configured as:
      """
      on_triple_fault: shutdown
      """
    When the guest triple-faults
    Then kvm_run's exit_reason is KVM_EXIT_SHUTDOWN
    And qemu-kvm stops the VM: "guest reset with -no-reboot: shutdown requested, qemu exits"
    And the walk does not include qemu_system_reset

  Scenario: a VM entry with invalid guest state fails: KVM_EXIT_FAIL_ENTRY with 0x80000021
    The guest-state area holds a reserved RFLAGS bit (as a KVM_SET_REGS that does not mask it would
    leave it). A reschedule IPI takes the vCPU out of the guest; the next VMRESUME checks the guest
    state (SDM 26.3.1.4) and fails: exit reason 33 (INVALID_STATE) with bit 31 set. kvm passes the
    full value on in kvm_run->fail_entry, and qemu-kvm prints "KVM: entry failed, hardware error".

    When the VMCS guest state is made invalid
    Then the VM exits are:
      | reason             | handler                   | handled in          |
      | EXTERNAL_INTERRUPT | handle_external_interrupt | kernel              |
      | INVALID_STATE      | (none)                    | KVM_EXIT_FAIL_ENTRY |
    And kvm_run's exit_reason is KVM_EXIT_FAIL_ENTRY
    And kvm_run's fail_entry.hardware_entry_failure_reason is 0x80000021
    And kvm_run's fail_entry.cpu is 0
    And qemu-kvm stops the VM: "KVM: entry failed, hardware error 0x80000021"

  Scenario: a machine check during VM entry: vmx_vcpu_run handles it, the entry failed
    Exit reason 41 comes with bit 31 set (the VM entry failed), so __vmx_handle_exit reports a
    failed entry before it looks at the handler table: handle_machine_check is never reached this
    way ("handled by vmx_vcpu_run()", which called kvm_machine_check).

    When a machine check occurs during VM entry
    Then the VM exits are:
      | reason             | handler                   | handled in          |
      | EXTERNAL_INTERRUPT | handle_external_interrupt | kernel              |
      | MCE_DURING_VMENTRY | (none)                    | KVM_EXIT_FAIL_ENTRY |
    And the walk includes kvm_machine_check
    And the walk does not include handle_machine_check
    And kvm_run's fail_entry.hardware_entry_failure_reason is 0x80000029
    And qemu-kvm stops the VM: "KVM: entry failed, hardware error 0x80000029"
