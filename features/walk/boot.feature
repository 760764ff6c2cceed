Feature: A fresh VM boots before the action, and enters the guest with VMLAUNCH once

  The VMCS starts "clear"; kvm enters with VMLAUNCH while loaded_vmcs->launched is 0 and with
  VMRESUME ever after. The boot — x2APIC on, the IOAPIC route for the disk's interrupt, the
  virtio-blk driver's handshake through the legacy registers — is left out of a trace unless asked.

  Scenario: With the boot traced, the first entry is VMLAUNCH and every later one VMRESUME
    Given the boot is traced
    When the guest executes "cpuid 0x0"
    Then the first VM entry is VMLAUNCH
    And every later VM entry is VMRESUME

  Scenario: Without it, the action starts in a running guest
    When the guest executes "cpuid 0x0"
    Then every VM entry is VMRESUME
    And there is 1 VM exit

  Scenario: The driver set the device up through its registers during boot
    Given the boot is traced
    When the guest executes "cpuid 0x0"
    Then the walk crosses, in order:
      | from         | to       | name           |
      | qemu-kvm     | kvm      | KVM_CREATE_VM  |
      | qemu-kvm     | kvm      | KVM_CREATE_VCPU |
      | kvm          | VMX CPU  | VMLAUNCH       |
      | guest kernel | VMX CPU  | outb           |
      | kvm          | qemu-kvm | KVM_EXIT_IO    |
      | guest kernel | VMX CPU  | outl           |
      | guest kernel | VMX CPU  | cpuid          |
