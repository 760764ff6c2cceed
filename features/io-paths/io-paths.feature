Feature: The talk's "recent trends": each step takes a box out of the I/O path

  The seed's write() crosses every box twice. Modern set-ups remove crossings one at a time:
  ioeventfd lets kvm turn the kick into an eventfd signal without leaving the kernel; MSI-X vectors
  spare the guest the read of the virtio ISR register (a second port I/O exit to qemu-kvm); irqfd
  lets qemu-kvm raise the interrupt with a write to an eventfd instead of an ioctl. The counts below
  follow from those mechanisms, for one block request: the process overwrites the 4 KiB its file
  "/data" already has, with O_DIRECT. Each scenario makes the file first (an O_DIRECT write of one
  block to a new file), so its name, its inode and its block are known: ext2_get_block maps the block
  without allocating, the size does not change, and O_DIRECT without O_SYNC sends no flush — one
  write request, of block 2048 (features/seed/write-walk.feature derives the block). (The seed's
  O_SYNC write to a new file makes six requests; `exitpath compare "write hello /hello.txt"`
  shows each path's cost for all of them.)

  - seed (INTx, no ioeventfd): the kick exits to qemu-kvm (1), the idle vCPU's hlt blocks in kvm
    (2), the interrupt handler reads the ISR through qemu-kvm (3) and acknowledges the x2APIC EOI
    in kvm (4): 4 exits, 2 in userspace. Host syscalls: KVM_RUN returns twice (once per userspace
    exit), io_submit once; the main loop's ppoll returns, it clears the AIO eventfd (read), takes the
    event from the AIO ring mapped in its own memory (no syscall: QEMU's io_getevents_peek) and
    raises INTx (KVM_IRQ_LINE_STATUS, level 1); the ISR read lowers it (KVM_IRQ_LINE_STATUS, level
    0): 7.
  - ioeventfd: the kick no longer reaches qemu-kvm, but the ISR read still does: 4 exits, 1 in
    userspace. The main loop now also wakes for the kick (ppoll, read of the host notifier) and
    submits from there; KVM_RUN returns once: 8 syscalls.
  - ioeventfd + MSI-X: the queue vector tells the guest which queue fired; there is no ISR read.
    The MSI is edge-triggered and no IOAPIC waits for its EOI, so when kvm injects it, it offers
    the guest PV EOI (qemu enables kvm-pv-eoi by default; apic_sync_pv_eoi_to_guest): the
    handler's EOI clears a bit in the guest's own memory instead of writing the EOI MSR, and kvm
    retires the vector at the next exit (kvm_pv_eoi). 2 exits (the kick and the hlt), none in
    userspace. The main loop: ppoll, read, io_submit, then ppoll, read (the event itself comes from
    the ring), and one KVM_SIGNAL_MSI: 6 syscalls, no KVM_IRQ_LINE_STATUS.
  - + irqfd: the KVM_SIGNAL_MSI ioctl becomes a write to the vector's eventfd, which kvm turns into
    the interrupt (irqfd_wakeup): still 2 exits and 6 syscalls, but no interrupt ioctl at all.
  - + APICv: the interrupt is posted (the vector in the vCPU's posted-interrupt descriptor); the
    vCPU, halted in kvm, is woken, and at the next entry the PIR moves to IRR and RVI, from where
    the CPU delivers it. The guest's x2APIC EOI is virtualized for an edge-triggered (MSI) vector
    (kvm offers no PV EOI with APICv). 2 exits (the kick and the hlt), still 6 syscalls: on this
    walk PV EOI had already taken the EOI exit away. What APICv adds shows with a vCPU still in
    guest mode: the posted interrupt arrives without any exit (the last scenarios below, and
    features/smp/smp.feature for IPIs).
  - + io_uring: the request is an SQE in a ring qemu-kvm shares with the kernel, submitted with one
    io_uring_enter; the completion is a CQE in the shared ring, read without a syscall once the
    main loop's ppoll sees the ring fd readable. The main loop: ppoll and read for the kick,
    io_uring_enter, ppoll for the completion, write to the irqfd: 5 syscalls; the exits are
    irqfd's 2.

  - vhost-user-blk: the queue is served by a separate process (a qemu-storage-daemon) that maps
    guest RAM itself; kvm signals its kick eventfd and turns its call eventfd into the interrupt.
    The exits are those of ioeventfd + MSI-X (2, none in userspace); the 6 syscalls are the
    backend's — ppoll and read for the kick, io_submit, ppoll, read (its block layer is QEMU's: the
    event comes from the AIO ring), and the write to the call eventfd — and qemu-kvm makes none.

  Every path takes one interrupt in the guest, and the data lands on the disk.

  Scenario Outline: <path>
    Given the VM is configured as:
      """
      ioeventfd: <ioeventfd>
      irqfd: <irqfd>
      apicv: <apicv>
      disk:
        vectors: <vectors>
        backend: <backend>
        device: <device>
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the guest sends 1 block request
    And there are <exits> VM exits
    And <userspace> exits reach userspace
    And the host makes <syscalls> syscalls
    And the guest takes <interrupts> interrupt
    And the disk image holds "bbbb" at byte 8388608

    Examples:
      | path                      | ioeventfd | irqfd | apicv | vectors | backend   | device         | exits | userspace | syscalls | interrupts |
      | seed (INTx, no ioeventfd) | false     | false | false | 0       | linux-aio | virtio-blk     | 4     | 2         | 7        | 1          |
      | ioeventfd                 | true      | false | false | 0       | linux-aio | virtio-blk     | 4     | 1         | 8        | 1          |
      | ioeventfd + MSI-X         | true      | false | false | 2       | linux-aio | virtio-blk     | 2     | 0         | 6        | 1          |
      | ioeventfd + MSI-X + irqfd | true      | true  | false | 2       | linux-aio | virtio-blk     | 2     | 0         | 6        | 1          |
      | … + APICv                 | true      | true  | true  | 2       | linux-aio | virtio-blk     | 2     | 0         | 6        | 1          |
      | … + io_uring              | true      | true  | false | 2       | io_uring  | virtio-blk     | 2     | 0         | 5        | 1          |
      | vhost-user-blk            | true      | true  | false | 2       | linux-aio | vhost-user-blk | 2     | 0         | 6        | 1          |

  Scenario: With ioeventfd the kick never reaches userspace
    Given ioeventfd is enabled
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit is handled in the kernel
    And the walk crosses, in order:
      | from         | to           | name           |
      | guest kernel | VMX CPU      | outw           |
      | VMX CPU      | kvm          | IO_INSTRUCTION |
      | kvm          | VMX CPU      | VMRESUME       |
      | VMX CPU      | guest kernel | outw           |
      | qemu-kvm     | host kernel  | io_submit      |

  Scenario: With irqfd, completion is an eventfd write, not an interrupt ioctl
    Given the VM is configured as:
      """
      ioeventfd: true
      irqfd: true
      disk:
        vectors: 2
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the host calls write
    And the host does not call KVM_IRQ_LINE_STATUS
    And the host does not call KVM_SIGNAL_MSI

  Scenario: Each box taken out makes the write cheaper
    The disk's latency is the same on every path; what differs is the exits and syscalls around it.
    Each path is compared with the path it builds on (vhost-user-blk with ioeventfd + MSI-X + irqfd,
    whose exits and syscall count it shares: it only moves the work to another process).

    When the guest process writes "hello" to "/hello.txt" on each path of "exitpath compare"
    Then each path costs fewer modelled cycles than the one before, or the same when only the kind of syscall changed

  Scenario: virtio-pci modern: the kick is an MMIO write that kvm serves on the fast MMIO bus
    The modern interface puts the notify register in a memory BAR. kvm keeps no memslot there, so
    the first access (the boot's partition scan) faulted (EPT_VIOLATION) and left an MMIO SPTE: a
    deliberately misconfigured EPT entry. Every later kick exits as EPT_MISCONFIG, and with
    ioeventfd, handle_ept_misconfig finds the length-0 ioeventfd on KVM_FAST_MMIO_BUS before any
    instruction decoding and signals it.

    Given the VM is configured as:
      """
      ioeventfd: true
      disk:
        transport: virtio-pci-modern
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the VM exit reason is EPT_MISCONFIG
    And kvm handles the exit with handle_ept_misconfig
    And the exit is handled in the kernel
    And the walk crosses, in order:
      | from         | to           | name          |
      | guest kernel | VMX CPU      | writew        |
      | VMX CPU      | kvm          | EPT_MISCONFIG |
      | kvm          | VMX CPU      | VMRESUME      |
      | qemu-kvm     | host kernel  | io_submit     |
    And the disk image holds "bbbb" at byte 8388608

  Scenario: vhost-user-blk: qemu-kvm is not on the data path
    Given the VM is configured as:
      """
      ioeventfd: true
      irqfd: true
      disk:
        vectors: 2
        device: vhost-user-blk
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then qemu-kvm makes no syscall
    And the vhost-user-blk backend calls io_submit
    And 0 exits reach userspace
    And the walk crosses, in order:
      | from           | to             | name           |
      | guest kernel   | VMX CPU        | outw           |
      | VMX CPU        | kvm            | IO_INSTRUCTION |
      | vhost-user-blk | host kernel    | io_submit      |
      | vhost-user-blk | host kernel    | write          |
      | kvm            | VMX CPU        | VMRESUME       |
    And the disk image holds "bbbb" at byte 8388608

  Scenario: APICv with the INTx line: the EOI of a level-triggered vector still exits
    kvm sets the vector's bit in the EOI-exit bitmap because the IOAPIC must see the EOI of a
    level-triggered interrupt; the virtualized EOI then exits as EOI_INDUCED instead of MSR_WRITE.

    Given the VM is configured as:
      """
      apicv: true
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then there are 4 VM exits
    And the walk crosses, in order:
      | from          | to            | name        |
      | VMX CPU       | kvm           | EOI_INDUCED |
      | guest kernel  | guest process | write       |

  Scenario: The completion reaches vCPU 0 while it runs another process: without APICv, an exit and an injection
    The writer sleeps, but the scheduler runs another process that computes for 100 µs, longer than
    the modelled device latency (20 µs): the vCPU is in guest mode when the main loop's irqfd write
    makes kvm deliver the MSI. kvm_vcpu_kick sends its physical CPU a reschedule IPI: the vCPU exits
    (EXTERNAL_INTERRUPT) and the vector is injected at the next entry; its EOI goes through PV EOI
    (an edge-triggered MSI vector), without an exit. With the kick (ioeventfd), 2 exits; no HLT,
    since the CPU never idles.
    Given the VM is configured as:
      """
      ioeventfd: true
      irqfd: true
      disk:
        vectors: 2
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT while another process computes for 100 µs
    Then the VM exits are:
      | reason             | handler                   | handled in |
      | IO_INSTRUCTION     | handle_io                 | kernel     |
      | EXTERNAL_INTERRUPT | handle_external_interrupt | kernel     |
    And the guest takes interrupt 0x32
    And the disk image holds "bbbb" at byte 8388608

  Scenario: The same with APICv: a posted interrupt reaches the running vCPU without a VM exit
    The MSI goes to the vCPU's posted-interrupt descriptor and kvm sends the notification vector to
    its physical CPU; the CPU, still in VMX non-root mode, moves it to the virtual IRR and delivers
    it, and the EOI is virtualized. The kick is the only exit.
    Given the VM is configured as:
      """
      ioeventfd: true
      irqfd: true
      apicv: true
      disk:
        vectors: 2
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT while another process computes for 100 µs
    Then the VM exits are:
      | reason         | handler   | handled in |
      | IO_INSTRUCTION | handle_io | kernel     |
    And vCPU 0 takes interrupt 0x32 from a posted-interrupt notification, without a VM exit
    And the disk image holds "bbbb" at byte 8388608

  Scenario: QEMU's own default machine (preset: qemu-default): the seed's write in twelve exits, none to qemu-kvm
    The seed's path is not what QEMU 9.0 builds for a bare `-device virtio-blk-pci`: ioeventfd is on,
    the device has num-queues + 1 = 2 MSI-X vectors, its transitional function is bound by Linux
    through the modern interface, the vector goes through an irqfd, and the drive defaults to
    aio=threads with cache=writeback. Each kick is a 16-bit write to the notify region, whose MMIO
    SPTE the boot's first kick left: an EPT_MISCONFIG, and kvm's fast MMIO bus signals the
    ioeventfd in the kernel (see the virtio-pci modern scenario above). The vCPU idles (HLT) while
    a worker thread does the preadv or pwritev (into the host's page cache: cache=writeback), or the
    fdatasync for the flush (a writeback drive has a volatile cache to flush); the main loop's irqfd
    write becomes the MSI, and its EOI is a PV EOI, without an exit. Two exits for each request,
    both handled by kvm, and the seed's write makes six requests (features/seed/write-walk.feature):
    6 × 2 = 12 exits, and 6 interrupts.
    Given the VM is configured as:
      """
      preset: qemu-default
      """
    When the guest process writes "hello" to "/hello.txt"
    Then the VM exits are:
      | reason        | handler              | handled in |
      | EPT_MISCONFIG | handle_ept_misconfig | kernel     |
      | HLT           | kvm_emulate_halt     | kernel     |
      | EPT_MISCONFIG | handle_ept_misconfig | kernel     |
      | HLT           | kvm_emulate_halt     | kernel     |
      | EPT_MISCONFIG | handle_ept_misconfig | kernel     |
      | HLT           | kvm_emulate_halt     | kernel     |
      | EPT_MISCONFIG | handle_ept_misconfig | kernel     |
      | HLT           | kvm_emulate_halt     | kernel     |
      | EPT_MISCONFIG | handle_ept_misconfig | kernel     |
      | HLT           | kvm_emulate_halt     | kernel     |
      | EPT_MISCONFIG | handle_ept_misconfig | kernel     |
      | HLT           | kvm_emulate_halt     | kernel     |
    And the guest takes 6 interrupts
    And the host calls fdatasync 1 time
    And the write returns 5
