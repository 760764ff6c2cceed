Feature: VIRTIO_RING_F_EVENT_IDX: kicks and interrupts suppressed by index

  With EVENT_IDX the driver tells the device, in `used_event` (after the avail ring), which used
  index it wants to be interrupted for, and the device interrupts only when its used index passes
  it (vring_need_event); the device likewise publishes `avail_event` for kicks, when it pops. qemu
  offers the feature unless `event_idx=off`, and the guest driver takes it.

  The example: 4 MiB through the page cache, then fsync, with ioeventfd and MSI-X. The file's
  blocks are 2048 to 2059 (its 12 direct blocks), its indirect block 2060, then 2061 to 3072:
  mpage_writepages builds two bios, of 48 KiB and 4,048 KiB, and blk-mq splits the second at
  1,280 KiB (max_sectors: 2,560 sectors): requests of 48 KiB, 1,280 KiB three times and 208 KiB.
  Under the plug the second joins the first (48 KiB is under BLK_PLUG_FLUSH_SIZE, 128 KiB); each
  later one finds a large request at the plug's end and flushes it first (blk_add_rq_to_plug): the
  driver gets the five in four dispatches. With ioeventfd a kick does not stop the vCPU for qemu,
  so the guest has queued all five by the time qemu's main loop pops them — at once; the four
  contiguous ones merge into one I/O (virtio_blk_submit_multireq): one io_submit with two iocbs.
  Then fsync writes the indirect block (sync_mapping_buffers) and the inode, and flushes: three
  more requests, one at a time. io_submit: 1 + 2 = 3.
  - Kicks. Without EVENT_IDX every dispatch kicks (qemu sets VRING_USED_F_NO_NOTIFY only while it
    processes the queue, and it has not started): 4 + 3 = 7. With it, only the first dispatch
    passes avail_event, which qemu moves when it pops: 1 + 3 = 4.
  - MSIs. The 48 KiB iocb completes one request, the merged one four at once, and each completed
    request calls virtio_notify. Without EVENT_IDX each sends an MSI: 1 + 4 + 3 = 8 KVM_SIGNAL_MSI.
    With it, used_event lets one through per completion: 1 + 1 + 3 = 5.
  - The guest takes 5 interrupts either way: the merged completion's MSIs carry the same vector and
    coalesce in the local APIC's IRR before the vCPU runs.

  Scenario Outline: event_idx=<event_idx>
    Given the VM is configured as:
      """
      ioeventfd: true
      disk:
        vectors: 2
        event_idx: <event_idx>
      """
    And the guest process writes 4096 KiB of "e" to "/burst" through the page cache
    When the guest process calls fsync on "/burst"
    Then the guest sends 8 block requests
    And the host calls io_submit 3 times
    And the host calls KVM_SIGNAL_MSI <msis> times
    And the guest takes 5 interrupts
    And the guest kicks the device <kicks> times

    Examples:
      | event_idx | msis | kicks |
      | true      | 5    | 4     |
      | false     | 8    | 7     |
