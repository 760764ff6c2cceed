// util/main-loop.c + util/aio-posix.c: qemu's main loop thread. It sleeps in ppoll on the file
// descriptors of registered event notifiers and runs their handlers when they become readable.

import type { Block } from '../sim/scheduler';
import type { HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import { POLLIN } from '../host/file';
import type { Heap } from './heap';

export class MainLoop {
  private readonly handlers: { fd: number; cb: () => void }[] = [];
  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, private readonly heap: Heap) {}

  /** aio_set_event_notifier */
  aio_set_event_notifier(fd: number, cb: () => void): void { this.handlers.push({ fd, cb }); }

  /** main_loop → main_loop_wait → os_host_main_loop_wait → ppoll, then dispatch. */
  *run(): Generator<Block, void, void> {
    const mm = this.proc.mm;
    for (;;) {
      const hs = this.handlers;
      const fds = this.heap.alloc(8 * Math.max(1, hs.length));
      hs.forEach((h, i) => { mm.setI32(fds + 8 * i, h.fd); mm.setU16(fds + 8 * i + 4, POLLIN); });
      const r = yield* this.host.ppoll(this.proc, fds, hs.length);
      const ready = hs.filter((_, i) => mm.u16(fds + 8 * i + 6) & POLLIN);
      this.heap.release(fds);
      if (r < 0) throw new Error(`qemu: ppoll failed: ${r}`);
      for (const h of ready) h.cb();
    }
  }
}
