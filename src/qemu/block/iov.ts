// A request's scatter-gather list as the host kernel takes it: an array of struct iovec in qemu's
// heap (qemu_iovec → the iovec array preadv/pwritev, an iocb or an SQE points at).

import { iovec } from '../../uapi/aio';
import type { Heap } from '../heap';
import type { IoVec } from '../virtio';

/** Write `qiov` as struct iovec entries into a new heap block; returns its address (0 if empty) and the byte count. */
export function iovecArray(heap: Heap, qiov: readonly IoVec[]): { iov: number; nbytes: number } {
  if (qiov.length === 0) return { iov: 0, nbytes: 0 };
  const mm = heap.mm;
  const iov = heap.alloc(qiov.length * iovec.sizeof);
  let nbytes = 0;
  qiov.forEach((v, i) => {
    mm.setU64(iov + i * iovec.sizeof + iovec.iov_base, v.hva);
    mm.setU64(iov + i * iovec.sizeof + iovec.iov_len, v.len);
    nbytes += v.len;
  });
  return { iov, nbytes };
}
