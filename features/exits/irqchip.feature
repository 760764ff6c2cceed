Feature: Where the interrupt controllers are decides where an exit ends: irqchip kernel, split, userspace

  qemu's kernel_irqchip=on (`irqchip: kernel`, the seed's) puts the 8259 PIC pair, the IOAPIC and
  the local APIC in kvm (KVM_CREATE_IRQCHIP), and qemu adds the in-kernel PIT (KVM_CREATE_PIT2): kvm
  registers the PIC at 0x20, 0xa0 and its edge/level control register (ELCR) at 0x4d0 on
  KVM_PIO_BUS, the PIT at 0x40-0x43. With `irqchip: split` (KVM_CAP_SPLIT_IRQCHIP) only the local
  APIC stays in kvm: the PIC and the IOAPIC are qemu's devices, and an EOI of a level-triggered
  interrupt must be reported to qemu (KVM_EXIT_IOAPIC_EOI). With `irqchip: userspace` kvm has no
  irqchip at all: qemu's APIC is an xAPIC (qemu hides x2APIC from CPUID), HLT is qemu's to emulate
  (KVM_EXIT_HLT), and qemu injects interrupts itself with KVM_INTERRUPT.

  Scenario: a write to the PIC's ELCR is handled in kvm with the in-kernel irqchip
    When the guest executes "outb 0x4d0 0x0"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit is handled in the kernel
    And the walk includes elcr_ioport_write
    And the host makes no syscall

  Scenario: the in-kernel PIT answers a read of its counter 0
    When the guest executes "inb 0x40"
    Then the VM exit reason is IO_INSTRUCTION
    And the exit is handled in the kernel

  Scenario: with a split irqchip the ELCR is qemu's: the same write reaches qemu-kvm's i8259
    Given the VM is configured as:
      """
      irqchip: split
      """
    When the guest executes "outb 0x4d0 0x0"
    Then the VM exit reason is IO_INSTRUCTION
    And the exit reaches qemu-kvm as KVM_EXIT_IO
    And qemu-kvm dispatches it to the "i8259" device

  Scenario: with a split irqchip the disk's interrupt goes through qemu's IOAPIC and kvm's MSI route, and its EOI back to qemu
    The device raises INTx: qemu's IOAPIC (ioapic_service) raises GSI 11 with KVM_IRQ_LINE_STATUS, which
    kvm turns into the MSI userspace routed it to (KVM_SET_GSI_ROUTING at boot, when the guest
    programmed the redirection entry). The pin is level-triggered, so the guest's EOI of vector
    0x31 in the in-kernel LAPIC must clear Remote IRR in qemu's IOAPIC: kvm exits with
    KVM_EXIT_IOAPIC_EOI and kvm_run->eoi.vector = 0x31.

    Given the VM is configured as:
      """
      irqchip: split
      """
    When the guest process writes "hello" to "/hello.txt"
    Then the write returns 5
    And the walk crosses, in order:
      | from     | to       | name               |
      | qemu-kvm | kvm      | KVM_IRQ_LINE_STATUS |
      | VMX CPU  | kvm      | MSR_WRITE          |
      | kvm      | qemu-kvm | KVM_EXIT_IOAPIC_EOI |
    And the walk includes ioapic_eoi_broadcast
    And kvm_run's eoi.vector is 0x31

  Scenario: with the irqchip in userspace HLT goes to qemu-kvm, which injects the disk's interrupt with KVM_INTERRUPT
    The idle vCPU's HLT: kvm_emulate_halt has no LAPIC to wait on, so KVM_RUN returns KVM_EXIT_HLT
    and qemu-kvm halts the vCPU thread (kvm_handle_halt). The AIO completion raises INTx in qemu's
    IOAPIC, whose MSI reaches qemu's APIC; the vCPU thread wakes and, before KVM_RUN, injects the
    vector with KVM_INTERRUPT (kvm_arch_pre_run). The guest's EOI is a write to the xAPIC page,
    an MMIO access qemu's APIC serves (KVM_EXIT_MMIO). Four exits for the one request of an O_DIRECT
    overwrite of a block the file already has (features/io-paths/io-paths.feature derives that it
    is one): the kick, HLT, the ISR read, the EOI.

    Given the irqchip is in userspace
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the write returns 4096
    And the VM exits are:
      | reason         | handler              | handled in    |
      | IO_INSTRUCTION | handle_io            | KVM_EXIT_IO   |
      | HLT            | kvm_emulate_halt     | KVM_EXIT_HLT  |
      | IO_INSTRUCTION | handle_io            | KVM_EXIT_IO   |
      | EPT_MISCONFIG  | handle_ept_misconfig | KVM_EXIT_MMIO |
    And the walk crosses, in order:
      | from     | to       | name          |
      | kvm      | qemu-kvm | KVM_EXIT_HLT  |
      | qemu-kvm | kvm      | KVM_INTERRUPT |
      | qemu-kvm | kvm      | KVM_RUN       |
      | VMX CPU  | guest kernel | interrupt |
    And the host calls KVM_INTERRUPT 1 time
    And the host does not call KVM_IRQ_LINE_STATUS

  Scenario: with the irqchip in userspace an interrupt the guest cannot take yet: KVM_EXIT_IRQ_WINDOW_OPEN
    The guest sends itself an IPI (the ICR of qemu's APIC) with interrupts disabled. kvm reported
    the guest not ready for injection, so qemu sets request_interrupt_window; kvm asks VT-x for an
    interrupt-window exit and, when STI's one-instruction shadow has passed, returns
    KVM_EXIT_IRQ_WINDOW_OPEN. qemu then injects with KVM_INTERRUPT.

    Given the irqchip is in userspace
    When the guest executes "cli; writel 0xfee00300 0x400fd; sti; nop"
    Then the VM exits are:
      | reason           | handler                 | handled in               |
      | EPT_MISCONFIG    | handle_ept_misconfig    | KVM_EXIT_MMIO            |
      | INTERRUPT_WINDOW | handle_interrupt_window | KVM_EXIT_IRQ_WINDOW_OPEN |
      | EPT_MISCONFIG    | handle_ept_misconfig    | KVM_EXIT_MMIO            |
    And the guest takes interrupt 0xfd
    And the host calls KVM_INTERRUPT 1 time

  Scenario: with the irqchip in userspace a lowered TPR goes to qemu-kvm: KVM_EXIT_SET_TPR
    Without a TPR shadow kvm sets CR8-load and CR8-store exiting. handle_cr raises no exit for a
    TPR that goes up (5), but one that goes down (to 2) may unmask an interrupt only qemu's APIC
    knows about: KVM_EXIT_SET_TPR, with the new value in kvm_run->cr8.

    Given the irqchip is in userspace
    When the guest executes "mov cr8 0x5; mov cr8 0x2"
    Then the VM exits are:
      | reason    | handler   | handled in       |
      | CR_ACCESS | handle_cr | kernel           |
      | CR_ACCESS | handle_cr | KVM_EXIT_SET_TPR |
    And kvm_run's cr8 is 2

  Scenario: with the irqchip in userspace the guest's CPUID has no x2APIC, so an x2APIC MSR is #GP
    With the LAPIC in kvm and in x2APIC mode the TPR MSR (0x808) is read from the virtual-APIC page
    without an exit. Without it, kvm_get_msr_common has no LAPIC to ask (kvm_x2apic_msr_read): #GP.

    Given the irqchip is in userspace
    When the guest executes "rdmsr 0x808"
    Then the VM exit reason is MSR_READ
    And kvm handles the exit with kvm_emulate_rdmsr
    And the guest takes a #GP fault
