Feature: fsync returns when every byte is on the disk, however many requests that takes

  fsync (ext2_fsync → generic_file_fsync) writes the file's dirty pages back and waits for every
  one of them (file_write_and_wait_range: __filemap_fdatawrite_range, then
  __filemap_fdatawait_range), writes its indirect blocks and its inode, then flushes the disk's
  cache. A large file takes more requests than the queue holds at once:
  - blk-mq has 128 tags (virtblk_probe: the ring's 256 descriptors, halved because without
    indirect descriptors a request takes at least two); with none free, the writer flushes its
    plug and sleeps until a completion frees one (blk_mq_get_tag);
  - a request needs one descriptor per segment plus two (header, status): when the ring has no
    room, virtio_queue_rq kicks, stops the hardware queue (blk_mq_stop_hw_queue) and returns
    BLK_STS_DEV_RESOURCE; the request and those after it wait on hctx->dispatch until virtblk_done
    restarts the queue (blk_mq_start_stopped_hw_queues) and kblockd dispatches them again.
  Nothing is dropped, and fsync returns only after the last page's request has completed.

  The file is new, written through the page cache with data that says where each 512-byte sector
  belongs, then fsync'ed; then the host loses power. The check reads the file by its inode — the
  one ext2_new_inode gave it — since fsync does not make the directory entry durable
  (features/faults/ext2-crash.feature). The disk is 128 MiB, room for the largest file.

  Scenario Outline: <size> <unit> with cache=<cache>: every byte survives
    With 4 KiB blocks the file's data is contiguous but for its indirect blocks: 344 KiB is the
    data in two bios (the 12 direct blocks, the rest after the indirect block), 4 MiB six requests
    once blk-mq splits at 1,280 KiB. 64 MiB is in the last scenario, on 1 KiB blocks, where it takes
    more requests than the queue holds.

    Given the VM is configured as:
      """
      disk:
        size_mib: 128
        backend: <backend>
        cache: <cache>
      """
    And the guest process writes <size> <unit> of patterned data to "/f" through the page cache
    When the guest process calls fsync on "/f"
    Then the call returns 0
    When the host loses power
    Then every byte the process wrote to "/f" is on the disk

    Examples:
      | size | unit | cache        | backend   |
      | 1    | KiB  | none         | linux-aio |
      | 344  | KiB  | none         | linux-aio |
      | 4    | MiB  | none         | linux-aio |
      | 1    | KiB  | directsync   | linux-aio |
      | 344  | KiB  | directsync   | linux-aio |
      | 4    | MiB  | directsync   | linux-aio |
      | 1    | KiB  | writeback    | threads   |
      | 344  | KiB  | writeback    | threads   |
      | 4    | MiB  | writeback    | threads   |
      | 1    | KiB  | writethrough | threads   |
      | 344  | KiB  | writethrough | threads   |
      | 4    | MiB  | writethrough | threads   |

  Scenario: cache=unsafe promises nothing: qemu ignores the flush, and the power loss takes the file
    Given the VM is configured as:
      """
      disk:
        backend: threads
        cache: unsafe
      """
    And the guest process writes 344 KiB of patterned data to "/f" through the page cache
    When the guest process calls fsync on "/f"
    Then the call returns 0
    When the host loses power
    Then what the process wrote to "/f" is not on the disk

  Scenario Outline: 64 MiB on 1 KiB blocks with cache=<cache>: more requests than the ring holds, each requeued until it fits
    With 1 KiB blocks an indirect block maps 256 data blocks and sits on the disk just before
    them, so every 256 KiB of the file is a bio of its own: at least 65,536 / 256 = 256 data
    requests, each of 3 descriptors (its pages are contiguous in guest memory), and the indirect
    blocks' own requests after them — more than the 128 tags, and the ring's 256 descriptors hold
    85 such requests: the writer waits for tags, the driver finds the ring full and turns requests
    away until completions restart the queue. Whatever the cache mode, every byte arrives.

    Given the VM is configured as:
      """
      disk:
        size_mib: 128
        ext2_block_size: 1024
        backend: <backend>
        cache: <cache>
      """
    And the guest process writes 64 MiB of patterned data to "/f" through the page cache
    When the guest process calls fsync on "/f"
    Then the call returns 0
    And blk-mq found the virtqueue full and requeued requests until completions restarted it
    When the host loses power
    Then every byte the process wrote to "/f" is on the disk

    Examples:
      | cache        | backend   |
      | none         | linux-aio |
      | directsync   | linux-aio |
      | writeback    | threads   |
      | writethrough | threads   |
