Feature: The seed's era: the same exits through Fedora 15's kvm and qemu-kvm 0.14

  `profile: qemu-kvm-2013` runs the machine of the 2013 talk: Fedora 15, whose qemu-kvm 0.14 drove
  kvm from qemu-kvm.c (kvm_main_loop_cpu → kvm_cpu_exec → kvm_run), and whose kvm the talk shows
  with kvm_vmx_exit_handlers[] of arch/x86/kvm/vmx.c before the 3.1 nested-VMX rework
  (handle_cpuid, handle_rdmsr, handle_halt, handle_vmcall, handle_vmx_insn, handle_invalid_op for
  MWAIT and MONITOR) and `__vcpu_run`; the guest is Fedora 15's own 2.6.42, Linux 3.2. That kvm did
  not intercept RDPMC (the vPMU came in 3.3), had no per-vCPU PAUSE window, no preemption timer, no
  x2APIC virtualization; a reason with no handler went to userspace as KVM_EXIT_UNKNOWN with the
  hardware exit reason. Every name such a walk prints is checked against those trees
  (test/era2013.test.ts, test/data/era-2013-names.tsv).

  Background:
    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """

  Scenario Outline: <instruction> is handled by <handler>
    When the guest executes "<instruction>"
    Then the VM exit reason is <reason>
    And kvm handles the exit with <handler>
    And the exit is handled in the kernel

    Examples:
      | instruction      | reason              | handler         |
      | cpuid 0x0        | CPUID               | handle_cpuid    |
      | rdmsr 0x1b       | MSR_READ            | handle_rdmsr    |
      | wrmsr 0x80b 0x0  | MSR_WRITE           | handle_wrmsr    |
      | invd             | INVD                | handle_invd     |
      | wbinvd           | WBINVD              | handle_wbinvd   |
      | vmcall           | VMCALL              | handle_vmcall   |
      | xsetbv 0 0x7     | XSETBV              | handle_xsetbv   |
      | ud2              | EXCEPTION_NMI       | handle_exception |

  Scenario Outline: <instruction> was not emulated as a NOP then: handle_invalid_op injects #UD
    When the guest executes "<instruction>"
    Then the VM exit reason is <reason>
    And kvm handles the exit with handle_invalid_op
    And the guest takes a #UD fault

    Examples:
      | instruction | reason              |
      | mwait       | MWAIT_INSTRUCTION   |
      | monitor     | MONITOR_INSTRUCTION |

  Scenario: a VMX instruction goes to handle_vmx_insn, which injects #UD
    When the guest executes "vmxon"
    Then the VM exit reason is VMON
    And kvm handles the exit with handle_vmx_insn
    And the guest takes a #UD fault

  Scenario: INVEPT has no handler in that table: KVM_EXIT_UNKNOWN with the hardware exit reason
    INVEPT exits unconditionally, but the table ends its VMX entries at VMON: vmx_handle_exit
    sets kvm_run->hw.hardware_exit_reason = 50 and returns KVM_EXIT_UNKNOWN, and qemu-kvm stops.

    When the guest executes "invept", which stops the VM
    Then the VM exit reason is INVEPT
    And the exit reaches qemu-kvm as KVM_EXIT_UNKNOWN
    And kvm_run's hw.hardware_exit_reason is 50
    And qemu-kvm stops the VM: "KVM: unknown exit, hardware reason 50"

  Scenario: RDPMC ran natively: kvm of that era did not set RDPMC exiting
    When the guest executes "rdpmc 0x0"
    Then there is no VM exit

  Scenario: the x2APIC TPR MSR exits: there was no "virtualize x2APIC mode"
    When the guest executes "wrmsr 0x808 0x20"
    Then the VM exit reason is MSR_WRITE
    And kvm handles the exit with handle_wrmsr

  Scenario: the seed's write walk, with the era's names
    The guest's 3.2 virtio_blk predates blk-mq: the request function do_virtblk_request → do_req →
    virtqueue_add_buf, then virtqueue_kick → vp_notify → iowrite16, the `outw`. handle_io of the
    era skipped the OUT before going to userspace (RIP is already past it when KVM_RUN returns).
    qemu-kvm's vCPU thread holds qemu_mutex whenever it is outside KVM_RUN: post_kvm_run takes it as
    soon as the ioctl returns, kvm_run switches on the exit reason, kvm_handle_io → cpu_outw → the
    I/O BAR's 16-bit handler virtio_pci_config_writew → virtio_ioport_write → virtio_queue_notify →
    virtio_blk_handle_output; the write is collected (virtio_blk_handle_write) and submitted with
    virtio_submit_multiwrite → bdrv_aio_multiwrite → bdrv_aio_writev → laio_submit, whose io_submit
    is the host syscall; pre_kvm_run lets go of the lock before the next KVM_RUN. The completion
    interrupt runs vp_interrupt → vp_vring_interrupt → vring_interrupt → blk_done →
    __blk_end_request_all, and blk_done ends with blk_start_queue, in case the queue was stopped
    for room on the ring. (The write() makes three requests on ext2 — the block bitmap's read, the
    data, the inode; the walk below picks its functions from all of them: the data's is the one
    virtio_blk_handle_write collects.)

    When the guest process writes "hello" to "/hello.txt"
    Then the walk passes through stages 1 to 10 in order
    And kvm handles the exit with handle_io
    And the walk runs, in order:
      | in           | name                     |
      | guest kernel | do_virtblk_request       |
      | guest kernel | do_req                   |
      | guest kernel | virtqueue_add_buf        |
      | guest kernel | virtqueue_kick           |
      | guest kernel | vp_notify                |
      | guest kernel | iowrite16                |
      | kvm          | handle_io                |
      | qemu-kvm     | post_kvm_run             |
      | qemu-kvm     | kvm_run                  |
      | qemu-kvm     | kvm_handle_io            |
      | qemu-kvm     | cpu_outw                 |
      | qemu-kvm     | virtio_pci_config_writew |
      | qemu-kvm     | virtio_ioport_write      |
      | qemu-kvm     | virtio_queue_notify      |
      | qemu-kvm     | virtio_blk_handle_output |
      | qemu-kvm     | virtio_blk_handle_write  |
      | qemu-kvm     | virtio_submit_multiwrite |
      | qemu-kvm     | bdrv_aio_multiwrite      |
      | qemu-kvm     | bdrv_aio_writev          |
      | qemu-kvm     | laio_submit              |
      | qemu-kvm     | pre_kvm_run              |
      | kvm          | __vcpu_run               |
      | guest kernel | vp_interrupt             |
      | guest kernel | vp_vring_interrupt       |
      | guest kernel | vring_interrupt          |
      | guest kernel | blk_done                 |
      | guest kernel | __blk_end_request_all    |
      | guest kernel | blk_start_queue          |
    And the walk does not include vcpu_run
    And the walk does not include kvm_cpu_exec
    And the walk does not include kvm_run_exit
    And the walk does not include memory_region_dispatch_write

  Scenario: the seed's write through Linux 3.2's ext2: do_sync_write, and an fsync that sends no flush
    3.2 writes a file through do_sync_write → generic_file_aio_write → __generic_file_aio_write →
    generic_file_buffered_write → generic_perform_write (ext2_write_begin → ext2_get_block, which
    allocates); O_SYNC then takes generic_write_sync → vfs_fsync_range → ext2_fsync →
    generic_file_fsync: the data (filemap_write_and_wait_range → mpage_writepages) and the inode
    (sync_inode_metadata → ext2_write_inode → sync_dirty_buffer). generic_file_fsync ends there:
    the cache flush after it (blkdev_issue_flush) came with Linux 3.16. So the open's two reads and
    the write's block bitmap read, data and inode are the walk's five requests, and qemu-kvm is
    never asked for an fdatasync.

    When the guest process writes "hello" to "/hello.txt"
    Then the walk runs, in order:
      | in           | name                         |
      | guest kernel | do_sync_write                |
      | guest kernel | generic_file_aio_write       |
      | guest kernel | generic_file_buffered_write  |
      | guest kernel | generic_perform_write        |
      | guest kernel | ext2_get_block               |
      | guest kernel | generic_write_sync           |
      | guest kernel | ext2_fsync                   |
      | guest kernel | generic_file_fsync           |
      | guest kernel | filemap_write_and_wait_range |
      | guest kernel | mpage_writepages             |
      | guest kernel | sync_inode_metadata          |
      | guest kernel | ext2_write_inode             |
      | guest kernel | sync_dirty_buffer            |
    And the walk does not include blkdev_issue_flush
    And the block requests are:
      | call   | op    | block | blocks |
      | openat | read  | 516   | 1      |
      | openat | read  | 3     | 1      |
      | write  | read  | 2     | 1      |
      | write  | write | 2048  | 1      |
      | write  | write | 4     | 1      |
    And the host does not call fdatasync

  Scenario: qemu-kvm 0.14's main loop sleeps in select(), between qemu_mutex_unlock_iothread and qemu_mutex_lock_iothread
    main_loop_wait (vl.c) builds an fd_set of its handlers and calls select(); the AIO completion
    makes the eventfd readable, select returns, and the main loop takes the lock to run
    qemu_laio_completion_cb. There is no ppoll in that qemu.

    When the guest process writes "hello" to "/hello.txt"
    Then the walk crosses, in order:
      | from        | to          | name   |
      | host kernel | qemu-kvm    | select |
      | qemu-kvm    | host kernel | select |
    And the walk runs, in order:
      | in       | name                       |
      | qemu-kvm | qemu_mutex_lock_iothread   |
      | qemu-kvm | qemu_laio_completion_cb    |
      | qemu-kvm | qemu_mutex_unlock_iothread |
    And the walk does not include ppoll

  Scenario: an IN went to the instruction emulator: kvm_emulate_insn, and kvm_pio before userspace
    3.x handle_io: `if (string || in) return emulate_instruction(vcpu, 0) == EMULATE_DONE;` — the
    emulator decodes the IN (kvm_emulate_insn), emulator_pio_in_emulated traces kvm_pio before it
    knows the value and exits to userspace with the instruction not retired; the next KVM_RUN
    finishes it (emulate_instruction with EMULTYPE_NO_DECODE) and the guest sees qemu's all-ones.

    When the guest executes "inl 0x1234"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit reaches qemu-kvm as KVM_EXIT_IO
    And the walk runs, in order:
      | in       | name             |
      | kvm      | handle_io        |
      | kvm      | kvm_emulate_insn |
      | kvm      | kvm_pio          |
      | qemu-kvm | kvm_handle_io    |
      | qemu-kvm | cpu_inl          |
    And the instruction returns 0xffffffff

  Scenario: an MSI-X vector was a routed GSI raised with KVM_IRQ_LINE_STATUS: there was no KVM_SIGNAL_MSI
    qemu-kvm 0.14 with kvm's irqchip gave each vector the driver assigned a GSI routed to its
    message (msix_vector_use → kvm_msix_add: KVM_SET_GSI_ROUTING at boot), and msix_notify raised it
    with kvm_set_irq — KVM_IRQ_LINE_STATUS, which kvm turns into the MSI (kvm_msi_set_irq).
    KVM_SIGNAL_MSI came with Linux 3.5. Each request has the kick's IO_INSTRUCTION exit (to
    userspace), the idle HLT, and — without PV EOI, which came in 3.6 — the EOI's MSR_WRITE: 3
    exits, 1 of them to qemu-kvm. The seed's write makes five requests on Linux 3.2's ext2: the
    open's two reads (the root directory's block, the inode bitmap), then the block bitmap's read,
    the data and the inode — and no flush, which 3.2's fsync never sends (see below): 5 × 3 = 15
    exits, 5 of them to qemu-kvm.

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      disk:
        vectors: 2
      """
    When the guest process writes "hello" to "/hello.txt"
    Then the walk crosses, in order:
      | from     | to  | name                |
      | qemu-kvm | kvm | KVM_IRQ_LINE_STATUS |
    And the walk runs, in order:
      | in           | name            |
      | qemu-kvm     | msix_notify     |
      | kvm          | kvm_set_irq     |
      | kvm          | kvm_msi_set_irq |
      | guest kernel | vring_interrupt |
      | guest kernel | blk_done        |
    And the walk does not include KVM_SIGNAL_MSI
    And there are 15 VM exits
    And 5 exits reach userspace
