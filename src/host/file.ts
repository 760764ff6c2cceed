// The host kernel's file abstraction (struct file + file_operations): what a file descriptor refers
// to. Drivers such as kvm implement it; the syscall layer dispatches to it.

import type { Block, WaitQueue } from '../sim/scheduler';
import type { HostProcess } from './process';

export type SysGen = Generator<Block, number, void>;

export const POLLIN = 0x1;
export const POLLOUT = 0x4;

export interface HostFile {
  /** Who implements it: decides which box a crossing lands in (an ioctl on a kvm fd goes to kvm). */
  readonly owner: 'kvm' | 'host kernel';
  readonly name: string;
  ioctl?(req: number, arg: number, proc: HostProcess): SysGen;
  read?(proc: HostProcess, buf: number, count: number): SysGen;
  write?(proc: HostProcess, buf: number, count: number): SysGen;
  /** Ready mask now (POLLIN...). */
  poll?(): number;
  /** Wait queues of pollers to wake when readiness changes. */
  readonly pollers?: Set<WaitQueue>;
  /**
   * Pages for mmap of this file (the kvm_run area of a vcpu fd): one run of bytes, or several
   * mapped one after the other (pages that belong to different objects, as a vcpu's kvm_run and
   * its VM's coalesced MMIO ring).
   */
  mmap?(len: number, offset?: number): Uint8Array | Uint8Array[];
  release?(): void;
  /** A signal arrived for the thread blocked in a call on this file (signal_wake_up): a vcpu fd's KVM_RUN returns -EINTR. */
  signal?(): void;
}

/** Wake everyone polling a file (wake_up_poll). */
export function wakePollers(f: HostFile): void {
  if (f.pollers) for (const q of f.pollers) q.wakeAll();
}
