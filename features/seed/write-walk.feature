Feature: The seed's walk: a guest write() on a virtio-blk disk, from the process to the host disk and back

  The talk "QEMUとkvmとvt-x" (Kernel/VM 探検隊, 2013) follows one write() of a guest process through
  ten steps ①–⑩. The guest is already up; its disk is virtio-blk on the legacy virtio-pci transport
  (I/O BAR at 0xc040, so the queue-notify register is port 0xc040 + 16 = 0xc050), qemu-kvm serves
  it with Linux AIO, and the irqchip is in the kernel.

  The disk holds ext2, as the model's mkfs.ext2 made it: 4 KiB blocks, 16,384 of them in one block
  group; block 0 holds the superblock, block 1 the group descriptors, block 2 the block bitmap,
  block 3 the inode bitmap, blocks 4 to 515 the inode table (16,384 inodes of 128 bytes), block 516
  the root directory, 517 to 520 lost+found. The guest mounted it at boot, which read the
  superblock, the group descriptors and the inode table's first block (the root, inode 2): those
  are in the guest's buffer cache; the bitmaps and the root directory's block are not yet.

  The process opens /hello.txt with O_CREAT|O_WRONLY|O_SYNC and writes "hello". The write is a
  synchronous buffered write: ext2_file_write_iter copies the 5 bytes into the page cache, and
  because the file is O_SYNC, generic_write_sync writes them back and flushes the disk's cache
  before write() returns — the talk's synchronous walk. (It is not O_DIRECT: direct I/O needs the
  offset, the length and the buffer aligned to 512 bytes, and a 5-byte O_DIRECT write fails with
  EINVAL — the last scenario.) Six block requests reach the disk, each one walk of the talk's kind:

    openat  1. read the root directory's block 516: ext2_lookup finds no "hello.txt" (ext2_find_entry
               reads the directory through its page cache)
            2. read the inode bitmap, block 3: ext2_create → ext2_new_inode takes inode 12, the first
               free one (1 to 10 are reserved, 11 is lost+found); the new entry goes into the
               directory's cached page
    write   3. read the block bitmap, block 2: ext2_get_block → ext2_new_blocks allocates the data block
            4. write the data block (generic_write_sync → ext2_fsync → file_write_and_wait_range)
            5. write the inode table's block 4, which holds inode 12 (sync_inode_metadata →
               ext2_write_inode → sync_dirty_buffer); it is cached since the mount read inode 2
            6. a FLUSH (blkdev_issue_flush: the drive has a volatile cache)

  The bitmaps, the group descriptor and the directory's block stay dirty in the guest's caches: ext2
  has no journal, and fsync writes a file's data and inode, not its name (that takes an fsync of the
  directory, a sync or an unmount). The ten steps ①–⑩ mark the write() call and its first request,
  the block bitmap's read.

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

  Scenario: The six block requests, in order
    When the guest process writes "hello" to "/hello.txt"
    Then the block requests are:
      | call   | op    | block | blocks |
      | openat | read  | 516   | 1      |
      | openat | read  | 3     | 1      |
      | write  | read  | 2     | 1      |
      | write  | write | 2048  | 1      |
      | write  | write | 4     | 1      |
      | write  | flush |       |        |

  Scenario: The bytes land where the guest file system put them
    The file's first block has nothing to its left and no indirect block, so ext2_find_near aims
    at the inode's group, coloured by the writer's process id so that concurrent writers do not
    collide: the group's first block (0) plus (pid mod 16) × blocks per group / 16 = 1 × 32,768 / 16
    = 2048 (a group spans 32,768 blocks, 8 × the block size, though this disk has only 16,384).
    Block 2048 is free, so the bytes land at byte 2048 × 4096 = 8,388,608 of the disk.

    When the guest process writes "hello" to "/hello.txt"
    Then the write returns 5
    And the disk image holds "hello" at byte 8388608

  Scenario: How many exits one synchronous write takes
    Each request is a walk of its own, and each costs four exits: the driver kicks (outw to the
    notify port: an I/O exit to qemu-kvm); the process sleeps and the idle vCPU executes hlt (with
    the LAPIC in the kernel, kvm blocks the vCPU there); the completion makes qemu-kvm raise INTx, kvm
    injects the interrupt at the next entry, and the handler reads the virtio ISR (inb: a second I/O
    exit to qemu-kvm, which lowers the line) and acknowledges the local APIC (an x2APIC EOI wrmsr,
    handled in kvm: the vector comes through the IOAPIC, which must see the EOI of its
    level-triggered pin, so kvm offers no PV EOI for it). Two of the four reach userspace. The
    write() call makes four requests: 4 × 4 = 16 exits; with the open's two reads, six requests:
    6 × 4 = 24 exits, 6 × 2 = 12 in userspace. qemu-kvm submits the five reads and writes with
    io_submit and learns of each completion from the AIO eventfd, taking the event from the ring the
    kernel mapped into its memory (QEMU's io_getevents_peek): no io_getevents syscall. The FLUSH goes
    to its thread pool, whose worker calls fdatasync. qemu-kvm sets the line with
    KVM_IRQ_LINE_STATUS (kvm offers KVM_CAP_IRQ_INJECT_STATUS, so kvm_init picks it over
    KVM_IRQ_LINE): every completion raises it and the ISR read lowers it, 2 × 6 = 12 calls.

    When the guest process writes "hello" to "/hello.txt"
    Then the write call takes 16 VM exits
    And there are 24 VM exits
    And 12 exits reach userspace
    And the host calls io_submit 5 times
    And the host does not call io_getevents
    And the host calls fdatasync 1 time
    And the host calls KVM_IRQ_LINE_STATUS 12 times

  Scenario: What is on the disk after the write, and after an unmount
    fsync wrote the data and the inode, so inode 12 on the disk already holds the 5 bytes; its name
    is still only in the guest's cache. Unmounting writes the rest — the directory's block, the
    bitmaps, the group descriptor, the superblock marked clean — and then the real e2fsck has
    nothing to say and the real debugfs finds the file by its name.

    When the guest process writes "hello" to "/hello.txt"
    Then inode 12 on the disk holds "hello"
    And the disk has no file "/hello.txt"
    When the guest unmounts its disk
    Then e2fsck finds the disk clean
    And debugfs -R "cat /hello.txt" prints "hello"

  Scenario: O_DIRECT needs alignment: a 5-byte direct write fails with EINVAL
    do_blockdev_direct_IO checks the file offset, the length and the buffer address against the
    file system's block size and then the device's logical block size, 512 bytes; 5 is neither.
    Nothing is allocated and nothing is sent: the write() call takes no exit at all.

    When the guest process writes "hello" to "/hello.txt" with O_DIRECT
    Then the call fails with EINVAL
    And the write call takes 0 VM exits
