// util/thread-pool.c: qemu's pool of worker threads for blocking host I/O (aio=threads, and flushes).
// A request goes on the pool's list and qemu_sem_post wakes a worker (a futex wake if one sleeps);
// the worker makes the blocking syscall, then schedules the completion bottom half on the main
// loop (aio_notify: an eventfd write), where the request's callback runs.

import { defineEvent, type Tracer } from '../../trace/events';
import type { Block } from '../../sim/scheduler';
import type { HostKernel, } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import type { Heap } from '../heap';
import type { MainLoop } from '../main_loop';
import type { Completion } from './linux_aio';

export type WorkerFunc = () => Generator<Block, number, void>;

interface ThreadPoolElement { func: WorkerFunc; cb: Completion; ret: number }

const EV_SUBMIT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'thread_pool_submit_aio', []);
const EV_COMPLETE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'thread_pool_completion_bh', ['ret']);

export class ThreadPool {
  private readonly requests: ThreadPoolElement[] = [];
  /** pool->sem: its count lives in qemu's memory, where the futex is. */
  private readonly sem: number;
  private sleeping = 0;

  /**
   * The pool starts `minThreads` workers at once (the thread-pool-min property); qemu's default of 0
   * would spawn the first one on the first request, inside the first I/O's walk.
   */
  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, heap: Heap,
    private readonly loop: MainLoop, private readonly t: Tracer, minThreads = 1) {
    this.sem = heap.alloc(4);
    for (let i = 0; i < minThreads; i++) host.clone(proc, `worker ${i}`, this.worker_thread());
  }

  /** thread_pool_submit_aio */
  submit(func: WorkerFunc, cb: Completion): void {
    if (this.t.on) this.t.rec(EV_SUBMIT, -1);
    this.requests.push({ func, cb, ret: 0 });
    // qemu_sem_post
    const mm = this.proc.mm;
    mm.setU32(this.sem, mm.u32(this.sem) + 1);
    if (this.sleeping > 0) this.host.futex_wake(this.proc, this.sem, 1);
  }

  /** worker_thread */
  private *worker_thread(): Generator<Block, void, void> {
    const mm = this.proc.mm;
    for (;;) {
      // qemu_sem_timedwait(&pool->sem, 10000): the idle timeout that retires workers is not modelled.
      while (mm.u32(this.sem) === 0) {
        this.sleeping++;
        yield* this.host.futex_wait(this.proc, this.sem, 0);
        this.sleeping--;
      }
      mm.setU32(this.sem, mm.u32(this.sem) - 1);
      const req = this.requests.shift()!;
      req.ret = yield* req.func();
      this.loop.qemu_bh_schedule(() => {
        if (this.t.on) this.t.rec(EV_COMPLETE, -1, req.ret);
        req.cb(req.ret);
      });
    }
  }
}
