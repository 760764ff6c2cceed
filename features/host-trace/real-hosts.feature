Feature: The same Then-steps, checked against a real host's kvm trace

  A hypervisor engineer who changes kvm or qemu can bring a trace of their own host — `trace-cmd
  record -e kvm`, `perf record -e 'kvm:*'` and `perf script`, or /sys/kernel/tracing/trace — and state
  in the same plain language what it must show. `Given the host trace` reads the text (every tool's
  line layout, every kernel era's tracepoint formats) and makes it the walk the Then-steps read: exit
  reasons and counts, the returns to userspace, ports, MSRs, injected vectors, the kvm-level crossings.

  What no tracepoint prints is inferred, and the step says so: kvm's exit handler comes from the exit
  reason, the events kvm traced before the next entry and kvm_vmx_exit_handlers[] of the trace's era
  (the evidence attached to the step names the table); KVM_RUN called again is the vCPU's next kvm
  event after kvm_userspace_exit; the interrupt the guest takes is the one kvm_inj_virq injected at the
  next entry. What no host trace holds at all — the guest's syscalls, qemu-kvm's own syscalls — fails
  the step with one line saying so.

  The traces are in features/host-trace/fixtures/, each written from the formats of its tools and
  kernel, with the sources named at its top.

  Scenario: The seed's write on a Linux 6.1 host, read from raw ftrace
    The fixture is what /sys/kernel/tracing/trace holds after the seed's write on a 6.1 host with the
    seed's disk (legacy virtio-pci at 0xc040, in-kernel irqchip). Its exits follow from the mechanism:
    the kick is an `outw` to the queue-notify register 0xc050, an IO_INSTRUCTION no in-kernel device
    claims, so it reaches qemu-kvm as KVM_EXIT_IO (1); the host's local timer fires while the guest
    runs on, an EXTERNAL_INTERRUPT kvm handles itself (2); the guest waits with HLT, and with the
    LAPIC in the kernel kvm blocks the vCPU (3); qemu-kvm raises GSI 11 when the AIO completes, the
    IOAPIC routes it to vector 49 (0x31), injected at the next entry; the interrupt handler reads the
    ISR register at 0xc053, another KVM_EXIT_IO (4); and its EOI is a WRMSR to the x2APIC EOI register
    0x80b, which kvm emulates (5). Five exits, two of them to userspace.

    Given the host trace "fixtures/linux-6.1-seed-write.ftrace"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit reaches qemu-kvm as KVM_EXIT_IO
    And there are 5 VM exits
    And 2 exits reach userspace
    And the VM exits are:
      | reason             | handler                   | handled in  |
      | IO_INSTRUCTION     | handle_io                 | KVM_EXIT_IO |
      | EXTERNAL_INTERRUPT | handle_external_interrupt | kernel      |
      | HLT                | kvm_emulate_halt          | kernel      |
      | IO_INSTRUCTION     | handle_io                 | KVM_EXIT_IO |
      | MSR_WRITE          | kvm_emulate_wrmsr         | kernel      |
    And the walk crosses, in order:
      | from     | to       | name           |
      | VMX CPU  | kvm      | IO_INSTRUCTION |
      | kvm      | qemu-kvm | KVM_EXIT_IO    |
      | qemu-kvm | kvm      | KVM_RUN        |
      | kvm      | VMX CPU  | VMRESUME       |
    And the walk includes kvm_pio with port 0xc050
    And the walk includes kvm_msr with msr 0x80b
    And the guest takes interrupt 0x31

  Scenario: A port read through qemu-kvm on a Linux 4.x host (kvm_exit without a vCPU id)
    Before 5.4 kvm_exit printed no vCPU; each exit pairs with the kvm_entry of the same thread, which
    does. The guest reads port 0xe9 twice with `in al,dx`: the exit qualification 0xe90008 decodes as
    an IN of one byte from port 0xe9 (bit 3 set, size 0 = one byte, port in bits 31:16); no kernel
    device is there, so each goes to qemu-kvm (KVM_EXIT_IO), and the value comes back with the kvm_pio
    traced after KVM_RUN. Between them a host interrupt: vector 0xf6 in kvm_exit's info2, which before
    5.10 was the VM-exit interruption information. Three exits, two to userspace; the handlers come
    from kvm's table of that era, where they still had these names.

    Given the host trace "fixtures/linux-4.x-port-0xe9.ftrace"
    Then the VM exits are:
      | reason             | handler                   | handled in  |
      | IO_INSTRUCTION     | handle_io                 | KVM_EXIT_IO |
      | EXTERNAL_INTERRUPT | handle_external_interrupt | kernel      |
      | IO_INSTRUCTION     | handle_io                 | KVM_EXIT_IO |
    And the walk includes kvm_pio with port 0xe9
    And the walk includes kvm_pio with val 0x32

  Scenario: An MMIO read that goes to qemu-kvm, from trace-cmd report
    trace-cmd prints kvm_exit through libtraceevent's kvm plugin (`info A B`, no vCPU) and cuts the
    thread's name "CPU 0/KVM" to "CPU"; neither matters to the pairing, which goes by thread id. A
    register read in an emulated device's BAR faults on an MMIO SPTE (EPT_MISCONFIG); kvm decodes the
    instruction, finds no kernel device at 0xfebf1014 and hands the read to qemu-kvm as KVM_EXIT_MMIO
    (the kvm_mmio `unsatisfied-read`), then completes it with the value qemu-kvm wrote back. The second
    EPT_MISCONFIG is a virtio kick to 0xfebf3000 that an ioeventfd takes in the kernel (kvm_fast_mmio).
    Two exits, one to userspace.

    Given the host trace "fixtures/linux-5.x-mmio.trace-cmd"
    Then there are 2 VM exits
    And 1 exit reaches userspace
    And VM exit 1 is EPT_MISCONFIG
    And kvm handles the exit with handle_ept_misconfig
    And the exit reaches qemu-kvm as KVM_EXIT_MMIO
    And the walk includes kvm_mmio with gpa 0xfebf1014
    And the walk includes kvm_fast_mmio with gpa 0xfebf3000

  Scenario: Two vCPUs and an IPI, from perf script
    vCPU 1 writes the x2APIC ICR (MSR 0x830) with 0xfd: a fixed IPI, physical destination 0, no
    shorthand — the kind kvm's fastpath (handle_fastpath_set_msr_irqoff) sends right after the exit,
    before the handler table; the inference reads that from kvm_msr's data. vCPU 0 is halted in kvm:
    the IPI wakes it, and vector 0xfd is injected at its next entry. It EOIs (a WRMSR kvm emulates),
    and vCPU 1 halts. vCPU 1 exits twice, vCPU 0 once.

    Given the host trace "fixtures/linux-6.x-ipi.perf-script"
    Then vCPU 1's VM exits are:
      | reason    | handler                        | handled in |
      | MSR_WRITE | handle_fastpath_set_msr_irqoff | kernel     |
      | HLT       | kvm_emulate_halt               | kernel     |
    And vCPU 0's VM exits are:
      | reason    | handler           | handled in |
      | MSR_WRITE | kvm_emulate_wrmsr | kernel     |
    And the IPIs are:
      | from | to | delivery | vector |
      | 1    | 0  | Fixed    | 253    |
    And vCPU 0 wakes from kvm_vcpu_block
    And vCPU 0 takes interrupt 0xfd

  Scenario: An AMD host: SVM's exit names in the model's vocabulary
    kvm_amd prints SVM's own names: `io` for the IOIO intercept, `msr` for both directions (exit_info_1
    is 1 for WRMSR), `npf` for a nested page fault. They read as the VMX reasons of the same meaning:
    the kick is an IO_INSTRUCTION that reaches qemu-kvm, the EOI a MSR_WRITE, the fault on a page not
    yet mapped an EPT_VIOLATION. Three exits, one to userspace.

    Given the host trace "fixtures/linux-6.x-amd.ftrace"
    Then VM exit 1 is IO_INSTRUCTION
    And VM exit 2 is MSR_WRITE
    And VM exit 3 is EPT_VIOLATION
    And 1 exit reaches userspace
    And the walk includes kvm_page_fault with address 0x113600000

  Scenario: A trace given inline: CPUID exits of a Linux 5.4 host
    Two CPUID exits and nothing else reach kvm: one leaf kvm's table has, one it does not (kvm answers
    both in the kernel). The doc string is three lines of raw ftrace, as a bug report would quote them.

    Given the host trace:
      """
             CPU 1/KVM-1278472 [119] .... 246654.769260: kvm_exit: vcpu 1 reason CPUID rip 0xffffffff8104e3a1 info 0 0
             CPU 1/KVM-1278472 [119] .... 246654.769261: kvm_cpuid: func 4000001f idx 0 rax 0 rbx 0 rcx 0 rdx 0, cpuid entry not found
             CPU 1/KVM-1278472 [119] d..1 246654.769262: kvm_entry: vcpu 1
      """
    Then there is 1 VM exit
    And the exit is handled in the kernel
    And kvm handles the exit with handle_cpuid
    And the walk includes kvm_cpuid with found 0

  Scenario: The simulated walk against a host's trace of the same action
    `inl 0x1234` on the default machine: no device decodes port 0x1234, so the IN reaches qemu-kvm
    as KVM_EXIT_IO and comes back with all ones. The host trace is what a 6.1 host prints for it; at
    kvm level (the exit, kvm's handler, KVM_EXIT_IO, KVM_RUN again, the completed read, the entry)
    the model's walk and the host's agree.

    When the guest executes "inl 0x1234"
    Then the walk matches the host trace "fixtures/linux-6.1-inl-0x1234.ftrace"

  Scenario: With the syscalls tracepoints, qemu-kvm's io_submit is in the host trace too
    A kvm trace alone holds no syscall; recorded with the syscalls events of io_submit and
    io_getevents, it shows the seed's stage ⑤: qemu-kvm (aio=native) submits the write from the vCPU
    thread that handled the KVM_EXIT_IO, before it calls KVM_RUN again; its main loop reaps the
    completion with io_getevents before it raises the interrupt.

    Given the host trace "fixtures/linux-6.1-kick-with-syscalls.ftrace"
    Then the host calls io_submit
    And the host calls io_getevents
    And the walk crosses, in order:
      | from        | to          | name           |
      | VMX CPU     | kvm         | IO_INSTRUCTION |
      | kvm         | qemu-kvm    | KVM_EXIT_IO    |
      | qemu-kvm    | host kernel | io_submit      |
      | host kernel | qemu-kvm    | io_submit      |
      | qemu-kvm    | kvm         | KVM_RUN        |
      | kvm         | VMX CPU     | VMRESUME       |
