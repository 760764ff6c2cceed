Feature: A power loss drops exactly what was not durable, and the cache mode decides what that is

  A write the guest sees acknowledged can still sit in a volatile place: the host's page cache
  (when qemu opened the image without O_DIRECT), or the disk's own write cache (a disk
  acknowledges a write once it has it in its cache; only a cache flush makes it durable). qemu's
  cache= mode chooses (block.c: bdrv_parse_cache_mode):

    cache         image opened   drive has a write cache       a guest flush becomes
    none          O_DIRECT       yes (VIRTIO_BLK_F_FLUSH)      fdatasync
    directsync    O_DIRECT       no: fdatasync after each write  (no flush is sent)
    writeback     page cache     yes                           fdatasync
    writethrough  page cache     no: fdatasync after each write  (no flush is sent)
    unsafe        page cache     yes                           nothing: flushes are ignored

  Linux AIO needs O_DIRECT, so the page-cache modes run with the thread-pool backend
  (aio=threads). fdatasync writes the file's dirty pages back and then flushes the disk's cache.
  At a power loss the page cache and the disk's write cache are gone. A real disk may have
  written some of its cache to the media on its own; this model keeps none of it — the worst
  case the contract allows — so "may be lost" reads "is lost" below.

  The guest's file gets the disk's block 2048 (byte 8,388,608; features/seed/write-walk.feature
  derives it). A drive without a write cache (directsync, writethrough) has the guest's writes on
  the media when they complete: qemu opens the image O_DSYNC (directsync) or calls fdatasync after
  each write (writethrough), once per write request.

  Scenario Outline: cache=<cache>: without a guest flush, what is acknowledged is <fate>
    An O_DIRECT write of one block to a new file: write() returns when the device has completed
    the data's write request, and sends no flush. (The open and the allocation read three blocks
    first — reads need no sync.)

    Given the VM is configured as:
      """
      disk:
        backend: <backend>
        cache: <cache>
      """
    When the guest process writes 4 KiB of "h" to "/data" with O_DIRECT
    Then the write returns 4096
    And the host calls fdatasync <syncs> times
    And the data at byte 8388608 is <where>
    When the host loses power
    Then the disk image <after> "hhhh" at byte 8388608

    Examples:
      | cache        | backend   | fate    | syncs | where                      | after         |
      | none         | linux-aio | lost    | 0     | in the disk's write cache  | does not hold |
      | directsync   | linux-aio | durable | 1     | on stable storage          | holds         |
      | writeback    | threads   | lost    | 0     | in the host page cache     | does not hold |
      | writethrough | threads   | durable | 1     | on stable storage          | holds         |
      | unsafe       | threads   | lost    | 0     | in the host page cache     | does not hold |

  Scenario Outline: cache=<cache>: data written before a guest fsync is <fate> after the fsync
    A buffered write, then fsync: it writes the data block and the inode's block, then flushes.
    fsync becomes a VIRTIO_BLK_T_FLUSH only when the drive tells the guest it has a write cache:
    with none and writeback that is one fdatasync; with directsync and writethrough there is no
    flush, but each of the two writes was synced as it was written: two. With unsafe the flush
    reaches qemu and stops there.

    Given the VM is configured as:
      """
      disk:
        backend: <backend>
        cache: <cache>
      """
    And the guest process writes "hello" to "/hello.txt" through the page cache
    When the guest process calls fsync on "/hello.txt"
    Then the call returns 0
    And the host calls fdatasync <syncs> times
    And the data at byte 8388608 is <where>
    When the host loses power
    Then the disk image <after> "hello" at byte 8388608

    Examples:
      | cache        | backend   | fate    | syncs | where                   | after         |
      | none         | linux-aio | durable | 1     | on stable storage       | holds         |
      | directsync   | linux-aio | durable | 2     | on stable storage       | holds         |
      | writeback    | threads   | durable | 1     | on stable storage       | holds         |
      | writethrough | threads   | durable | 2     | on stable storage       | holds         |
      | unsafe       | threads   | lost    | 0     | in the host page cache  | does not hold |
