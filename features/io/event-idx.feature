Feature: VIRTIO_RING_F_EVENT_IDX: interrupts suppressed by index

  With EVENT_IDX the driver tells the device, in `used_event` (after the avail ring), which used
  index it wants to be interrupted for, and the device interrupts only when its used index passes
  it (vring_need_event); the device likewise publishes `avail_event` for kicks. qemu offers the
  feature unless `event_idx=off`, and the guest driver takes it.

  The example: 16 KiB through the page cache, then fsync, with MSI-X. Writeback queues 4 write
  requests (one kick); qemu merges the 4 contiguous blocks into one 16 KiB I/O (one io_submit), so
  one completion finishes all 4 requests one after another, and each calls virtio_notify.
  - Without EVENT_IDX every one of those notifies sends an MSI: 4 KVM_SIGNAL_MSI, then 1 for the
    FLUSH — 5. The guest still takes only 2 interrupts: the 4 messages carry the same vector and
    coalesce in the local APIC's IRR before the vCPU runs.
  - With EVENT_IDX the driver's used_event stands at 1 (it last re-enabled callbacks after the
    boot's partition read): the first completion (used index 2) passes it, the next three do not.
    After the guest consumed them it asks for index 5; the FLUSH's completion (6) passes it: 2 MSIs.

  Scenario Outline: event_idx=<event_idx>
    Given the VM is configured as:
      """
      disk:
        vectors: 2
        event_idx: <event_idx>
      """
    And the guest process writes 16 KiB of "e" to "/burst" through the page cache
    When the guest process calls fsync on "/burst"
    Then the host calls io_submit 1 time
    And the host calls KVM_SIGNAL_MSI <msis> times
    And the guest takes 2 interrupts
    And the guest kicks the device 2 times

    Examples:
      | event_idx | msis |
      | true      | 2    |
      | false     | 5    |
