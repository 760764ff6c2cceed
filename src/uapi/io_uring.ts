// io_uring's ABI: include/uapi/linux/io_uring.h (Linux 6.1). The ring offsets themselves are not
// fixed by the ABI: the kernel reports them in io_uring_params at io_uring_setup.

export const IORING_OP_READV = 1;
export const IORING_OP_WRITEV = 2;
export const IORING_OP_FSYNC = 3;
export const IORING_FSYNC_DATASYNC = 1;
export const IORING_OFF_SQ_RING = 0;
export const IORING_OFF_CQ_RING = 0x8000000;
export const IORING_OFF_SQES = 0x10000000;
export const IORING_FEAT_SINGLE_MMAP = 1;
export const IORING_ENTER_GETEVENTS = 1;
export const IORING_REGISTER_EVENTFD = 4;

/** struct io_uring_sqe (64 bytes). */
export const io_uring_sqe = { opcode: 0, flags: 1, ioprio: 2, fd: 4, off: 8, addr: 16, len: 24, rw_flags: 28, user_data: 32, sizeof: 64 } as const;
/** struct io_uring_cqe (16 bytes). */
export const io_uring_cqe = { user_data: 0, res: 8, flags: 12, sizeof: 16 } as const;
/** struct io_sqring_offsets (40 bytes). */
export const io_sqring_offsets = { head: 0, tail: 4, ring_mask: 8, ring_entries: 12, flags: 16, dropped: 20, array: 24, sizeof: 40 } as const;
/** struct io_cqring_offsets (40 bytes). */
export const io_cqring_offsets = { head: 0, tail: 4, ring_mask: 8, ring_entries: 12, overflow: 16, cqes: 20, flags: 24, sizeof: 40 } as const;
/** struct io_uring_params (120 bytes). */
export const io_uring_params = { sq_entries: 0, cq_entries: 4, flags: 8, sq_thread_cpu: 12, sq_thread_idle: 16, features: 20, wq_fd: 24, sq_off: 40, cq_off: 80, sizeof: 120 } as const;
