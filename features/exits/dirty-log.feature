Feature: Dirty logging: PML_FULL with page-modification logging, write-protection faults without it

  Live migration has kvm log the pages the guest writes. qemu-kvm starts it by setting
  KVM_MEM_LOG_DIRTY_PAGES on guest RAM's memslot (kvm_log_start) and collects the log with
  KVM_GET_DIRTY_LOG (kvm_physical_sync_dirty_bitmap). In 6.1 the CPU does the logging: kvm clears
  the dirty flags of the slot's EPT entries (kvm_mmu_slot_leaf_clear_dirty) and turns on
  page-modification logging (vmx_update_cpu_dirty_logging). The first write to a page sets its
  dirty flag, and the CPU writes the page's address into the 512-entry log, from index 511 down,
  with no exit. When the index has run out, the next write to a clean page is a PML_FULL exit
  before the write. kvm empties the log at the start of every exit (vmx_flush_pml_buffer), so
  handle_pml_full itself has nothing left to do; the instruction runs again and is logged. Kernels
  before 4.0 had no PML: kvm write-protects the slot, and each page's first write is an
  EPT_VIOLATION.

  The pages are written once before logging starts, so that their EPT entries exist: a page's
  first access would otherwise be an EPT_VIOLATION of its own, whose exit empties the log too.

  Scenario: 512 pages fit in the log: no exit
    Given the guest has written to 512 pages from 0x10000000
    When qemu-kvm starts logging the guest's dirty pages
    And the guest writes to 512 pages from 0x10000000
    Then there is no VM exit
    When qemu-kvm syncs the dirty bitmap
    Then KVM_GET_DIRTY_LOG reports 512 dirty pages

  Scenario: the 513th page fills the log: PML_FULL
    The 513th write finds the index out of range: one exit, whose flush moves the 512 logged
    addresses into the slot's dirty bitmap. The re-executed write logs the 513th page, and
    KVM_GET_DIRTY_LOG flushes that one too.

    Given the guest has written to 513 pages from 0x10000000
    When qemu-kvm starts logging the guest's dirty pages
    And the guest writes to 513 pages from 0x10000000
    Then the VM exits are:
      | reason   | handler         | handled in |
      | PML_FULL | handle_pml_full | kernel     |
    And the walk includes kvm_pml_full
    And the walk includes vmx_flush_pml_buffer with entries 512
    When qemu-kvm syncs the dirty bitmap
    Then KVM_GET_DIRTY_LOG reports 513 dirty pages

  Scenario: KVM_GET_DIRTY_LOG re-arms logging for the pages it reported
    kvm_get_dirty_log_protect clears the dirty flags of the pages it hands out, so writing them
    again logs them again.

    Given the guest has written to 3 pages from 0x10000000
    When qemu-kvm starts logging the guest's dirty pages
    And the guest writes to 3 pages from 0x10000000
    And qemu-kvm syncs the dirty bitmap
    And the guest writes to 2 pages from 0x10000000
    And qemu-kvm syncs the dirty bitmap
    Then KVM_GET_DIRTY_LOG reports 2 dirty pages

  Scenario: without PML (the 2013 era) each page's first write is a write-protection fault
    kvm_mmu_slot_remove_write_access takes write permission away from the slot's EPT entries.
    The first write to each page is an EPT_VIOLATION; the fault path maps the page writable again
    and marks it in the dirty bitmap. Three pages, three exits.

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    And the guest has written to 3 pages from 0x10000000
    When qemu-kvm starts logging the guest's dirty pages
    And the guest writes to 3 pages from 0x10000000
    Then the VM exits are:
      | reason        | handler              | handled in |
      | EPT_VIOLATION | handle_ept_violation | kernel     |
      | EPT_VIOLATION | handle_ept_violation | kernel     |
      | EPT_VIOLATION | handle_ept_violation | kernel     |
    When qemu-kvm syncs the dirty bitmap
    Then KVM_GET_DIRTY_LOG reports 3 dirty pages
