// fs/aio.c: Linux native AIO. io_submit reads each iocb from the submitter's memory, takes a request
// slot of the context (aio_get_req: none left → -EAGAIN), starts the I/O and returns; the device
// completes it after its latency: aio_complete moves the data (DMA to or from the iovecs, which for
// qemu point straight into guest RAM), queues an io_event and, with IOCB_FLAG_RESFD, signals the
// eventfd (eventfd_signal). A slot is free again once io_getevents has reaped the event.
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

interface Done { data: number; obj: number; res: number }

/** Bytes of `struct aio_ring` before its io_event array (fs/aio.c). */
const AIO_RING_HEADER = 32;
const PAGE_SIZE = 4096;

/**
 * ioctx_alloc + aio_setup_ring: the ring qemu's io_setup(nr_events) gets. The kernel doubles the
 * request (half the slots may sit in other CPUs' per-cpu counters: here one CPU), adds two, fills
 * whole pages, and keeps one slot free: reqs_available = nr_events - 1.
 */
export function aioRingSlots(nrEvents: number, possibleCpus = 1): number {
  const n = Math.max(nrEvents, possibleCpus * 4) * 2 + 2;
  const pages = Math.ceil((AIO_RING_HEADER + io_event.sizeof * n) / PAGE_SIZE);
  return Math.floor((pages * PAGE_SIZE - AIO_RING_HEADER) / io_event.sizeof) - 1;
}

export class AioContext {
  readonly completed: Done[] = [];
  inFlight = 0;
  /** Request slots: each submitted iocb holds one until its event is reaped. */
  constructor(readonly id: number, readonly maxEvents: number, public slots: number) {}
  get slotsInUse(): number { return this.inFlight + this.completed.length; }
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
  private nextId = 0x7f1a00000000;
  readonly faults: AioFaults = {};
  /** Fault hook kept for callers that set a result directly: the result an I/O completes with instead. */
  injectResult: ((opcode: number) => number | undefined) | undefined;
  /** Overrides the slots of contexts set up from now on (a host whose AIO ring is nearly full). */
  slotLimit: number | undefined;

  constructor(private readonly sched: Scheduler, private readonly t: Tracer, private readonly latencyNs: () => number) {}

  /** io_setup */
  setup(proc: HostProcess, nrEvents: number, ctxp: number): number {
    if (nrEvents <= 0) return -ERRNO.EINVAL;
    const id = this.nextId;
    this.nextId += 0x1000;
    this.ctxs.set(id, new AioContext(id, nrEvents, this.slotLimit ?? aioRingSlots(nrEvents)));
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
      ctx.completed.push({ data, obj: cb, res });
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

  /** io_getevents with a zero timeout: copy out up to `nr` completed events, freeing their slots. */
  getevents(proc: HostProcess, ctxId: number, nr: number, events: number): number {
    const ctx = this.ctxs.get(ctxId);
    if (!ctx) return -ERRNO.EINVAL;
    const n = Math.min(nr, ctx.completed.length);
    const mm = proc.mm;
    for (let i = 0; i < n; i++) {
      const e = ctx.completed[i]!;
      const p = events + i * io_event.sizeof;
      mm.setU64(p + io_event.data, e.data);
      mm.setU64(p + io_event.obj, e.obj);
      mm.setI64(p + io_event.res, e.res);
      mm.setI64(p + io_event.res2, 0);
    }
    ctx.completed.splice(0, n);
    return n;
  }
}
