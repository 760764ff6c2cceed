// util/main-loop.c + util/aio-posix.c: qemu's main loop thread. It sleeps in ppoll on the file
// descriptors of registered event notifiers and runs their handlers when they become readable.

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

  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, private readonly heap: Heap, private readonly bql?: Bql) {
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
    const mm = this.proc.mm;
    for (;;) {
      const hs = this.handlers;
      const fds = this.heap.alloc(8 * Math.max(1, hs.length));
      hs.forEach((h, i) => { mm.setI32(fds + 8 * i, h.fd); mm.setU16(fds + 8 * i + 4, POLLIN); });
      this.polling = true;
      const r = yield* this.host.ppoll(this.proc, fds, hs.length);
      this.polling = false;
      this.bql?.lock(MAIN_LOOP_THREAD, -1);
      const ready = hs.filter((_, i) => mm.u16(fds + 8 * i + 6) & POLLIN);
      this.heap.release(fds);
      if (r < 0) throw new Error(`qemu: ppoll failed: ${r}`);
      for (const h of ready) h.cb();
      // aio_bh_poll
      while (this.bhs.length > 0) this.bhs.shift()!();
      this.shouldExit?.();
      this.bql?.unlock(MAIN_LOOP_THREAD, -1);
    }
  }
}
