Feature: Buffered writes go to the guest's page cache; fsync writes them back in one batch

  Without O_DIRECT, write() only copies into the guest's page cache: no request, no kick, no exit
  at all. The data reaches the device when the file is written back — here, at fsync: every dirty
  4 KiB page becomes a write request; blk-mq queues them all and kicks once for the batch
  (`bd->last`), then the guest waits for them and sends a FLUSH for the device's volatile cache.

  Scenario: A buffered write causes no VM exit and does not reach the disk
    When the guest process writes "cached" to "/c.txt" through the page cache
    Then the write returns 6
    And there is no VM exit
    And the host makes no syscall
    And the disk image is blank at byte 4096

  Scenario: fsync writes the dirty pages back with one kick for the batch, then flushes
    A 16 KiB buffered write dirties 4 pages (blocks 1 to 4 of the disk). fsync queues 4 write
    requests and kicks once; the FLUSH that follows is its own request with its own kick. Two kicks
    for five requests. qemu pops the four writes in one go and, their sectors being contiguous,
    merges them into one 16 KiB request (virtio_blk_submit_multireq): one iocb, one io_submit.

    Given the guest process writes 16 KiB of "z" to "/big" through the page cache
    When the guest process calls fsync on "/big"
    Then the call returns 0
    And the guest kicks the device 2 times
    And the host calls io_submit 1 time
    And the host calls fdatasync
    And the disk image holds "zzzz" at byte 4096
    And the disk image holds "zzzz" at byte 16380
