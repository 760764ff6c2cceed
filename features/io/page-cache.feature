Feature: Buffered writes go to the guest's page cache; fsync writes them back

  Without O_DIRECT or O_SYNC, write() copies into the guest's page cache and returns. ext2 still
  allocates at write() time (ext2_write_begin → ext2_get_block with create): a new file's inode and
  block come from the bitmaps, which ext2 reads from the disk the first time it needs them — but
  nothing is written. The data, the inode, the bitmaps, the group descriptor and the directory
  entry all stay dirty in the caches until something writes them back: here, fsync.

  Scenario: A buffered write to a new file reads what ext2 needs to allocate and writes nothing
    The root directory's block (516, to look the name up and add it), the inode bitmap (block 3,
    ext2_new_inode) and the block bitmap (block 2, ext2_new_blocks): three reads, each a synchronous
    request and its four exits. No write request: the data is only in the page cache.

    When the guest process writes "cached" to "/c.txt" through the page cache
    Then the write returns 6
    And the block requests are:
      | call   | op   | block |
      | openat | read | 516   |
      | openat | read | 3     |
      | write  | read | 2     |
    And there are 12 VM exits
    And the disk image is blank at byte 8388608

  Scenario: Once ext2's blocks are cached, a buffered write causes no VM exit at all
    The first file read the directory's block and both bitmaps into the guest's caches; a second
    new file finds them there.

    Given the guest process writes "first" to "/a.txt" through the page cache
    When the guest process writes "cached" to "/c.txt" through the page cache
    Then the write returns 6
    And there is no VM exit
    And the host makes no syscall

  Scenario: fsync writes the dirty pages back in one request, then the inode, then flushes
    A 16 KiB buffered write dirties 4 pages; ext2 gave them blocks 2048 to 2051, contiguous, so
    mpage_writepages puts the four pages in one bio: one 16 KiB write request. Then generic_file_fsync
    writes the inode (its table block, 4) and flushes the disk's cache: three requests, one kick each,
    and the host sees two io_submit (the data, the inode) and one fdatasync (the flush, from qemu's
    thread pool).

    Given the guest process writes 16 KiB of "z" to "/big" through the page cache
    When the guest process calls fsync on "/big"
    Then the call returns 0
    And the block requests are:
      | op    | block | blocks |
      | write | 2048  | 4      |
      | write | 4     | 1      |
      | flush |       |        |
    And the guest kicks the device 3 times
    And the host calls io_submit 2 times
    And the host calls fdatasync
    And the disk image holds "zzzz" at byte 8388608
    And the disk image holds "zzzz" at byte 8404988
