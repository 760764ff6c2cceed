// fs/eventfd.c: a 64-bit counter that write adds to and read takes (non-semaphore mode).

import { ERRNO } from '../uapi/errno';
import { WaitQueue, type Scheduler } from '../sim/scheduler';
import { POLLIN, POLLOUT, wakePollers, type HostFile, type SysGen, type SysResult } from './file';
import type { HostProcess } from './process';

export const EFD_NONBLOCK = 0o4000;

export class EventFd implements HostFile {
  readonly owner = 'host kernel';
  readonly name = 'anon_inode:[eventfd]';
  count = 0;
  readonly pollers = new Set<WaitQueue>();
  private readonly wq: WaitQueue;
  constructor(sched: Scheduler, private readonly nonblock: boolean) { this.wq = new WaitQueue(sched, 'eventfd'); }

  /**
   * Kernel-side wait-queue entries with a wake function (init_waitqueue_func_entry): kvm's irqfd
   * registers one, so a signal runs it in the signaller's context, as irqfd_wakeup runs.
   */
  readonly wakeFuncs = new Set<(e: EventFd) => void>();

  /** eventfd_signal: from kernel context (AIO completion, kvm's ioeventfd) or a write(2). */
  signal(n = 1): void {
    this.count += n;
    this.wq.wakeAll();
    wakePollers(this);
    for (const f of this.wakeFuncs) f(this);
  }

  /** eventfd_ctx_do_read: a kernel consumer takes the count. */
  take(): number { const c = this.count; this.count = 0; return c; }

  /** eventfd_read: the count, or — nothing to read on a blocking descriptor — a sleep until there is. */
  read(proc: HostProcess, buf: number, count: number): SysResult {
    if (count < 8) return -ERRNO.EINVAL;
    if (this.count === 0) return this.nonblock ? -ERRNO.EAGAIN : this.readSleeps(proc, buf);
    return this.readCount(proc, buf);
  }
  private *readSleeps(proc: HostProcess, buf: number): SysGen {
    while (this.count === 0) yield this.wq;
    return this.readCount(proc, buf);
  }
  private readCount(proc: HostProcess, buf: number): number {
    proc.mm.setU64(buf, this.count);
    this.count = 0;
    return 8;
  }

  write(proc: HostProcess, buf: number, count: number): number {
    if (count < 8) return -ERRNO.EINVAL;
    this.signal(proc.mm.u64(buf));
    return 8;
  }

  poll(): number { return (this.count > 0 ? POLLIN : 0) | POLLOUT; }
}
