// The Big QEMU Lock (qemu_global_mutex): qemu_mutex_lock_iothread/qemu_mutex_unlock_iothread in the
// QEMU 7.2 the linux-6.1 profile follows (renamed bql_lock/bql_unlock in 9.0). Device emulation
// runs under it: the main loop holds it except while it sleeps in ppoll (os_host_main_loop_wait),
// and a vCPU thread — which runs KVM_RUN without it — takes it for the access when an exit reaches a
// device (prepare_mmio_access in softmmu/physmem.c), and drops it when the access is done.

import type { Block } from '../sim/scheduler';
import { defineEvent, type Tracer } from '../trace/events';

/** The mutex word in qemu's memory and the futex calls on it (qemu_futex_wait / qemu_futex_wake). */
export interface MutexFutex {
  set(v: number): void;
  wait(v: number): Generator<Block, number, void>;
  wake(): void;
}

const EV_LOCK = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_mutex_lock_iothread', ['thread:str']);
const EV_UNLOCK = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_mutex_unlock_iothread', ['thread:str']);

export class Bql {
  /** The thread that holds it, or null. */
  private holder: string | null = null;
  /** Threads asleep on the lock's futex. */
  private waiters = 0;
  constructor(private readonly t: Tracer, private readonly futex?: MutexFutex) {}

  /** Nobody holds it. */
  get free(): boolean { return this.holder === null; }

  /**
   * qemu_mutex_lock_iothread for a thread that may find it held: the one case is a vCPU thread that
   * waits for requests in flight inside a device access (blk_drain's AIO_WAIT_WHILE) and keeps the
   * lock while it sleeps in ppoll. The other thread then sleeps on the mutex (a futex wait on its
   * word, marked contended) until the holder unlocks.
   */
  *lock_wait(thread: string, vcpu: number): Generator<Block, void, void> {
    while (this.holder !== null) {
      if (!this.futex) throw new Error(`qemu: ${thread} finds the BQL held by ${this.holder} and the machine has no futex for it`);
      this.waiters++;
      this.futex.set(2);
      yield* this.futex.wait(2);
      this.waiters--;
    }
    this.lock(thread, vcpu);
  }

  /** qemu_mutex_iothread_locked(): whether the calling thread holds it. */
  lockedBy(thread: string): boolean { return this.holder === thread; }

  /**
   * qemu_mutex_lock_iothread. Only one host thread runs at a time in the model and every holder drops the lock before
   * it sleeps, so the lock is always free here: contention (a futex wait) cannot arise, and if it did
   * the model would be wrong — it says so instead of inventing a wait.
   */
  lock(thread: string, vcpu: number): void {
    if (this.holder !== null) throw new Error(`qemu: ${thread} takes the BQL while ${this.holder} holds it (a holder slept with the lock)`);
    this.holder = thread;
    if (this.t.on) this.t.rec(EV_LOCK, vcpu, this.t.str(thread));
  }

  /** qemu_mutex_unlock_iothread */
  unlock(thread: string, vcpu: number): void {
    if (this.holder !== thread) throw new Error(`qemu: ${thread} drops the BQL it does not hold (held by ${this.holder ?? 'nobody'})`);
    this.holder = null;
    if (this.t.on) this.t.rec(EV_UNLOCK, vcpu, this.t.str(thread));
    if (this.waiters > 0) { this.futex!.set(0); this.futex!.wake(); }
  }
}
