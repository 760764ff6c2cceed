Feature: A hostile guest rewrites its virtqueue; qemu checks everything before it acts

  The guest is not trusted: the ring qemu reads lives in guest RAM, and the guest can store any
  bytes there between queueing a request and kicking the device. qemu reads it back as
  virtqueue_split_pop and virtio_blk_handle_request do (QEMU 9.x) and decides:
    - a ring it cannot trust ends in virtio_error(): the device is broken until the driver resets
      it, and nothing more is taken from the queue. No used element is written, so the guest's
      request never completes and the guest waits. On this legacy transport there is no status bit
      to say so (VIRTIO_CONFIG_S_NEEDS_RESET exists only with VIRTIO_F_VERSION_1);
    - a request it can parse but not serve completes with VIRTIO_BLK_S_IOERR or _UNSUPP;
    - anything else is served.
  Whatever happens, no byte outside guest RAM or outside the disk image is read or written: every
  access goes through one bounds-checked path, checked after each step.

  The guest's driver set its queue up at boot in the first pages of its page pool: 256
  descriptors of 16 bytes at guest-physical 0x100000, the avail ring at 0x101000 (its index at
  0x101002, its first slot at 0x101004), the used ring at 0x102000. The queue-notify register is
  port 0xc040 + 16 = 0xc050. At boot the guest read sector 0 (its partition table) and mounted
  its ext2 disk — read the superblock with 1 KiB buffers, again as its 4 KiB block 0, the group
  descriptors' block and the inode table's first block, and wrote block 0 back (the superblock
  marked mounted): six requests, one at a time, so the avail index is already 6, and each
  request's descriptors went back to the front of the free list. A one-sector write therefore uses descriptors 0 (the 16-byte header), 1 (512 bytes
  of data) and 2 (the 1-byte status, device-writable); the steps below queue one, rewrite the fields in the table with store
  instructions (a 64-bit field as two writel), then kick. Sector 2048 is byte 1048576 of the disk.

  Scenario: One store instruction at a time: an avail ring entry that names no descriptor
    The boot's six requests used the avail ring's first six slots; the seventh, at
    0x101004 + 2 × 6 = 0x101010, gets 300 and the index becomes 7; then the kick. The queue has
    256 descriptors, so virtqueue_get_head refuses index 300.

    When the guest executes "writew 0x101010 0x12c"
    And the guest executes "writew 0x101002 0x7"
    And the guest executes "outw 0xc050 0x0"
    Then the device reports virtio_error "Guest says index 300 is available"
    And the device writes no used element
    When the guest executes "inb 0xc052"
    Then the instruction returns 0x7

  Scenario: An honest request, for comparison
    When the guest queues a write of "hello" to sector 2048 and kicks
    Then the device reports no virtio_error
    And the device completes the request with VIRTIO_BLK_S_OK
    And the call returns 0
    And the disk image holds "hello" at byte 1048576

  Scenario: A descriptor chain that loops
    Descriptor 1 points back to descriptor 0. qemu counts the descriptors it follows; more than
    the queue holds (256) can only be a loop.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value |
      | desc[1].flags | NEXT  |
      | desc[1].next  | 0     |
    Then the device reports virtio_error "Looped descriptor"
    And the device writes no used element
    And the guest is still waiting for the disk

  Scenario: A next index beyond the queue
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field        | value |
      | desc[0].next | 300   |
    Then the device reports virtio_error "Desc next is 300"
    And the guest is still waiting for the disk

  Scenario: A buffer outside guest RAM, larger than a bounce buffer
    Guest RAM is 512 MiB. For a range that is not RAM, address_space_map hands out a bounce buffer
    (QEMU 9.x: 4 KiB in all per device); an 8 KiB buffer at 1 GiB gets the 4 KiB, and the rest
    cannot be mapped.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field        | value      |
      | desc[1].addr | 0x40000000 |
      | desc[1].len  | 0x2000     |
    Then the device reports virtio_error "virtio: bogus descriptor or out of resources"
    And the guest is still waiting for the disk
    And nothing outside guest RAM or the disk image was touched

  Scenario: A small buffer outside guest RAM is bounced: the device reads zeros
    512 bytes at 1 GiB fit in the bounce buffer. Nothing is mapped there, and qemu reads
    unassigned memory as zeros: the write succeeds and puts zeros on the disk.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field        | value      |
      | desc[1].addr | 0x40000000 |
    Then the device completes the request with VIRTIO_BLK_S_OK
    And the disk image does not hold "hello" at byte 1048576
    And nothing outside guest RAM or the disk image was touched

  Scenario: A 64-bit address that wraps around to guest-physical 0
    The data descriptor starts 4 KiB below 2^64 and is 8 KiB long. The first 4 KiB are
    unassigned (a bounce buffer of zeros); the address then wraps, as 64-bit hwaddr arithmetic
    does, to guest-physical 0, and the second 4 KiB come from the bottom of guest RAM. The guest
    marks that place first. The request is 16 sectors: zeros at byte 1048576, the mark at byte
    1048576 + 4096 = 1052672.

    When the guest executes "writel 0x0 0x44434241"
    And the guest executes "writel 0x4 0x48474645"
    And the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field        | value              |
      | desc[1].addr | 0xfffffffffffff000 |
      | desc[1].len  | 0x2000             |
    Then the device completes the request with VIRTIO_BLK_S_OK
    And the disk image holds "ABCDEFGH" at byte 1052672
    And nothing outside guest RAM or the disk image was touched

  Scenario Outline: Sectors at and beyond the end of the disk (64 MiB: 131072 sectors)
    virtio_blk_sect_range_ok compares the 64-bit sector itself, never its byte offset: sector
    2^55 would be byte 2^64, which wraps to 0.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value    |
      | header.sector | <sector> |
    Then the device completes the request with <status>
    And the disk image does not hold "hello" at byte 0

    Examples:
      | sector             | status              |
      | 131071             | VIRTIO_BLK_S_OK     |
      | 131072             | VIRTIO_BLK_S_IOERR  |
      | 0x80000000000000   | VIRTIO_BLK_S_IOERR  |
      | 0xffffffffffffffff | VIRTIO_BLK_S_IOERR  |

  Scenario: A sector beyond the disk fails the guest's request with EIO
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value  |
      | header.sector | 131072 |
    Then the device completes the request with VIRTIO_BLK_S_IOERR
    And the call fails with EIO

  Scenario: An unknown request type is VIRTIO_BLK_S_UNSUPP, which the guest sees as EOPNOTSUPP
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field       | value |
      | header.type | 0x20  |
    Then the device completes the request with VIRTIO_BLK_S_UNSUPP
    And the call fails with EOPNOTSUPP

  Scenario: The header may span buffers: with an 8-byte header descriptor, the sector comes from the data
    qemu gathers the 16-byte header from the device-readable buffers in order (iov_to_buf), so
    a short first buffer is no error: the sector is read from the data's first 8 bytes, "hello"
    and three zeros, a sector far beyond the disk.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field       | value |
      | desc[0].len | 8     |
    Then the device completes the request with VIRTIO_BLK_S_IOERR

  Scenario: A header shorter than 16 bytes in all
    With the data made device-writable, the header descriptor's 8 bytes are all there is to read.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value      |
      | desc[0].len   | 8          |
      | desc[1].flags | NEXT+WRITE |
    Then the device reports virtio_error "virtio-blk request outhdr too short"
    And the guest is still waiting for the disk

  Scenario: A header in a device-writable descriptor puts the readable data out of order
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value      |
      | desc[0].flags | NEXT+WRITE |
    Then the device reports virtio_error "Incorrect order for descriptors"
    And the guest is still waiting for the disk

  Scenario: No device-readable descriptor at all: no header
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value      |
      | desc[0].flags | NEXT+WRITE |
      | desc[1].flags | NEXT+WRITE |
    Then the device reports virtio_error "virtio-blk missing headers"
    And the guest is still waiting for the disk

  Scenario: A status descriptor the device may not write: no status byte
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value |
      | desc[2].flags | 0     |
    Then the device reports virtio_error "virtio-blk missing headers"
    And the guest is still waiting for the disk

  Scenario: A status descriptor of length 0
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field       | value |
      | desc[2].len | 0     |
    Then the device reports virtio_error "virtio: zero sized buffers are not allowed"
    And the guest is still waiting for the disk

  Scenario: An indirect table the guest never negotiated: qemu follows it, and says so in its log
    The guest's driver took only VIRTIO_BLK_F_FLUSH, not VIRTIO_RING_F_INDIRECT_DESC. qemu
    follows an indirect descriptor anyway and logs a guest error (QEMU 10.1,
    virtio_check_indirect_feature). The table holds the same three buffers; descriptor 0 points
    to it: 3 entries, 48 bytes.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field          | value    |
      | table[0].addr  | header   |
      | table[0].len   | 16       |
      | table[0].flags | NEXT     |
      | table[0].next  | 1        |
      | table[1].addr  | data     |
      | table[1].len   | 512      |
      | table[1].flags | NEXT     |
      | table[1].next  | 2        |
      | table[2].addr  | status   |
      | table[2].len   | 1        |
      | table[2].flags | WRITE    |
      | desc[0].addr   | table    |
      | desc[0].len    | 48       |
      | desc[0].flags  | INDIRECT |
    Then qemu logs the guest error "Device virtio-blk: indirect_desc was not negotiated!"
    And the device completes the request with VIRTIO_BLK_S_OK
    And the disk image holds "hello" at byte 1048576

  Scenario: A nested indirect table is not followed: its descriptor is just a buffer
    Inside a table qemu reads only NEXT and WRITE; an INDIRECT flag there is ignored, so the
    entry is mapped as the data buffer it also is.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field          | value         |
      | table[0].addr  | header        |
      | table[0].len   | 16            |
      | table[0].flags | NEXT          |
      | table[0].next  | 1             |
      | table[1].addr  | data          |
      | table[1].len   | 512           |
      | table[1].flags | NEXT+INDIRECT |
      | table[1].next  | 2             |
      | table[2].addr  | status        |
      | table[2].len   | 1             |
      | table[2].flags | WRITE         |
      | desc[0].addr   | table         |
      | desc[0].len    | 48            |
      | desc[0].flags  | INDIRECT      |
    Then the device completes the request with VIRTIO_BLK_S_OK
    And the disk image holds "hello" at byte 1048576

  Scenario: An indirect table whose length is not a whole number of descriptors
    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value    |
      | desc[0].addr  | table    |
      | desc[0].len   | 20       |
      | desc[0].flags | INDIRECT |
    Then the device reports virtio_error "Invalid size for indirect buffer table"
    And the guest is still waiting for the disk

  Scenario: An indirect table that runs past the end of guest RAM
    The table starts 16 bytes before the end of RAM (512 MiB) and claims 48 bytes; qemu's cache
    of it stops at the end of RAM.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value        |
      | desc[0].addr  | ram-end - 16 |
      | desc[0].len   | 48           |
      | desc[0].flags | INDIRECT     |
    Then the device reports virtio_error "Cannot map indirect buffer"
    And the guest is still waiting for the disk
    And nothing outside guest RAM or the disk image was touched

  Scenario: qemu's own unchecked store: a SCSI request whose inhdr is one byte at the end of RAM
    For VIRTIO_BLK_T_SCSI_CMD (passthrough is gone since QEMU 9.1) qemu still writes errors = 255
    into the virtio_scsi_inhdr, the second-to-last device-writable buffer: a 4-byte store at its
    start, without looking at its length (virtio_blk_handle_scsi). The chain here is header, data,
    a 1-byte sense buffer, a 1-byte inhdr in the last byte of guest RAM, and the status: the
    store's first byte lands in RAM, the other 3 would land past it. The model makes the same
    store, refuses those 3 bytes and counts them apart from its own guard violations.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value       |
      | header.type   | 2           |
      | desc[2].flags | NEXT+WRITE  |
      | desc[2].next  | 3           |
      | desc[3].addr  | ram-end - 1 |
      | desc[3].len   | 1           |
      | desc[3].flags | NEXT+WRITE  |
      | desc[3].next  | 4           |
      | desc[4].addr  | status      |
      | desc[4].len   | 1           |
      | desc[4].flags | WRITE       |
    Then the device completes the request with VIRTIO_BLK_S_UNSUPP
    And the call fails with EOPNOTSUPP
    And qemu's own store runs 3 bytes past guest RAM, which the model refuses

  Scenario: The same store into a bounce buffer: 3 bytes past a buffer of its own
    Now the 1-byte inhdr and the status are past the end of guest RAM: qemu maps each through a
    bounce buffer, and since QEMU 9.1 each bounce buffer is its own allocation of the length it maps
    (address_space_map: g_malloc0 of l bytes). The 4-byte store into the 1-byte one runs 3 bytes
    past it, even with the status's buffer mapped right after it.

    When the guest queues a write of "hello" to sector 2048 and, before the kick, rewrites:
      | field         | value           |
      | header.type   | 2               |
      | desc[2].flags | NEXT+WRITE      |
      | desc[2].next  | 3               |
      | desc[3].addr  | ram-end + 0x100 |
      | desc[3].len   | 1               |
      | desc[3].flags | NEXT+WRITE      |
      | desc[3].next  | 4               |
      | desc[4].addr  | ram-end + 0x200 |
      | desc[4].len   | 1               |
      | desc[4].flags | WRITE           |
    Then the device completes the request with VIRTIO_BLK_S_UNSUPP
    And qemu's own store runs 3 bytes past its bounce buffer, which the model refuses
    And qemu holds no bounce buffer

  Scenario: Features renegotiated after the ring is set up: qemu rebuilds the region caches
    With VIRTIO_RING_F_EVENT_IDX the used ring ends with avail_event, 2 more bytes after its 256
    elements (used->ring[256], at 0x102000 + 4 + 8 × 256 = 0x102804), and the avail ring ends with
    used_event: the caches qemu maps over the rings are sized by the features. The legacy guest
    features register is port 0xc040 + 4 = 0xc044 and the queue's PFN is 0xc048. The guest drops
    EVENT_IDX (0x200: VIRTIO_BLK_F_FLUSH alone), sets the ring's PFN again (0x100: 0x100000, where it
    is) — qemu maps caches without the 2 bytes — then turns EVENT_IDX (bit 29) back on and kicks.
    virtio_set_features rebuilds every queue's caches when EVENT_IDX is on, so the kick's
    avail_event store lands inside the used ring's cache; nothing is available, so nothing happens.

    When the guest executes "outl 0xc044 0x200; outl 0xc048 0x100; outl 0xc044 0x20000200; outw 0xc050 0x0"
    Then the device reports no virtio_error
    And nothing outside guest RAM or the disk image was touched

  Scenario: A reset with a request in flight: qemu drains the drive before it resets the device
    The first write's data descriptor points 4 KiB past the end of guest RAM and is 4096 bytes long:
    qemu maps it through a bounce buffer, its whole budget of 4 KiB (address_space_map), and the
    request goes to Linux AIO. The guest resets the device at once (status 0), sets the queue up
    again on a fresh ring and queues a one-sector write whose data is past the end of RAM too.
    virtio_blk_reset first drains the drive (blk_drain): the vCPU thread that wrote the status waits
    in the main loop's poll, holding the BQL, until the first request has completed — its used
    element goes to the old ring and its bounce buffer back to the budget — and only then resets.
    So the second request gets a bounce buffer of its own and completes; without the drain it
    would find the budget spent and break the device ("bogus descriptor or out of resources").

    When the guest resets the device while a write with its data outside guest RAM is in flight, then sets the queue up again and queues another such write
    Then the request in flight completes before the reset does
    And the device reports no virtio_error
    And the call returns 0
    And qemu holds no bounce buffer
