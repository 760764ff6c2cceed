Feature: What a step checks before it passes

  A spec is only worth its green run if each step can fail. So a step that takes a name of the
  model — a host syscall, an exit handler, a KVM_EXIT_* code, an event, a thread, a vCPU — checks
  it against the model's vocabulary before it asserts anything; an action that cannot finish is a
  state the scenario must state; and a count says which actions it counts.

  Scenario: A count covers the last action, unless it says the whole scenario
    Each CPUID exits once (CPUID exiting is unconditional in VMX non-root mode). The first action
    executes one, the second two: the last action has 2 exits, the scenario 3.

    Given the guest executes "cpuid 0x0"
    When the guest executes "cpuid 0x0; cpuid 0x1"
    Then there are 2 VM exits
    And there are 2 VM exits in the last action
    And there are 3 VM exits in the whole scenario
    And the walk includes kvm_emulate_cpuid in the whole scenario

  Scenario: A vCPU halted in qemu-kvm is a state the scenario states, not an error
    With the irqchip in userspace, HLT exits to qemu-kvm (KVM_EXIT_HLT) and the vCPU thread waits
    there for an interrupt from qemu's own APIC. Nothing here raises one, so the instruction never
    completes: the When step ends, and the Then steps say where the vCPU is.

    Given the irqchip is in userspace
    When the guest executes "hlt"
    Then the VM exits are:
      | reason | handler          | handled in   |
      | HLT    | kvm_emulate_halt | KVM_EXIT_HLT |
    And vCPU 0 stays halted in qemu-kvm
    And the instruction has not returned

  Scenario: A misspelt name and an unstated state fail, each in one line
    Given the file "features/mistakes.feature" holds:
      """
      Feature: mistakes
        Scenario: a syscall nobody makes
          When the guest process writes "hello" to "/hello.txt"
          Then the host does not call io_sumbit

        Scenario: a halt nobody mentions
          Given the irqchip is in userspace
          When the guest executes "hlt"
          Then there is 1 VM exit
      """
    When exitpath is run with: test features/mistakes.feature
    Then it exits with status 1
    And stdout includes:
      """
      unknown host syscall 'io_sumbit' — did you mean io_submit?
      """
    And stdout includes:
      """
      the last action did not complete (vCPU 0 is halted in qemu-kvm (KVM_EXIT_HLT with the irqchip in userspace)
      """
