// block/linux-aio.c (QEMU 8.2–9.x): aio=native. Each request becomes an iocb in qemu's heap
// (io_prep_pwritev, io_set_eventfd) and joins the pending queue (laio_do_submit). ioq_submit hands
// the queue to io_submit in one call; inside a defer_call section (virtio_blk_handle_vq) that
// happens once, at its end (laio_deferred_fn), so a kick's requests go to the host together.
// io_submit failing with -EAGAIN (no request slot in the kernel's ring) leaves the requests queued
// and the queue blocked: they are submitted again from the completion path
// (qemu_laio_process_completions_and_submit) — so with nothing in flight, nothing resubmits them.
// Any other error fails the first queued request and the rest are retried.
// Completion arrives on the eventfd, which the main loop polls: qemu_laio_completion_cb reads it
// (event_notifier_test_and_clear), collects the events and each request's coroutine resumes (here:
// its completion callback runs). (Simplification: qemu ≥ 2.10 reads the events from the ring
// mapped in its memory, io_getevents_peek; this model, like 2.8, makes the io_getevents syscall.)

import { defineEvent, type Tracer } from '../../trace/events';
import { IOCB_CMD_FDSYNC, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, io_event, iocb } from '../../uapi/aio';
import { ERRNO } from '../../uapi/errno';
import { EFD_NONBLOCK } from '../../host/eventfd';
import type { HostKernel } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import type { Heap } from '../heap';
import type { IoVec } from '../virtio';
import type { MainLoop } from '../main_loop';
import { iovecArray } from './iov';

export const MAX_EVENTS = 128;
/** DEFAULT_MAX_BATCH: requests laio_do_submit lets queue up before it submits inside a defer section. */
export const DEFAULT_MAX_BATCH = 32;

export type Completion = (ret: number) => void;

/** struct qemu_laiocb */
interface LaioCb { iocb: number; iov: number; nbytes: number; isRead: boolean; cb: Completion }

const EV_IOQ_SUBMIT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'ioq_submit', ['queued', 'in_flight']);

export class LinuxAioState {
  private readonly ctxp: number;
  readonly ctx: number;
  readonly efd: number;
  private readonly events: number;
  /** Submitted and not yet completed, by iocb address. */
  private readonly inflight = new Map<number, LaioCb>();
  /** s->io_q: pending (queued, not yet accepted by io_submit), in_flight, blocked. */
  private readonly pending: LaioCb[] = [];
  private inFlight = 0;
  blocked = false;
  /** defer_call nesting (util/defer-call.c) and whether laio_deferred_fn is queued. */
  private deferDepth = 0;
  private deferred = false;
  private readonly evSubmit: number;
  private readonly evCompletion: number;

  /** laio_init: an eventfd (event_notifier_init) and an AIO context (io_setup), attached to the main loop. */
  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, private readonly heap: Heap,
    private readonly t: Tracer, loop: MainLoop, submitName: string) {
    this.evSubmit = defineEvent('call', 'qemu-kvm', 'qemu-kvm', submitName, ['offset:hex', 'bytes', 'opcode']);
    this.evCompletion = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_laio_completion_cb', ['events']);
    this.efd = host.eventfd2(proc, 0, EFD_NONBLOCK);
    this.ctxp = heap.alloc(8);
    const r = host.io_setup(proc, MAX_EVENTS, this.ctxp);
    if (r < 0) throw new Error(`qemu: io_setup failed: ${r}`);
    this.ctx = proc.mm.u64(this.ctxp);
    this.events = heap.alloc(MAX_EVENTS * io_event.sizeof);
    loop.aio_set_event_notifier(this.efd, () => this.qemu_laio_completion_cb());
  }

  /** Requests queued in qemu that io_submit has not accepted yet. */
  get queued(): number { return this.pending.length; }
  /** Requests the host kernel holds. */
  get inFlightCount(): number { return this.inFlight; }

  /** laio_co_submit → laio_do_submit: build the iocb, queue it, submit now or at the end of the defer section. Returns 0. */
  submit(fd: number, offset: number, qiov: IoVec[], type: 'write' | 'read' | 'flush', cb: Completion): number {
    const mm = this.proc.mm;
    const cbp = this.heap.alloc(iocb.sizeof);
    const { iov, nbytes } = iovecArray(this.heap, qiov);
    const opcode = type === 'write' ? IOCB_CMD_PWRITEV : type === 'read' ? IOCB_CMD_PREADV : IOCB_CMD_FDSYNC;
    // io_prep_pwritev / io_prep_preadv / io_prep_fdsync, then io_set_eventfd.
    mm.setU64(cbp + iocb.aio_data, 0);
    mm.setU16(cbp + iocb.aio_lio_opcode, opcode);
    mm.setU32(cbp + iocb.aio_fildes, fd);
    mm.setU64(cbp + iocb.aio_buf, iov);
    mm.setU64(cbp + iocb.aio_nbytes, qiov.length);
    mm.setI64(cbp + iocb.aio_offset, offset);
    mm.setU32(cbp + iocb.aio_flags, IOCB_FLAG_RESFD);
    mm.setU32(cbp + iocb.aio_resfd, this.efd);
    if (this.t.on) this.t.rec(this.evSubmit, -1, offset, nbytes, opcode);
    this.pending.push({ iocb: cbp, iov, nbytes, isRead: type === 'read', cb });
    if (!this.blocked) {
      if (this.pending.length >= this.laio_max_batch()) this.ioq_submit();
      else this.defer_call();
    }
    return 0;
  }

  /** laio_max_batch: the default batch, less what the ring cannot take while requests are in flight. */
  private laio_max_batch(): number { return Math.min(DEFAULT_MAX_BATCH, Math.max(1, MAX_EVENTS - this.inFlight)); }

  /** defer_call: outside a section the function runs now; inside, once at the end. */
  private defer_call(): void {
    if (this.deferDepth === 0) this.laio_deferred_fn();
    else this.deferred = true;
  }
  defer_call_begin(): void { this.deferDepth++; }
  defer_call_end(): void {
    if (--this.deferDepth > 0 || !this.deferred) return;
    this.deferred = false;
    this.laio_deferred_fn();
  }

  /** laio_deferred_fn */
  private laio_deferred_fn(): void {
    if (!this.blocked && this.pending.length > 0) this.ioq_submit();
  }

  /** ioq_submit: io_submit the queue (as much as the ring takes); -EAGAIN blocks it, another error fails one request. */
  private ioq_submit(): void {
    const mm = this.proc.mm;
    if (this.t.on) this.t.rec(EV_IOQ_SUBMIT, -1, this.pending.length, this.inFlight);
    let ret = 0;
    let len = 0;
    do {
      if (this.inFlight >= MAX_EVENTS) break;
      len = Math.min(this.pending.length, MAX_EVENTS - this.inFlight);
      const iocbs = this.heap.alloc(8 * len);
      for (let i = 0; i < len; i++) mm.setU64(iocbs + 8 * i, this.pending[i]!.iocb);
      ret = this.host.io_submit(this.proc, this.ctx, len, iocbs);
      this.heap.release(iocbs);
      if (ret === -ERRNO.EAGAIN) break;
      if (ret < 0) {
        // Fail the first request, retry the rest.
        const first = this.pending.shift()!;
        this.complete(first, ret);
        continue;
      }
      for (const l of this.pending.splice(0, ret)) this.inflight.set(l.iocb, l);
      this.inFlight += ret;
    } while (ret === len && this.pending.length > 0);
    this.blocked = this.pending.length > 0;
  }

  private complete(l: LaioCb, res: number): void {
    this.heap.release(l.iocb);
    if (l.iov) this.heap.release(l.iov);
    // qemu_laio_process_completion: a full transfer is success; a short write is -ENOSPC; a short
    // read means end of file (zero-padded; the model's image never ends inside a request).
    const ret = res === l.nbytes ? 0 : res < 0 ? res : l.isRead ? 0 : -ERRNO.ENOSPC;
    l.cb(ret);
  }

  /** qemu_laio_completion_cb → qemu_laio_process_completions_and_submit. */
  private qemu_laio_completion_cb(): void {
    const mm = this.proc.mm;
    const buf = this.heap.alloc(8);
    const r = this.host.readNow(this.proc, this.efd, buf, 8); // event_notifier_test_and_clear
    this.heap.release(buf);
    if (r < 0) return;
    const n = this.host.io_getevents(this.proc, this.ctx, MAX_EVENTS, MAX_EVENTS, this.events);
    if (this.t.on) this.t.rec(this.evCompletion, -1, n);
    for (let i = 0; i < n; i++) {
      const e = this.events + i * io_event.sizeof;
      const cbp = mm.u64(e + io_event.obj);
      const res = mm.i64(e + io_event.res);
      const l = this.inflight.get(cbp);
      if (!l) throw new Error(`qemu: io_event for unknown iocb 0x${cbp.toString(16)}`);
      this.inflight.delete(cbp);
      this.inFlight--;
      this.complete(l, res);
    }
    if (this.pending.length > 0) this.ioq_submit();
  }
}
