Feature: exitpath stat and exitpath conform on the command line

  `exitpath stat FILE…` is perf kvm stat report for any kvm trace, and `exitpath conform ACTION FILE`
  sets a simulated action against a host's trace of it. A line the importer cannot read is listed with
  its number and text (stat reads on); with `--strict` the first one is an error. Bad input is one line
  on stderr and exit status 2, as everywhere in exitpath.

  Scenario: --strict: the first unreadable line is an error naming the file, the line and what was expected
    Given the file "trace.txt" holds:
      """
             CPU 0/KVM-2187    [005] d..1.  5123.004101: kvm_entry: vcpu 0, rip 0xffffffff815a8c78
      kvm_exit reason HLT
      """
    When exitpath is run with: stat trace.txt --strict
    Then it exits with status 2
    And it prints nothing on stdout
    And stderr is the one line:
      """
      exitpath: trace.txt:2: expected a trace line: TASK-PID [CPU] [FLAGS] TIMESTAMP: EVENT: PAYLOAD (ftrace, trace-cmd) or COMM TID [CPU] TIMESTAMP: kvm:EVENT: PAYLOAD (perf script): kvm_exit reason HLT
      """

  Scenario: A payload of a known tracepoint that does not read is reported by what its format expects
    Given the file "trace.txt" holds:
      """
             CPU 0/KVM-2187    [005] d..1.  5123.004101: kvm_exit: vcpu 0 reason HLT
      """
    When exitpath is run with: stat trace.txt --strict
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: trace.txt:1: kvm_exit: expected " rip 0x…" after the exit reason: CPU 0/KVM-2187    [005] d..1.  5123.004101: kvm_exit: vcpu 0 reason HLT
      """

  Scenario: Options are checked before any file is read
    When exitpath is run with: stat trace.txt --event syscalls
    Then it exits with status 2
    And stderr is the one line:
      """
      exitpath: --event syscalls: expected vmexit, ioport or mmio
      """

  Scenario: conform's status says whether the host agrees
    The host trace holds the kvm-level walk of `inl 0x1234` and, before it, an exit the simulated
    machine does not take (a host timer interrupt): the walks differ, and conform exits with 1.

    Given the file "host.txt" holds:
      """
             CPU 0/KVM-2187    [005] d..1.  6001.219001: kvm_exit: vcpu 0 reason EXTERNAL_INTERRUPT rip 0xffffffffc0a4f012 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x800000ec error_code 0x00000000
             CPU 0/KVM-2187    [005] d..1.  6001.219002: kvm_entry: vcpu 0, rip 0xffffffffc0a4f012
             CPU 0/KVM-2187    [005] d..1.  6001.220010: kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0xffffffffc0a4f012 info1 0x000000001234000b info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000
             CPU 0/KVM-2187    [005] .....  6001.220011: kvm_fpu: unload
             CPU 0/KVM-2187    [005] .....  6001.220011: kvm_userspace_exit: reason KVM_EXIT_IO (2)
             CPU 0/KVM-2187    [005] .....  6001.220028: kvm_fpu: load
             CPU 0/KVM-2187    [005] .....  6001.220029: kvm_pio: pio_read at 0x1234 size 4 count 1 val 0xffffffff 
             CPU 0/KVM-2187    [005] d..1.  6001.220030: kvm_entry: vcpu 0, rip 0xffffffffc0a4f013
      """
    When exitpath is run with: conform "inl 0x1234" host.txt
    Then it exits with status 1
