// The block layer between the file system and the virtio-blk driver (block/blk-core.c, blk-mq.c,
// blk-merge.c, blk-mq-tag.c; Linux 6.1), reduced to what decides the requests, kicks and waits:
//   - a bio is split to the queue's limits (bio_split_to_limits: max_sectors, max_segments);
//   - each piece needs a tag (a request and its virtblk_req pdu); with none free the task flushes
//     its plug and sleeps until a completion frees one (blk_mq_get_tag → io_schedule);
//   - under a plug (blk_start_plug) requests are held and merged back-to-back with the last one
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
// taken as constants rather than read from the device's config space.

import { defineEvent, type Tracer } from '../trace/events';
import type { KCode } from './io';
import type { BlkRequest, VirtioBlkDriver } from './virtio_blk';
import type { Sg } from './virtio_ring';

export const SECTOR_SIZE = 512;
/** BLK_DEF_MAX_SECTORS (6.1): the largest request blk-mq builds, 1280 KiB. */
export const MAX_SECTORS = 2560;
/** blk_queue_max_segments(q, sg_elems): qemu's seg_max (queue size − 2). */
export const MAX_SEGMENTS = 126;
/** BLK_MAX_REQUEST_COUNT and BLK_PLUG_FLUSH_SIZE (block/blk-mq.c). */
export const BLK_MAX_REQUEST_COUNT = 32;
export const BLK_PLUG_FLUSH_SIZE = 128 * 1024;
const ENOSPC = 28;

export type BioOp = 'read' | 'write' | 'flush';

/** struct bio, reduced: where, what (guest-physical segments), and its completion. */
export interface Bio {
  op: BioOp;
  sector: number;
  sgs: Sg[];
  /** bi_end_io: runs when the request carrying the bio (its last piece) completes. */
  end?: (status: number) => void;
  /** 0 or a negative errno once done. */
  status: number;
  done: boolean;
}

/** A request: the driver's view (BlkRequest) plus blk-mq's tag and the bios it carries. */
interface Request extends BlkRequest { tag: number; bios: Bio[] }

const EV_SUBMIT_BIO = defineEvent('call', 'guest kernel', 'guest kernel', 'submit_bio', ['sector', 'bytes']);
const EV_FLUSH_PLUG = defineEvent('call', 'guest kernel', 'guest kernel', 'blk_mq_flush_plug_list', ['requests']);
const EV_GET_TAG_WAIT = defineEvent('call', 'guest kernel', 'guest kernel', 'blk_mq_get_tag', ['in_flight']);
const EV_DEV_RESOURCE = defineEvent('call', 'guest kernel', 'guest kernel', 'blk_mq_stop_hw_queue', ['queued']);
const EV_START_QUEUE = defineEvent('call', 'guest kernel', 'guest kernel', 'blk_mq_start_stopped_hw_queues', []);
const EV_RUN_WORK = defineEvent('call', 'guest kernel', 'guest kernel', 'blk_mq_run_work_fn', ['requests']);
/** The block layer's tracepoints (include/trace/events/block.h): a request goes to the driver, or comes back. */
const RWBS = (n: number) => ['R', 'W', 'F'][n] ?? String(n);
const OP_CODE: Record<BioOp, number> = { read: 0, write: 1, flush: 2 };
const EV_RQ_ISSUE = defineEvent('tracepoint', 'guest kernel', 'guest kernel', 'block_rq_issue', [{ name: 'rwbs', fmt: RWBS }, 'sector', 'bytes']);
const EV_RQ_REQUEUE = defineEvent('tracepoint', 'guest kernel', 'guest kernel', 'block_rq_requeue', [{ name: 'rwbs', fmt: RWBS }, 'sector', 'bytes']);

export const bioBytes = (b: { sgs: readonly Sg[] }): number => { let n = 0; for (const s of b.sgs) n += s.len; return n; };

/** bio_add_page: a page (or part of one) joins the bio; physically contiguous with the last segment, it extends it. */
export function bioAddPage(bio: Bio, gpa: number, len: number): void {
  const last = bio.sgs[bio.sgs.length - 1];
  if (last && last.gpa + last.len === gpa) last.len += len;
  else bio.sgs.push({ gpa, len });
}

export function newBio(op: BioOp, sector: number, end?: (status: number) => void): Bio {
  return { op, sector, sgs: [], end, status: 0, done: false };
}

export class BlkMq {
  /** The free tags; each owns a 32-byte virtblk_req (out_hdr and status byte) in guest RAM. */
  private freeTags: number[] = [];
  private pduBase = 0;
  depth = 0;
  private plugged: Request[] | null = null;
  /** hctx->dispatch: requests the driver turned away (BLK_STS_DEV_RESOURCE), in order. */
  private dispatchList: Request[] = [];
  /** BLK_MQ_S_STOPPED */
  stopped = false;
  /** kblockd has a queue run to do (blk_mq_start_stopped_hw_queues(q, async = true)). */
  runPending = false;
  /** Requests the driver holds (issued, not completed). */
  inFlight = 0;
  /** Counts for the tests: times the queue was stopped, and requests re-dispatched after a restart. */
  readonly stats = { stops: 0, requeued: 0, tagWaits: 0 };

  constructor(private readonly t: Tracer, private readonly drv: VirtioBlkDriver,
    /** Sleep until `cond` holds (the kernel's wait loop: kblockd work, other tasks, or idle). */
    private readonly waitUntil: (cond: () => boolean) => KCode) {}

  /**
   * blk_mq_init_queue after virtblk_probe: the tag set's depth is the ring's free descriptors, halved
   * without indirect descriptors (two or more per request), as virtblk_probe sizes it.
   */
  init(allocPage: () => number): void {
    const vq = this.drv.vq!;
    this.depth = Math.min(Math.floor(vq.numFree / 2), 4096 / 32);
    this.pduBase = allocPage();
    this.freeTags = Array.from({ length: this.depth }, (_, i) => this.depth - 1 - i);
    this.drv.mq = { stop: () => this.stopHwQueue(), complete: (r) => this.complete(r as Request), startStopped: () => this.startStoppedHwQueues() };
  }

  // ------------------------------------------------------------ plugging

  blk_start_plug(): boolean {
    if (this.plugged) return false;
    this.plugged = [];
    return true;
  }

  /** blk_finish_plug (only the task that started the plug finishes it). */
  *blk_finish_plug(started: boolean): KCode {
    if (!started) return;
    yield* this.flushPlug();
    this.plugged = null;
  }

  /** blk_mq_flush_plug_list: the plugged requests to the driver, bd->last on the final one. */
  private *flushPlug(): KCode {
    const list = this.plugged;
    if (!list || list.length === 0) return;
    this.plugged = [];
    if (this.t.on) this.t.rec(EV_FLUSH_PLUG, 0, list.length);
    yield* this.dispatch(list);
  }

  // ------------------------------------------------------------ submission

  /** submit_bio → blk_mq_submit_bio: split to the limits, then a request per piece (or a merge). */
  *submit_bio(bio: Bio): KCode {
    if (this.t.on) this.t.rec(EV_SUBMIT_BIO, 0, bio.sector, bioBytes(bio));
    const pieces = bio.op === 'flush' ? [bio] : this.split(bio);
    for (const p of pieces) yield* this.queueBio(p);
  }

  /** submit_bio_wait: submit, then sleep until the bio completes; returns its status. */
  *submit_bio_wait(bio: Bio): KCode<number> {
    yield* this.submit_bio(bio);
    // io_schedule flushes the task's plug before it sleeps (sched_submit_work → blk_flush_plug).
    yield* this.flushPlug();
    yield* this.waitUntil(() => bio.done);
    return bio.status;
  }

  /** Wait until every bio of the list is done (filemap_fdatawait, wait_on_buffer); the first error. */
  *wait_bios(bios: readonly Bio[]): KCode<number> {
    yield* this.flushPlug();
    yield* this.waitUntil(() => bios.every((b) => b.done));
    return bios.find((b) => b.status !== 0)?.status ?? 0;
  }

  /**
   * bio_split_to_limits: pieces of at most MAX_SECTORS sectors and MAX_SEGMENTS segments. The
   * pieces complete the parent together (bio_chain): its end runs when the last piece is done.
   */
  private split(bio: Bio): Bio[] {
    const maxBytes = MAX_SECTORS * SECTOR_SIZE;
    let bytes = 0;
    for (const s of bio.sgs) bytes += s.len;
    if (bytes <= maxBytes && bio.sgs.length <= MAX_SEGMENTS) return [bio];
    const pieces: Bio[] = [];
    let cur: Bio | undefined;
    let curBytes = 0;
    let sector = bio.sector;
    for (const s of bio.sgs) {
      let off = 0;
      while (off < s.len) {
        if (!cur || curBytes === maxBytes || cur.sgs.length === MAX_SEGMENTS) {
          cur = newBio(bio.op, sector);
          pieces.push(cur);
          curBytes = 0;
        }
        const n = Math.min(s.len - off, maxBytes - curBytes);
        cur.sgs.push({ gpa: s.gpa + off, len: n });
        curBytes += n;
        off += n;
        sector += n / SECTOR_SIZE;
      }
    }
    let left = pieces.length;
    for (const p of pieces) {
      p.end = (st) => {
        if (st !== 0 && bio.status === 0) bio.status = st;
        if (--left === 0) { bio.done = true; bio.end?.(bio.status); }
      };
    }
    return pieces;
  }

  private *queueBio(bio: Bio): KCode {
    const plug = this.plugged;
    // blk_attempt_plug_merge: a back merge into the most recent plugged request.
    if (plug && plug.length > 0 && bio.op !== 'flush') {
      const last = plug[plug.length - 1]!;
      const lastBytes = bioBytes(last);
      if (last.op === bio.op && last.sector + lastBytes / SECTOR_SIZE === bio.sector
        && lastBytes + bioBytes(bio) <= MAX_SECTORS * SECTOR_SIZE) {
        const merged = [...last.sgs];
        for (const s of bio.sgs) {
          const m = merged[merged.length - 1]!;
          if (m.gpa + m.len === s.gpa) merged[merged.length - 1] = { gpa: m.gpa, len: m.len + s.len };
          else merged.push({ ...s });
        }
        if (merged.length <= MAX_SEGMENTS) { last.sgs = merged; last.bios.push(bio); return; }
      }
    }
    const tag = yield* this.getTag();
    const rq: Request = {
      op: bio.op, sector: bio.sector, sgs: bio.sgs.map((s) => ({ ...s })), hdrGpa: this.pduBase + 32 * tag,
      statusGpa: this.pduBase + 32 * tag + 16, status: -1, done: false, tag, bios: [bio],
    };
    const p = this.plugged;
    if (p) {
      // blk_add_rq_to_plug: flush first when the plug is full or its last request is large.
      const last = p[p.length - 1];
      if (p.length >= BLK_MAX_REQUEST_COUNT || (last && bioBytes(last) >= BLK_PLUG_FLUSH_SIZE)) yield* this.flushPlug();
      this.plugged!.push(rq);
      return;
    }
    yield* this.dispatch([rq]);
  }

  /** blk_mq_get_tag: a free tag, or flush the plug and sleep until a completion frees one. */
  private *getTag(): KCode<number> {
    if (this.freeTags.length === 0) {
      this.stats.tagWaits++;
      if (this.t.on) this.t.rec(EV_GET_TAG_WAIT, 0, this.inFlight);
      yield* this.flushPlug();
      yield* this.waitUntil(() => this.freeTags.length > 0);
    }
    return this.freeTags.pop()!;
  }

  /**
   * blk_mq_dispatch_rq_list: each request to virtio_queue_rq, bd->last on the final one. A stopped
   * queue, or requests already waiting on hctx->dispatch, keep the order: these wait behind them.
   */
  private *dispatch(list: Request[]): KCode {
    if (this.stopped || this.dispatchList.length > 0) { this.dispatchList.push(...list); return; }
    for (let i = 0; i < list.length; i++) {
      const rq = list[i]!;
      if (this.t.on) this.t.rec(EV_RQ_ISSUE, 0, OP_CODE[rq.op], rq.sector, bioBytes(rq));
      const r = yield* this.drv.virtio_queue_rq(rq, i === list.length - 1);
      if (r === -ENOSPC) {
        if (this.t.on) this.t.rec(EV_RQ_REQUEUE, 0, OP_CODE[rq.op], rq.sector, bioBytes(rq));
        // BLK_STS_DEV_RESOURCE: the driver kicked and stopped the queue; the rest wait for the restart.
        this.dispatchList.push(...list.slice(i));
        if (this.t.on) this.t.rec(EV_DEV_RESOURCE, 0, list.length - i);
        return;
      }
      if (r < 0) { this.complete(rq, -5, false); continue; }
      this.inFlight++;
    }
  }

  // ------------------------------------------------------------ completion side (from virtblk_done)

  private stopHwQueue(): void { this.stopped = true; this.stats.stops++; }

  /** blk_mq_complete_request → blk_mq_end_request: the bios end, the tag is freed. */
  private complete(rq: Request, status = rq.status, issued = true): void {
    if (!('bios' in rq)) return;   // a request the harness built by hand
    if (issued) this.inFlight--;
    for (const b of rq.bios) { b.status = status; b.done = true; b.end?.(status); }
    this.freeTags.push(rq.tag);
  }

  /** blk_mq_start_stopped_hw_queues(q, true): the queue runs again from kblockd. */
  private startStoppedHwQueues(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.runPending = true;
    if (this.t.on) this.t.rec(EV_START_QUEUE, 0);
  }

  /** blk_mq_run_work_fn (kblockd, on this CPU): dispatch what waits on hctx->dispatch. */
  *run_work(): KCode {
    this.runPending = false;
    const list = this.dispatchList;
    this.dispatchList = [];
    if (list.length === 0) return;
    this.stats.requeued += list.length;
    if (this.t.on) this.t.rec(EV_RUN_WORK, 0, list.length);
    yield* this.dispatch(list);
  }
}
