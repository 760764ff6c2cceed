// blk-mq, Linux 6.1's block layer (block/blk-mq.c, blk-mq-tag.c), reduced to what decides the
// requests, kicks and waits (the bio, plug, split and merge it shares with 3.2 are in block.ts):
//   - each request needs a tag (a request and its virtblk_req pdu); with none free the task flushes
//     its plug and sleeps until a completion frees one (blk_mq_get_tag → io_schedule);
//   - under a plug requests are held and merged back-to-back with the last one
//     (blk_attempt_plug_merge); the plug is flushed at blk_finish_plug, when it holds
//     BLK_MAX_REQUEST_COUNT requests, or when its last request has reached BLK_PLUG_FLUSH_SIZE
//     (blk_add_rq_to_plug); a flush sends them to ->queue_rq with bd->last on the final one, so the
//     batch costs one kick;
//   - without a plug a request is issued at once (blk_mq_try_issue_directly);
//   - when the ring is full the driver kicks, stops the hardware queue and returns
//     BLK_STS_DEV_RESOURCE: the request and those after it wait on hctx->dispatch until a
//     completion restarts the queue (virtblk_done → blk_mq_start_stopped_hw_queues), whose run
//     (kblockd's blk_mq_run_work_fn) dispatches them again.
// Simplifications: the queue runs without an I/O scheduler (scheduler "none"); one hardware queue;
// the limits are the ones qemu's device offers (seg_max 126) and 6.1's default max_sectors (2560),
// taken as constants rather than read from the device's config space; a plug flushed as the task
// goes to sleep is dispatched at once (6.1 leaves that run to kblockd).

import { defineEvent, type Tracer } from '../trace/events';
import { BlockLayer, bioBytes, type BioOp, type BlockEvents, type QueueLimits, type Request } from './block';
import type { KCode } from './io';
import type { VirtioBlkDriver } from './virtio_blk';

export { SECTOR_SIZE, bioAddPage, bioBytes, newBio, type Bio, type BioOp } from './block';

/** BLK_DEF_MAX_SECTORS (6.1): the largest request blk-mq builds, 1280 KiB. */
export const MAX_SECTORS = 2560;
/** blk_queue_max_segments(q, sg_elems): qemu's seg_max. */
export const MAX_SEGMENTS = 126;
const ENOSPC = 28;

const call = (name: string, args: string[]) => defineEvent('call', 'guest kernel', 'guest kernel', name, args);
export const EV_SUBMIT_BIO = call('submit_bio', ['sector', 'bytes']);
const EVENTS: BlockEvents = {
  flushPlug: call('blk_mq_flush_plug_list', ['requests']),
  allocWait: call('blk_mq_get_tag', ['in_flight']),
  stop: call('blk_mq_stop_hw_queue', ['queued']),
  start: call('blk_mq_start_stopped_hw_queues', []),
  runWork: call('blk_mq_run_work_fn', ['requests']),
};
/** The block layer's tracepoints (include/trace/events/block.h): a request goes to the driver, or comes back. */
const RWBS = (n: number) => ['R', 'W', 'F'][n] ?? String(n);
export const OP_CODE: Record<BioOp, number> = { read: 0, write: 1, flush: 2 };
export const EV_RQ_ISSUE = defineEvent('tracepoint', 'guest kernel', 'guest kernel', 'block_rq_issue', [{ name: 'rwbs', fmt: RWBS }, 'sector', 'bytes']);
const EV_RQ_REQUEUE = defineEvent('tracepoint', 'guest kernel', 'guest kernel', 'block_rq_requeue', [{ name: 'rwbs', fmt: RWBS }, 'sector', 'bytes']);

export class BlkMq extends BlockLayer {
  readonly kernel = '6.1' as const;
  protected readonly limits: QueueLimits = { maxSectors: MAX_SECTORS, maxSegments: MAX_SEGMENTS, maxRequestCount: 32, plugFlushSize: 128 * 1024 };
  protected readonly ev = EVENTS;
  /** hctx->dispatch: requests the driver turned away (BLK_STS_DEV_RESOURCE), in order. */
  private dispatchList: Request[] = [];

  constructor(t: Tracer, drv: VirtioBlkDriver, waitUntil: (cond: () => boolean) => KCode) {
    super(t, drv, waitUntil, EV_SUBMIT_BIO);
  }

  /**
   * blk_mq_init_queue after virtblk_probe: the tag set's depth is the ring's free descriptors, halved
   * without indirect descriptors (two or more per request), as virtblk_probe sizes it.
   */
  protected queueDepth(): number { return Math.min(Math.floor(this.drv.vq!.numFree / 2), 4096 / 32); }

  protected driverHooks(): NonNullable<VirtioBlkDriver['queue']> {
    return {
      stop: () => this.stopHwQueue(),
      complete: (r) => this.endRequest(r as Request),
      restart: () => this.startStoppedHwQueues(),
    };
  }

  /**
   * blk_mq_dispatch_rq_list: each request to virtio_queue_rq, bd->last on the final one. A stopped
   * queue, or requests already waiting on hctx->dispatch, keep the order: these wait behind them.
   */
  protected *dispatch(list: Request[]): KCode {
    if (this.stopped || this.dispatchList.length > 0) { this.dispatchList.push(...list); return; }
    for (let i = 0; i < list.length; i++) {
      const rq = list[i]!;
      if (this.t.on) this.t.rec(EV_RQ_ISSUE, 0, OP_CODE[rq.op], rq.sector, bioBytes(rq));
      const r = yield* this.drv.virtio_queue_rq(rq, i === list.length - 1);
      if (r === -ENOSPC) {
        if (this.t.on) this.t.rec(EV_RQ_REQUEUE, 0, OP_CODE[rq.op], rq.sector, bioBytes(rq));
        // BLK_STS_DEV_RESOURCE: the driver kicked and stopped the queue; the rest wait for the restart.
        this.dispatchList.push(...list.slice(i));
        if (this.t.on) this.t.rec(this.ev.stop, 0, list.length - i);
        return;
      }
      if (r < 0) { this.endRequest(rq, -5, false); continue; }
      this.inFlight++;
    }
  }

  private stopHwQueue(): void { this.stopped = true; this.stats.stops++; }

  /** blk_mq_start_stopped_hw_queues(q, true): the queue runs again from kblockd. */
  private *startStoppedHwQueues(): KCode {
    if (!this.stopped) return;
    this.stopped = false;
    this.stats.restarts++;
    this.runPending = true;
    if (this.t.on) this.t.rec(this.ev.start, 0);
  }

  /** blk_mq_run_work_fn (kblockd, on this CPU): dispatch what waits on hctx->dispatch. */
  *run_work(): KCode {
    this.runPending = false;
    const list = this.dispatchList;
    this.dispatchList = [];
    if (list.length === 0) return;
    this.stats.requeued += list.length;
    if (this.t.on) this.t.rec(this.ev.runWork, 0, list.length);
    yield* this.dispatch(list);
  }
}
