Feature: Coalesced PIO: the RTC's index port does not leave kvm

  QEMU's RTC (hw/rtc/mc146818rtc.c) is two ports: the index at 0x70 and the data at 0x71. It marks
  the index port coalesced (memory_region_add_coalescing), and qemu's kvm listener registers it with
  kvm as a KVM_PIO_BUS zone (KVM_REGISTER_COALESCED_MMIO with pio = 1; kvm offers
  KVM_CAP_COALESCED_PIO since Linux 4.18). A write there is still an I/O exit, but handle_io's
  kvm_fast_pio finds the zone on the bus: coalesced_mmio_write appends the write to the VM's ring —
  the page each vCPU maps after kvm_run and the PIO data page — and kvm resumes the guest. The data
  port is not coalesced and marks its region flush_coalesced_mmio: before qemu touches the RTC, it
  replays the ring (prepare_mmio_access → kvm_flush_coalesced_mmio_buffer), so the read sees the
  index the guest chose.

  Scenario: A write to the index port is one exit, handled in kvm
    When the guest executes "outb 0x70 0x9"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit is handled in the kernel
    And the walk includes coalesced_mmio_write
    And the host makes no syscall

  Scenario: The data read reaches qemu-kvm, which replays the index write first
    Two exits: the coalesced index write (kvm), and the read of 0x71, which reaches qemu-kvm
    (KVM_EXIT_IO) and so costs one return of KVM_RUN. qemu flushes one ring entry (the write of 9 to
    0x70) into its RTC and reads register 9, the year: the model's clock starts on 2013-04-13, so
    0x13 in BCD.

    When the guest executes "outb 0x70 0x9; inb 0x71"
    Then the VM exits are:
      | reason         | handler   | handled in  |
      | IO_INSTRUCTION | handle_io | kernel      |
      | IO_INSTRUCTION | handle_io | KVM_EXIT_IO |
    And the walk includes kvm_flush_coalesced_mmio_buffer with entries 1
    And the host calls KVM_RUN 1 time
    And the instruction returns 0x13

  Scenario: The seed's era had no coalesced PIO: the index write goes to qemu-kvm
    Linux 3.2 knows coalesced MMIO but not KVM_CAP_COALESCED_PIO (4.18), and qemu-kvm 0.14's RTC
    registers no coalesced range: each port access is an exit to userspace.

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest executes "outb 0x70 0x9"
    Then the exit reaches qemu-kvm as KVM_EXIT_IO
    And the walk does not include coalesced_mmio_write
