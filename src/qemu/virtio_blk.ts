// hw/block/virtio-blk.c (QEMU 9.x): the device model. A kick runs virtio_blk_handle_output →
// virtio_blk_handle_vq: pop each request from the ring in guest RAM and parse it
// (virtio_blk_handle_request: the 16-byte outhdr gathered from the device-readable buffers, the
// status byte the last byte of the device-writable ones), check its range
// (virtio_blk_sect_range_ok), collect reads and writes and submit them merged
// (virtio_blk_submit_multireq), all inside one defer_call section so the backend batches them.
// A request qemu cannot parse ends in virtio_error; one it can parse but not serve completes with
// VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP. An I/O error from the host goes through the drive's
// rerror/werror policy (virtio_blk_handle_rw_error): report, ignore, or stop the VM and keep the
// request, which is parsed again from the ring when the VM runs (virtio_blk_dma_restart_cb).
//
// qemu-kvm 0.14's hw/virtio-blk.c (the seed's era) is named along the same path:
// virtio_blk_handle_output → virtio_blk_handle_request (virtio_blk_handle_write collects writes,
// virtio_blk_handle_read submits a read with bdrv_aio_readv at once) → virtio_submit_multiwrite →
// bdrv_aio_multiwrite. (Simplification: the request parsing and merging below are 9.0's for both.)

import { defineEvent, type Tracer } from '../trace/events';
import {
  SECTOR_SHIFT, SECTOR_SIZE, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_BARRIER, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT, VIRTIO_F_NOTIFY_ON_EMPTY, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, virtio_blk_outhdr,
} from '../uapi/virtio';
import type { Mm } from '../host/mm';
import type { BlockBackend, BlockErrorAction } from './block/block_backend';
import type { GuestMemory } from './dma';
import { VirtIODevice, type IoVec, type VirtQueue, type VirtQueueElement } from './virtio';

// include/uapi/linux/virtio_blk.h
export const VIRTIO_BLK_T_SCSI_CMD = 2;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_ZONE_REPORT = 16;
export const VIRTIO_BLK_ID_BYTES = 20;
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
/** struct virtio_blk_zone_report and struct virtio_blk_zone_descriptor: 64 bytes each. */
const ZONE_REPORT_MIN_IN = 1 + 64 + 64;
/** struct virtio_blk_discard_write_zeroes: sector (le64), num_sectors (le32), flags (le32). */
const DWZ_HDR = 16;
/** hw/block/virtio-blk.c */
export const VIRTIO_BLK_MAX_MERGE_REQS = 32;
/** include/block/block.h: BDRV_REQUEST_MAX_SECTORS = MIN(SIZE_MAX, INT_MAX) >> BDRV_SECTOR_BITS. */
export const BDRV_REQUEST_MAX_SECTORS = Math.floor(0x7fffffff / SECTOR_SIZE);
/** IOV_MAX: blk_get_max_iov for a file-posix node. */
const IOV_MAX = 1024;
/** blk_get_max_transfer: MIN_NON_ZERO(bl.max_transfer, INT_MAX), 0 for a regular file. */
const MAX_TRANSFER = 0x7fffffff - (0x7fffffff % SECTOR_SIZE);

const EV_HANDLE_OUTPUT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_output', ['queue']);
const EV_HANDLE_WRITE = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_write', ['sector', 'nsectors']);
const EV_HANDLE_READ = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_read', ['sector', 'nsectors']);
const EV_SUBMIT_MULTIREQ = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_submit_multireq', ['num_reqs', 'offset:hex', 'size', 'is_write']);
const EV_RW_COMPLETE = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_rw_complete', ['ret']);
const EV_REQ_COMPLETE = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_req_complete', ['status']);
const EV_RW_ERROR = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_rw_error', ['error', 'action:str', 'is_read']);
const EV_DMA_RESTART = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_dma_restart_bh', ['requests']);
const EV_HANDLE_VQ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_vq', ['queue']);
const EV_SUBMIT_MULTIREQ_CALL = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_submit_multireq', ['num_reqs']);
const EV_HANDLE_READ_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_read', ['sector', 'nsectors']);
const EV_SUBMIT_MULTIWRITE_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_submit_multiwrite', ['num_writes']);
const EV_AIO_MULTIWRITE_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'bdrv_aio_multiwrite', ['num_reqs']);

/** The queue's size: QEMU 9.0's queue-size property (256); qemu-kvm 0.14's virtio_blk_init: virtio_add_queue(&s->vdev, 128, …). */
export const VIRTIO_BLK_QUEUE_SIZE = 256;
const VIRTIO_BLK_QUEUE_SIZE_0_14 = 128;

/** VirtIOBlockReq */
export interface VirtIOBlockReq {
  elem: VirtQueueElement;
  vq: VirtQueue;
  /** iov_size of the device-writable buffers, status byte included: what the used element reports. */
  inLen: number;
  /** req->in: the status byte, the last byte of the last device-writable buffer. */
  inHdr: number;
  /** req->out: a copy of the outhdr taken when the request was parsed. */
  type: number;
  sectorNum: bigint;
  isWrite: boolean;
  qiov: IoVec[];
  qiovSize: number;
  /** mr_next: the requests merged after this one into one backend request. */
  mrNext: VirtIOBlockReq | null;
  /** next: the list of requests kept for restart (s->rq). */
  next: VirtIOBlockReq | null;
}

/** MultiReqBuffer */
interface MultiReqBuffer { reqs: VirtIOBlockReq[]; isWrite: boolean }

const iovSize = (iov: readonly IoVec[]): number => iov.reduce((s, v) => s + v.len, 0);

/** iov_discard_front: drop `n` bytes from the front of a copy of the list. */
function iovDiscardFront(iov: readonly IoVec[], n: number): IoVec[] {
  const out: IoVec[] = [];
  for (const v of iov) {
    if (n >= v.len) { n -= v.len; continue; }
    out.push(n > 0 ? { hva: v.hva + n, len: v.len - n } : v);
    n = 0;
  }
  return out;
}
/** iov_discard_back: drop `n` bytes from the back of a copy of the list. */
function iovDiscardBack(iov: readonly IoVec[], n: number): IoVec[] {
  const out = iov.slice();
  while (n > 0 && out.length > 0) {
    const v = out[out.length - 1]!;
    if (n >= v.len) { n -= v.len; out.pop(); continue; }
    out[out.length - 1] = { hva: v.hva, len: v.len - n };
    n = 0;
  }
  return out;
}

export class VirtIOBlock extends VirtIODevice {
  /** s->rq: requests stopped by an I/O error, waiting for the VM to run again. */
  private rq: VirtIOBlockReq | null = null;
  /** aio_bh_schedule_oneshot on the main loop (set by qemu); without one, bottom halves run at once. */
  bh: ((fn: () => void) => void) | undefined;

  /** qemu-kvm 0.14's names (the seed's era) instead of QEMU 9.0's. */
  private readonly old: boolean;

  constructor(mem: GuestMemory, t: Tracer, private readonly mm: Mm, private readonly blk: BlockBackend, era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1') {
    super('virtio-blk', mem, t);
    this.old = era === 'qemu-kvm-2013';
    // virtio_blk_get_features: FLUSH (alias WCE) only when the drive has a write cache.
    this.hostFeatures = (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE)
      | (blk.blk_enable_write_cache() ? 1 << VIRTIO_BLK_F_FLUSH : 0)
      | (1 << VIRTIO_F_NOTIFY_ON_EMPTY) | (1 << VIRTIO_RING_F_INDIRECT_DESC) | (1 << VIRTIO_RING_F_EVENT_IDX);
    this.virtio_add_queue(this.old ? VIRTIO_BLK_QUEUE_SIZE_0_14 : VIRTIO_BLK_QUEUE_SIZE, (vq) => this.virtio_blk_handle_output(vq));
    void this.mm;
  }

  /** virtio_blk_update_config: capacity in 512-byte sectors, then seg_max, blk_size. */
  configRead(off: number, size: number): number {
    const cap = Math.floor(this.blk.size / 512);
    const cfg = new DataView(new ArrayBuffer(32));
    cfg.setBigUint64(0, BigInt(cap), true);
    cfg.setUint32(12, 126, true);        // seg_max
    cfg.setUint32(20, 512, true);        // blk_size
    if (off + size > 32) return 0;
    return size === 1 ? cfg.getUint8(off) : size === 2 ? cfg.getUint16(off, true) : cfg.getUint32(off, true);
  }

  /** virtio_blk_handle_output → virtio_blk_handle_vq */
  private virtio_blk_handle_output(vq: VirtQueue): void {
    if (this.t.on) { this.t.rec(EV_HANDLE_OUTPUT, -1, vq.index); if (!this.old) this.t.rec(EV_HANDLE_VQ, -1, vq.index); }
    const mrb: MultiReqBuffer = { reqs: [], isWrite: false };
    const suppress = vq.notification;
    this.blk.defer_call_begin();
    do {
      if (suppress) this.virtio_queue_set_notification(vq, false);
      for (let elem = this.virtqueue_pop(vq); elem; elem = this.virtqueue_pop(vq)) {
        const req = this.virtio_blk_init_request(vq, elem);
        if (this.virtio_blk_handle_request(req, mrb)) {
          this.virtqueue_detach_element(vq, elem);
          break;
        }
      }
      if (suppress) this.virtio_queue_set_notification(vq, true);
    } while (!this.virtio_queue_empty(vq));
    if (mrb.reqs.length) this.virtio_blk_submit_multireq(mrb);
    this.blk.defer_call_end();
  }

  private virtio_blk_init_request(vq: VirtQueue, elem: VirtQueueElement): VirtIOBlockReq {
    return { elem, vq, inLen: 0, inHdr: 0, type: 0, sectorNum: 0n, isWrite: false, qiov: [], qiovSize: 0, mrNext: null, next: null };
  }

  /** virtio_blk_handle_request: 0 when the request was taken (queued or completed), -1 after virtio_error. */
  private virtio_blk_handle_request(req: VirtIOBlockReq, mrb: MultiReqBuffer): number {
    const m = this.mem;
    const elem = req.elem;
    if (elem.out.length < 1 || elem.in.length < 1) { this.virtio_error('virtio-blk missing headers'); return -1; }
    const hdr = m.iov_to_buf(elem.out, 0, virtio_blk_outhdr.sizeof, 'virtio_blk_handle_request:outhdr');
    if (hdr.length !== virtio_blk_outhdr.sizeof) { this.virtio_error('virtio-blk request outhdr too short'); return -1; }
    const outIov = iovDiscardFront(elem.out, virtio_blk_outhdr.sizeof);
    const last = elem.in[elem.in.length - 1]!;
    if (last.len < 1) { this.virtio_error('virtio-blk request inhdr too short'); return -1; }
    // We always touch the last byte, so just see how big in_iov is.
    req.inLen = iovSize(elem.in);
    req.inHdr = last.hva + last.len - 1;
    const inIov = iovDiscardBack(elem.in, 1);
    const h = new DataView(hdr.buffer, hdr.byteOffset, hdr.length);
    req.type = h.getUint32(virtio_blk_outhdr.type, true);
    const type = req.type;
    switch ((type & ~(VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER)) >>> 0) {
      case VIRTIO_BLK_T_IN: {
        const isWrite = (type & VIRTIO_BLK_T_OUT) !== 0;
        req.sectorNum = h.getBigUint64(virtio_blk_outhdr.sector, true);
        req.isWrite = isWrite;
        req.qiov = isWrite ? outIov : inIov;
        req.qiovSize = iovSize(req.qiov);
        if (this.t.on) this.t.rec(isWrite ? EV_HANDLE_WRITE : this.old ? EV_HANDLE_READ_0_14 : EV_HANDLE_READ, -1, Number(req.sectorNum), Math.floor(req.qiovSize / SECTOR_SIZE));
        if (!this.virtio_blk_sect_range_ok(req.sectorNum, req.qiovSize)) {
          this.virtio_blk_req_complete(req, VIRTIO_BLK_S_IOERR);
          return 0;
        }
        // merge would exceed maximum number of requests or IO direction changes
        if (mrb.reqs.length > 0 && (mrb.reqs.length === VIRTIO_BLK_MAX_MERGE_REQS || isWrite !== mrb.isWrite)) {
          this.virtio_blk_submit_multireq(mrb);
        }
        mrb.reqs.push(req);
        mrb.isWrite = isWrite;
        return 0;
      }
      case VIRTIO_BLK_T_FLUSH:
        this.virtio_blk_handle_flush(req, mrb);
        return 0;
      case VIRTIO_BLK_T_ZONE_REPORT:
        // virtio_blk_handle_zone_report: the in buffer must hold a report and one descriptor.
        if (req.inLen < ZONE_REPORT_MIN_IN) { this.virtio_error('in buffer too small for zone report'); return 0; }
        this.virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP);   // check_zoned_request: not a zoned drive
        return 0;
      case VIRTIO_BLK_T_SCSI_CMD: {
        // virtio_blk_handle_scsi (SCSI passthrough removed in QEMU 9.1): it needs the outhdr and a
        // command block, and the inhdr, a virtio_scsi_inhdr and a sense buffer; with them it stores
        // errors = 255 (stl_le_p, 4 bytes) into the second-to-last device-writable buffer —
        // whatever its length — and answers UNSUPP.
        if (elem.out.length < 2 || elem.in.length < 3) { this.virtio_blk_req_complete(req, VIRTIO_BLK_S_IOERR); return 0; }
        m.stl_hva(elem.in[elem.in.length - 2]!.hva, 255, 'virtio_blk_handle_scsi:scsi->errors');
        this.virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP);
        return 0;
      }
      case VIRTIO_BLK_T_GET_ID: {
        // The serial is empty: its terminating NUL, if the buffer has room.
        const size = Math.min(1, Math.min(iovSize(inIov), VIRTIO_BLK_ID_BYTES));
        if (size) m.iov_from_buf(inIov, 0, new Uint8Array(size), 'virtio_blk_handle_request:get_id');
        this.virtio_blk_req_complete(req, VIRTIO_BLK_S_OK);
        return 0;
      }
      case VIRTIO_BLK_T_DISCARD & ~VIRTIO_BLK_T_OUT:
      case VIRTIO_BLK_T_WRITE_ZEROES & ~VIRTIO_BLK_T_OUT: {
        // Unsupported if VIRTIO_BLK_T_OUT is not set or the request has more than the header.
        if (!(type & VIRTIO_BLK_T_OUT) || iovSize(outIov) > DWZ_HDR) { this.virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP); return 0; }
        const dwz = m.iov_to_buf(outIov, 0, DWZ_HDR, 'virtio_blk_handle_request:dwz_hdr');
        if (dwz.length !== DWZ_HDR) { this.virtio_error('virtio-blk discard/write_zeroes header too short'); return -1; }
        const d = new DataView(dwz.buffer, dwz.byteOffset, DWZ_HDR);
        const sector = d.getBigUint64(0, true);
        const numSectors = d.getUint32(8, true);
        const flags = d.getUint32(12, true);
        // virtio_blk_handle_discard_write_zeroes: range first, then unknown flags.
        let status: number = VIRTIO_BLK_S_UNSUPP;
        if (numSectors > BDRV_REQUEST_MAX_SECTORS || !this.virtio_blk_sect_range_ok(sector, numSectors * SECTOR_SIZE)) status = VIRTIO_BLK_S_IOERR;
        else if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) status = VIRTIO_BLK_S_UNSUPP;
        // Simplification: the model offers neither VIRTIO_BLK_F_DISCARD nor WRITE_ZEROES and answers a
        // well-formed one UNSUPP where qemu would issue blk_aio_pdiscard / blk_aio_pwrite_zeroes.
        this.virtio_blk_req_complete(req, status);
        return 0;
      }
      default:
        // Unknown types, and the zone commands a drive without VIRTIO_BLK_F_ZONED refuses.
        this.virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP);
        return 0;
    }
  }

  /** virtio_blk_sect_range_ok: the sector is 64-bit guest input, compared exactly. */
  private virtio_blk_sect_range_ok(sector: bigint, size: number): boolean {
    const nbSectors = BigInt(Math.floor(size / SECTOR_SIZE));
    if (nbSectors > BigInt(BDRV_REQUEST_MAX_SECTORS)) return false;
    if (size % SECTOR_SIZE) return false;          // logical_block_size 512: sector_mask is 0
    const total = BigInt(Math.floor(this.blk.size / SECTOR_SIZE));
    return sector <= total && nbSectors <= total - sector;
  }

  /** virtio_blk_submit_multireq: sort by sector, merge neighbours, one backend request per run. */
  private virtio_blk_submit_multireq(mrb: MultiReqBuffer): void {
    if (this.t.on) {
      if (!this.old) this.t.rec(EV_SUBMIT_MULTIREQ_CALL, -1, mrb.reqs.length);
      else if (mrb.isWrite) { this.t.rec(EV_SUBMIT_MULTIWRITE_0_14, -1, mrb.reqs.length); this.t.rec(EV_AIO_MULTIWRITE_0_14, -1, mrb.reqs.length); }
    }
    if (mrb.reqs.length === 1) { this.submit_requests(mrb, 0, 1); mrb.reqs = []; return; }
    mrb.reqs.sort((a, b) => (a.sectorNum > b.sectorNum ? 1 : a.sectorNum < b.sectorNum ? -1 : 0));
    let start = 0, num = 0, niov = 0, nbSectors = 0;
    let sectorNum = 0n;
    mrb.reqs.forEach((req, i) => {
      if (num > 0 && (sectorNum + BigInt(nbSectors) !== req.sectorNum || niov > IOV_MAX - req.qiov.length
        || req.qiovSize > MAX_TRANSFER || nbSectors > (MAX_TRANSFER - req.qiovSize) / SECTOR_SIZE)) {
        this.submit_requests(mrb, start, num);
        num = 0;
      }
      if (num === 0) { sectorNum = req.sectorNum; nbSectors = niov = 0; start = i; }
      nbSectors += req.qiovSize / SECTOR_SIZE;
      niov += req.qiov.length;
      num++;
    });
    this.submit_requests(mrb, start, num);
    mrb.reqs = [];
  }

  /** submit_requests: one blk_aio_pwritev/preadv for reqs[start..start+num), the rest chained on mr_next. */
  private submit_requests(mrb: MultiReqBuffer, start: number, num: number): void {
    const first = mrb.reqs[start]!;
    let qiov = first.qiov;
    if (num > 1) {
      qiov = [...first.qiov];
      for (let i = start + 1; i < start + num; i++) {
        qiov.push(...mrb.reqs[i]!.qiov);
        mrb.reqs[i - 1]!.mrNext = mrb.reqs[i]!;
      }
      if (this.t.on && !this.old) this.t.rec(EV_SUBMIT_MULTIREQ, -1, num, Number(first.sectorNum) * SECTOR_SIZE, iovSize(qiov), mrb.isWrite ? 1 : 0);
    }
    // The range was checked: sector << BDRV_SECTOR_BITS is below the disk's size, exact in a double.
    const offset = Number(first.sectorNum) * 2 ** SECTOR_SHIFT;
    for (const v of qiov) this.mem.checkIov(v.hva, v.len, 'submit_requests:qiov');
    if (mrb.isWrite) this.blk.blk_aio_pwritev(offset, qiov, (ret) => this.virtio_blk_rw_complete(first, ret));
    else this.blk.blk_aio_preadv(offset, qiov, (ret) => this.virtio_blk_rw_complete(first, ret));
  }

  /** virtio_blk_handle_flush: outstanding writes go first, then blk_aio_flush. */
  private virtio_blk_handle_flush(req: VirtIOBlockReq, mrb: MultiReqBuffer): void {
    if (mrb.isWrite && mrb.reqs.length > 0) this.virtio_blk_submit_multireq(mrb);
    this.blk.blk_aio_flush((ret) => this.virtio_blk_flush_complete(req, ret));
  }

  /** virtio_blk_rw_complete: every request merged into this one completes with the same result. */
  private virtio_blk_rw_complete(first: VirtIOBlockReq, ret: number): void {
    let next: VirtIOBlockReq | null = first;
    while (next) {
      const req: VirtIOBlockReq = next;
      next = req.mrNext;
      if (this.t.on) this.t.rec(EV_RW_COMPLETE, -1, ret);
      if (ret) {
        const isRead = !(req.type & VIRTIO_BLK_T_OUT);
        if (this.virtio_blk_handle_rw_error(req, -ret, isRead)) continue;
      }
      this.virtio_blk_req_complete(req, VIRTIO_BLK_S_OK);
    }
  }

  /** virtio_blk_flush_complete: a flush error goes through werror (is_read = false). */
  private virtio_blk_flush_complete(req: VirtIOBlockReq, ret: number): void {
    if (this.t.on) this.t.rec(EV_RW_COMPLETE, -1, ret);
    if (ret && this.virtio_blk_handle_rw_error(req, -ret, false)) return;
    this.virtio_blk_req_complete(req, VIRTIO_BLK_S_OK);
  }

  /**
   * virtio_blk_handle_rw_error: the drive's policy for this error (blk_get_error_action). stop keeps
   * the request for the restart and stops the VM; report completes it with IOERR; ignore lets the
   * caller complete it as if it had succeeded. True unless ignored.
   */
  private virtio_blk_handle_rw_error(req: VirtIOBlockReq, error: number, isRead: boolean): boolean {
    const action: BlockErrorAction = this.blk.blk_get_error_action(isRead, error);
    if (this.t.on) this.t.rec(EV_RW_ERROR, -1, error, this.t.str(action), isRead ? 1 : 0);
    if (action === 'stop') {
      // Break the link: the next request is parsed from the ring again.
      req.mrNext = null;
      req.next = this.rq;
      this.rq = req;
    } else if (action === 'report') {
      this.virtio_blk_req_complete(req, VIRTIO_BLK_S_IOERR);
    }
    this.blk.blk_error_action(action, isRead, error);
    return action !== 'ignore';
  }

  /** virtio_blk_req_complete: status byte, used ring, interrupt. */
  private virtio_blk_req_complete(req: VirtIOBlockReq, status: number): void {
    if (this.t.on) this.t.rec(EV_REQ_COMPLETE, -1, status);
    this.mem.stb_hva(req.inHdr, status, 'virtio_blk_req_complete:status');
    this.virtqueue_push(req.vq, req.elem, req.inLen);
    this.virtio_notify(req.vq);
  }

  /**
   * virtio_blk_reset (hw/block/virtio-blk.c, QEMU 8.2/9.x): "requests may still be in flight", so it
   * drains the drive first (blk_drain): they complete — used elements in the rings the driver is
   * leaving, their bounce buffers given back — before anything is reset. Then the requests kept for a
   * restart (a VM stopped by an I/O error) are dropped: "after blk_drain() because blk_drain() itself
   * can produce them".
   */
  protected override device_reset(done: () => void): void {
    this.blk.blk_drain(() => {
      for (let r = this.rq; r; r = r.next) this.virtqueue_detach_element(r.vq, r.elem);
      this.rq = null;
      done();
    });
  }

  /** Requests waiting for the VM to run again (for the trace's readers and the tests). */
  get stoppedRequests(): number {
    let n = 0;
    for (let r = this.rq; r; r = r.next) n++;
    return n;
  }

  /** virtio_blk_dma_restart_cb: a vm state change handler; when the VM runs again, a bottom half retries. */
  virtio_blk_dma_restart_cb(running: boolean): void {
    if (!running || !this.rq) return;
    const bh = (): void => this.virtio_blk_dma_restart_bh();
    if (this.bh) this.bh(bh); else bh();
  }

  /** virtio_blk_dma_restart_bh → virtio_blk_process_queued_requests: parse each kept request again. */
  private virtio_blk_dma_restart_bh(): void {
    let req = this.rq;
    this.rq = null;
    if (this.t.on) { let n = 0; for (let r = req; r; r = r.next) n++; this.t.rec(EV_DMA_RESTART, -1, n); }
    const mrb: MultiReqBuffer = { reqs: [], isWrite: false };
    this.blk.defer_call_begin();
    while (req) {
      const next: VirtIOBlockReq | null = req.next;
      req.next = null;
      const again = this.virtio_blk_init_request(req.vq, req.elem);
      if (this.virtio_blk_handle_request(again, mrb)) {
        // The device is now broken: the kept requests are lost.
        this.virtqueue_detach_element(req.vq, req.elem);
        for (let r = next; r; r = r.next) this.virtqueue_detach_element(r.vq, r.elem);
        break;
      }
      req = next;
    }
    if (mrb.reqs.length) this.virtio_blk_submit_multireq(mrb);
    this.blk.defer_call_end();
  }
}

