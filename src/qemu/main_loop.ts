// util/main-loop.c + util/aio-posix.c: qemu's main loop thread. It sleeps in ppoll on the file
// descriptors of registered event notifiers and runs their handlers when they become readable.
// qemu-kvm 0.14's main_loop_wait (vl.c) slept in select() on an fd_set of its io_handlers instead,
// between qemu_mutex_unlock_iothread and qemu_mutex_lock_iothread.

import type { Block } from '../sim/scheduler';
import type { HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import { POLLIN } from '../host/file';
import { EFD_NONBLOCK } from '../host/eventfd';
import type { Heap } from './heap';
import type { Bql } from './bql';

/** The main thread's name in traces and BQL records (qemu's main loop runs in the process's first thread). */
export const MAIN_LOOP_THREAD = 'main loop';

export class MainLoop {
  private readonly handlers: { fd: number; cb: () => void }[] = [];
  /** ctx->notifier: written by aio_notify so that a sleeping ppoll returns and sees new handlers. */
  private readonly notifier: number;
  private polling = false;

  /** select() (qemu-kvm 0.14) rather than ppoll. */
  private readonly select: boolean;

  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, private readonly heap: Heap, private readonly bql?: Bql,
    era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1') {
    this.select = era === 'qemu-kvm-2013';
    this.notifier = host.eventfd2(proc, 0, EFD_NONBLOCK);
    this.handlers.push({ fd: this.notifier, cb: () => { this.rw(this.notifier, false); } });
  }

  private rw(fd: number, write: boolean): number {
    const a = this.heap.alloc(8);
    if (write) this.proc.mm.setU64(a, 1);
    const r = write ? this.host.write(this.proc, fd, a, 8) : this.host.readNow(this.proc, fd, a, 8);
    this.heap.release(a);
    return r;
  }

  private readonly bhs: (() => void)[] = [];
  /** main_loop_should_exit: the machine's requests (a system reset), looked at after each iteration, under the BQL. */
  shouldExit: (() => void) | undefined;

  /**
   * qemu_bh_schedule from another thread: queue the bottom half and aio_notify, which sets the
   * context's notifier (a write to its eventfd) so the loop wakes and runs it.
   */
  qemu_bh_schedule(bh: () => void): void {
    this.bhs.push(bh);
    this.rw(this.notifier, true);
  }

  /** aio_set_event_notifier; aio_notify wakes the loop if it is asleep in ppoll. */
  aio_set_event_notifier(fd: number, cb: () => void): void {
    this.handlers.push({ fd, cb });
    if (this.polling) this.rw(this.notifier, true);
  }

  /**
   * main_loop → main_loop_wait → os_host_main_loop_wait: drop the BQL, ppoll, take the BQL again;
   * then dispatch the ready handlers and bottom halves under it.
   */
  *run(): Generator<Block, void, void> {
    for (;;) {
      const ready = yield* this.poll();
      // The BQL is free unless a vCPU thread waits inside a device access (blk_drain); then this sleeps on it.
      const bql = this.bql;
      if (bql) { if (bql.free) bql.lock(MAIN_LOOP_THREAD, -1); else yield* bql.lock_wait(MAIN_LOOP_THREAD, -1); }
      this.dispatch(ready);
      this.shouldExit?.();
      this.bql?.unlock(MAIN_LOOP_THREAD, -1);
    }
  }

  /** The wait of the era — ppoll (QEMU 9.0) or select (qemu-kvm 0.14) — over every registered notifier; the handlers whose file became readable. */
  private *poll(): Generator<Block, { fd: number; cb: () => void }[], void> {
    if (this.select) return yield* this.main_loop_wait_select();
    const mm = this.proc.mm;
    const hs = this.handlers;
    const fds = this.heap.alloc(8 * Math.max(1, hs.length));
    hs.forEach((h, i) => { mm.setI32(fds + 8 * i, h.fd); mm.setU16(fds + 8 * i + 4, POLLIN); });
    this.polling = true;
    const r = yield* this.host.ppoll(this.proc, fds, hs.length);
    this.polling = false;
    const ready = hs.filter((_, i) => mm.u16(fds + 8 * i + 6) & POLLIN);
    this.heap.release(fds);
    if (r < 0) throw new Error(`qemu: ppoll failed: ${r}`);
    return ready;
  }

  /**
   * qemu-kvm 0.14 main_loop_wait: FD_SET each handler's fd, qemu_mutex_unlock_iothread, select(),
   * qemu_mutex_lock_iothread, the read handlers of the ready fds, qemu_bh_poll; then kvm_main_loop
   * looks at the requests (qemu_reset_requested → qemu_kvm_system_reset).
   */
  private *main_loop_wait_select(): Generator<Block, { fd: number; cb: () => void }[], void> {
    const mm = this.proc.mm;
    const hs = this.handlers;
    const FD_SETSIZE = 1024;
    const rfds = this.heap.alloc(FD_SETSIZE / 8);
    mm.fill(rfds, FD_SETSIZE / 8, 0);
    let nfds = -1;
    for (const h of hs) { mm.setU8(rfds + (h.fd >> 3), mm.u8(rfds + (h.fd >> 3)) | (1 << (h.fd & 7))); nfds = Math.max(nfds, h.fd); }
    this.polling = true;
    const r = yield* this.host.select(this.proc, nfds + 1, rfds);
    this.polling = false;
    const ready = hs.filter((h) => (mm.u8(rfds + (h.fd >> 3)) >> (h.fd & 7)) & 1);
    this.heap.release(rfds);
    if (r < 0) throw new Error(`qemu: select failed: ${r}`);
    return ready;
  }

  /** aio_dispatch_handlers, then aio_bh_poll. */
  private dispatch(ready: { fd: number; cb: () => void }[]): void {
    for (const h of ready) h.cb();
    while (this.bhs.length > 0) this.bhs.shift()!();
  }

  /**
   * aio_poll(qemu_aio_context, true) from another thread holding the BQL (AIO_WAIT_WHILE in the
   * main context): one blocking poll of the main loop's sources, their handlers run by the caller.
   * (A handler the main loop thread also saw ready finds its eventfd already read and does nothing.)
   */
  *aio_poll(): Generator<Block, void, void> {
    this.dispatch(yield* this.poll());
  }
}
