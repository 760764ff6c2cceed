Feature: Exits that come from time spent in the guest: PAUSE-loop exiting and the VMX-preemption timer

  Scenario: a long PAUSE spin loop exits as PAUSE_INSTRUCTION, and kvm grows this vCPU's window
    kvm never sets PAUSE exiting; it sets PAUSE-loop exiting with PLE_GAP 128 and PLE_WINDOW 4096
    TSC cycles (ple_gap, ple_window). A PAUSE less than PLE_GAP cycles after the previous one
    continues a loop; once a loop has run longer than PLE_WINDOW, the next PAUSE exits.
    handle_pause doubles the window (grow_ple_window: 4096 → 8192, written to the VMCS at the next
    entry), lets another vCPU of the VM run (kvm_vcpu_on_spin) and skips the PAUSE.

    When the guest spins on a lock for 10000 PAUSE instructions
    Then the VM exit reason is PAUSE_INSTRUCTION
    And kvm handles the exit with handle_pause
    And the exit is handled in the kernel
    And the walk includes kvm_ple_window_update with old 4096
    And the walk includes kvm_ple_window_update with new 8192
    And the walk includes kvm_vcpu_on_spin

  Scenario: the seed's era had PAUSE-loop exiting but no per-vCPU window to grow
    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest spins on a lock for 10000 PAUSE instructions
    Then the VM exit reason is PAUSE_INSTRUCTION
    And kvm handles the exit with handle_pause
    And the walk does not include kvm_ple_window_update

  Scenario: a guest that computes for a minute without an exit meets the soft-disabled preemption timer
    kvm keeps the VMX-preemption timer armed; with no hv timer in use it is "soft-disabled" at
    0xffffffff ticks (vmx_update_hv_timer). The timer ticks once every 2^5 TSC cycles
    (IA32_VMX_MISC[4:0] = 5), so it expires after 0xffffffff × 32 ≈ 1.37 × 10^11 cycles, about 55
    seconds at 2.5 GHz: a minute of uninterrupted guest computation meets it once. The fastpath
    (handle_fastpath_preemption_timer) declines a soft-disabled timer, so the exit reaches the
    table's handle_preemption_timer, which has nothing to deliver and re-enters.

    When the guest computes for 60 seconds
    Then the VM exit reason is PREEMPTION_TIMER
    And kvm handles the exit with handle_preemption_timer
    And the exit is handled in the kernel
    And there is 1 VM exit

  Scenario: two minutes meet it twice: the timer restarts from the VMCS value at every VM entry
    kvm does not save the timer's value at exit (no "save VMX-preemption timer value"), so each
    entry counts 55 seconds afresh: 120 s holds two of them.

    When the guest computes for 120 seconds
    Then there are 2 VM exits
    And VM exit 2 is PREEMPTION_TIMER

  Scenario: the seed's era did not use the preemption timer
    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    When the guest computes for 60 seconds
    Then there is no VM exit
