// errno values (asm-generic/errno-base.h, errno.h).
export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EFAULT: 14, EBUSY: 16,
  EEXIST: 17, ENODEV: 19, ENXIO: 6, EINVAL: 22, EFBIG: 27, ENOTTY: 25, ENOSPC: 28, ENOSYS: 38, EOPNOTSUPP: 95,
} as const;
export type ErrnoName = keyof typeof ERRNO;
export const ERRNO_NAMES: ReadonlyMap<number, ErrnoName> = new Map(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);
export function errnoName(n: number): string { return ERRNO_NAMES.get(n) ?? `errno ${n}`; }
