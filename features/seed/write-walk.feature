Feature: The seed's walk: a guest write() on a virtio-blk disk, from the process to the host disk and back

  The talk "QEMUとkvmとvt-x" (Kernel/VM 探検隊, 2013) follows one write() of a guest process through
  ten steps ①–⑩. The guest is already up; its disk is virtio-blk on the legacy virtio-pci transport
  (I/O BAR at 0xc040, so the queue-notify register is port 0xc040 + 16 = 0xc050), qemu-kvm serves
  it with Linux AIO, and the irqchip is in the kernel.

  Scenario: The ten steps of the talk
    When the guest process writes "hello" to "/hello.txt"
    Then the walk crosses, in order:
      | from          | to            | name           |
      | guest process | guest kernel  | write          |
      | guest kernel  | VMX CPU       | outw           |
      | VMX CPU       | kvm           | IO_INSTRUCTION |
      | kvm           | qemu-kvm      | KVM_EXIT_IO    |
      | qemu-kvm      | host kernel   | io_submit      |
      | host kernel   | qemu-kvm      | io_submit      |
      | qemu-kvm      | kvm           | KVM_RUN        |
      | kvm           | VMX CPU       | VMRESUME       |
      | VMX CPU       | guest kernel  | outw           |
      | guest kernel  | guest process | write          |
    And the walk passes through stages 1 to 10 in order

  Scenario: The kick is an I/O exit that kvm cannot serve, so it reaches qemu-kvm
    When the guest process writes "hello" to "/hello.txt"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit reaches qemu-kvm as KVM_EXIT_IO
    And qemu-kvm dispatches it to the "virtio-blk-pci" device
    And the host calls io_submit

  Scenario: The bytes land where the guest file system put them
    exitfs allocates data blocks of 4 KiB in creation order from block 1, so the first file's
    first byte is byte 1 × 4096 = 4096 of the disk.

    When the guest process writes "hello" to "/hello.txt"
    Then the write returns 5
    And the disk image holds "hello" at byte 4096

  Scenario: How many exits one synchronous write takes
    The driver kicks once (outw to the notify port: an I/O exit to qemu-kvm). The process then
    sleeps and the idle vCPU executes hlt: with the LAPIC in the kernel, kvm blocks the vCPU in
    the kernel. The AIO completion makes qemu-kvm raise INTx, kvm injects the interrupt at the next
    entry, and the handler reads the virtio ISR (inb: a second I/O exit to qemu-kvm, which lowers
    the line) and acknowledges the local APIC (an x2APIC EOI wrmsr, handled in kvm). Four exits,
    two of which reach userspace. qemu-kvm sets the line with KVM_IRQ_LINE_STATUS (kvm offers
    KVM_CAP_IRQ_INJECT_STATUS, so kvm_init picks it over KVM_IRQ_LINE): once to raise it, once to
    lower it. It learns of the completion from the AIO eventfd and takes the event from the ring
    the kernel mapped into its memory (QEMU's io_getevents_peek): no io_getevents syscall.

    When the guest process writes "hello" to "/hello.txt"
    Then there are 4 VM exits
    And 2 exits reach userspace
    And the host calls io_submit 1 time
    And the host does not call io_getevents
    And the host calls KVM_IRQ_LINE_STATUS 2 times
