// block/block-backend.c → block/file-posix.c: a request on the drive becomes a host I/O on the image
// file. Reads and writes go to the configured engine — aio=native: Linux AIO (raw_co_prw →
// laio_co_submit), aio=threads: the thread pool (raw_thread_pool_submit(handle_aiocb_rw)) — and a
// flush always goes to the thread pool, whose worker calls fdatasync (raw_co_flush_to_disk →
// handle_aiocb_flush; qemu ≥ 9.0 can submit IOCB_CMD_FDSYNC instead, which this model does not).
// The drive's cache= mode (block.c: bdrv_parse_cache_mode) decides three things: whether the image is
// opened O_DIRECT (none, directsync), whether the drive has a write cache the guest must flush
// (none, writeback, unsafe; writethrough and directsync flush after every write: block/io.c,
// BDRV_REQ_FUA emulated by bdrv_co_flush), and whether a flush reaches the host at all (unsafe:
// BDRV_O_NO_FLUSH). A flush with no write since the last one is skipped (bs->flushed_gen == write_gen).
// I/O errors go through the drive's rerror/werror policy (blk_get_error_action, blk_error_action).
//
// qemu-kvm 0.14 (the seed's era) reached the same places by other names: bdrv_aio_writev,
// bdrv_aio_readv and bdrv_aio_flush (block.c) → raw_aio_submit / raw_aio_flush (block/raw-posix.c) →
// laio_submit, or paio_submit to posix-aio-compat's threads; its bdrv_aio_flush skipped only with
// cache=unsafe (bdrv_aio_noop_em), not after no write.

import { defineEvent, type Tracer } from '../../trace/events';
import { ERRNO } from '../../uapi/errno';
import type { HostKernel } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import type { Heap } from '../heap';
import type { IoVec } from '../virtio';
import type { Completion, LinuxAioState } from './linux_aio';
import type { WorkerFunc } from './thread_pool';
import { QEMU_AIO_READ, QEMU_AIO_WRITE } from './posix_aio_compat';
import { iovecArray } from './iov';
import type { LuringState } from './io_uring';

const EV_PWRITEV = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_pwritev', ['offset:hex', 'bytes']);
const EV_PREADV = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_preadv', ['offset:hex', 'bytes']);
const EV_FLUSH = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_flush', []);
const EV_WRITEV_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'bdrv_aio_writev', ['offset:hex', 'bytes']);
const EV_READV_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'bdrv_aio_readv', ['offset:hex', 'bytes']);
const EV_FLUSH_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'bdrv_aio_flush', []);
const EV_NOOP_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'bdrv_aio_noop_em', []);

/** Where blocking work runs: util/thread-pool.c (QEMU 9.0) or posix-aio-compat.c (qemu-kvm 0.14). */
export interface WorkerPool {
  /** thread_pool_submit_aio / paio_submit (with the sector range and QEMU_AIO_* type its trace shows). */
  submit(func: WorkerFunc, cb: Completion, sector?: number, sectors?: number, type?: number): void;
}

/** The open image as file-posix keeps it (BDRVRawState): its fd and the engines it may use. */
export interface RawState {
  fd: number;
  /** aio=native (Linux AIO) or aio=io_uring; null for aio=threads. */
  aio: LinuxAioState | LuringState | null;
  pool: WorkerPool;
  host: HostKernel;
  proc: HostProcess;
  heap: Heap;
}

/** -drive cache= */
export type CacheMode = 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
/** BlockdevOnError: -drive werror= / rerror= (enospc for writes only). */
export type BlockdevOnError = 'report' | 'ignore' | 'stop' | 'enospc';
/** BlockErrorAction */
export type BlockErrorAction = 'report' | 'ignore' | 'stop';

/** bdrv_parse_cache_mode: BDRV_O_NOCACHE (O_DIRECT), !writethrough (a write cache), BDRV_O_NO_FLUSH. */
export function bdrv_parse_cache_mode(mode: CacheMode): { nocache: boolean; writeback: boolean; noFlush: boolean } {
  switch (mode) {
    case 'none': return { nocache: true, writeback: true, noFlush: false };
    case 'directsync': return { nocache: true, writeback: false, noFlush: false };
    case 'writeback': return { nocache: false, writeback: true, noFlush: false };
    case 'unsafe': return { nocache: false, writeback: true, noFlush: true };
    case 'writethrough': return { nocache: false, writeback: false, noFlush: false };
  }
}

/** How the drive was configured (-drive cache=,werror=,rerror=), and the hooks the block layer needs from qemu. */
export interface BlockConf {
  cache: CacheMode;
  werror: BlockdevOnError;
  rerror: BlockdevOnError;
  /** qemu_system_vmstop_request(RUN_STATE_IO_ERROR) */
  vmstopRequest?: () => void;
  /** A bottom half on the main loop: completions that need no I/O are delivered from one (blk_aio_complete_bh). */
  bh?: (fn: () => void) => void;
  /**
   * AIO_WAIT_WHILE(cond) for the thread that asks (include/block/aio-wait.h): it polls the main loop's
   * event sources — running their handlers itself — until `cond` is false, then `then` runs. The
   * machine provides it (a vCPU thread waits inside its device access, holding the BQL).
   */
  aioWait?: (cond: () => boolean, then: () => void) => void;
  /** Whose block layer: QEMU 9.0's (absent) or qemu-kvm 0.14's names and flush rule. */
  era?: 'linux-6.1' | 'qemu-kvm-2013';
}

/** qemu's defaults for -drive: cache=writeback, werror=enospc, rerror=report (the seed runs cache=none). */
export const DEFAULT_BLOCK_CONF: BlockConf = { cache: 'none', werror: 'enospc', rerror: 'report' };

const EV_ERROR_ACTION = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'BLOCK_IO_ERROR', ['action:str', 'is_read', 'error']);
const EV_FLUSH_SKIPPED = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'bdrv_co_flush', ['flushed']);

/** A backend engine that can batch submissions (defer_call: laio_deferred_fn, luring_deferred_fn). */
interface Deferrable { defer_call_begin?(): void; defer_call_end?(): void }

export class BlockBackend {
  readonly fd: number;
  private readonly cacheFlags: { nocache: boolean; writeback: boolean; noFlush: boolean };
  /** bs->write_gen and bs->flushed_gen */
  private writeGen = 0;
  private flushedGen = 0;
  /** blk->in_flight: requests handed to the backend whose completion callback has not returned yet. */
  inFlight = 0;
  private readonly old: boolean;
  private readonly ev: { writev: number; readv: number; flush: number; skip: number };
  constructor(private readonly s: RawState, readonly size: number, private readonly t: Tracer, readonly conf: BlockConf = DEFAULT_BLOCK_CONF) {
    this.fd = s.fd;
    this.cacheFlags = bdrv_parse_cache_mode(conf.cache);
    this.old = conf.era === 'qemu-kvm-2013';
    this.ev = this.old ? { writev: EV_WRITEV_0_14, readv: EV_READV_0_14, flush: EV_FLUSH_0_14, skip: EV_NOOP_0_14 }
      : { writev: EV_PWRITEV, readv: EV_PREADV, flush: EV_FLUSH, skip: EV_FLUSH_SKIPPED };
  }

  /** blk_enable_write_cache: the guest sees a volatile write cache (VIRTIO_BLK_F_FLUSH). */
  blk_enable_write_cache(): boolean { return this.cacheFlags.writeback; }

  /** blk_get_error_action: what the drive's policy does with this errno. */
  blk_get_error_action(isRead: boolean, error: number): BlockErrorAction {
    const onErr = isRead ? this.conf.rerror : this.conf.werror;
    if (onErr === 'enospc') return error === ERRNO.ENOSPC ? 'stop' : 'report';
    return onErr;
  }

  /** blk_error_action: the BLOCK_IO_ERROR event; for stop, the VM stop request (after the event). */
  blk_error_action(action: BlockErrorAction, isRead: boolean, error: number): void {
    if (this.t.on) this.t.rec(EV_ERROR_ACTION, -1, this.t.str(action), isRead ? 1 : 0, error);
    if (action === 'stop') this.conf.vmstopRequest?.();
  }

  /** defer_call_begin/end (util/defer-call.c): submissions inside the section go to the host together. */
  defer_call_begin(): void { (this.s.aio as Deferrable | null)?.defer_call_begin?.(); }
  defer_call_end(): void { (this.s.aio as Deferrable | null)?.defer_call_end?.(); }

  private bh(fn: () => void): void { if (this.conf.bh) this.conf.bh(fn); else fn(); }

  /** blk_inc_in_flight at the request, blk_dec_in_flight once its callback has returned (blk_aio_complete). */
  private tracked(cb: Completion): Completion {
    this.inFlight++;
    return (ret) => {
      try { cb(ret); } finally { this.inFlight--; }
    };
  }

  /**
   * blk_drain (block/block-backend.c): wait until no request is in flight — their completions run,
   * callbacks included — then `then`. With nothing in flight `then` runs at once; otherwise the asking
   * thread waits (BlockConf.aioWait) and `then` runs when the last one has completed.
   */
  blk_drain(then: () => void): void {
    if (this.inFlight === 0) { then(); return; }
    const wait = this.conf.aioWait;
    if (!wait) throw new Error('blk_drain: requests are in flight and this machine gives the block layer no way to wait for them');
    wait(() => this.inFlight > 0, then);
  }

  blk_aio_pwritev(offset: number, qiov: IoVec[], cb: Completion): void {
    if (this.t.on) this.t.rec(this.ev.writev, -1, offset, qiov.reduce((s, v) => s + v.len, 0));
    cb = this.tracked(cb);
    this.raw_co_prw(offset, qiov, 'write', (ret) => {
      // Write-through semantics of QEMU 10.0 (native FUA, commit 984a32f17e8d): every write the guest
      // sees acknowledged under cache=writethrough|directsync has been flushed, the first after the
      // image is opened included. The flush is shown as it was emulated before (bdrv_driver_pwritev:
      // BDRV_REQ_FUA → a flush after the write). Before 10.0 that flush ran before
      // bdrv_co_write_req_finish counted the write, so on the first write after open write_gen still
      // equalled flushed_gen and bdrv_co_flush skipped it: the write was acknowledged without an
      // fdatasync (the flush generation bug reported on qemu-devel, 2025-12-29). Counting the write
      // first, as here, is what 10.0's behaviour amounts to; the model does not reproduce the bug.
      this.writeGen++;                                   // bdrv_co_write_req_finish
      if (ret === 0 && !this.cacheFlags.writeback) this.bdrv_co_flush(cb);
      else cb(ret);
    });
  }
  blk_aio_preadv(offset: number, qiov: IoVec[], cb: Completion): void {
    if (this.t.on) this.t.rec(this.ev.readv, -1, offset, qiov.reduce((s, v) => s + v.len, 0));
    this.raw_co_prw(offset, qiov, 'read', this.tracked(cb));
  }
  blk_aio_flush(cb: Completion): void {
    if (this.t.on) this.t.rec(this.ev.flush, -1);
    this.bdrv_co_flush(this.tracked(cb));
  }

  /**
   * bdrv_co_flush: not with cache=unsafe (BDRV_O_NO_FLUSH), not when nothing was written since the
   * last flush; otherwise raw_co_flush_to_disk → raw_thread_pool_submit(handle_aiocb_flush) → qemu_fdatasync.
   */
  /** bdrv_flush (bdrv_flush_all at vm_stop). */
  bdrv_flush(cb: Completion): void { this.bdrv_co_flush(cb); }

  private bdrv_co_flush(cb: Completion): void {
    const gen = this.writeGen;
    if (this.cacheFlags.noFlush || (this.flushedGen === gen && !this.old)) {
      if (this.t.on) this.t.rec(this.ev.skip, -1, 0);
      this.bh(() => cb(0));
      return;
    }
    const { host, proc, fd } = this.s;
    this.s.pool.submit(() => host.fdatasync(proc, fd), (ret) => {
      if (ret === 0) this.flushedGen = gen;
      cb(ret);
    });
  }

  /** raw_co_prw: Linux AIO, or the thread pool; a failed submission completes at once with its error. */
  private raw_co_prw(offset: number, qiov: IoVec[], type: 'write' | 'read', cb: Completion): void {
    const s = this.s;
    if (s.aio) {
      const r = s.aio.submit(s.fd, offset, qiov, type, cb);
      if (r < 0) cb(r);
      return;
    }
    const bytes = qiov.reduce((n, v) => n + v.len, 0);
    s.pool.submit(() => this.handle_aiocb_rw(offset, qiov, type), cb, offset / 512, bytes / 512, type === 'write' ? QEMU_AIO_WRITE : QEMU_AIO_READ);
  }

  /** handle_aiocb_rw (on a worker thread): one preadv/pwritev over the request's iovec array. */
  private *handle_aiocb_rw(offset: number, qiov: IoVec[], type: 'write' | 'read') {
    const { host, proc, heap, fd } = this.s;
    const { iov, nbytes } = iovecArray(heap, qiov);
    const r = type === 'write' ? yield* host.pwritev(proc, fd, iov, qiov.length, offset) : yield* host.preadv(proc, fd, iov, qiov.length, offset);
    if (iov) heap.release(iov);
    return r === nbytes ? 0 : r < 0 ? r : -ERRNO.ENOSPC;
  }
}
