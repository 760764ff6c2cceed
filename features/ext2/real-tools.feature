Feature: The guest's ext2, checked by the real e2fsprogs

  Whatever the guest does to its files, the disk must stay an ext2 the real tools accept: after an
  unmount (sync_filesystem writes every dirty page, inode and buffer; ext2_put_super marks the
  superblock clean) `e2fsck -fn` must find nothing and `debugfs -R "cat PATH"` must print what the
  process wrote. The image is the one a host process would read (the disk's media, its cache and
  the host's page cache).

  Scenario Outline: Create, write, append past 12 blocks, overwrite, unlink, mkdir, rename — on <bs>-byte blocks
    /log gets 48 KiB through the page cache, then 8 KiB appended: with 4 KiB blocks that crosses
    the 12 direct blocks and brings the indirect block; with 1 KiB blocks the first write already
    did. The overwrite of /hello.txt's first five bytes is O_SYNC; /tmp.txt is created and
    unlinked (its inode and block go back to the bitmaps); /docs/old moves to /old (its ".."
    changes, and the link counts of / and /docs).

    Given the VM is configured as:
      """
      disk:
        ext2_block_size: <bs>
      """
    When the guest process writes "hello, world" to "/hello.txt"
    And the guest process creates the directory "/docs"
    And the guest process creates the directory "/docs/old"
    And the guest process writes 48 KiB of "l" to "/log" through the page cache
    And the guest process writes 8 KiB of "m" to "/log" with O_APPEND
    And the guest process writes "HELLO" to "/hello.txt" with O_SYNC
    And the guest process writes "scratch" to "/tmp.txt"
    And the guest process unlinks "/tmp.txt"
    And the guest process writes "inner" to "/docs/old/note"
    And the guest process renames "/docs/old" to "/old"
    And the guest unmounts its disk
    Then e2fsck finds the disk clean
    And debugfs -R "cat /hello.txt" prints "HELLO, world"
    And debugfs -R "cat /old/note" prints "inner"
    And debugfs -R "cat /log" prints 49152 bytes of "l" then 8192 bytes of "m"
    And the disk has no file "/tmp.txt"
    And the disk has no file "/docs/old"

    Examples:
      | bs   |
      | 4096 |
      | 1024 |

  Scenario: sync writes what ext2 left behind, and sends no flush
    After the seed's O_SYNC write the disk lacks the directory's block, the root's inode (its
    mtime and size changed) and the device's buffers. sync writes, in order: the root's page
    (516) and its inode (table block 4), then ext2_sync_fs the superblock (block 0), then
    sync_bdevs the dirty device buffers — the descriptors, the block and the inode bitmaps, blocks
    1 to 3, merged under the plug into one request. No flush: ext2's sync_fs issues none.

    Given the guest process writes "hello" to "/hello.txt"
    When the guest process calls sync
    Then the block requests are:
      | op    | block | blocks |
      | write | 516   | 1      |
      | write | 4     | 1      |
      | write | 0     | 1      |
      | write | 1     | 3      |
    And e2fsck finds the disk clean

  Scenario: mkdir, unlink and rename change only cached blocks
    In a fresh VM mkdir reads what it needs to allocate — the root's block to look the name up,
    the inode bitmap, the block bitmap for the directory's first block — and writes nothing. Once
    those are cached, the rest of the namespace work costs no request at all.

    When the guest process creates the directory "/d"
    Then the block requests are:
      | op   | block |
      | read | 516   |
      | read | 3     |
      | read | 2     |
    When the guest process writes "x" to "/d/f" through the page cache
    And the guest process renames "/d/f" to "/g"
    Then there is no VM exit
    When the guest process unlinks "/g"
    Then there is no VM exit

  Scenario: explain --disk-out keeps the image of the walk, unmounted
    After the action the guest unmounts its disk (outside the walk shown), and the image is
    written to the file: the real tools read it.

    When exitpath is run with: explain "write hello /hello.txt" --disk-out x.img
    Then it exits with status 0
    And debugfs -R "cat /hello.txt" on "x.img" prints "hello"
    And e2fsck finds "x.img" clean
