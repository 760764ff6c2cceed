// Linux native AIO ABI: include/uapi/linux/aio_abi.h (Linux 6.1), x86-64 little-endian layout.

export const IOCB_CMD_PREAD = 0;
export const IOCB_CMD_PWRITE = 1;
export const IOCB_CMD_FSYNC = 2;
export const IOCB_CMD_FDSYNC = 3;
export const IOCB_CMD_POLL = 5;
export const IOCB_CMD_NOOP = 6;
export const IOCB_CMD_PREADV = 7;
export const IOCB_CMD_PWRITEV = 8;
export const IOCB_FLAG_RESFD = 1 << 0;
export const IOCB_FLAG_IOPRIO = 1 << 1;

/** struct iocb (64 bytes). */
export const iocb = {
  aio_data: 0, aio_key: 8, aio_rw_flags: 12, aio_lio_opcode: 16, aio_reqprio: 18, aio_fildes: 20,
  aio_buf: 24, aio_nbytes: 32, aio_offset: 40, aio_reserved2: 48, aio_flags: 56, aio_resfd: 60, sizeof: 64,
} as const;

/** struct io_event (32 bytes). */
export const io_event = { data: 0, obj: 8, res: 16, res2: 24, sizeof: 32 } as const;

/** struct iovec (16 bytes): iov_base, iov_len. */
export const iovec = { iov_base: 0, iov_len: 8, sizeof: 16 } as const;
