// block/linux-aio.c: aio=native. Two eras of it.
//
// QEMU 9.0: each request becomes an iocb in qemu's heap (io_prep_pwritev, io_set_eventfd) and
// joins the pending queue (laio_do_submit). ioq_submit hands the queue to io_submit in one call;
// inside a defer_call section (virtio_blk_handle_vq) that happens once, at its end
// (laio_deferred_fn), so a kick's requests go to the host together. io_submit failing with -EAGAIN
// (no request slot in the kernel's ring) leaves the requests queued and the queue blocked: they are
// submitted again from the completion path (qemu_laio_process_completions_and_submit) — so with
// nothing in flight, nothing resubmits them. Any other error fails the first queued request and the
// rest are retried. Completion arrives on the eventfd, which the main loop polls:
// qemu_laio_completion_cb reads it (event_notifier_test_and_clear) and qemu_laio_process_completions
// reads the events straight from the ring the kernel mapped at the context's address
// (io_getevents_advance_and_peek: ring->tail against ring->head, then head moved by qemu) — no
// io_getevents syscall. io_setup asks for MAX_EVENTS = 1024.
//
// qemu-kvm 0.14 (the seed's era): laio_submit prepares the iocb and calls io_submit(ctx, 1, &iocb)
// at once; qemu_laio_completion_cb loops reading the eventfd — its count is how many events to
// collect — and collects them with io_getevents(ctx, val, MAX_EVENTS = 128, events, {0}), until the
// read fails with EAGAIN. A short write completes with -EINVAL.

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

/** MAX_EVENTS of QEMU 9.0's block/linux-aio.c (128 before 6.2, and in qemu-kvm 0.14). */
export const MAX_EVENTS = 1024;
export const MAX_EVENTS_0_14 = 128;
/** DEFAULT_MAX_BATCH: requests laio_do_submit lets queue up before it submits inside a defer section. */
export const DEFAULT_MAX_BATCH = 32;

/** struct aio_ring as block/linux-aio.c copies it from fs/aio.c: head and tail, then the io_events. */
const RING_NR = 4;
const RING_HEAD = 8;
const RING_TAIL = 12;
const RING_EVENTS = 32;

export type Completion = (ret: number) => void;

/** Which block/linux-aio.c: QEMU 9.0's, or qemu-kvm 0.14's. */
export type LaioEra = 'qemu-9.0' | 'qemu-kvm-0.14';

/** struct qemu_laiocb */
interface LaioCb { iocb: number; iov: number; nbytes: number; isRead: boolean; cb: Completion }

const EV_IOQ_SUBMIT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'ioq_submit', ['queued', 'in_flight']);
const EV_PROCESS_COMPLETIONS = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_laio_process_completions', ['events']);

export class LinuxAioState {
  private readonly ctxp: number;
  readonly ctx: number;
  readonly efd: number;
  private readonly events: number;
  private readonly maxEvents: number;
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
    private readonly t: Tracer, loop: MainLoop, private readonly era: LaioEra = 'qemu-9.0') {
    this.evSubmit = defineEvent('call', 'qemu-kvm', 'qemu-kvm', era === 'qemu-kvm-0.14' ? 'laio_submit' : 'laio_co_submit', ['offset:hex', 'bytes', 'opcode']);
    this.evCompletion = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_laio_completion_cb', ['events']);
    this.maxEvents = era === 'qemu-kvm-0.14' ? MAX_EVENTS_0_14 : MAX_EVENTS;
    this.efd = host.eventfd2(proc, 0, EFD_NONBLOCK);
    this.ctxp = heap.alloc(8);
    const r = host.io_setup(proc, this.maxEvents, this.ctxp);
    if (r < 0) throw new Error(`qemu: io_setup failed: ${r}`);
    this.ctx = proc.mm.u64(this.ctxp);
    // qemu-kvm 0.14 collects into struct io_event events[MAX_EVENTS] on its stack.
    this.events = era === 'qemu-kvm-0.14' ? heap.alloc(this.maxEvents * io_event.sizeof) : 0;
    loop.aio_set_event_notifier(this.efd, () => this.qemu_laio_completion_cb());
  }

  /** Requests queued in qemu that io_submit has not accepted yet. */
  get queued(): number { return this.pending.length; }
  /** Requests the host kernel holds. */
  get inFlightCount(): number { return this.inFlight; }

  /** laio_co_submit → laio_do_submit (9.0), laio_submit (0.14): build the iocb, then queue or submit it. Returns 0. */
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
    const l: LaioCb = { iocb: cbp, iov, nbytes, isRead: type === 'read', cb };
    if (this.era === 'qemu-kvm-0.14') return this.laio_submit(l);
    this.pending.push(l);
    if (!this.blocked) {
      if (this.pending.length >= this.laio_max_batch()) this.ioq_submit();
      else this.defer_call();
    }
    return 0;
  }

  /** qemu-kvm 0.14 laio_submit: s->count++, io_submit(s->ctx, 1, &iocbs); a failure fails the request. */
  private laio_submit(l: LaioCb): number {
    const iocbs = this.heap.alloc(8);
    this.proc.mm.setU64(iocbs, l.iocb);
    const r = this.host.io_submit(this.proc, this.ctx, 1, iocbs);
    this.heap.release(iocbs);
    if (r < 0) { this.heap.release(l.iocb); if (l.iov) this.heap.release(l.iov); return r; }
    this.inflight.set(l.iocb, l);
    this.inFlight++;
    return 0;
  }

  /** laio_max_batch: the default batch, less what the ring cannot take while requests are in flight. */
  private laio_max_batch(): number { return Math.min(DEFAULT_MAX_BATCH, Math.max(1, this.maxEvents - this.inFlight)); }

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

  /**
   * ioq_submit: io_submit the queue (as much as the ring takes); -EAGAIN blocks it, another error
   * fails one request. With requests in flight it then looks at the ring at once
   * (qemu_laio_process_completions), in case something has completed already.
   */
  private ioq_submit(): void {
    const mm = this.proc.mm;
    if (this.t.on) this.t.rec(EV_IOQ_SUBMIT, -1, this.pending.length, this.inFlight);
    let ret = 0;
    let len = 0;
    do {
      if (this.inFlight >= this.maxEvents) break;
      len = Math.min(this.pending.length, this.maxEvents - this.inFlight);
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
    if (this.inFlight > 0) this.qemu_laio_process_completions();
  }

  private complete(l: LaioCb, res: number): void {
    this.heap.release(l.iocb);
    if (l.iov) this.heap.release(l.iov);
    // qemu_laio_process_completion: a full transfer is success; a short read means end of file
    // (zero-padded; the model's image never ends inside a request); a short write is -ENOSPC
    // (-EINVAL in qemu-kvm 0.14).
    const short = this.era === 'qemu-kvm-0.14' ? -ERRNO.EINVAL : -ERRNO.ENOSPC;
    const ret = res === l.nbytes ? 0 : res < 0 ? res : l.isRead ? 0 : short;
    l.cb(ret);
  }

  /** The iocb an io_event names, out of flight. */
  private reap(obj: number, res: number): void {
    const l = this.inflight.get(obj);
    if (!l) throw new Error(`qemu: io_event for unknown iocb 0x${obj.toString(16)}`);
    this.inflight.delete(obj);
    this.inFlight--;
    this.complete(l, res);
  }

  /** Read the eventfd once (event_notifier_test_and_clear); its count, or the negative errno. */
  private readEventfd(): number {
    const buf = this.heap.alloc(8);
    const r = this.host.readNow(this.proc, this.efd, buf, 8);
    const val = r === 8 ? this.proc.mm.u64(buf) : r;
    this.heap.release(buf);
    return val;
  }

  /**
   * qemu_laio_completion_cb. 9.0: if event_notifier_test_and_clear, qemu_laio_process_completions_and_submit.
   * 0.14: read the eventfd until EAGAIN; each count is collected with io_getevents.
   */
  private qemu_laio_completion_cb(): void {
    if (this.era === 'qemu-kvm-0.14') {
      for (;;) {
        const val = this.readEventfd();
        if (val <= 0) break;
        const n = this.host.io_getevents(this.proc, this.ctx, val, this.maxEvents, this.events);
        if (this.t.on) this.t.rec(this.evCompletion, -1, Math.max(n, 0));
        const mm = this.proc.mm;
        for (let i = 0; i < n; i++) {
          const e = this.events + i * io_event.sizeof;
          this.reap(mm.u64(e + io_event.obj), mm.i64(e + io_event.res));
        }
      }
      return;
    }
    if (this.readEventfd() <= 0) return;
    if (this.t.on) this.t.rec(this.evCompletion, -1, this.ringPeek().n);
    this.qemu_laio_process_completions();
    if (this.pending.length > 0) this.ioq_submit();
  }

  /** io_getevents_peek: events from head up to tail (or the ring's end), read from the ring in qemu's memory. */
  private ringPeek(): { head: number; n: number } {
    const mm = this.proc.mm;
    const head = mm.u32(this.ctx + RING_HEAD);
    const tail = mm.u32(this.ctx + RING_TAIL);
    return { head, n: tail >= head ? tail - head : mm.u32(this.ctx + RING_NR) - head };
  }

  /**
   * qemu_laio_process_completions: io_getevents_advance_and_peek until the ring is empty — each
   * batch is processed, then head is moved past it (io_getevents_commit), without a syscall.
   */
  private qemu_laio_process_completions(): void {
    const mm = this.proc.mm;
    let { head, n } = this.ringPeek();
    if (n === 0) return;
    if (this.t.on) this.t.rec(EV_PROCESS_COMPLETIONS, -1, n);
    while (n > 0) {
      for (let i = 0; i < n; i++) {
        const e = this.ctx + RING_EVENTS + (head + i) * io_event.sizeof;
        this.reap(mm.u64(e + io_event.obj), mm.i64(e + io_event.res));
      }
      mm.setU32(this.ctx + RING_HEAD, (head + n) % mm.u32(this.ctx + RING_NR));
      ({ head, n } = this.ringPeek());
    }
  }
}
