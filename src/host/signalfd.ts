// fs/signalfd.c: signals read as data. The process blocks the signals (sigprocmask) and reads the
// pending ones from the descriptor, one struct signalfd_siginfo (128 bytes) each. A standard
// signal (below SIGRTMIN) is pending at most once: a second kill before the read is merged into the
// first (kernel/signal.c legacy_queue).

import { ERRNO } from '../uapi/errno';
import type { WaitQueue } from '../sim/scheduler';
import { POLLIN, wakePollers, type HostFile, type SysGen } from './file';
import type { HostProcess } from './process';

export const SFD_NONBLOCK = 0o4000;
/** SIGUSR2: posix-aio-compat's completion signal (qemu-kvm 0.14). */
export const SIGUSR2 = 12;
/** sizeof(struct signalfd_siginfo) */
export const SIGNALFD_SIGINFO_SIZE = 128;

export class SignalFd implements HostFile {
  readonly owner = 'host kernel';
  readonly name = 'anon_inode:[signalfd]';
  readonly pollers = new Set<WaitQueue>();
  /** Pending signals of the mask, lowest first. */
  private readonly pending = new Set<number>();
  constructor(readonly mask: ReadonlySet<number>, private readonly nonblock: boolean) {}

  /** A signal sent to the process (kill): pending here if the descriptor reads it. */
  deliver(sig: number): boolean {
    if (!this.mask.has(sig)) return false;
    this.pending.add(sig);
    wakePollers(this);
    return true;
  }

  /** signalfd_read: as many whole siginfos as fit; ssi_signo is the first field. */
  *read(proc: HostProcess, buf: number, count: number): SysGen {
    if (count < SIGNALFD_SIGINFO_SIZE) return -ERRNO.EINVAL;
    if (this.pending.size === 0) {
      if (this.nonblock) return -ERRNO.EAGAIN;
      throw new Error('signalfd: a blocking read with nothing pending is not modelled');
    }
    let n = 0;
    for (const sig of [...this.pending].sort((a, b) => a - b)) {
      if (n + SIGNALFD_SIGINFO_SIZE > count) break;
      proc.mm.slice(buf + n, SIGNALFD_SIGINFO_SIZE).fill(0);
      proc.mm.setU32(buf + n, sig);
      this.pending.delete(sig);
      n += SIGNALFD_SIGINFO_SIZE;
    }
    return n;
  }

  poll(): number { return this.pending.size > 0 ? POLLIN : 0; }
}
