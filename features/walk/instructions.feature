Feature: One instruction, decided by the VMCS and handled where kvm handles it

  Scenario: cpuid always exits and kvm emulates it in the kernel
    When the guest executes "cpuid 0x0"
    Then the VM exit reason is CPUID
    And kvm handles the exit with kvm_emulate_cpuid
    And the exit is handled in the kernel
    And the host makes no syscall
    And the instruction returns 13

  Scenario: A port nobody claims goes to qemu-kvm, which reads all ones from unassigned I/O
    When the guest executes "inl 0x1234"
    Then the VM exit reason is IO_INSTRUCTION
    And kvm handles the exit with handle_io
    And the exit reaches qemu-kvm as KVM_EXIT_IO
    And the instruction returns 0xffffffff

  Scenario: rdtsc runs natively: kvm does not set RDTSC exiting
    When the guest executes "rdtsc"
    Then there is no VM exit

  Scenario: The seed's era names the cpuid handler handle_cpuid
    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest executes "cpuid 0x0"
    Then kvm handles the exit with handle_cpuid
