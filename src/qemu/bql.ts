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

import { defineEvent, type Tracer } from '../trace/events';

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
  private readonly ev: { lock: number; unlock: number; vcpuLock: number; vcpuUnlock: number };
  /** qemu-kvm 0.14's vCPU threads hold it outside KVM_RUN (post_kvm_run … pre_kvm_run). */
  readonly heldOutsideKvmRun: boolean;
  constructor(private readonly t: Tracer, era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1') {
    this.heldOutsideKvmRun = era === 'qemu-kvm-2013';
    this.ev = this.heldOutsideKvmRun
      ? { lock: EV_LOCK_0_14, unlock: EV_UNLOCK_0_14, vcpuLock: EV_POST_KVM_RUN, vcpuUnlock: EV_PRE_KVM_RUN }
      : { lock: EV_LOCK, unlock: EV_UNLOCK, vcpuLock: EV_LOCK, vcpuUnlock: EV_UNLOCK };
  }

  /** bql_locked() / qemu_mutex_iothread_locked(): whether the calling thread holds it. */
  lockedBy(thread: string): boolean { return this.holder === thread; }

  /**
   * bql_lock. Only one host thread runs at a time in the model and every holder drops the lock before
   * it sleeps, so the lock is always free here: contention (a futex wait) cannot arise, and if it did
   * the model would be wrong — it says so instead of inventing a wait.
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
  }
}
