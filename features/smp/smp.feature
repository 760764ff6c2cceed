Feature: SMP — several vCPUs, each a qemu-kvm thread in its own KVM_RUN, and the IPIs between them

  With `vcpus: 2` qemu-kvm creates two vCPUs (KVM_CREATE_VCPU 0 and 1) and runs each in its own
  thread ("CPU 0/KVM", "CPU 1/KVM"), each in its own ioctl(KVM_RUN). With the local APICs in kvm
  only vCPU 0, the boot CPU, starts runnable; vCPU 1 waits for the boot CPU's INIT and start-up
  IPIs (kvm_arch_vcpu_create: KVM_MP_STATE_UNINITIALIZED).

  An IPI is a write of the x2APIC ICR, MSR 0x830 (EDX: the destination APIC ID, EAX: delivery mode
  and vector). The MSR bitmap intercepts it, so it is a VM exit (MSR_WRITE) on the sending vCPU. A
  fixed IPI to one physical destination is handled at once after the exit, with interrupts still off
  (6.1: handle_fastpath_set_msr_irqoff → kvm_x2apic_icr_write), without the handler table; INIT,
  SIPI and anything else go through handle_wrmsr. kvm's local APIC of the destination accepts it
  (__apic_accept_irq): a vCPU halted in kvm is woken (kvm_vcpu_kick → kvm_vcpu_wake_up); a vCPU in
  guest mode gets an interrupt at its physical CPU — the reschedule IPI, which makes it exit
  (EXTERNAL_INTERRUPT) so that the vector is injected at the next entry, or, with APICv, the
  posted-interrupt notification, which the CPU takes without leaving the guest.

  The guest kernel runs the harness's actions on vCPU 0. An action for vCPU 1 is queued on vCPU 1's
  run queue, and vCPU 0 wakes the idle vCPU 1 with a reschedule IPI (wake_up_process →
  smp_send_reschedule): that IPI is the first thing of every action on vCPU 1. vCPU 1 takes the
  interrupt, acknowledges it (an EOI: a write of MSR 0x80b, which exits unless APICv virtualizes
  it), runs the action, and goes back to `sti; hlt` in its idle loop (a HLT exit: the vCPU sleeps in
  kvm until the next interrupt).

  The model runs one host thread at a time on one clock. A vCPU "in guest mode" while another thread
  runs is one parked inside its guest: vCPU 0 after each action, in its harness loop, or a vCPU
  computing while the host's other threads have work due (their time counts toward its computation,
  as if they ran on other host CPUs).

  Background:
    Given a VM with 2 vCPUs and 512 MiB of memory

  Scenario: The boot CPU starts vCPU 1 with INIT and two start-up IPIs; vCPU 1's first KVM_RUN returns -EAGAIN
    The boot CPU sends INIT (level, assert), INIT de-assert (ignored by kvm), and STARTUP twice
    with the trampoline's page, 0x9a000 >> 12 = 0x9a, as the vector (wakeup_secondary_cpu_via_init).
    vCPU 1's thread slept in kvm_vcpu_block inside its first KVM_RUN; the INIT wakes it, kvm accepts
    INIT (KVM_MP_STATE_INIT_RECEIVED) and SIPI (KVM_MP_STATE_RUNNABLE, RIP at the vector's page),
    and that KVM_RUN returns -EAGAIN (it only waited for the events). qemu-kvm calls KVM_RUN again,
    and vCPU 1 enters its guest for the first time — VMLAUNCH — at 0x9a000. Once up, vCPU 1 tells the
    boot CPU, which slept in hlt waiting for it, with a reschedule IPI.
    Given the boot is traced
    When the guest executes "nop"
    Then the IPIs are:
      | from | to | delivery         | vector |
      | 0    | 1  | INIT (assert)    | 0      |
      | 0    | 1  | INIT (de-assert) | 0      |
      | 0    | 1  | SIPI             | 0x9a   |
      | 0    | 1  | SIPI             | 0x9a   |
      | 1    | 0  | Fixed            | 0xfd   |
    And vCPU 1's first KVM_RUN returns -EAGAIN
    And vCPU 1 first enters the guest with VMLAUNCH at 0x9a000

  Scenario: A reschedule IPI wakes a vCPU halted in kvm; nothing reaches qemu-kvm
    vCPU 0's ICR write is one exit, done in the fastpath. vCPU 1 was halted in kvm: it is woken and
    the vector is injected at its entry. The vector is edge-triggered and no IOAPIC waits for its
    EOI, so kvm offers PV EOI at that entry: the handler's EOI clears a bit in guest memory, no
    exit; kvm retires the vector at vCPU 1's next exit, the HLT of its idle loop (kvm_pv_eoi).
    Every step is in kvm: no KVM_RUN returns, so the host makes no syscall.
    When vCPU 0 sends a reschedule IPI to vCPU 1
    Then vCPU 0's VM exits are:
      | reason    | handler                        | handled in |
      | MSR_WRITE | handle_fastpath_set_msr_irqoff | kernel     |
    And vCPU 1 wakes from kvm_vcpu_block
    And vCPU 1 takes interrupt 0xfd
    And vCPU 1's VM exits are:
      | reason    | handler           | handled in |
      | HLT       | kvm_emulate_halt  | kernel     |
    And the walk includes kvm_pv_eoi
    And the host makes no syscall

  Scenario: An IPI to vCPU 0 running in guest mode, without APICv: an external-interrupt exit, then injection
    vCPU 0 first wakes vCPU 1 for the action (its one fastpath ICR write) and goes back to its
    loop in guest mode. vCPU 1, woken, acknowledges that IPI through PV EOI (no exit), and its IPI
    to vCPU 0 is a fastpath ICR write; then it halts. vCPU 0 is in guest mode, so kvm_vcpu_kick
    sends a reschedule IPI to its physical CPU: vCPU 0 exits (EXTERNAL_INTERRUPT), and the vector
    is injected at the entry that follows; its EOI, too, is a PV EOI.
    When vCPU 1 sends a reschedule IPI to vCPU 0
    Then vCPU 0's VM exits are:
      | reason             | handler                        | handled in |
      | MSR_WRITE          | handle_fastpath_set_msr_irqoff | kernel     |
      | EXTERNAL_INTERRUPT | handle_external_interrupt      | kernel     |
    And vCPU 0 takes interrupt 0xfd
    And vCPU 1's VM exits are:
      | reason    | handler                        | handled in |
      | MSR_WRITE | handle_fastpath_set_msr_irqoff | kernel     |
      | HLT       | kvm_emulate_halt               | kernel     |

  Scenario: The same IPI with APICv: a posted interrupt reaches vCPU 0 in guest mode without a VM exit
    With APICv the IPI goes to vCPU 0's posted-interrupt descriptor (its PIR bit and ON), and kvm
    sends the notification vector (0xf2) to vCPU 0's physical CPU. The CPU, in VMX non-root mode,
    moves the PIR into the virtual IRR and delivers 0xfd itself; the EOI is virtualized. vCPU 0 keeps
    only the exit of its own ICR write. vCPU 1 was halted: its interrupt is posted too, and it is
    woken; at entry the PIR goes to IRR and RVI, the CPU delivers it, the EOI is virtualized — vCPU 1
    keeps its ICR write and its HLT.
    Given the VM is configured as:
      """
      apicv: true
      """
    When vCPU 1 sends a reschedule IPI to vCPU 0
    Then vCPU 0's VM exits are:
      | reason    | handler                        | handled in |
      | MSR_WRITE | handle_fastpath_set_msr_irqoff | kernel     |
    And vCPU 0 takes interrupt 0xfd from a posted-interrupt notification, without a VM exit
    And vCPU 1's VM exits are:
      | reason    | handler                        | handled in |
      | MSR_WRITE | handle_fastpath_set_msr_irqoff | kernel     |
      | HLT       | kvm_emulate_halt               | kernel     |

  Scenario: An I/O exit on vCPU 1 reaches qemu-kvm on vCPU 1's own thread, which takes the BQL for the access
    kvm_cpu_exec runs KVM_RUN without the Big QEMU Lock; the access to the device takes it
    (prepare_mmio_access) and drops it when done. Port 0x1234 has no device: the read returns all
    ones. (vCPU 1 was woken for the action by a reschedule IPI, whose EOI is a PV EOI: no exit.)
    When vCPU 1 executes "inl 0x1234"
    Then vCPU 1's VM exits are:
      | reason         | handler           | handled in  |
      | IO_INSTRUCTION | handle_io         | KVM_EXIT_IO |
      | HLT            | kvm_emulate_halt  | kernel      |
    And "CPU 1/KVM" takes the BQL 1 time
    And "CPU 0/KVM" takes the BQL 0 times
    And the instruction returns 0xffffffff

  Scenario: A kick from vCPU 1 without ioeventfd: device emulation on vCPU 1's thread, under the BQL
    When vCPU 1 executes "outw 0xc050 0x0"
    Then "CPU 1/KVM" takes the BQL 1 time
    And "main loop" takes the BQL 0 times

  Scenario: A kick from vCPU 1 with ioeventfd: no vCPU thread takes the BQL; the main loop serves the queue
    The kick ends in kvm (ioeventfd_write signals the eventfd); qemu's main loop wakes from ppoll,
    takes the BQL, and runs virtio_queue_notify there. (The reschedule IPI that woke vCPU 1 for the
    action ends with a PV EOI: no exit.)
    Given ioeventfd is enabled
    When vCPU 1 executes "outw 0xc050 0x0"
    Then vCPU 1's VM exits are:
      | reason         | handler           | handled in |
      | IO_INSTRUCTION | handle_io         | kernel     |
      | HLT            | kvm_emulate_halt  | kernel     |
    And no vCPU thread takes the BQL
    And "main loop" takes the BQL 1 time

  Scenario: The process's write on vCPU 0: the device interrupts vCPU 0 and vCPU 1 sleeps through it
    The IOAPIC entry the guest programmed for the disk names APIC ID 0: vCPU 1, halted in kvm, is
    never woken — through all six requests of the seed's write (features/seed/write-walk.feature).
    When the guest process writes "hello" to "/hello.txt"
    Then the guest takes 6 interrupts
    And the device's interrupts go to vCPU 0
    And vCPU 1 has no VM exit
    And the disk image holds "hello" at byte 8388608
