// The one deterministic scheduler. Host threads (qemu's vCPU threads, its main loop, AIO
// completions) are generators on a single FIFO run queue; timers fire in (time, sequence) order.
// Same input, same interleaving: no real threads, no wall clock.

import { Clock } from './clock';

/** What a thread yields: a wait queue to sleep on, or FREEZE to stop the world (a breakpoint). */
export type Block = WaitQueue | typeof FREEZE;
export const FREEZE = Symbol('freeze');
export type ThreadBody = Generator<Block, void, void>;

export class Thread {
  state: 'runnable' | 'blocked' | 'frozen' | 'done' = 'runnable';
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

interface Timer { t: number; seq: number; fn: () => void }

export class Scheduler {
  private runq: Thread[] = [];
  private head = 0;
  private timers: Timer[] = [];
  private timerSeq = 0;
  private frozen: Thread[] = [];
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

  /** Run `fn` at simulated time `t` (ns). */
  at(t: number, fn: () => void): void {
    const timer = { t, seq: this.timerSeq++, fn };
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

  /**
   * Run until a thread freezes the world (returns 'frozen') or nothing can run and no timer is
   * left (returns 'idle'). Threads frozen by an earlier run are resumed first.
   */
  run(): 'frozen' | 'idle' {
    for (const t of this.frozen) { t.state = 'runnable'; this.runq.push(t); }
    this.frozen = [];
    for (;;) {
      if (this.head < this.runq.length) {
        const t = this.runq[this.head++]!;
        if (this.head > 1024) { this.runq = this.runq.slice(this.head); this.head = 0; }
        const r = t.body.next();
        if (r.done) { t.state = 'done'; continue; }
        const b = r.value;
        if (b === FREEZE) { t.state = 'frozen'; this.frozen.push(t); return 'frozen'; }
        t.state = 'blocked';
        b.waiters.push(t);
        continue;
      }
      const timer = this.popTimer();
      if (timer === undefined) return 'idle';
      this.clock.advanceTo(timer.t);
      timer.fn();
    }
  }

  /**
   * Let the runnable threads run until each sleeps, without thawing frozen ones or advancing time
   * (used once after boot, so the running system the first action starts in has settled).
   */
  settle(): void {
    while (this.head < this.runq.length) {
      const t = this.runq[this.head++]!;
      const r = t.body.next();
      if (r.done) { t.state = 'done'; continue; }
      const b = r.value;
      if (b === FREEZE) { t.state = 'frozen'; this.frozen.push(t); continue; }
      t.state = 'blocked';
      b.waiters.push(t);
    }
    this.runq = [];
    this.head = 0;
  }

  /** Names of blocked threads and what they wait on, for deadlock reports. */
  describeBlocked(): string[] {
    return this.threads.filter((t) => t.state === 'blocked').map((t) => t.name);
  }
}
