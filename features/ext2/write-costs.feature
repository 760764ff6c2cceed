Feature: What a write() costs on ext2: the block requests, each from ext2's rules

  The guest's disk holds ext2 as the model's mkfs made it: 4 KiB blocks, the block bitmap at
  block 2, the inode bitmap at 3, the inode table from 4 (128-byte inodes, 32 to a block: inodes
  1 to 32 in block 4), the root directory at 516 (features/seed/write-walk.feature lists it all).
  The mount read the superblock, the group descriptors and inode table block 4; a fresh VM has
  read nothing else. Every request is synchronous and costs the seed's four exits.

  ext2's rules, as Linux 6.1 applies them:
  - open(O_CREAT) of a new name reads the directory's block (ext2_lookup) and the inode bitmap
    (ext2_new_inode): the new inode is 12; the first write allocates, which reads the block
    bitmap (ext2_new_blocks): the file's first block is 2048 (ext2_find_near's goal for pid 1).
    Each of these is read once; later changes stay in the buffer cache.
  - fsync (ext2_fsync → generic_file_fsync) writes the file's dirty pages, then the metadata
    buffers tied to the inode — its indirect blocks (sync_mapping_buffers) — then the inode if it
    is dirty (sync_inode_metadata, its table block), then flushes the disk's cache. fdatasync
    skips the inode when only its times changed (I_DIRTY_SYNC without I_DIRTY_DATASYNC).
  - O_SYNC makes write() do that fsync for the range it wrote (generic_write_sync); O_DIRECT
    sends the data from the user's pages at once and writes no metadata; a plain write() only
    fills the page cache.
  - The bitmaps, the group descriptor and the directory's block are never part of a file's
    fsync: they reach the disk at sync, unmount, or an fsync of the directory.

  Scenario: A 5-byte O_SYNC write to a new file: the data, the inode, a flush
    The seed's write. After the open's two reads, write() reads the block bitmap to allocate,
    then generic_write_sync writes the data block and the inode's table block and flushes: four
    requests, 16 exits; the bitmaps and the directory's new entry stay behind.

    When the guest process writes "hello" to "/hello.txt" with O_SYNC
    Then the block requests are:
      | call   | op    | block | blocks |
      | openat | read  | 516   | 1      |
      | openat | read  | 3     | 1      |
      | write  | read  | 2     | 1      |
      | write  | write | 2048  | 1      |
      | write  | write | 4     | 1      |
      | write  | flush |       |        |
    And the write call takes 16 VM exits

  Scenario: The same with O_DIRECT, aligned: the data only; the inode waits for fsync
    A 4 KiB O_DIRECT write is aligned, so do_blockdev_direct_IO takes it: ext2_get_block
    allocates (the block bitmap's read), and the user's page goes to block 2048. write() grows
    i_size and marks the inode dirty, and returns: no inode write, no flush. The fsync after it
    has no page to write: the inode's block and the flush.

    When the guest process writes 4 KiB of "d" to "/d" with O_DIRECT
    Then the block requests are:
      | call   | op    | block | blocks |
      | openat | read  | 516   | 1      |
      | openat | read  | 3     | 1      |
      | write  | read  | 2     | 1      |
      | write  | write | 2048  | 1      |
    When the guest process calls fsync on "/d"
    Then the block requests are:
      | call  | op    | block | blocks |
      | fsync | write | 4     | 1      |
      | fsync | flush |       |        |

  Scenario: O_DIRECT and O_SYNC together: the data, then the inode and the flush
    When the guest process writes 4 KiB of "d" to "/d" with O_DIRECT|O_SYNC
    Then the block requests are:
      | call   | op    | block | blocks |
      | openat | read  | 516   | 1      |
      | openat | read  | 3     | 1      |
      | write  | read  | 2     | 1      |
      | write  | write | 2048  | 1      |
      | write  | write | 4     | 1      |
      | write  | flush |       |        |

  Scenario: Buffered writes coalesce at fsync
    Three 4 KiB writes through the page cache — the first creates the file, the other two append —
    allocate blocks 2048, 2049 and 2050 (each goal the last block + 1) and send nothing. fsync's
    mpage_writepages finds the three dirty pages contiguous on the disk: one bio, one 12 KiB
    request; then the inode and the flush. Three requests and three kicks for three write() calls.

    Given the guest process writes 4 KiB of "a" to "/log" through the page cache
    And the guest process writes 4 KiB of "b" to "/log" with O_APPEND
    And the guest process writes 4 KiB of "c" to "/log" with O_APPEND
    When the guest process calls fsync on "/log"
    Then the block requests are:
      | op    | block | blocks |
      | write | 2048  | 3      |
      | write | 4     | 1      |
      | flush |       |        |
    And the guest kicks the device 3 times

  Scenario: Past 12 blocks a file needs its indirect block, and fsync writes it too
    52 KiB is 13 blocks: the 12 direct ones at 2048–2059; block 12 needs the indirect block,
    which ext2_alloc_branch allocates first, at 2060, so block 12 lands at 2061. The indirect
    block is zeroed in the buffer cache and tied to the inode (mark_buffer_dirty_inode).
    fsync: mpage_writepages makes two bios (2060 breaks the run) — under one plug, the first is
    48 KiB (under BLK_PLUG_FLUSH_SIZE), so both go to the driver together with one kick —, then
    sync_mapping_buffers writes the indirect block, then the inode, then the flush: five requests,
    four kicks.

    Given the guest process writes 52 KiB of "i" to "/big" through the page cache
    When the guest process calls fsync on "/big"
    Then the block requests are:
      | op    | block | blocks |
      | write | 2048  | 12     |
      | write | 2061  | 1      |
      | write | 2060  | 1      |
      | write | 4     | 1      |
      | flush |       |        |
    And the guest kicks the device 4 times

  Scenario: fdatasync leaves an inode whose only change is its times; fsync writes it
    Two seconds after the file was written, an overwrite of its first block changes its data and
    its mtime (file_update_time: I_DIRTY_SYNC), not its size or its blocks. fdatasync writes the
    page and flushes. After two more seconds the same overwrite, then fsync: the page, the inode,
    the flush.

    Given the guest process writes 8 KiB of "v" to "/v" with O_SYNC
    And the guest computes for 2 seconds
    And the guest process writes 4 KiB of "w" to "/v" through the page cache
    When the guest process calls fdatasync on "/v"
    Then the block requests are:
      | call      | op    | block |
      | fdatasync | write | 2048  |
      | fdatasync | flush |       |
    Given the guest computes for 2 seconds
    And the guest process writes 4 KiB of "x" to "/v" through the page cache
    When the guest process calls fsync on "/v"
    Then the block requests are:
      | call  | op    | block |
      | fsync | write | 2048  |
      | fsync | write | 4     |
      | fsync | flush |       |

  Scenario: On 1 KiB blocks the seed's write also reads its inode's table block
    mkfs with 1 KiB blocks: eight groups of 8,192 blocks, the first starting at block 1 (its
    superblock), the descriptors at 2, the block bitmap at 3, the inode bitmap at 4, the inode
    table at 5 to 260 (2,048 inodes of 128 bytes, 8 to a block), the root directory at 261. The
    mount read table block 5 (inodes 1 to 8, the root); inode 12 is in block 6, which the inode's
    write must read first (sync_dirty_buffer on a buffer sb_bread filled). The data goes to the
    group's first block plus the pid colour: 1 + 1 × 8,192 / 16 = 513. Seven requests.

    Given the VM is configured as:
      """
      disk:
        ext2_block_size: 1024
      """
    When the guest process writes "hello" to "/hello.txt"
    Then the block requests are:
      | call   | op    | block | blocks |
      | openat | read  | 261   | 1      |
      | openat | read  | 4     | 1      |
      | write  | read  | 3     | 1      |
      | write  | write | 513   | 1      |
      | write  | read  | 6     | 1      |
      | write  | write | 6     | 1      |
      | write  | flush |       |        |
    And there are 28 VM exits
