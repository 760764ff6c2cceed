Feature: Whole walks, kept as golden traces

  A golden trace is a whole walk, written down once and compared on every run, so that a change to
  any box that changes the walk — a crossing that appears, vanishes or carries other values — fails
  here with a diff, even where no other scenario asserts on that detail. The comparison is on the
  normalised walk: the crossings of layer boundaries and kvm's exit-handler decisions, in order,
  without simulated time, guest instruction pointers, host pointers or qemu-kvm's file descriptor
  numbers (src/trace/golden.ts). After an intended change, rerun with UPDATE_GOLDEN=1 and review
  the new file like any other change.

  Every golden walk also survives the trip through a host's trace formats: printed as raw ftrace,
  trace-cmd report and perf script print kvm's tracepoints, and read back by the importer, it gives
  the same exits, userspace exits and kvm-level crossings (src/trace/import/roundtrip.ts).

  Scenario: The seed's write, the whole walk
    The ①–⑩ of the talk, and everything the same write() does around them: the open (its two reads,
    the root directory's block and the inode bitmap) and the close, the write's other requests (after
    the block bitmap's read, the data, the inode and a flush), each with its completion interrupt and
    the two further exits that costs (features/seed/write-walk.feature derives them).

    When the guest process writes "hello" to "/hello.txt"
    Then the trace matches the golden file "seed-write.yaml"
    And the walk reads back the same from ftrace, trace-cmd and perf script text

  Scenario: The seed's write on the seed's own machine (Fedora 15: qemu-kvm 0.14, kvm as of Linux 3.0)
    The same kick, exits and interrupt for each request; what differs at this level is the names in
    kvm's exit handler table of the era (arch/x86/kvm/vmx.c: handle_halt and handle_wrmsr where 6.1
    has kvm_emulate_halt and kvm_emulate_wrmsr), qemu-kvm 0.14's main loop sleeping in select()
    rather than ppoll, its Linux AIO collecting the completion with io_getevents and reading the
    eventfd until EAGAIN, and one request fewer: Linux 3.2's ext2 fsync sends no cache flush, so the
    write() ends after the inode's write — five requests, no fdatasync on the host (see
    features/exits/eras.feature).

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest process writes "hello" to "/hello.txt"
    Then the trace matches the golden file "seed-write-2013.yaml"
    And the walk reads back the same from ftrace, trace-cmd and perf script text

  Scenario: A read comes back through the same door
    The request goes out with the same kick and completes with the same interrupt; seen from the
    boundaries, the read's walk is the write's with read() in place of write() (the direction of
    the transfer shows inside qemu-kvm, in the request it reads from the virtqueue). The read is
    O_DIRECT, of 512 bytes (one sector, the alignment direct I/O needs): the name and the inode are
    cached since the write, and the block is already mapped, so this is one request, and read()
    returns the file's 5 bytes.

    Given the guest process writes "hello" to "/hello.txt"
    When the guest process reads 512 bytes from "/hello.txt" with O_DIRECT
    Then the read returns 5
    And the trace matches the golden file "read-back.yaml"
    And the walk reads back the same from ftrace, trace-cmd and perf script text

  Scenario: An exit kvm handles itself never reaches qemu-kvm
    cpuid exits unconditionally under VT-x; kvm answers it from its CPUID table and resumes the
    guest: the instruction, the exit, kvm_emulate_cpuid, the entry and the completion, and no
    KVM_RUN return to qemu-kvm.

    When the guest executes "cpuid 0x0"
    Then the trace matches the golden file "cpuid.yaml"
    And the walk reads back the same from ftrace, trace-cmd and perf script text

  Scenario: An IPI between two vCPUs, delivered as a posted interrupt
    vCPU 0 wakes vCPU 1 (a fastpath ICR write), vCPU 1 takes that IPI from RVI and sends its own to
    vCPU 0, which sits in its guest: the notification vector reaches vCPU 0's CPU and the interrupt is
    delivered without a VM exit (features/smp/smp.feature derives each step).

    Given the VM is configured as:
      """
      vcpus: 2
      apicv: true
      """
    When vCPU 1 sends a reschedule IPI to vCPU 0
    Then the trace matches the golden file "smp-posted-ipi.yaml"
    And the walk reads back the same from ftrace, trace-cmd and perf script text
