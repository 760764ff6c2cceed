// posix-aio-compat.c (qemu-kvm 0.14): the seed's era's thread pool, for aio=threads and for every
// flush. paio_submit queues the request and qemu_paio_submit wakes an idle aio_thread
// (cond_signal: a futex wake when one sleeps); the thread runs it (handle_aiocb_flush →
// qemu_fdatasync, handle_aiocb_rw → preadv/pwritev) and tells the process with
// kill(getpid(), SIGUSR2). paio_init blocked SIGUSR2 and reads it from a signalfd that the main
// loop polls: posix_aio_read reads the 128-byte siginfo, and posix_aio_process_queue runs the
// callbacks of the requests that have finished. (QEMU 9.0's util/thread-pool.c does the same work
// with a semaphore and a bottom half: thread_pool.ts.)

import { defineEvent, type Tracer } from '../../trace/events';
import type { HostKernel } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import { SFD_NONBLOCK, SIGNALFD_SIGINFO_SIZE, SIGUSR2 } from '../../host/signalfd';
import type { Heap } from '../heap';
import type { MainLoop } from '../main_loop';
import type { Completion } from './linux_aio';
import type { WorkerFunc } from './thread_pool';

/** QEMU_AIO_READ, QEMU_AIO_WRITE, QEMU_AIO_FLUSH (block/raw-aio.h of the era). */
export const QEMU_AIO_READ = 0x1;
export const QEMU_AIO_WRITE = 0x2;
export const QEMU_AIO_FLUSH = 0x8;

interface PaioCb { func: WorkerFunc; cb: Completion; ret: number; done: boolean }

const EV_SUBMIT = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'paio_submit', ['sector_num', 'nb_sectors', 'type']);
const EV_READ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'posix_aio_read', []);
const EV_PROCESS = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'posix_aio_process_queue', ['ret']);

export class PosixAioCompat {
  /** request_list, and the requests handed to a thread that have not been called back yet (s->first_aio). */
  private readonly requests: PaioCb[] = [];
  private readonly active: PaioCb[] = [];
  /** The condition variable's futex word, in qemu's memory. */
  private readonly cond: number;
  private idle = 0;
  private readonly sigfd: number;
  private readonly buf: number;

  /**
   * paio_init: SIGUSR2 blocked and read through a non-blocking signalfd, whose handler
   * (posix_aio_read) the main loop runs. One aio_thread is started here; qemu-kvm spawned the first
   * on the first request (spawn_thread), inside that request's walk.
   */
  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, heap: Heap,
    loop: MainLoop, private readonly t: Tracer) {
    this.cond = heap.alloc(4);
    this.buf = heap.alloc(SIGNALFD_SIGINFO_SIZE);
    this.sigfd = host.signalfd4(proc, [SIGUSR2], SFD_NONBLOCK);
    loop.aio_set_event_notifier(this.sigfd, () => this.posix_aio_read());
    host.clone(proc, 'aio_thread', this.aio_thread());
  }

  /** paio_submit (`sector`, `sectors`, `type` as its trace shows them) → qemu_paio_submit. */
  submit(func: WorkerFunc, cb: Completion, sector = 0, sectors = 0, type = QEMU_AIO_FLUSH): void {
    if (this.t.on) this.t.rec(EV_SUBMIT, -1, sector, sectors, type);
    this.requests.push({ func, cb, ret: 0, done: false });
    // cond_signal(&cond)
    const mm = this.proc.mm;
    mm.setU32(this.cond, mm.u32(this.cond) + 1);
    if (this.idle > 0) this.host.futex_wake(this.proc, this.cond, 1);
  }

  /** aio_thread: take a request, run it, kill(pid, ev_signo). (The 10-second idle exit is not modelled.) */
  private *aio_thread(): Generator<import('../../sim/scheduler').Block, void, void> {
    const mm = this.proc.mm;
    for (;;) {
      while (this.requests.length === 0) {
        this.idle++;
        yield* this.host.futex_wait(this.proc, this.cond, mm.u32(this.cond));
        this.idle--;
      }
      const req = this.requests.shift()!;
      this.active.push(req);
      req.ret = yield* req.func();
      req.done = true;
      this.host.kill(this.proc, this.proc.pid, SIGUSR2);
    }
  }

  /** posix_aio_read: read the pending siginfo from the signalfd, then posix_aio_process_queue. */
  private posix_aio_read(): void {
    if (this.t.on) this.t.rec(EV_READ, -1);
    const r = this.host.readNow(this.proc, this.sigfd, this.buf, SIGNALFD_SIGINFO_SIZE);
    if (r !== SIGNALFD_SIGINFO_SIZE) return;
    // posix_aio_process_queue: every finished request's callback, in submission order.
    for (let i = 0; i < this.active.length;) {
      const req = this.active[i]!;
      if (!req.done) { i++; continue; }
      this.active.splice(i, 1);
      if (this.t.on) this.t.rec(EV_PROCESS, -1, req.ret);
      req.cb(req.ret);
    }
  }
}
