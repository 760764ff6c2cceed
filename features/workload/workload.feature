Feature: Workloads: many operations in one action

  A process that writes block after block takes the seed's walk once per block. Each 4 KiB write
  with O_DIRECT is one virtio-blk request: the driver kicks the device with an `outw` (an exit that
  reaches qemu-kvm, which calls io_submit), waits in `hlt` (an exit kvm handles by blocking the
  vCPU until the completion interrupt), reads the ISR with an `inb` (qemu-kvm again, which lowers
  the interrupt line) and writes the x2APIC EOI MSR (kvm alone). So each request costs four exits,
  two of them in userspace, and one io_submit. Before the first data block, ext2 reads three
  metadata blocks, once (features/seed/write-walk.feature derives them): the root directory's
  block and the inode bitmap at open, the block bitmap at the first allocation. O_DIRECT writes
  no metadata: the new inode, the indirect block and the bitmaps stay dirty in the guest's caches.

  The blocks: the first at 2048 (ext2_find_near's goal for pid 1), then each at the last one + 1
  (ext2_find_goal); after the 12 direct blocks (2048–2059) the file needs its indirect block,
  which ext2_alloc_branch allocates first, at 2060, so file block 12 is disk block 2061. Write i
  fills its block with the letter 'A' + i mod 26: the 100th write (i = 99, 'V') is file block 99,
  disk block 2148, byte 2148 × 4096 = 8,798,208.

  Scenario: 100 writes of 4 KiB, one walk each
    100 data requests and the three reads: 103 requests, 412 exits, 206 in userspace.

    When the guest process writes 100 blocks of 4 KiB to "/log"
    Then the write returns 409600
    And there are 412 VM exits
    And 206 exits reach userspace
    And the host calls io_submit 103 times
    And the disk image holds "AAAA" at byte 8388608
    And the disk image holds "BBBB" at byte 8392704
    And the disk image holds "VVVV" at byte 8798208

  Scenario: an 8 KiB write is one 8 KiB request
    do_blockdev_direct_IO asks ext2_get_block for both blocks at once, ext2_new_blocks finds them
    together at the goal, and the bio covers both: one request per write, 10 of them, and the
    three reads: 13 requests, 52 exits.

    When the guest process writes 10 blocks of 8 KiB to "/big"
    Then the write returns 81920
    And there are 52 VM exits
    And the host calls io_submit 13 times

  Scenario: an exit storm kvm absorbs without qemu-kvm
    CPUID always exits (SDM 25.1.2) and kvm emulates it in the kernel: no exit reaches userspace,
    so qemu-kvm never returns from KVM_RUN and the host sees no syscall at all.

    When the guest executes "cpuid 0x0" 1000 times
    Then there are 1000 VM exits
    And 0 exits reach userspace
    And the host makes no syscall
