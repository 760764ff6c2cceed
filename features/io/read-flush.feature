Feature: Reads, flushes and the block backends

  A read is the same walk as a write with the data descriptor device-writable (VIRTIO_BLK_T_IN):
  qemu-kvm fills guest memory from the image. An fsync() becomes a VIRTIO_BLK_T_FLUSH request,
  which qemu-kvm serves from its thread pool: a worker thread calls fdatasync on the image
  (raw_co_flush_to_disk → handle_aiocb_flush). With `disk.backend: threads` (aio=threads) reads and
  writes take the same road: the vCPU thread wakes a worker (futex), the worker's pwritev blocks
  for the device, then it wakes the main loop (an eventfd write) to complete the request.

  Scenario: A read returns what was written
    Given the guest process writes "hello, disk" to "/notes.txt"
    When the guest process reads 100 bytes from "/notes.txt"
    Then the read returns 11
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
    Given the guest process writes "durable" to "/log"
    When the guest process calls fsync on "/log"
    Then the call returns 0
    And the host calls fdatasync
    And the host does not call io_submit
    And the disk image holds "durable" at byte 4096

  Scenario: aio=threads: a worker thread does the I/O with a blocking pwritev
    Given the host block backend is "threads"
    When the guest process writes "hello" to "/hello.txt"
    Then the host calls pwritev 1 time
    And the walk crosses, in order:
      | from          | to            | name        |
      | kvm           | qemu-kvm      | KVM_EXIT_IO |
      | qemu-kvm      | host kernel   | futex       |
      | qemu-kvm      | host kernel   | pwritev     |
      | host kernel   | qemu-kvm      | pwritev     |
      | qemu-kvm      | host kernel   | write       |
      | guest kernel  | guest process | write       |
    And the disk image holds "hello" at byte 4096

  Scenario: aio=io_uring: one io_uring_enter to submit, no syscall to collect the completion
    Given the host block backend is "io_uring"
    When the guest process writes "hello" to "/hello.txt"
    Then the host calls io_uring_enter 1 time
    And the walk crosses, in order:
      | from          | to            | name           |
      | kvm           | qemu-kvm      | KVM_EXIT_IO    |
      | qemu-kvm      | host kernel   | io_uring_enter |
      | host kernel   | qemu-kvm      | io_uring_enter |
      | host kernel   | qemu-kvm      | ppoll          |
      | qemu-kvm      | kvm           | KVM_IRQ_LINE_STATUS |
    And the disk image holds "hello" at byte 4096
