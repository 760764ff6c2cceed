// fs/aio.c: Linux native AIO. io_submit reads each iocb from the submitter's memory, starts the
// I/O, and returns; the block device completes it after its latency: aio_complete moves the data
// (DMA to or from the iovecs, which for qemu point straight into guest RAM), queues an io_event and,
// with IOCB_FLAG_RESFD, signals the eventfd (eventfd_signal).

import { ERRNO } from '../uapi/errno';
import { IOCB_CMD_FDSYNC, IOCB_CMD_FSYNC, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, io_event, iocb, iovec } from '../uapi/aio';
import type { Scheduler } from '../sim/scheduler';
import { defineEvent, type Tracer } from '../trace/events';
import { EventFd } from './eventfd';
import type { HostProcess } from './process';
import { RegularFile } from './regular';

interface Done { data: number; obj: number; res: number }

export class AioContext {
  readonly completed: Done[] = [];
  inFlight = 0;
  constructor(readonly id: number, readonly maxEvents: number) {}
}

const EV_AIO_COMPLETE = defineEvent('aio-complete', 'host kernel', 'host kernel', 'aio_complete', ['opcode', 'offset:hex', 'res']);

export class Aio {
  private ctxs = new Map<number, AioContext>();
  private nextId = 0x7f1a00000000;
  /** Fault injection hook: the result an I/O completes with instead of its byte count (-EIO, -ENOSPC). */
  injectResult: ((opcode: number) => number | undefined) | undefined;

  constructor(private readonly sched: Scheduler, private readonly t: Tracer, private readonly latencyNs: () => number) {}

  /** io_setup */
  setup(proc: HostProcess, nrEvents: number, ctxp: number): number {
    if (nrEvents <= 0) return -ERRNO.EINVAL;
    const id = this.nextId;
    this.nextId += 0x1000;
    this.ctxs.set(id, new AioContext(id, nrEvents));
    proc.mm.setU64(ctxp, id);
    return 0;
  }

  /** io_submit: returns how many iocbs were submitted, or -errno if none. */
  submit(proc: HostProcess, ctxId: number, nr: number, iocbpp: number): number {
    const ctx = this.ctxs.get(ctxId);
    if (!ctx) return -ERRNO.EINVAL;
    let i = 0;
    for (; i < nr; i++) {
      const r = this.submitOne(proc, ctx, proc.mm.u64(iocbpp + 8 * i));
      if (r < 0) return i > 0 ? i : r;
    }
    return i;
  }

  private submitOne(proc: HostProcess, ctx: AioContext, cb: number): number {
    const mm = proc.mm;
    const opcode = mm.u16(cb + iocb.aio_lio_opcode);
    const file = proc.file(mm.u32(cb + iocb.aio_fildes));
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
    if (ctx.inFlight >= ctx.maxEvents) return -ERRNO.EAGAIN;
    const data = mm.u64(cb + iocb.aio_data);
    const iov = mm.u64(cb + iocb.aio_buf);
    const iovcnt = mm.u64(cb + iocb.aio_nbytes);
    const offset = mm.i64(cb + iocb.aio_offset);
    ctx.inFlight++;
    this.sched.at(this.sched.clock.now + this.latencyNs(), () => {
      const res = this.injectResult?.(opcode) ?? this.perform(proc, file, opcode, iov, iovcnt, offset);
      if (this.t.on) this.t.rec(EV_AIO_COMPLETE, -1, opcode, offset, res);
      ctx.inFlight--;
      ctx.completed.push({ data, obj: cb, res });
      resfd?.signal(1);
    });
    return 0;
  }

  /** The I/O itself, when the device completes it: the data moves between the iovecs and the file. */
  private perform(proc: HostProcess, file: RegularFile, opcode: number, iov: number, iovcnt: number, offset: number): number {
    if (opcode === IOCB_CMD_FDSYNC || opcode === IOCB_CMD_FSYNC) { file.image.fdatasync(); return 0; }
    const mm = proc.mm;
    let pos = offset;
    for (let k = 0; k < iovcnt; k++) {
      const base = mm.u64(iov + k * iovec.sizeof + iovec.iov_base);
      const len = mm.u64(iov + k * iovec.sizeof + iovec.iov_len);
      if (pos + len > file.image.size) return pos > offset ? pos - offset : -ERRNO.ENOSPC;
      if (opcode === IOCB_CMD_PWRITEV) file.image.pwrite(pos, mm.slice(base, len));
      else mm.slice(base, len).set(file.image.pread(pos, len));
      pos += len;
    }
    return pos - offset;
  }

  /** io_getevents with a zero timeout: copy out up to `nr` completed events. */
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
