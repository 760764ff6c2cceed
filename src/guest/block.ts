// The block layer between the file system and the virtio-blk driver, as far as both of the guest's
// kernels share it (block/blk-core.c, blk-merge.c, bio.c): bios, plugging, splitting a bio to the
// queue's limits and merging it into the last plugged request, and a request allocated per piece.
// What happens to a request after that is the kernel's own:
//   - Linux 6.1, blk-mq (blk_mq.ts): a tag per request; the driver's ->queue_rq takes one request at
//     a time, and a full ring stops the hardware queue until kblockd runs it again;
//   - Linux 3.2, the single request queue (blk_core.ts): a struct request from the queue's pool;
//     the driver's request function pulls every queued request it can, stops the queue when the
//     ring is full, and the completion interrupt starts it again.
// The plug (blk_start_plug, since 2.6.39) and its flushing rules, and the split to max_sectors and
// max_segments, are the same mechanism in both; the limits are each kernel's.

import type { Tracer } from '../trace/events';
import type { KCode } from './io';
import type { BlkRequest, VirtioBlkDriver } from './virtio_blk';
import type { Sg } from './virtio_ring';

export const SECTOR_SIZE = 512;

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

/** A request: the driver's view (BlkRequest) plus the slot it was allocated in and the bios it carries. */
export interface Request extends BlkRequest { tag: number; bios: Bio[]; started?: boolean }

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

/** A queue's limits and the plug's flushing rules, as each kernel sets them. */
export interface QueueLimits {
  /** queue_max_sectors: the largest request, in 512-byte sectors. */
  maxSectors: number;
  /** queue_max_segments: blk_queue_max_segments(q, seg_max) in virtblk_probe (qemu's seg_max: 126). */
  maxSegments: number;
  /** BLK_MAX_REQUEST_COUNT: a plug holding this many requests is flushed before the next is added. */
  maxRequestCount: number;
  /** BLK_PLUG_FLUSH_SIZE: a plug whose last request is this large is flushed (blk-mq only; 0: no such rule). */
  plugFlushSize: number;
}

/** The block layer's functions that differ by kernel, as recorded on the walk. */
export interface BlockEvents {
  flushPlug: number;
  allocWait: number;
  stop: number;
  start: number;
  runWork: number;
}

export abstract class BlockLayer {
  abstract readonly kernel: '6.1' | '3.2';
  /** The free request slots; each owns a 32-byte virtblk_req (out_hdr and status byte) in guest RAM. */
  protected freeTags: number[] = [];
  protected pduBase = 0;
  /** How many requests the queue can have allocated at once (tags, or the request pool). */
  depth = 0;
  protected plugged: Request[] | null = null;
  /** The queue is stopped: the driver found the ring full (BLK_MQ_S_STOPPED, QUEUE_FLAG_STOPPED). */
  stopped = false;
  /** kblockd has a queue run to do. */
  runPending = false;
  /** Requests the driver holds (issued, not completed). */
  inFlight = 0;
  /** Counts for the tests: times the queue was stopped and started again, requests issued by a restarted run, waits for a free request. */
  readonly stats = { stops: 0, restarts: 0, requeued: 0, tagWaits: 0 };

  protected abstract readonly limits: QueueLimits;
  protected abstract readonly ev: BlockEvents;

  constructor(protected readonly t: Tracer, protected readonly drv: VirtioBlkDriver,
    /** Sleep until `cond` holds (the kernel's wait loop: kblockd work, other tasks, or idle). */
    protected readonly waitUntil: (cond: () => boolean) => KCode,
    protected readonly evSubmitBio: number) {}

  /** The queue's set-up after virtblk_probe: `depth` slots, and a page of their virtblk_req pdus. */
  init(allocPage: () => number): void {
    this.depth = this.queueDepth();
    this.pduBase = allocPage();
    this.freeTags = Array.from({ length: this.depth }, (_, i) => this.depth - 1 - i);
    this.drv.queue = this.driverHooks();
  }

  protected abstract queueDepth(): number;
  protected abstract driverHooks(): NonNullable<VirtioBlkDriver['queue']>;

  // ------------------------------------------------------------ plugging

  blk_start_plug(): boolean {
    if (this.plugged) return false;
    this.plugged = [];
    return true;
  }

  /** blk_finish_plug (only the task that started the plug finishes it). */
  *blk_finish_plug(started: boolean): KCode {
    if (!started) return;
    yield* this.flushPlug(false);
    this.plugged = null;
  }

  /**
   * The plugged requests to the queue (blk_mq_flush_plug_list, blk_flush_plug_list). From the
   * scheduler (`fromSchedule`: the task goes to sleep with a plug) a kernel may leave the run to kblockd.
   */
  protected *flushPlug(fromSchedule: boolean): KCode {
    const list = this.plugged;
    if (!list || list.length === 0) return;
    this.plugged = [];
    if (this.t.on) this.t.rec(this.ev.flushPlug, 0, list.length);
    yield* this.dispatch(list, fromSchedule);
  }

  // ------------------------------------------------------------ submission

  /** submit_bio: split to the limits, then a request per piece (or a merge into the plug). */
  *submit_bio(bio: Bio): KCode {
    if (this.t.on) this.t.rec(this.evSubmitBio, 0, bio.sector, bioBytes(bio));
    const pieces = bio.op === 'flush' ? [bio] : this.split(bio);
    for (const p of pieces) yield* this.queueBio(p);
  }

  /** submit_bio_wait: submit, then sleep until the bio completes; returns its status. */
  *submit_bio_wait(bio: Bio): KCode<number> {
    yield* this.submit_bio(bio);
    // Going to sleep flushes the task's plug (sched_submit_work → blk_flush_plug / blk_schedule_flush_plug).
    yield* this.flushPlug(true);
    yield* this.waitUntil(() => bio.done);
    return bio.status;
  }

  /** Wait until every bio of the list is done (filemap_fdatawait, wait_on_buffer); the first error. */
  *wait_bios(bios: readonly Bio[]): KCode<number> {
    yield* this.flushPlug(true);
    if (bios.length === 0) return 0;
    yield* this.waitUntil(() => bios.every((b) => b.done));
    return bios.find((b) => b.status !== 0)?.status ?? 0;
  }

  /**
   * Pieces of at most maxSectors sectors and maxSegments segments (6.1: bio_split_to_limits; 3.2:
   * bio_add_page refused to grow a bio past the limits, so the file system's bios came out the
   * same size — the model splits at submission in both). The pieces complete the parent together
   * (bio_chain): its end runs when the last piece is done.
   */
  private split(bio: Bio): Bio[] {
    const { maxSectors, maxSegments } = this.limits;
    const maxBytes = maxSectors * SECTOR_SIZE;
    let bytes = 0;
    for (const s of bio.sgs) bytes += s.len;
    if (bytes <= maxBytes && bio.sgs.length <= maxSegments) return [bio];
    const pieces: Bio[] = [];
    let cur: Bio | undefined;
    let curBytes = 0;
    let sector = bio.sector;
    for (const s of bio.sgs) {
      let off = 0;
      while (off < s.len) {
        if (!cur || curBytes === maxBytes || cur.sgs.length === maxSegments) {
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
    const maxBytes = this.limits.maxSectors * SECTOR_SIZE;
    // blk_attempt_plug_merge (6.1) / attempt_plug_merge (3.2): a back merge into the most recent plugged request.
    if (plug && plug.length > 0 && bio.op !== 'flush') {
      const last = plug[plug.length - 1]!;
      const lastBytes = bioBytes(last);
      if (last.op === bio.op && last.sector + lastBytes / SECTOR_SIZE === bio.sector && lastBytes + bioBytes(bio) <= maxBytes) {
        const merged = [...last.sgs];
        for (const s of bio.sgs) {
          const m = merged[merged.length - 1]!;
          if (m.gpa + m.len === s.gpa) merged[merged.length - 1] = { gpa: m.gpa, len: m.len + s.len };
          else merged.push({ ...s });
        }
        if (merged.length <= this.limits.maxSegments) { last.sgs = merged; last.bios.push(bio); return; }
      }
    }
    const tag = yield* this.getTag();
    const rq: Request = {
      op: bio.op, sector: bio.sector, sgs: bio.sgs.map((s) => ({ ...s })), hdrGpa: this.pduBase + 32 * tag,
      statusGpa: this.pduBase + 32 * tag + 16, status: -1, done: false, tag, bios: [bio],
    };
    const p = this.plugged;
    if (p) {
      // blk_add_rq_to_plug (6.1) / blk_queue_bio (3.2): flush first when the plug is full (or, in
      // blk-mq, when its last request is large).
      const last = p[p.length - 1];
      const { maxRequestCount, plugFlushSize } = this.limits;
      if (p.length >= maxRequestCount || (plugFlushSize > 0 && last && bioBytes(last) >= plugFlushSize)) yield* this.flushPlug(false);
      this.plugged!.push(rq);
      return;
    }
    yield* this.dispatch([rq], false);
  }

  /** A free request slot, or flush the plug and sleep until a completion frees one (blk_mq_get_tag, get_request_wait). */
  private *getTag(): KCode<number> {
    if (this.freeTags.length === 0) {
      this.stats.tagWaits++;
      if (this.t.on) this.t.rec(this.ev.allocWait, 0, this.inFlight);
      yield* this.flushPlug(true);
      yield* this.waitUntil(() => this.freeTags.length > 0);
    }
    return this.freeTags.pop()!;
  }

  /** The requests to the queue (and, as far as it will take them, to the driver). */
  protected abstract dispatch(list: Request[], fromSchedule: boolean): KCode;

  /** The request ends: its bios end, its slot is free again. */
  protected endRequest(rq: Request, status = rq.status, issued = true): void {
    if (!('bios' in rq)) return;   // a request the harness built by hand
    if (issued) this.inFlight--;
    for (const b of rq.bios) { b.status = status; b.done = true; b.end?.(status); }
    this.freeTags.push(rq.tag);
  }

  /** kblockd's work for this queue (blk_mq_run_work_fn, blk_delay_work). */
  abstract run_work(): KCode;
}
