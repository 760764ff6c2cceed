// Linux 3.2's block layer for virtio-blk: the single request queue of block/blk-core.c with the
// driver's request function (drivers/block/virtio_blk.c do_virtblk_request). blk-mq came with
// Linux 3.13 and virtio-blk moved to it in 3.13; the seed's Fedora 15 kernel (Linux 3.2) queued
// requests like this:
//   - submit_bio → generic_make_request → blk_queue_bio: a bio merges into the last plugged
//     request (attempt_plug_merge) or takes a struct request from the queue's pool — q->nr_requests,
//     BLKDEV_MAX_RQ = 128 of them — sleeping in get_request_wait when none is free;
//   - under a plug the request waits in the task's plug list (flushed when it holds
//     BLK_MAX_REQUEST_COUNT = 16, at blk_finish_plug, or when the task sleeps); without one it is
//     added to the queue at once; either way __blk_run_queue calls the request function, except for
//     a plug flushed as the task goes to sleep, whose run is left to kblockd (queue_unplugged →
//     blk_run_queue_async → blk_delay_work);
//   - do_virtblk_request takes the queue's requests in order (blk_peek_request, which fires
//     block_rq_issue the first time it sees one), puts each on the ring (do_req → virtqueue_add_buf)
//     and, once it has issued any, kicks once (virtqueue_kick). A request the ring cannot hold stays
//     at the head of the queue, and the queue is stopped (blk_stop_queue);
//   - the completion interrupt's blk_done ends the requests (__blk_end_request_all) and always calls
//     blk_start_queue, whose __blk_run_queue runs the request function at once, in the interrupt
//     handler: the requests that waited are issued and kicked before the handler's EOI.
// Limits: max_sectors is BLK_DEF_MAX_SECTORS (1024 in 3.2: 512 KiB), max_segments qemu-kvm's
// seg_max (128 − 2). Simplifications: the elevator is taken as noop (first in, first out; merges
// only into the plugged list, no elv_merge into requests already queued — Fedora's default cfq
// also sorted and idled); one pool of requests for reads and writes, without 3.2's per-direction
// counts and batching; a request function with an empty queue does nothing and is not recorded.

import { defineEvent, type Tracer } from '../trace/events';
import { BlockLayer, bioBytes, type BlockEvents, type QueueLimits, type Request } from './block';
import { EV_RQ_ISSUE, EV_SUBMIT_BIO, OP_CODE } from './blk_mq';
import type { KCode } from './io';
import type { VirtioBlkDriver } from './virtio_blk';

/** BLKDEV_MAX_RQ: the queue's default nr_requests. */
export const BLKDEV_MAX_RQ = 128;

const call = (name: string, args: string[]) => defineEvent('call', 'guest kernel', 'guest kernel', name, args);
const EVENTS: BlockEvents = {
  flushPlug: call('blk_flush_plug_list', ['requests']),
  allocWait: call('get_request_wait', ['in_flight']),
  stop: call('blk_stop_queue', ['queued']),
  start: call('blk_start_queue', []),
  runWork: call('blk_delay_work', ['requests']),
};

export class RequestQueue extends BlockLayer {
  readonly kernel = '3.2' as const;
  protected readonly limits: QueueLimits = { maxSectors: 1024, maxSegments: 126, maxRequestCount: 16, plugFlushSize: 0 };
  protected readonly ev = EVENTS;
  /** q->queue_head: requests added to the queue, not yet taken by the driver (blk_start_request). */
  private queue: Request[] = [];
  /** Inside blk_start_queue's run: requests the driver takes now had waited for the restart. */
  private restarting = false;

  constructor(t: Tracer, drv: VirtioBlkDriver, waitUntil: (cond: () => boolean) => KCode) {
    super(t, drv, waitUntil, EV_SUBMIT_BIO);
  }

  /** Requests waiting in the queue for the driver. */
  get queued(): number { return this.queue.length; }

  protected queueDepth(): number { return BLKDEV_MAX_RQ; }

  protected driverHooks(): NonNullable<VirtioBlkDriver['queue']> {
    return {
      stop: () => this.blk_stop_queue(),
      complete: (r) => this.endRequest(r as Request),
      restart: () => this.blk_start_queue(),
    };
  }

  /**
   * The plug's requests, or one request, added to the queue (__elv_add_request); then the queue runs
   * (__blk_run_queue), or — flushed as the task goes to sleep — kblockd will run it (blk_run_queue_async).
   */
  protected *dispatch(list: Request[], fromSchedule: boolean): KCode {
    this.queue.push(...list);
    if (fromSchedule) { if (!this.stopped) this.runPending = true; return; }
    yield* this.run_queue();
  }

  /** __blk_run_queue: nothing while the queue is stopped; else the driver's request function. */
  private *run_queue(): KCode {
    if (this.stopped || this.queue.length === 0) return;
    yield* this.drv.do_virtblk_request({
      // blk_peek_request: the head of the queue; block_rq_issue the first time the driver sees it (REQ_STARTED).
      peek: () => {
        const rq = this.queue[0];
        if (rq && !rq.started) {
          rq.started = true;
          if (this.t.on) this.t.rec(EV_RQ_ISSUE, 0, OP_CODE[rq.op], rq.sector, bioBytes(rq));
        }
        return rq;
      },
      // blk_start_request: the driver owns it now.
      start: () => {
        this.queue.shift();
        this.inFlight++;
        if (this.restarting) this.stats.requeued++;
      },
      stop: () => this.blk_stop_queue(),
    });
  }

  /** blk_stop_queue: QUEUE_FLAG_STOPPED; the request function is not called until blk_start_queue. */
  private blk_stop_queue(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stats.stops++;
    if (this.t.on) this.t.rec(this.ev.stop, 0, this.queue.length);
  }

  /** blk_start_queue (from blk_done, in the interrupt handler): clear the stop, and run the queue now. */
  private *blk_start_queue(): KCode {
    if (this.t.on) this.t.rec(this.ev.start, 0);
    const was = this.stopped;
    this.stopped = false;
    if (was) this.stats.restarts++;
    this.restarting = was;
    try { yield* this.run_queue(); } finally { this.restarting = false; }
  }

  /** kblockd's blk_delay_work: __blk_run_queue for a plug flushed by a task that went to sleep. */
  *run_work(): KCode {
    this.runPending = false;
    if (this.queue.length === 0 || this.stopped) return;
    if (this.t.on) this.t.rec(this.ev.runWork, 0, this.queue.length);
    yield* this.run_queue();
  }
}
