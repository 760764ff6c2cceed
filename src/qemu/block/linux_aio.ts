// block/linux-aio.c: aio=native. Each request becomes an iocb in qemu's heap (io_prep_pwritev,
// io_set_eventfd), io_submit sends it; completion arrives on the eventfd, which the main loop
// polls: qemu_laio_completion_cb reads it (event_notifier_test_and_clear), io_getevents collects
// the events and each request's coroutine resumes (here: its completion callback runs).

import { defineEvent, type Tracer } from '../../trace/events';
import { IOCB_CMD_FDSYNC, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, io_event, iocb, iovec } from '../../uapi/aio';
import { ERRNO } from '../../uapi/errno';
import { EFD_NONBLOCK } from '../../host/eventfd';
import type { HostKernel } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import type { Heap } from '../heap';
import type { IoVec } from '../virtio';
import type { MainLoop } from '../main_loop';

export const MAX_EVENTS = 128;

export type Completion = (ret: number) => void;

interface LaioCb { iocb: number; iov: number; nbytes: number; cb: Completion }

export class LinuxAioState {
  private readonly ctxp: number;
  readonly ctx: number;
  readonly efd: number;
  private readonly events: number;
  private readonly inflight = new Map<number, LaioCb>();
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

  /** laio_co_submit → laio_do_submit → ioq_submit → io_submit. Returns 0 or -errno. */
  submit(fd: number, offset: number, qiov: IoVec[], type: 'write' | 'read' | 'flush', cb: Completion): number {
    const mm = this.proc.mm;
    const cbp = this.heap.alloc(iocb.sizeof);
    const iov = qiov.length > 0 ? this.heap.alloc(qiov.length * iovec.sizeof) : 0;
    let nbytes = 0;
    qiov.forEach((v, i) => {
      mm.setU64(iov + i * iovec.sizeof + iovec.iov_base, v.hva);
      mm.setU64(iov + i * iovec.sizeof + iovec.iov_len, v.len);
      nbytes += v.len;
    });
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
    const iocbs = this.heap.alloc(8);
    mm.setU64(iocbs, cbp);
    let r = this.host.io_submit(this.proc, this.ctx, 1, iocbs);
    // ioq_submit: -EAGAIN means the queue is full; qemu retries once completions drain (here: at once).
    if (r === -ERRNO.EAGAIN) r = this.host.io_submit(this.proc, this.ctx, 1, iocbs);
    this.heap.release(iocbs);
    if (r < 0) { this.free(cbp, iov); return r; }
    this.inflight.set(cbp, { iocb: cbp, iov, nbytes, cb });
    return 0;
  }

  private free(cbp: number, iov: number): void {
    this.heap.release(cbp);
    if (iov) this.heap.release(iov);
  }

  /** qemu_laio_completion_cb → qemu_laio_process_completions: collect events, complete each request. */
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
      this.free(cbp, l.iov);
      // qemu_laio_process_completion: a full transfer is success; a short one is -ENOSPC (write) or zero-filled (read).
      const ret = res === l.nbytes ? 0 : res < 0 ? res : -ERRNO.ENOSPC;
      l.cb(ret);
    }
  }
}
