Feature: fsync returns when every byte is on the disk, however many requests that takes

  fsync (ext2_fsync → generic_file_fsync) writes the file's dirty pages back and waits for every
  one of them (file_write_and_wait_range: __filemap_fdatawrite_range, then
  __filemap_fdatawait_range), writes its indirect blocks and its inode, then flushes the disk's
  cache. A file can take more requests than the virtqueue holds at once: a request needs one
  descriptor per segment plus two (header, status), and when the ring has no room virtio_queue_rq
  kicks, stops the hardware queue (blk_mq_stop_hw_queue) and returns BLK_STS_DEV_RESOURCE; the
  request and those after it wait on hctx->dispatch until virtblk_done restarts the queue
  (blk_mq_start_stopped_hw_queues) and kblockd dispatches them again. Nothing is dropped, and fsync
  returns only after the last page's request has completed.

  The file's data says where each 512-byte sector belongs; after the fsync the host loses power.
  The check reads the file by its inode — the one ext2_new_inode gave it — since fsync does not
  make the directory entry durable (features/faults/ext2-crash.feature). Every cache mode that
  promises durability, from 1 KiB to 64 MiB, and on 64 MiB through the request pool and the ring
  both, is swept by `npm run durability` (scripts/durability.ts); here are the cases that show the
  mechanism.

  Scenario: Two files written in turns: one fsync sends more requests than the ring holds, each one kept until it fits
    On 1 KiB blocks, /a and /b written 1 KiB at a time in turns get their blocks in turns: each
    block goes to the first free one after its file's last (ext2_new_blocks from the goal
    ext2_find_goal gives), which the other file has just taken. So no two of /a's blocks are
    adjacent, and each of its 90 blocks is a request of its own. fsync sends those 90 writes,
    then its indirect block (blocks 13 on are mapped through it: sync_mapping_buffers), then the
    inode — whose inode table block is not cached (a 1 KiB block holds 8 inodes; the mount read
    the one with inodes 1 to 8, and /a is inode 12), so ext2_write_inode reads it and
    sync_dirty_buffer writes it — and the flush: 90 + 1 + 2 + 1 = 94 requests.
    Each data request takes three descriptors (header, one 1 KiB segment, status), and the ring
    has 256: 85 fit. The writeback plug hands blk-mq its requests 32 at a time
    (BLK_MAX_REQUEST_COUNT); the third batch finds the ring full at its 22nd request (64 + 21 = 85),
    and from then on each completion makes room for the next. cache=none with Linux AIO: the flush
    is qemu's fdatasync, so what fsync promised is on the media.

    Given the VM is configured as:
      """
      disk:
        ext2_block_size: 1024
      """
    And the guest process writes 90 KiB of patterned data to "/a" and to "/b" in turns, 1 KiB at a time, through the page cache
    When the guest process calls fsync on "/a"
    Then the call returns 0
    And the guest sends 94 block requests
    And the guest found the virtqueue full and completions restarted its queue
    And the host calls fdatasync 1 time
    When the host loses power
    Then every byte the process wrote to "/a" is on the disk

  Scenario: cache=unsafe promises nothing: qemu ignores the flush, and the power loss takes the file
    qemu's cache=unsafe drops the guest's flushes (BDRV_O_NO_FLUSH): fsync returns 0 while the data
    is still in the host's page cache, and the power loss takes it.

    Given the VM is configured as:
      """
      disk:
        backend: threads
        cache: unsafe
      """
    And the guest process writes 64 KiB of patterned data to "/f" through the page cache
    When the guest process calls fsync on "/f"
    Then the call returns 0
    And the host does not call fdatasync
    When the host loses power
    Then what the process wrote to "/f" is not on the disk

  Scenario: The seed's Linux 3.2 guest: fsync sends no flush, and the power loss takes the data from the disk's cache
    Linux 3.2's generic_file_fsync writes the data and the inode and returns: the flush after them
    (blkdev_issue_flush) came with Linux 3.16. qemu-kvm 0.14 with cache=none writes the image
    O_DIRECT, past the host's page cache into the disk's volatile write cache, and nothing asks the
    disk to flush it: fsync returns 0, the host never calls fdatasync, and the power loss takes
    the file.

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      """
    And the guest process writes 64 KiB of patterned data to "/f" through the page cache
    When the guest process calls fsync on "/f"
    Then the call returns 0
    And the host does not call fdatasync
    When the host loses power
    Then what the process wrote to "/f" is not on the disk

  Scenario: The seed's Linux 3.2 guest on a disk without a write cache: the request queue stops when the ring is full, and the completion interrupt runs it again
    With the disk's own write cache off, a write the host completes is on the media, so 3.2's
    fsync keeps its promise without a flush. Its request queue (no blk-mq before 3.13) takes
    single-block writes as above, here 50 of them: the writeback plug moves them to the queue 16
    at a time (3.2's BLK_MAX_REQUEST_COUNT) and __blk_run_queue runs the request function,
    do_virtblk_request, which puts each on the ring (do_req) until one does not fit. qemu-kvm
    0.14's ring has 128 descriptors: 42 requests fit (126 descriptors), the 43rd — the third
    batch's 11th — stays at the head of the queue and the queue is stopped (blk_stop_queue). Every
    completion interrupt's blk_done calls blk_start_queue, which runs the request function right
    there, in the interrupt handler: it issues what now fits and kicks. The requests: the 50
    writes, the indirect block, the inode table block read and written — 53, and no flush.

    Given the VM is configured as:
      """
      profile: qemu-kvm-2013
      disk:
        ext2_block_size: 1024
      """
    And the disk's own write cache is off
    And the guest process writes 50 KiB of patterned data to "/a" and to "/b" in turns, 1 KiB at a time, through the page cache
    When the guest process calls fsync on "/a"
    Then the call returns 0
    And the guest sends 53 block requests
    And the guest found the virtqueue full and completions restarted its queue
    And the walk runs, in order:
      | in           | name               |
      | guest kernel | blk_stop_queue     |
      | guest kernel | blk_done           |
      | guest kernel | blk_start_queue    |
      | guest kernel | do_virtblk_request |
      | guest kernel | virtqueue_kick     |
    When the host loses power
    Then every byte the process wrote to "/a" is on the disk
