Feature: The guest mounts an image the real mkfs.ext2 made, with files the real debugfs put there

  `disk.image: PATH` gives the VM a raw image on the host. The guest mounts whatever ext2 is on it
  — here one made by Debian's mkfs.ext2 (e2fsprogs 1.47: revision 1, 256-byte inodes, the
  features ext_attr, resize_inode, dir_index, filetype, sparse_super, large_file), with files
  written into it by `debugfs -w`. The model's ext2 reads it as Linux's does: the superblock,
  the group descriptors, the inodes in their table, the directories' linear entries (dir_index is
  a compatible feature: an ext2 that does not use it may ignore it), the block maps.

  Scenario: The guest reads back what debugfs wrote
    Given a disk made by "mkfs.ext2 -b 4096 IMAGE 64M" with the files:
      | path            | content           |
      | /greeting.txt   | from debugfs      |
      | /docs           | <directory>       |
      | /docs/readme    | read me           |
      | /docs/big       | <60 KiB of q>     |
    When the guest process reads 100 bytes from "/greeting.txt"
    Then the read returns 12
    And the process reads "from debugfs"
    When the guest process reads 100 bytes from "/docs/readme"
    Then the process reads "read me"
    When the guest process reads 70000 bytes from "/docs/big"
    Then the read returns 61440

  Scenario: What the guest writes there, the real tools find — and the files they made are intact
    The new file gets inode 14, the first free one after the two debugfs made (12 and 13);
    unmounting writes the rest, and e2fsck has nothing to say.

    Given a disk made by "mkfs.ext2 -b 4096 IMAGE 64M" with the files:
      | path          | content        |
      | /greeting.txt | from debugfs   |
      | /docs         | <directory>    |
    When the guest process writes "from the guest" to "/docs/new.txt"
    And the guest process writes 52 KiB of "g" to "/guest.log" through the page cache
    And the guest unmounts its disk
    Then e2fsck finds the disk clean
    And inode 14 on the disk holds "from the guest"
    And debugfs -R "cat /docs/new.txt" prints "from the guest"
    And debugfs -R "cat /guest.log" prints 53248 bytes of "g"
    And debugfs -R "cat /greeting.txt" prints "from debugfs"

  Scenario: An image with 1 KiB blocks
    Given a disk made by "mkfs.ext2 -b 1024 IMAGE 16M" with the files:
      | path       | content     |
      | /old.txt   | made before |
    When the guest process writes "made after" to "/new.txt"
    And the guest process reads 100 bytes from "/old.txt"
    Then the process reads "made before"
    When the guest unmounts its disk
    Then e2fsck finds the disk clean
    And debugfs -R "cat /new.txt" prints "made after"
