Feature: APICv: the CPU virtualizes the local APIC, and exits only where kvm must act

  With `apicv: true` kvm turns on the APIC-register virtualization controls init_vmcs offers:
  the virtual-APIC page, virtualize x2APIC mode or APIC accesses, APIC-register virtualization and
  virtual-interrupt delivery. The CPU then reads most APIC registers from the virtual-APIC page,
  delivers the LAPIC's pending vectors itself (RVI, set by vmx_sync_pir_to_irr before each entry),
  and virtualizes EOI. kvm still hears of what it must emulate: an EOI of a vector in the
  EOI-exit bitmap (the IOAPIC's level-triggered pins, vcpu_load_eoi_exitmap) is EOI_INDUCED; in
  xAPIC mode a read of a register the CPU does not virtualize is APIC_ACCESS and a write to a
  register with side effects is APIC_WRITE, a trap after the write.

  Background:
    Given the VM is configured as:
      """
      apicv: true
      """

  Scenario: a disk write's EOI of the disk's level-triggered interrupt is EOI_INDUCED
    The legacy virtio-pci disk raises INTx on IOAPIC pin 11, level-triggered, vector 0x31. The
    CPU delivers 0x31 from RVI without an exit, and the guest's EOI (an x2APIC MSR write) would be
    virtualized too, but 0x31 is in the EOI-exit bitmap: the CPU exits after the EOI, and
    handle_apic_eoi_induced tells the IOAPIC (kvm_apic_set_eoi_accelerated → kvm_ioapic_send_eoi),
    which clears Remote IRR. Without APICv the same EOI is an MSR_WRITE exit. The write is one
    request — an O_DIRECT overwrite of the block "/data" already has (features/io-paths/io-paths.feature
    says why nothing else is sent) — so it shows one request's exits: the kick, the HLT, the ISR
    read and the EOI.

    Given the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the write returns 4096
    And the VM exits are:
      | reason         | handler                 | handled in  |
      | IO_INSTRUCTION | handle_io               | KVM_EXIT_IO |
      | HLT            | kvm_emulate_halt        | kernel      |
      | IO_INSTRUCTION | handle_io               | KVM_EXIT_IO |
      | EOI_INDUCED    | handle_apic_eoi_induced | kernel      |
    And the walk includes kvm_eoi with vector 0x31
    And the guest takes interrupt 0x31

  Scenario: a self-IPI in x2APIC mode is virtualized: no exit, and the CPU delivers the vector
    With virtual-interrupt delivery, a write to the x2APIC SELF_IPI MSR sets the vector in the
    virtual IRR and the CPU delivers it at once. Vector 0xfd is edge-triggered and not in the
    EOI-exit bitmap, so its EOI is virtualized as well.

    When the guest executes "wrmsr 0x83f 0xfd"
    Then there is no VM exit
    And the guest takes interrupt 0xfd

  Scenario: the x2APIC current-count register is still read through kvm
    vmx_update_msr_bitmap_x2apic passes the x2APIC registers' MSRs through for reads, except TMCCT
    (0x839): the timer's current count exists only in kvm's emulation.

    When the guest executes "rdmsr 0x839"
    Then the VM exit reason is MSR_READ
    And kvm handles the exit with kvm_emulate_rdmsr

  Scenario: in xAPIC mode a read of the APIC version is virtualized
    With `cpu: host,-x2apic` the guest boots in xAPIC mode, and kvm sets "virtualize APIC
    accesses" with the APIC-access page at 0xfee00000. The CPU reads offset 0x30 from the
    virtual-APIC page instead: the value kvm's LAPIC keeps there, version 0x14 with 6 LVT entries
    (0x50014).

    Given the VM is configured as:
      """
      cpu: host,-x2apic
      """
    When the guest executes "readl 0xfee00030"
    Then there is no VM exit
    And the instruction returns 0x50014

  Scenario: in xAPIC mode a read of the timer's current count is APIC_ACCESS
    APIC-register virtualization covers a fixed list of offsets; 0x390 (TMCCT) is not on it, so the
    read is an APIC-access VM exit with the offset in the qualification, and handle_apic_access
    has the instruction emulated (kvm_emulate_instruction → apic_mmio_read).

    Given the VM is configured as:
      """
      cpu: host,-x2apic
      """
    When the guest executes "readl 0xfee00390"
    Then the VM exit reason is APIC_ACCESS
    And kvm handles the exit with handle_apic_access
    And the exit is handled in the kernel
    And the walk includes kvm_emulate_insn
    And the walk includes kvm_apic with reg 0x390

  Scenario Outline: in xAPIC mode a write to <register> is APIC_WRITE, after the write
    The CPU writes the virtual-APIC page and then exits, trap-like: handle_apic_write takes the
    offset from the exit qualification and replays the value into kvm's LAPIC
    (kvm_apic_write_nodecode → kvm_lapic_reg_write).

    Given the VM is configured as:
      """
      cpu: host,-x2apic
      """
    When the guest executes "<instruction>"
    Then the VM exit reason is APIC_WRITE
    And kvm handles the exit with handle_apic_write
    And the walk includes kvm_apic with reg <offset>

    Examples:
      | register | instruction                 | offset |
      | LDR      | writel 0xfee000d0 0x1000000 | 0xd0   |
      | ICR      | writel 0xfee00300 0x40fd    | 0x300  |

  Scenario: in xAPIC mode a TPR write is virtualized
    The TPR (0x80) is virtualized: the CPU updates the virtual-APIC page and, with no vector
    pending above the new priority, does not exit.

    Given the VM is configured as:
      """
      cpu: host,-x2apic
      """
    When the guest executes "writel 0xfee00080 0x10"
    Then there is no VM exit

  Scenario: the APIC-access page is mapped into EPT on the first touch after the guest leaves x2APIC mode
    A guest that boots in x2APIC mode never touches 0xfee00000. When it goes back to xAPIC mode
    (x2APIC → disabled → xAPIC through IA32_APIC_BASE, each WRMSR an exit) kvm turns on "virtualize
    APIC accesses", but the page's EPT entry does not exist yet: the first access is an
    EPT_VIOLATION that kvm_mmu_page_fault fills from kvm's private APIC-access memslot, and the
    re-executed read is then the APIC-access exit.

    Given the guest's local APIC is in xAPIC mode
    When the guest executes "readl 0xfee00390"
    Then the VM exits are:
      | reason        | handler                | handled in |
      | EPT_VIOLATION | handle_ept_violation   | kernel     |
      | APIC_ACCESS   | handle_apic_access     | kernel     |
