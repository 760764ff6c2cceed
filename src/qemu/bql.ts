// The Big QEMU Lock (qemu_global_mutex): bql_lock/bql_unlock in QEMU 9.0, which the linux-6.1
// profile follows (qemu_mutex_lock_iothread/qemu_mutex_unlock_iothread before 9.0). Device emulation
// runs under it: the main loop holds it except while it sleeps in ppoll (os_host_main_loop_wait),
// and a vCPU thread — which runs KVM_RUN without it — takes it for the access when an exit reaches a
// device (prepare_mmio_access in system/physmem.c), and drops it when the access is done.
//
// qemu-kvm 0.14 (the seed's era) called it qemu_mutex: the main loop dropped it around select()
// (qemu_mutex_unlock_iothread, qemu_mutex_lock_iothread in main_loop_wait), and a vCPU thread held
// it all the time except inside KVM_RUN — pre_kvm_run unlocked it before the ioctl, post_kvm_run
// took it again as soon as the ioctl returned, whatever the exit (qemu-kvm.c).

import type { Block } from '../sim/scheduler';
import { defineEvent, type Tracer } from '../trace/events';

/** The mutex word in qemu's memory and the futex calls on it (qemu_futex_wait / qemu_futex_wake). */
export interface MutexFutex {
  set(v: number): void;
  wait(v: number): Generator<Block, number, void>;
  wake(): void;
}

const ev = (name: string) => defineEvent('call', 'qemu-kvm', 'qemu-kvm', name, ['thread:str']);
const EV_LOCK = ev('bql_lock');
const EV_UNLOCK = ev('bql_unlock');
const EV_LOCK_0_14 = ev('qemu_mutex_lock_iothread');
const EV_UNLOCK_0_14 = ev('qemu_mutex_unlock_iothread');
const EV_POST_KVM_RUN = ev('post_kvm_run');
const EV_PRE_KVM_RUN = ev('pre_kvm_run');

/** The calls that take the lock, in either era (for readers of a trace). */
export const BQL_LOCK_NAMES: ReadonlySet<string> = new Set(['bql_lock', 'qemu_mutex_lock_iothread', 'post_kvm_run']);

export class Bql {
  /** The thread that holds it, or null. */
  private holder: string | null = null;
  /** Threads asleep on the lock's futex. */
  private waiters = 0;
  private readonly ev: { lock: number; unlock: number; vcpuLock: number; vcpuUnlock: number };
  /** qemu-kvm 0.14's vCPU threads hold it outside KVM_RUN (post_kvm_run … pre_kvm_run). */
  readonly heldOutsideKvmRun: boolean;
  constructor(private readonly t: Tracer, era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1', private readonly futex?: MutexFutex) {
    this.heldOutsideKvmRun = era === 'qemu-kvm-2013';
    this.ev = this.heldOutsideKvmRun
      ? { lock: EV_LOCK_0_14, unlock: EV_UNLOCK_0_14, vcpuLock: EV_POST_KVM_RUN, vcpuUnlock: EV_PRE_KVM_RUN }
      : { lock: EV_LOCK, unlock: EV_UNLOCK, vcpuLock: EV_LOCK, vcpuUnlock: EV_UNLOCK };
  }

  /** Nobody holds it. */
  get free(): boolean { return this.holder === null; }

  /**
   * bql_lock for a thread that may find it held: the one case is a vCPU thread that waits for
   * requests in flight inside a device access (blk_drain's AIO_WAIT_WHILE) and keeps the lock while
   * it sleeps in ppoll. The other thread then sleeps on the mutex (a futex wait on its word, marked
   * contended) until the holder unlocks.
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

  /** bql_locked() / qemu_mutex_iothread_locked(): whether the calling thread holds it. */
  lockedBy(thread: string): boolean { return this.holder === thread; }

  /**
   * bql_lock. Only one host thread runs at a time in the model and every holder but blk_drain's
   * drops the lock before it sleeps, so the lock is free here (lock_wait is for the one case where
   * it may not be): if it is held, the model is wrong and says so instead of inventing a wait.
   */
  lock(thread: string, vcpu: number): void {
    if (this.holder !== null) throw new Error(`qemu: ${thread} takes the BQL while ${this.holder} holds it (a holder slept with the lock)`);
    this.holder = thread;
    if (this.t.on) this.t.rec(vcpu >= 0 ? this.ev.vcpuLock : this.ev.lock, vcpu, this.t.str(thread));
  }

  /** bql_unlock */
  unlock(thread: string, vcpu: number): void {
    if (this.holder !== thread) throw new Error(`qemu: ${thread} drops the BQL it does not hold (held by ${this.holder ?? 'nobody'})`);
    this.holder = null;
    if (this.t.on) this.t.rec(vcpu >= 0 ? this.ev.vcpuUnlock : this.ev.unlock, vcpu, this.t.str(thread));
    if (this.waiters > 0) { this.futex!.set(0); this.futex!.wake(); }
  }
}
