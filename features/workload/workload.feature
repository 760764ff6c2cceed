Feature: Workloads: many operations in one action

  A process that writes block after block takes the seed's walk once per block. Each 4 KiB write
  with O_DIRECT is one virtio-blk request: the driver kicks the device with an `outw` (an exit that
  reaches qemu-kvm, which calls io_submit), waits in `hlt` (an exit kvm handles by blocking the
  vCPU until the completion interrupt), reads the ISR with an `inb` (qemu-kvm again, which lowers
  the interrupt line) and writes the x2APIC EOI MSR (kvm alone). So each block costs four exits,
  two of them in userspace, and one io_submit. exitfs allocates a new file's blocks in order from
  disk block 1, and write i fills its block with the letter 'A' + i mod 26: the 100th write (i = 99)
  is 'V', in disk block 100.

  Scenario: 100 writes of 4 KiB, one walk each
    When the guest process writes 100 blocks of 4 KiB to "/log"
    Then the write returns 409600
    And there are 400 VM exits
    And 200 exits reach userspace
    And the host calls io_submit 100 times
    And the disk image holds "AAAA" at byte 4096
    And the disk image holds "BBBB" at byte 8192
    And the disk image holds "VVVV" at byte 409600

  Scenario: an 8 KiB write is two 4 KiB requests, each with its own walk
    When the guest process writes 10 blocks of 8 KiB to "/big"
    Then the write returns 81920
    And there are 80 VM exits
    And the host calls io_submit 20 times

  Scenario: an exit storm kvm absorbs without qemu-kvm
    CPUID always exits (SDM 25.1.2) and kvm emulates it in the kernel: no exit reaches userspace,
    so qemu-kvm never returns from KVM_RUN and the host sees no syscall at all.

    When the guest executes "cpuid 0x0" 1000 times
    Then there are 1000 VM exits
    And 0 exits reach userspace
    And the host makes no syscall
