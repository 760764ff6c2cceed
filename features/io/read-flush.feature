Feature: Reads, flushes and the block backends

  A read is the same walk as a write with the data descriptor device-writable (VIRTIO_BLK_T_IN):
  qemu-kvm fills guest memory from the image. An fsync() becomes a VIRTIO_BLK_T_FLUSH request,
  which qemu-kvm serves from its thread pool: a worker thread calls fdatasync on the image
  (raw_co_flush_to_disk → handle_aiocb_flush). With `disk.backend: threads` (aio=threads) reads and
  writes take the same road: the vCPU thread wakes a worker (futex), the worker's pwritev blocks
  for the device, then it wakes the main loop (an eventfd write) to complete the request.

  Scenario: A read returns what was written
    A read through the page cache finds the written page there, so first the guest drops its
    caches (echo 3 > /proc/sys/vm/drop_caches): clean pages and buffers go, and so does the clean
    inode. The directory's block stays — it is dirty, its new entry not yet on the disk — so the
    name is found without I/O, and the open's ext2_iget reads the inode table's block 4; then
    read() has mpage_readahead read the file's block 2048: two read requests.

    Given the guest process writes "hello, disk" to "/notes.txt"
    And the guest drops its caches
    When the guest process reads 100 bytes from "/notes.txt"
    Then the read returns 11
    And the block requests are:
      | call   | op   | block |
      | openat | read | 4     |
      | read   | read | 2048  |
    And the process reads "hello, disk"
    And the host calls io_submit
    And the walk crosses, in order:
      | from          | to            | name        |
      | guest process | guest kernel  | read        |
      | guest kernel  | VMX CPU       | outw        |
      | kvm           | qemu-kvm      | KVM_EXIT_IO |
      | qemu-kvm      | host kernel   | io_submit   |
      | guest kernel  | guest process | read        |

  Scenario: fsync reaches the host as fdatasync, and the bytes are in the image
    A buffered write leaves the data and the inode dirty in the guest; fsync writes the data block
    and the inode's table block (two io_submit), then sends a FLUSH, which qemu serves from its
    thread pool: a worker calls fdatasync on the image.

    Given the guest process writes "durable" to "/log" through the page cache
    When the guest process calls fsync on "/log"
    Then the call returns 0
    And the block requests are:
      | op    | block |
      | write | 2048  |
      | write | 4     |
      | flush |       |
    And the host calls io_submit 2 times
    And the host calls fdatasync 1 time
    And the disk image holds "durable" at byte 8388608

  Scenario: A flush with nothing written since the last one costs qemu no fdatasync
    The O_SYNC write flushed before it returned; the fsync after it finds nothing dirty in the
    guest and still sends its FLUSH, but qemu has written nothing since its last fdatasync (the
    image's write generation equals the flushed one, bdrv_co_flush) and completes it at once.

    Given the guest process writes "durable" to "/log"
    When the guest process calls fsync on "/log"
    Then the call returns 0
    And the block requests are:
      | op    |
      | flush |
    And the host does not call fdatasync
    And the host does not call io_submit

  Scenario: aio=threads: a worker thread does the I/O with a blocking pwritev
    One write request: an O_DIRECT overwrite of the block the file already has (nothing to
    allocate, the size unchanged, no flush).

    Given the host block backend is "threads"
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the host calls pwritev 1 time
    And the walk crosses, in order:
      | from          | to            | name        |
      | kvm           | qemu-kvm      | KVM_EXIT_IO |
      | qemu-kvm      | host kernel   | futex       |
      | qemu-kvm      | host kernel   | pwritev     |
      | host kernel   | qemu-kvm      | pwritev     |
      | qemu-kvm      | host kernel   | write       |
      | guest kernel  | guest process | write       |
    And the disk image holds "bbbb" at byte 8388608

  Scenario: aio=io_uring: one io_uring_enter to submit, no syscall to collect the completion
    The same one-request overwrite.

    Given the host block backend is "io_uring"
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the host calls io_uring_enter 1 time
    And the walk crosses, in order:
      | from          | to            | name           |
      | kvm           | qemu-kvm      | KVM_EXIT_IO    |
      | qemu-kvm      | host kernel   | io_uring_enter |
      | host kernel   | qemu-kvm      | io_uring_enter |
      | host kernel   | qemu-kvm      | ppoll          |
      | qemu-kvm      | kvm           | KVM_IRQ_LINE_STATUS |
    And the disk image holds "bbbb" at byte 8388608
