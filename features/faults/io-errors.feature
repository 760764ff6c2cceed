Feature: When the host's I/O fails, qemu follows the drive's error policy

  The guest process has a file "/data" of one 4 KiB block, block 2048 of the disk (bytes 8,388,608
  to 8,392,703), written before the fault is armed. It then overwrites that block with O_DIRECT:
  the name, the inode and the block are known, nothing is allocated, the size stays, so the driver
  sends exactly one write request, of that block, and qemu serves it with Linux AIO (one
  io_submit). The fault steps make the host's AIO finish that request with an error instead of
  moving the bytes. What happens next is qemu's, not the guest's, decision:
  virtio_blk_handle_rw_error asks the drive's policy (blk_get_error_action) — werror for writes and
  flushes, rerror for reads:

    report   complete the request with VIRTIO_BLK_S_IOERR: the guest sees EIO
    ignore   complete it with VIRTIO_BLK_S_OK, as if the I/O had happened
    stop     keep the request and stop the VM (RUN_STATE_IO_ERROR) until the monitor's cont,
             which parses it again from the ring and submits it once more
    enospc   stop on ENOSPC, report anything else (writes only; qemu's default werror)

  qemu's defaults are werror=enospc and rerror=report.

  Scenario: werror=report: the error reaches the guest process as EIO
    Given the VM is configured as:
      """
      disk:
        werror: report
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    And the AIO completes with EIO
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then qemu applies the report policy to the EIO error
    And the device completes the request with VIRTIO_BLK_S_IOERR
    And the call fails with EIO
    And the disk image does not hold "bbbb" at byte 8388608

  Scenario: werror=ignore: the write is acknowledged though nothing reached the disk
    Given the VM is configured as:
      """
      disk:
        werror: ignore
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    And the AIO completes with EIO
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then qemu applies the ignore policy to the EIO error
    And the device completes the request with VIRTIO_BLK_S_OK
    And the write returns 4096
    And the disk image does not hold "bbbb" at byte 8388608

  Scenario: werror=stop: the VM stops, and after cont the request is retried and completes
    qemu keeps the request (s->rq) and asks for a stop; vm_stop kicks the vCPU and flushes the
    drive. The failed write still advanced the drive's write generation, so that flush is one
    fdatasync, from a thread-pool worker. The vCPU is asleep in kvm (the guest halted, waiting
    for the completion interrupt) and stays there: there is no KVM_RUN and no VM entry while the
    VM is stopped. At cont, virtio_blk_dma_restart_cb parses the kept request again and submits
    it — one io_submit — and this time the AIO completes and the guest's write returns.

    Given the VM is configured as:
      """
      disk:
        werror: stop
      """
    And the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    And the AIO completes with EIO
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the VM is paused with an I/O error
    And qemu applies the stop policy to the EIO error
    And no vCPU enters the guest once the VM is stopped
    And the host calls fdatasync 1 time
    When the VM is resumed
    Then the VM runs again
    And the host calls io_submit 1 time
    And the write returns 4096
    And the disk image holds "bbbb" at byte 8388608

  Scenario: werror=enospc, qemu's default: a full host file system stops the VM
    Given the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    And the AIO completes with ENOSPC
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the VM is paused with an I/O error
    And qemu applies the stop policy to the ENOSPC error
    When the VM is resumed
    Then the write returns 4096
    And the disk image holds "bbbb" at byte 8388608

  Scenario: werror=enospc, qemu's default: any other error is reported
    Given the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    And the AIO completes with EIO
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then qemu applies the report policy to the EIO error
    And the call fails with EIO

  Scenario: rerror=stop: a failed read stops the VM too, and the retried read returns the data
    The read is O_DIRECT and covers the file's one block, so it is one read request of that
    block, and the fault hits it.

    Given the VM is configured as:
      """
      disk:
        rerror: stop
      """
    And the guest process writes "hello" to "/r.txt"
    And the AIO completes with EIO
    When the guest process reads 4096 bytes from "/r.txt" with O_DIRECT
    Then the VM is paused with an I/O error
    And qemu applies the stop policy to the EIO error
    When the VM is resumed
    Then the read returns 5
    And the process reads "hello"

  Scenario: io_submit finds the AIO ring full: qemu queues the request and submits it when a slot frees
    Linux's io_submit fails with EAGAIN when the context has no free request slot (aio_get_req);
    here the ring has room for one. The guest queues two one-sector writes and kicks after each.
    The first is in flight; the second's io_submit finds no slot. qemu's ioq_submit keeps it
    queued and marks the queue blocked. When the first completes, qemu takes its event from the
    AIO ring the kernel mapped into its memory (io_getevents_advance_and_peek: no syscall), which
    frees its slot, and qemu_laio_process_completions_and_submit submits the queued one. Three
    io_submit calls: two accepted, one refused.

    Given the host's AIO ring has room for 1 request
    When the guest writes "one" to sector 2048 and "two" to sector 4096, kicking after each
    Then the host calls io_submit 3 times
    And the host's io_submit fails with EAGAIN 1 time
    And the call returns 0
    And the disk image holds "one" at byte 1048576
    And the disk image holds "two" at byte 2097152

  Scenario: An EAGAIN with nothing in flight is never retried: the request waits
    qemu resubmits a blocked queue only from the completion path: it trusts that a full ring
    means requests of its own are in flight (and with Linux it does). A one-off EAGAIN injected
    while nothing is in flight shows what that trust costs: the request stays queued, no
    completion ever comes to resubmit it, and the guest waits for a disk that will not answer.

    Given the guest process writes 4 KiB of "a" to "/data" with O_DIRECT
    And the host's io_submit fails with EAGAIN
    When the guest process writes 4 KiB of "b" to "/data" with O_DIRECT
    Then the host calls io_submit 1 time
    And the host's io_submit fails with EAGAIN 1 time
    And the guest is still waiting for the disk
