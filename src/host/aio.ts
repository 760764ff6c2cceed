// fs/aio.c (Linux 6.1): native AIO. io_setup maps the completion ring into the caller's memory
// (aio_setup_ring: struct aio_ring, then io_event slots) and the context's id is that address.
// io_submit reads each iocb from the submitter's memory, takes a request slot of the context
// (aio_get_req: none left → -EAGAIN), starts the I/O and returns; the device completes it after its
// latency: aio_complete moves the data (DMA to or from the iovecs, which for qemu point straight
// into guest RAM), writes the io_event at the ring's tail and, with IOCB_FLAG_RESFD, signals the
// eventfd (eventfd_signal). Userspace reaps events either with io_getevents (aio_read_events_ring
// moves the ring's head) or by reading the ring and moving head itself, as QEMU ≥ 2.10 does
// (io_getevents_peek/commit); a slot is free again once head has passed its event
// (refill_reqs_available).
// Direct I/O (O_DIRECT) goes to the device after writing back and dropping any cached pages of the
// range (iomap_dio_rw → filemap_write_and_wait_range, invalidate_inode_pages2_range); buffered I/O
// goes through the page cache. FDSYNC/FSYNC: fdatasync of the file (aio_fsync_work → vfs_fsync).

import { ERRNO } from '../uapi/errno';
import { IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, io_event, iocb, iovec } from '../uapi/aio';
import type { Scheduler } from '../sim/scheduler';
import { defineEvent, type Tracer } from '../trace/events';
import { EventFd } from './eventfd';
import type { HostProcess } from './process';
import { RegularFile } from './regular';

/** struct aio_ring (fs/aio.c): the header before the io_event array, 32 bytes. */
export const aio_ring = { id: 0, nr: 4, head: 8, tail: 12, magic: 16, compat_features: 20, incompat_features: 24, header_length: 28, io_events: 32 } as const;
const AIO_RING_HEADER = 32;
const AIO_RING_MAGIC = 0xa10a10a1;
const AIO_RING_COMPAT_FEATURES = 1;
const PAGE_SIZE = 4096;

/** aio_setup_ring: events the ring holds — nr_events doubled (ioctx_alloc), plus two, rounded up to whole pages. */
export function aioRingEvents(nrEvents: number, possibleCpus = 1): number {
  const n = Math.max(nrEvents, possibleCpus * 4) * 2 + 2;
  const pages = Math.ceil((AIO_RING_HEADER + io_event.sizeof * n) / PAGE_SIZE);
  return Math.floor((pages * PAGE_SIZE - AIO_RING_HEADER) / io_event.sizeof);
}

/**
 * ioctx_alloc + aio_setup_ring: the ring qemu's io_setup(nr_events) gets. The kernel doubles the
 * request (half the slots may sit in other CPUs' per-cpu counters: here one CPU), adds two, fills
 * whole pages, and keeps one slot free: reqs_available = nr_events - 1.
 */
export function aioRingSlots(nrEvents: number, possibleCpus = 1): number {
  return aioRingEvents(nrEvents, possibleCpus) - 1;
}

/** struct kioctx: the ring (in the owner's memory), the kernel's tail, the requests in flight. */
export class AioContext {
  inFlight = 0;
  /** ctx->tail: where aio_complete writes the next event (mirrored into ring->tail). */
  private tail = 0;
  /** Request slots: each submitted iocb holds one until userspace has moved head past its event. */
  constructor(readonly id: number, readonly maxEvents: number, public slots: number, readonly ring: DataView, readonly nr: number) {}
  /** ring->head as userspace left it. */
  get head(): number { return this.ring.getUint32(aio_ring.head, true); }
  /** Events in the ring that userspace has not reaped yet. */
  get unreaped(): number { const h = this.head; return this.tail >= h ? this.tail - h : this.nr - h + this.tail; }
  get slotsInUse(): number { return this.inFlight + this.unreaped; }

  /** aio_complete: the event at the tail, then tail moves (smp_wmb before it, in the kernel). */
  complete(data: number, obj: number, res: number): void {
    const p = AIO_RING_HEADER + this.tail * io_event.sizeof;
    const r = this.ring;
    r.setBigUint64(p + io_event.data, BigInt.asUintN(64, BigInt(data)), true);
    r.setBigUint64(p + io_event.obj, BigInt.asUintN(64, BigInt(obj)), true);
    r.setBigInt64(p + io_event.res, BigInt(res), true);
    r.setBigInt64(p + io_event.res2, 0n, true);
    this.tail = this.tail + 1 >= this.nr ? 0 : this.tail + 1;
    r.setUint32(aio_ring.tail, this.tail, true);
  }
}

/** Faults a scenario injects into the host's AIO (the world's "Given the host …" steps). */
export interface AioFaults {
  /** The next `count` io_submit calls fail with -errno before touching any iocb. */
  submit?: { errno: number; count: number };
  /** The next `count` completions (Infinity: all) finish with -errno instead of doing the I/O. */
  complete?: { errno: number; count: number; opcodes?: readonly number[] };
}

const EV_SUBMIT_ONE = defineEvent('call', 'host kernel', 'host kernel', 'io_submit_one', ['obj:hex', 'opcode', 'offset:hex']);
const EV_AIO_COMPLETE = defineEvent('aio-complete', 'host kernel', 'host kernel', 'aio_complete', ['opcode', 'offset:hex', 'res', 'obj:hex']);

export class Aio {
  private ctxs = new Map<number, AioContext>();
  readonly faults: AioFaults = {};
  /** Fault hook kept for callers that set a result directly: the result an I/O completes with instead. */
  injectResult: ((opcode: number) => number | undefined) | undefined;
  /** Overrides the slots of contexts set up from now on (a host whose AIO ring is nearly full). */
  slotLimit: number | undefined;

  constructor(private readonly sched: Scheduler, private readonly t: Tracer, private readonly latencyNs: () => number) {}

  /**
   * io_setup → ioctx_alloc → aio_setup_ring: the ring's pages are mapped into the caller
   * (do_mmap) and initialised; the context's id (ctx->user_id) is their address.
   */
  setup(proc: HostProcess, nrEvents: number, ctxp: number): number {
    if (nrEvents <= 0) return -ERRNO.EINVAL;
    const nr = aioRingEvents(nrEvents);
    const bytes = new Uint8Array(Math.ceil((AIO_RING_HEADER + nr * io_event.sizeof) / PAGE_SIZE) * PAGE_SIZE);
    const id = proc.mm.map(bytes, '[aio]');
    const ring = new DataView(bytes.buffer);
    ring.setUint32(aio_ring.id, this.ctxs.size, true);
    ring.setUint32(aio_ring.nr, nr, true);
    ring.setUint32(aio_ring.magic, AIO_RING_MAGIC, true);
    ring.setUint32(aio_ring.compat_features, AIO_RING_COMPAT_FEATURES, true);
    ring.setUint32(aio_ring.header_length, AIO_RING_HEADER, true);
    this.ctxs.set(id, new AioContext(id, nrEvents, this.slotLimit ?? nr - 1, ring, nr));
    proc.mm.setU64(ctxp, id);
    return 0;
  }

  /** Every context (for fault injection after qemu has set its own up). */
  contexts(): AioContext[] { return [...this.ctxs.values()]; }

  /** io_submit: returns how many iocbs were submitted, or -errno if none. */
  submit(proc: HostProcess, ctxId: number, nr: number, iocbpp: number): number {
    const ctx = this.ctxs.get(ctxId);
    if (!ctx) return -ERRNO.EINVAL;
    const f = this.faults.submit;
    if (f && f.count > 0) { f.count--; return -f.errno; }
    let i = 0;
    for (; i < nr; i++) {
      const r = this.io_submit_one(proc, ctx, proc.mm.u64(iocbpp + 8 * i));
      if (r < 0) return i > 0 ? i : r;
    }
    return i;
  }

  private io_submit_one(proc: HostProcess, ctx: AioContext, cb: number): number {
    const mm = proc.mm;
    const opcode = mm.u16(cb + iocb.aio_lio_opcode);
    const file = proc.file(mm.u32(cb + iocb.aio_fildes));
    // aio_get_req: no slot left in the ring.
    if (ctx.slotsInUse >= ctx.slots) return -ERRNO.EAGAIN;
    if (!(file instanceof RegularFile)) return -ERRNO.EBADF;
    const flags = mm.u32(cb + iocb.aio_flags);
    let resfd: EventFd | undefined;
    if (flags & IOCB_FLAG_RESFD) {
      const f = proc.file(mm.u32(cb + iocb.aio_resfd));
      if (!(f instanceof EventFd)) return -ERRNO.EINVAL;
      resfd = f;
    }
    if (opcode !== IOCB_CMD_PWRITEV && opcode !== IOCB_CMD_PREADV && opcode !== IOCB_CMD_FDSYNC && opcode !== IOCB_CMD_FSYNC) {
      return -ERRNO.EINVAL;
    }
    const data = mm.u64(cb + iocb.aio_data);
    const iov = mm.u64(cb + iocb.aio_buf);
    const iovcnt = mm.u64(cb + iocb.aio_nbytes);
    const offset = mm.i64(cb + iocb.aio_offset);
    if (this.t.on) this.t.rec(EV_SUBMIT_ONE, -1, cb, opcode, offset);
    ctx.inFlight++;
    this.sched.at(this.sched.clock.now + this.latencyNs(), () => {
      const res = this.injected(opcode) ?? this.perform(proc, file, opcode, iov, iovcnt, offset);
      if (this.t.on) this.t.rec(EV_AIO_COMPLETE, -1, opcode, offset, res, cb);
      ctx.inFlight--;
      ctx.complete(data, cb, res);
      resfd?.signal(1);
    });
    return 0;
  }

  private injected(opcode: number): number | undefined {
    const f = this.faults.complete;
    if (f && f.count > 0 && (!f.opcodes || f.opcodes.includes(opcode))) { f.count--; return -f.errno; }
    return this.injectResult?.(opcode);
  }

  /** The I/O itself, when the device completes it: the data moves between the iovecs and the file. */
  private perform(proc: HostProcess, file: RegularFile, opcode: number, iov: number, iovcnt: number, offset: number): number {
    const img = file.image;
    if (opcode === IOCB_CMD_FDSYNC || opcode === IOCB_CMD_FSYNC) { img.fdatasync(); return 0; }
    const mm = proc.mm;
    const write = opcode === IOCB_CMD_PWRITEV;
    let pos = offset;
    for (let k = 0; k < iovcnt; k++) {
      const base = mm.u64(iov + k * iovec.sizeof + iovec.iov_base);
      const len = mm.u64(iov + k * iovec.sizeof + iovec.iov_len);
      // A block device ends where it ends: a transfer past it is short, or -ENOSPC if nothing moved.
      if (pos < 0 || pos + len > img.size) return pos > offset ? pos - offset : write ? -ERRNO.ENOSPC : 0;
      if (!mm.ok(base, len)) return pos > offset ? pos - offset : -ERRNO.EFAULT;
      if (file.direct) {
        img.writebackRange(pos, len);
        if (write) { img.pwrite(pos, mm.slice(base, len)); img.invalidateRange(pos, len); }
        else mm.slice(base, len).set(img.pread(pos, len));
      } else if (write) img.bufferedWrite(pos, mm.slice(base, len));
      else mm.slice(base, len).set(img.bufferedRead(pos, len));
      pos += len;
    }
    return pos - offset;
  }

  /** io_getevents with a zero timeout → aio_read_events_ring: copy out up to `nr` events from head, move head. */
  getevents(proc: HostProcess, ctxId: number, nr: number, events: number): number {
    const ctx = this.ctxs.get(ctxId);
    if (!ctx) return -ERRNO.EINVAL;
    const n = Math.min(nr, ctx.unreaped);
    const mm = proc.mm;
    const ring = ctx.ring;
    let head = ctx.head;
    for (let i = 0; i < n; i++) {
      const src = AIO_RING_HEADER + head * io_event.sizeof;
      mm.slice(events + i * io_event.sizeof, io_event.sizeof).set(new Uint8Array(ring.buffer, src, io_event.sizeof));
      head = head + 1 >= ctx.nr ? 0 : head + 1;
    }
    ring.setUint32(aio_ring.head, head, true);
    return n;
  }
}
