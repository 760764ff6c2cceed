// The one deterministic scheduler. Host threads (qemu's vCPU threads, its main loop, AIO
// completions) are generators on a single FIFO run queue; timers fire in (time, sequence) order.
// Same input, same interleaving: no real threads, no wall clock.

import { Clock } from './clock';

/**
 * What a thread yields: a wait queue to sleep on; FREEZE to stop at the simulator's breakpoint; or
 * PARK — a vCPU thread whose guest keeps computing while the host's other threads run (on other
 * host CPUs): it goes on once they have nothing left to do now.
 */
export type Block = WaitQueue | typeof FREEZE | typeof PARK;
export const FREEZE = Symbol('freeze');
export const PARK = Symbol('park');
export type ThreadBody = Generator<Block, void, void>;

export class Thread {
  state: 'runnable' | 'blocked' | 'frozen' | 'parked' | 'done' = 'runnable';
  constructor(readonly name: string, readonly body: ThreadBody) {}
}

/** A Linux-style wait queue: threads sleep on it until woken. */
export class WaitQueue {
  waiters: Thread[] = [];
  constructor(readonly sched: Scheduler, readonly name: string) {}
  /** Wake every sleeper (wake_up_all); returns how many were woken. */
  wakeAll(): number {
    const w = this.waiters;
    if (w.length === 0) return 0;
    this.waiters = [];
    for (const t of w) this.sched.makeRunnable(t);
    return w.length;
  }
}

/** A pending timer; `cancelled` ones are dropped when they come up, without moving the clock. */
export interface Timer { t: number; seq: number; fn: () => void; cancelled?: boolean }

export class Scheduler {
  private runq: Thread[] = [];
  private head = 0;
  private timers: Timer[] = [];
  private timerSeq = 0;
  private frozen: Thread[] = [];
  private parked: Thread[] = [];
  readonly threads: Thread[] = [];

  constructor(readonly clock: Clock) {}

  spawn(name: string, body: ThreadBody): Thread {
    const t = new Thread(name, body);
    this.threads.push(t);
    this.runq.push(t);
    return t;
  }

  makeRunnable(t: Thread): void {
    if (t.state === 'blocked') { t.state = 'runnable'; this.runq.push(t); }
  }

  /** hrtimer_cancel: the timer will not fire, and its time no longer counts as host work. */
  cancel(timer: Timer): void { timer.cancelled = true; }

  /** Drop cancelled timers from the front of the heap. */
  private pruneTimers(): void {
    while (this.timers.length > 0 && this.timers[0]!.cancelled) this.popTimer();
  }

  /** Run `fn` at simulated time `t` (ns). */
  at(t: number, fn: () => void): Timer {
    const timer: Timer = { t, seq: this.timerSeq++, fn };
    const h = this.timers;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const hp = h[p]!;
      if (hp.t < timer.t || (hp.t === timer.t && hp.seq < timer.seq)) break;
      h[i] = hp; i = p;
    }
    h[i] = timer;
    return timer;
  }

  private popTimer(): Timer | undefined {
    const h = this.timers;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        let mv = last;
        const lv = h[l], rv = h[r];
        if (lv !== undefined && (lv.t < mv.t || (lv.t === mv.t && lv.seq < mv.seq))) { m = l; mv = lv; }
        if (rv !== undefined && (rv.t < mv.t || (rv.t === mv.t && rv.seq < mv.seq))) { m = r; mv = rv; }
        if (m === i) break;
        h[i] = mv; i = m;
      }
      h[i] = last;
    }
    return top;
  }

  /** The thread whose body is running now. */
  current: Thread | undefined;

  /**
   * Run until the machine is quiet: no thread can run and no timer is left. A thread that yields
   * FREEZE (a vCPU at the simulator's breakpoint, still in guest mode) stops there while the others
   * go on — the other vCPUs and host threads finish what the action started. Returns 'frozen' when
   * some thread is frozen at the end, 'idle' when none is (the guest waits for something that will
   * not come). Threads frozen by an earlier run are resumed first.
   */
  run(): 'frozen' | 'idle' {
    for (const t of this.frozen) { t.state = 'runnable'; this.runq.push(t); }
    this.frozen = [];
    for (;;) {
      if (this.head < this.runq.length) {
        const t = this.runq[this.head++]!;
        if (this.head > 1024) { this.runq = this.runq.slice(this.head); this.head = 0; }
        this.step(t);
        continue;
      }
      this.pruneTimers();
      // Parked vCPUs go on once nothing else can run now: before any timer that is not yet due.
      if (this.parked.length > 0 && !(this.timers.length > 0 && this.timers[0]!.t <= this.clock.now)) {
        for (const t of this.parked) { t.state = 'runnable'; this.runq.push(t); }
        this.parked = [];
        continue;
      }
      const timer = this.popTimer();
      if (timer === undefined) return this.frozen.length > 0 ? 'frozen' : 'idle';
      this.clock.advanceTo(timer.t);
      timer.fn();
    }
  }

  private step(t: Thread): void {
    this.current = t;
    const r = t.body.next();
    this.current = undefined;
    if (r.done) { t.state = 'done'; return; }
    const b = r.value;
    if (b === FREEZE) { t.state = 'frozen'; this.frozen.push(t); return; }
    if (b === PARK) { t.state = 'parked'; this.parked.push(t); return; }
    t.state = 'blocked';
    b.waiters.push(t);
  }

  /**
   * A frozen thread runs again: its vCPU, in guest mode at the breakpoint, has an event to take
   * (an interrupt kvm_vcpu_kick sent it).
   */
  thaw(t: Thread): void {
    const i = this.frozen.indexOf(t);
    if (i < 0) return;
    this.frozen.splice(i, 1);
    t.state = 'runnable';
    this.runq.push(t);
  }

  /**
   * When the host has something of its own to do, in ns: now if another thread can run, else the
   * next timer (Infinity when none). A vCPU computing in its guest parks then.
   */
  nextHostWork(): number {
    if (this.head < this.runq.length) return this.clock.now;
    this.pruneTimers();
    return this.timers.length > 0 ? this.timers[0]!.t : Infinity;
  }

  /** Names of blocked threads and what they wait on, for deadlock reports. */
  describeBlocked(): string[] {
    return this.threads.filter((t) => t.state === 'blocked').map((t) => t.name);
  }
}
