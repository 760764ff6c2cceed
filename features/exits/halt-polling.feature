Feature: Halt polling: a halted vCPU polls for a while before kvm gives its CPU up

  With the local APIC in kvm, HLT never reaches qemu-kvm: kvm_emulate_halt marks the vCPU halted
  and vcpu_block waits in kvm_vcpu_halt (Linux 6.1, virt/kvm/kvm_main.c). It first polls for up to
  vcpu->halt_poll_ns — the thread spins on its own host CPU, looking for a wake-up — and only then
  blocks (kvm_vcpu_block), which costs a trip through the scheduler when it is woken. The window
  starts at 0 for each vCPU and adapts: after a halt shorter than the module's halt_poll_ns
  (200000 ns on x86; the config key halt_poll_ns) it grows — doubled, at least 10 µs
  (grow_halt_poll_ns, traced as kvm_halt_poll_ns); after a longer one it drops to 0; a wake-up
  inside the window leaves it as it is. kvm_vcpu_wakeup says whether the vCPU waited or polled.

  The guest's boot waited for the disk six times: the partition table's read, then the mount's
  reads of the superblock (first as 1 KiB, again in a 4 KiB block once ext2_fill_super set the
  block size), the group descriptors and the root's inode table block, and its write of the
  superblock. The disk takes 20 µs from io_submit, and the vCPU halts a little after the kick, so
  each halt lasts a little under 20 µs plus the completion path. The first halt found the window
  at 0 and the second at 10 µs: both blocked, and the window grew to 10, then 20 µs. From the third
  on, each completion came inside the 20 µs window: polled, the window left as it was. So the
  running guest's vCPU 0 polls 20 µs.

  Scenario: The first write after boot: its flush takes longer than the poll, the vCPU blocks, and the window grows
    The seed's write makes six requests (features/seed/write-walk.feature). The five reads and
    writes complete as the boot's did, inside the 20 µs window. The last, the flush, qemu hands to
    a worker thread of its pool (the futex that wakes it, its fdatasync, the eventfd write that
    wakes the main loop): that completion comes later than an AIO's, past the window. The vCPU
    blocks, is woken (waited 1), and the window doubles to 40 µs.

    When the guest process writes "hello" to "/a.txt"
    Then the walk includes kvm_vcpu_block
    And the walk includes kvm_halt_poll_ns with new 40000
    And the walk includes kvm_vcpu_wakeup with waited 1

  Scenario: The next write: every completion comes inside the 40 µs window, no scheduler trip
    The root directory's block and both bitmaps are cached now: the write makes three requests,
    the data, the inode and the flush. The device's 20 µs start at io_submit, before the vCPU
    halts, and even the flush's longer way back ends inside 40 µs: each wake-up is a poll's, and
    the window stays.

    Given the guest process writes "hello" to "/a.txt"
    When the guest process writes "hello" to "/b.txt"
    Then the walk includes kvm_vcpu_wakeup with waited 0
    And the walk does not include kvm_vcpu_block
    And the walk does not include kvm_halt_poll_ns

  Scenario: halt_poll_ns 0 turns polling off: every halt blocks
    Given the VM is configured as:
      """
      halt_poll_ns: 0
      """
    And the guest process writes "hello" to "/a.txt"
    When the guest process writes "hello" to "/b.txt"
    Then the walk includes kvm_vcpu_block
    And the walk includes kvm_vcpu_wakeup with waited 1
    And the walk does not include kvm_halt_poll_ns

  Scenario: The seed's era knew no halt polling: the halted vCPU blocks at once
    Linux 3.2's __vcpu_run calls kvm_vcpu_block for a halted vCPU; halt polling and its
    tracepoints came with Linux 4.0.

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest process writes "hello" to "/hello.txt"
    Then the walk includes kvm_vcpu_block
    And the walk does not include kvm_vcpu_wakeup
    And the walk does not include kvm_halt_poll_ns
