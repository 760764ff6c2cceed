// block/block-backend.c → block/file-posix.c: a request on the drive becomes a host I/O on the image
// file. Reads and writes go to the configured engine — aio=native: Linux AIO (raw_co_prw →
// laio_co_submit), aio=threads: the thread pool (raw_thread_pool_submit(handle_aiocb_rw)) — and a
// flush always goes to the thread pool, whose worker calls fdatasync (raw_co_flush_to_disk →
// handle_aiocb_flush; qemu ≥ 9.0 can submit IOCB_CMD_FDSYNC instead, which this model does not).

import { defineEvent, type Tracer } from '../../trace/events';
import { ERRNO } from '../../uapi/errno';
import { iovec } from '../../uapi/aio';
import type { HostKernel } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import type { Heap } from '../heap';
import type { IoVec } from '../virtio';
import type { Completion, LinuxAioState } from './linux_aio';
import type { ThreadPool } from './thread_pool';
import type { LuringState } from './io_uring';

const EV_PWRITEV = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_pwritev', ['offset:hex', 'bytes']);
const EV_PREADV = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_preadv', ['offset:hex', 'bytes']);
const EV_FLUSH = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_flush', []);

/** The open image as file-posix keeps it (BDRVRawState): its fd and the engines it may use. */
export interface RawState {
  fd: number;
  /** aio=native (Linux AIO) or aio=io_uring; null for aio=threads. */
  aio: LinuxAioState | LuringState | null;
  pool: ThreadPool;
  host: HostKernel;
  proc: HostProcess;
  heap: Heap;
}

export class BlockBackend {
  readonly fd: number;
  constructor(private readonly s: RawState, readonly size: number, private readonly t: Tracer) { this.fd = s.fd; }

  blk_aio_pwritev(offset: number, qiov: IoVec[], cb: Completion): void {
    if (this.t.on) this.t.rec(EV_PWRITEV, -1, offset, qiov.reduce((s, v) => s + v.len, 0));
    this.raw_co_prw(offset, qiov, 'write', cb);
  }
  blk_aio_preadv(offset: number, qiov: IoVec[], cb: Completion): void {
    if (this.t.on) this.t.rec(EV_PREADV, -1, offset, qiov.reduce((s, v) => s + v.len, 0));
    this.raw_co_prw(offset, qiov, 'read', cb);
  }
  blk_aio_flush(cb: Completion): void {
    if (this.t.on) this.t.rec(EV_FLUSH, -1);
    // raw_co_flush_to_disk → raw_thread_pool_submit(handle_aiocb_flush) → qemu_fdatasync
    const { host, proc, fd } = this.s;
    this.s.pool.submit(() => host.fdatasync(proc, fd), cb);
  }

  /** raw_co_prw: Linux AIO, or the thread pool; a failed submission completes at once with its error. */
  private raw_co_prw(offset: number, qiov: IoVec[], type: 'write' | 'read', cb: Completion): void {
    const s = this.s;
    if (s.aio) {
      const r = s.aio.submit(s.fd, offset, qiov, type, cb);
      if (r < 0) cb(r);
      return;
    }
    s.pool.submit(() => this.handle_aiocb_rw(offset, qiov, type), cb);
  }

  /** handle_aiocb_rw (on a worker thread): one preadv/pwritev over the request's iovec array. */
  private *handle_aiocb_rw(offset: number, qiov: IoVec[], type: 'write' | 'read') {
    const { host, proc, heap, fd } = this.s;
    const iov = heap.alloc(Math.max(1, qiov.length) * iovec.sizeof);
    let nbytes = 0;
    qiov.forEach((v, i) => {
      proc.mm.setU64(iov + i * iovec.sizeof + iovec.iov_base, v.hva);
      proc.mm.setU64(iov + i * iovec.sizeof + iovec.iov_len, v.len);
      nbytes += v.len;
    });
    const r = type === 'write' ? yield* host.pwritev(proc, fd, iov, qiov.length, offset) : yield* host.preadv(proc, fd, iov, qiov.length, offset);
    heap.release(iov);
    return r === nbytes ? 0 : r < 0 ? r : -ERRNO.ENOSPC;
  }
}
