Feature: After a power loss, e2fsck finds what ext2 without a journal may leave — never a lost fsync

  ext2 writes its metadata in no particular order and keeps no journal: a power loss can leave
  the disk between two of its writes. What the real e2fsck -fn then reports follows from which
  blocks reached the media: an inode in use that no directory names (pass 4, "Unattached inode"),
  a name whose inode was never written (pass 2, "deleted/unused inode"), blocks and inodes in use
  that the bitmaps do not mark (pass 5, "bitmap differences"), counts that disagree with the
  bitmaps. What it never finds is a file whose fsync returned with its data missing: fsync writes
  the file's data and its inode, then flushes (ext2_fsync → generic_file_fsync), so the inode
  holds the data whatever else is lost — by its name only if the directory was synced too.

  The disk is the model's mkfs's (features/seed/write-walk.feature lists its blocks). A new file
  gets inode 12 and block 2048. e2fsck runs read-only: each finding comes with its "no".

  Scenario: An O_SYNC write to a new file: the data and the inode survive, its name and the bitmaps do not
    write() wrote the data block and the inode's table block and flushed the disk's cache. The
    directory's block, the bitmaps, the group descriptor were only dirty in the guest's caches.
    On the disk inode 12 is in use (links 1) and owns block 2048, but no entry names it and
    neither bitmap marks it.

    When the guest process writes "hello" to "/hello.txt"
    And the host loses power
    Then inode 12 on the disk holds "hello"
    And the disk has no file "/hello.txt"
    And e2fsck -fn exits with 4 and reports:
      """
      Unattached inode 12
      Connect to /lost+found? no
      Block bitmap differences:  +2048
      Fix? no
      Inode bitmap differences:  +12
      Fix? no
      IMAGE: ********** WARNING: Filesystem still has errors **********
      """

  Scenario: fsync of the directory makes the name durable; the bitmaps are still behind
    fsync on the directory writes its dirty page (the block with the new entry) and its inode,
    and flushes. The bitmaps and the descriptor are the device's buffers, which neither fsync
    writes.

    When the guest process writes "hello" to "/hello.txt"
    And the guest process calls fsync on "/"
    And the host loses power
    Then the file "/hello.txt" on the disk holds "hello"
    And e2fsck -fn exits with 4 and reports:
      """
      Block bitmap differences:  +2048
      Fix? no
      Inode bitmap differences:  +12
      Fix? no
      IMAGE: ********** WARNING: Filesystem still has errors **********
      """

  Scenario: sync(2) with the disk's cache on: ext2 sends no flush, and the power loss takes what it wrote
    sync writes every dirty inode, page and buffer, but ext2's sync_fs issues no cache flush: with
    cache=none every one of those writes is in the disk's volatile cache, and the power loss drops
    them. What remains is what the write's own fsync flushed: the same findings as after the write.

    When the guest process writes "hello" to "/hello.txt"
    And the guest process calls sync
    And the host loses power
    Then e2fsck -fn exits with 4 and reports:
      """
      Unattached inode 12
      Connect to /lost+found? no
      Block bitmap differences:  +2048
      Fix? no
      Inode bitmap differences:  +12
      Fix? no
      IMAGE: ********** WARNING: Filesystem still has errors **********
      """

  Scenario: sync(2) on a drive without a volatile cache: everything it wrote is on the media
    With cache=directsync the drive tells the guest it has no write cache, and qemu writes the
    image with O_DSYNC: each write is on the media when it completes. After sync nothing is left
    behind: e2fsck finds nothing.

    Given the VM is configured as:
      """
      disk:
        cache: directsync
      """
    When the guest process writes "hello" to "/hello.txt"
    And the guest process calls sync
    And the host loses power
    Then e2fsck finds the disk clean
    And the file "/hello.txt" on the disk holds "hello"

  Scenario: A buffered write nobody synced leaves no trace at all
    It read the directory's block and the bitmaps, and wrote nothing: the disk is as the mount
    left it, and the file does not exist.

    When the guest process writes "hello" to "/b" through the page cache
    And the host loses power
    Then e2fsck finds the disk clean
    And the disk has no file "/b"

  Rule: Power lost in the middle of sync(2)
    A buffered write to "/b", then sync, with the disk's cache off so that each write is on the
    media when it is done. sync writes, in order (sync_inodes_sb, inode by inode, its pages then
    its inode; ext2_sync_fs; sync_bdevs): 1. the directory's block 516, with the entry "b";
    2. the root's inode (table block 4); 3. /b's data, block 2048; 4. /b's inode, block 4 again;
    5. the superblock, block 0; then one request for blocks 1 to 3 (the descriptors, the block
    bitmap, the inode bitmap), whose three segments the host writes one after another: 6, 7, 8.

    Background:
      Given the disk's own write cache is off
      And the guest process writes "hello" to "/b" through the page cache

    Scenario: After the first write the name is on the disk, its inode is not
      The entry names inode 12, which the disk's inode table does not have: pass 2 reports it,
      and the file type the entry claims (a regular file) against the unused inode's.

      Given the host will lose power once the disk has taken 1 more write
      When the guest process calls sync
      Then e2fsck -fn exits with 4 and reports:
        """
        Entry 'b' in / (2) has deleted/unused inode 12.  Clear? no
        Entry 'b' in / (2) has an incorrect filetype (was 1, should be 0).
        Fix? no
        IMAGE: ********** WARNING: Filesystem still has errors **********
        """

    Scenario: After the fourth the file is whole, the bitmaps lag behind
      Data and inode are on the disk, and the name; only pass 5 has something to say.

      Given the host will lose power once the disk has taken 4 more writes
      When the guest process calls sync
      Then the file "/b" on the disk holds "hello"
      And e2fsck -fn exits with 4 and reports:
        """
        Block bitmap differences:  +2048
        Fix? no
        Inode bitmap differences:  +12
        Fix? no
        IMAGE: ********** WARNING: Filesystem still has errors **********
        """

    Scenario: After the sixth the descriptor is ahead of the bitmaps
      The descriptor counts the new block and inode (15,862 free blocks, 16,372 free inodes), its
      bitmaps do not: the counts disagree with what e2fsck counts in the bitmaps, in the group and
      in the superblock written at 5.

      Given the host will lose power once the disk has taken 6 more writes
      When the guest process calls sync
      Then e2fsck -fn exits with 4 and reports:
        """
        Block bitmap differences:  +2048
        Fix? no
        Free blocks count wrong for group #0 (15862, counted=15863).
        Fix? no
        Free blocks count wrong (15862, counted=15863).
        Fix? no
        Inode bitmap differences:  +12
        Fix? no
        Free inodes count wrong for group #0 (16372, counted=16373).
        Fix? no
        Free inodes count wrong (16372, counted=16373).
        Fix? no
        IMAGE: ********** WARNING: Filesystem still has errors **********
        """

    Scenario: After all eight nothing is left to find
      Given the host will lose power once the disk has taken 8 more writes
      When the guest process calls sync
      Then e2fsck finds the disk clean
