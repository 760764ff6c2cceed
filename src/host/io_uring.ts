// io_uring/io_uring.c, reduced to what a block backend uses: io_uring_setup hands out a ring fd and
// the offsets of the rings; the process maps them (one mapping for both rings, IORING_FEAT_SINGLE_MMAP,
// and one for the SQE array), fills SQEs in its own memory and calls io_uring_enter; completions
// are CQEs the kernel writes into the mapped CQ ring — no syscall to collect them. The ring fd polls
// readable while the CQ ring is not empty; a registered eventfd is signalled per completion.

import { ERRNO } from '../uapi/errno';
import { iovec } from '../uapi/aio';
import {
  IORING_FEAT_SINGLE_MMAP, IORING_FSYNC_DATASYNC, IORING_OFF_SQES, IORING_OP_FSYNC, IORING_OP_READV, IORING_OP_WRITEV,
  io_cqring_offsets, io_sqring_offsets, io_uring_cqe, io_uring_params, io_uring_sqe,
} from '../uapi/io_uring';
import type { Scheduler, WaitQueue } from '../sim/scheduler';
import { POLLIN, wakePollers, type HostFile } from './file';
import type { EventFd } from './eventfd';
import type { HostProcess } from './process';
import { RegularFile } from './regular';

// Where this kernel puts the ring fields in the shared mapping (reported through io_uring_params).
const SQ_HEAD = 0, SQ_TAIL = 4, CQ_HEAD = 64, CQ_TAIL = 68, SQ_MASK = 128, CQ_MASK = 132, SQ_ENTRIES = 136,
  CQ_ENTRIES = 140, SQ_DROPPED = 144, SQ_FLAGS = 148, CQ_FLAGS = 152, CQ_OVERFLOW = 156, CQES = 192;

/** A fault a scenario injects: the next `count` operations fail with -errno. */
export interface HostFault { errno: number; count: number }

export class IoUring implements HostFile {
  readonly owner = 'host kernel';
  readonly name = 'anon_inode:[io_uring]';
  readonly pollers = new Set<WaitQueue>();
  readonly rings: Uint8Array;
  readonly sqes: Uint8Array;
  private readonly r: DataView;
  private readonly sqArray: number;
  eventfd: EventFd | undefined;

  /** Faults injected into this kernel's io_uring (shared by every ring): a completion's result. */
  faults: { complete?: HostFault } = {};

  constructor(readonly sqEntries: number, readonly cqEntries: number) {
    this.sqArray = CQES + cqEntries * io_uring_cqe.sizeof;
    this.rings = new Uint8Array(this.sqArray + 4 * sqEntries);
    this.sqes = new Uint8Array(sqEntries * io_uring_sqe.sizeof);
    this.r = new DataView(this.rings.buffer);
    this.r.setUint32(SQ_MASK, sqEntries - 1, true);
    this.r.setUint32(CQ_MASK, cqEntries - 1, true);
    this.r.setUint32(SQ_ENTRIES, sqEntries, true);
    this.r.setUint32(CQ_ENTRIES, cqEntries, true);
  }

  /** The offsets written into io_uring_params. */
  fillParams(p: HostProcess, params: number): void {
    const mm = p.mm;
    mm.setU32(params + io_uring_params.sq_entries, this.sqEntries);
    mm.setU32(params + io_uring_params.cq_entries, this.cqEntries);
    mm.setU32(params + io_uring_params.features, IORING_FEAT_SINGLE_MMAP);
    const sq = params + io_uring_params.sq_off;
    const so = io_sqring_offsets;
    for (const [k, v] of [[so.head, SQ_HEAD], [so.tail, SQ_TAIL], [so.ring_mask, SQ_MASK], [so.ring_entries, SQ_ENTRIES],
      [so.flags, SQ_FLAGS], [so.dropped, SQ_DROPPED], [so.array, this.sqArray]] as const) mm.setU32(sq + k, v);
    const cq = params + io_uring_params.cq_off;
    const co = io_cqring_offsets;
    for (const [k, v] of [[co.head, CQ_HEAD], [co.tail, CQ_TAIL], [co.ring_mask, CQ_MASK], [co.ring_entries, CQ_ENTRIES],
      [co.overflow, CQ_OVERFLOW], [co.cqes, CQES], [co.flags, CQ_FLAGS]] as const) mm.setU32(cq + k, v);
  }

  mmap(len: number, offset = 0): Uint8Array {
    const b = offset === IORING_OFF_SQES ? this.sqes : this.rings;
    return b.subarray(0, Math.min(len, b.length));
  }

  poll(): number { return this.r.getUint32(CQ_HEAD, true) !== this.r.getUint32(CQ_TAIL, true) ? POLLIN : 0; }

  /**
   * io_submit_sqes: take up to `n` SQEs between the SQ head and tail; each one's I/O completes after
   * the device latency (io_req_complete_post writes the CQE). Returns how many were consumed.
   */
  submit(p: HostProcess, n: number, sched: Scheduler, latencyNs: number): number {
    const r = this.r;
    let head = r.getUint32(SQ_HEAD, true);
    const tail = r.getUint32(SQ_TAIL, true);
    const mask = this.sqEntries - 1;
    const sq = new DataView(this.sqes.buffer);
    let done = 0;
    while (done < n && head !== tail) {
      const idx = r.getUint32(this.sqArray + 4 * (head & mask), true);
      head = (head + 1) >>> 0;
      done++;
      if (idx >= this.sqEntries) { r.setUint32(SQ_DROPPED, r.getUint32(SQ_DROPPED, true) + 1, true); continue; }
      const s = idx * io_uring_sqe.sizeof;
      const op = sq.getUint8(s + io_uring_sqe.opcode);
      const fd = sq.getInt32(s + io_uring_sqe.fd, true);
      const off = Number(sq.getBigUint64(s + io_uring_sqe.off, true));
      const addr = Number(sq.getBigUint64(s + io_uring_sqe.addr, true));
      const len = sq.getUint32(s + io_uring_sqe.len, true);
      const fsyncFlags = sq.getUint32(s + io_uring_sqe.rw_flags, true);
      const userData = sq.getBigUint64(s + io_uring_sqe.user_data, true);
      sched.at(sched.clock.now + latencyNs, () => {
        const f = this.faults.complete;
        // An injected fault completes the request with -errno and does not do the I/O.
        if (f && f.count > 0) { f.count--; this.post(userData, -f.errno); return; }
        this.post(userData, this.perform(p, op, fd, off, addr, len, fsyncFlags));
      });
    }
    r.setUint32(SQ_HEAD, head, true);
    return done;
  }

  private perform(p: HostProcess, op: number, fd: number, off: number, iov: number, iovcnt: number, fsyncFlags: number): number {
    const f = p.file(fd);
    if (!(f instanceof RegularFile)) return -ERRNO.EBADF;
    if (op === IORING_OP_FSYNC) { void (fsyncFlags & IORING_FSYNC_DATASYNC); f.image.fdatasync(); return 0; }
    if (op !== IORING_OP_READV && op !== IORING_OP_WRITEV) return -ERRNO.EINVAL;
    let pos = off;
    for (let k = 0; k < iovcnt; k++) {
      const base = p.mm.u64(iov + k * iovec.sizeof + iovec.iov_base);
      const len = p.mm.u64(iov + k * iovec.sizeof + iovec.iov_len);
      if (pos + len > f.image.size) return pos > off ? pos - off : -ERRNO.ENOSPC;
      if (op === IORING_OP_WRITEV) f.image.pwrite(pos, p.mm.slice(base, len)); else p.mm.slice(base, len).set(f.image.pread(pos, len));
      pos += len;
    }
    return pos - off;
  }

  /** io_req_complete_post → io_cqring_fill_event: write the CQE, bump the tail, wake pollers and the eventfd. */
  private post(userData: bigint, res: number): void {
    const r = this.r;
    const tail = r.getUint32(CQ_TAIL, true);
    if (((tail - r.getUint32(CQ_HEAD, true)) >>> 0) >= this.cqEntries) {
      r.setUint32(CQ_OVERFLOW, r.getUint32(CQ_OVERFLOW, true) + 1, true);
      return;
    }
    const c = CQES + (tail & (this.cqEntries - 1)) * io_uring_cqe.sizeof;
    r.setBigUint64(c + io_uring_cqe.user_data, userData, true);
    r.setInt32(c + io_uring_cqe.res, res, true);
    r.setUint32(c + io_uring_cqe.flags, 0, true);
    r.setUint32(CQ_TAIL, (tail + 1) >>> 0, true);
    wakePollers(this);
    this.eventfd?.signal(1);
  }
}
