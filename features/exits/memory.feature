Feature: Guest-physical accesses: EPT violations, MMIO and the EPT-misconfig fast path

  The guest's RAM is one memslot; kvm builds the EPT lazily. The first access to a page the EPT
  does not map exits as EPT_VIOLATION with the access and the entry's permissions in the exit
  qualification (bit 0 read, bit 1 write, bits 5:3 the entry's R/W/X, bit 7 the guest-linear
  address is valid, bit 8 the access was to the translation) and the address in
  GUEST_PHYSICAL_ADDRESS. handle_ept_violation turns that into a page-fault error code for
  kvm_mmu_page_fault. On RAM, kvm maps the page and re-enters: the instruction runs again and
  completes natively. With no memslot, kvm installs an MMIO SPTE — write and execute without read,
  which VT-x calls a misconfiguration — and emulates the access: an in-kernel device (the IOAPIC,
  the LAPIC), or KVM_EXIT_MMIO with kvm_run->mmio filled for qemu-kvm. Later accesses to that page
  exit as EPT_MISCONFIG and go straight to emulation (handle_ept_misconfig).

  Scenario: the first write to an unmapped RAM page: EPT violation, kvm maps it, the write completes in the guest
    The kernel's page pool is premapped from 0x100000 to 0x200000; 0x300000 is RAM no one has touched.
    The qualification 0x182 is a write (bit 1) to an entry with no permissions, GLA valid and translated.

    When the guest executes "writel 0x300000 0x1"
    Then the VM exit reason is EPT_VIOLATION
    And kvm handles the exit with handle_ept_violation
    And the walk includes EPT_VIOLATION with qualification 0x182
    And the walk includes kvm_tdp_mmu_map
    And the exit is handled in the kernel
    And there is 1 VM exit
    And the walk does not include kvm_emulate_insn

  Scenario: an address with no memslot and no device: KVM_EXIT_MMIO, then EPT_MISCONFIG for the next access
    qemu-kvm finds nothing at 0xe0000000 either: a read of unassigned memory returns 0
    (unassigned_mem_read in QEMU's memory.c). Only an unassigned I/O port reads all ones
    (unassigned_io_read; features/walk/instructions.feature).

    When the guest executes "readl 0xe0000000; readl 0xe0000000"
    Then the VM exits are:
      | reason        | handler              | handled in    |
      | EPT_VIOLATION | handle_ept_violation | KVM_EXIT_MMIO |
      | EPT_MISCONFIG | handle_ept_misconfig | KVM_EXIT_MMIO |
    And kvm_run's exit_reason is KVM_EXIT_MMIO
    And kvm_run's mmio.phys_addr is 0xe0000000
    And kvm_run's mmio.len is 4
    And kvm_run's mmio.is_write is 0
    And the instruction returns 0x0

  Scenario: the in-kernel IOAPIC answers an MMIO access without userspace
    The guest programmed the IOAPIC at boot, so its page already has an MMIO SPTE: EPT_MISCONFIG,
    the emulator, and the IOAPIC on KVM_MMIO_BUS. IOREGSEL 1 selects the version register:
    version 0x11 with 24 redirection entries (0x170011).

    When the guest executes "writel 0xfec00000 0x1; readl 0xfec00010"
    Then VM exit 1 is EPT_MISCONFIG
    And kvm handles the exit with handle_ept_misconfig
    And there are 2 VM exits
    And the host makes no syscall
    And the instruction returns 0x170011

  Scenario: in x2APIC mode the xAPIC page is a hole the in-kernel LAPIC keeps
    With APICv off, kvm never maps the APIC-access page: every access is emulated (kvm_faultin_pfn
    returns RET_PF_EMULATE for it). In x2APIC mode the LAPIC ignores writes to the MMIO page and
    reads return all ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE).

    When the guest executes "readl 0xfee00030"
    Then the VM exit reason is EPT_VIOLATION
    And kvm handles the exit with handle_ept_violation
    And the exit is handled in the kernel
    And the instruction returns 0xffffffff

  Scenario: back in xAPIC mode, the same read is the LAPIC's version register
    APIC_LVR: version 0x14 and six LVT entries (kvm_apic_set_version): 0x50014.

    Given the guest's local APIC is in xAPIC mode
    When the guest executes "readl 0xfee00030"
    Then the VM exit reason is EPT_VIOLATION
    And the exit is handled in the kernel
    And the walk includes kvm_apic
    And the instruction returns 0x50014

  Scenario: 4 GiB of RAM: below 4 GiB it stops at 3 GiB, where the PCI hole begins; the rest is above 4 GiB
    QEMU's pc machine (pc_init1, pc_memory_init) keeps RAM below 4 GiB under max-ram-below-4g
    (3.5 GiB), and cut at 3 GiB once it would reach that far (gigabyte alignment): 4096 MiB is
    3072 MiB from 0 and 1024 MiB from 4 GiB, two memslots. The hole between holds the IOAPIC, the
    local APIC and the PCI BARs, so the guest boots and writes as on a small machine; its kernel
    takes pages from the bottom of low RAM. The last page of RAM, at 4 GiB + 1 GiB - 4 KiB, is RAM:
    its first access is an EPT violation kvm resolves by mapping the page.

    Given a VM with 1 vCPU and 4096 MiB of memory
    When the guest process writes "hello" to "/hello.txt"
    Then the write returns 5
    When the guest executes "writel 0x13ffff000 0x5; readl 0x13ffff000"
    Then the VM exit reason is EPT_VIOLATION
    And the exit is handled in the kernel
    And there is 1 VM exit
    And the instruction returns 0x5

  Scenario: in the PCI hole of a 4 GiB machine there is no RAM: the read reaches qemu-kvm and returns 0
    Given a VM with 1 vCPU and 4096 MiB of memory
    When the guest executes "readl 0xd0000000"
    Then the exit reaches qemu-kvm as KVM_EXIT_MMIO
    And the instruction returns 0x0
