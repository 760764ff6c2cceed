// hw/block/virtio-blk.c: the device model. A kick runs virtio_blk_handle_output: pop each request
// from the ring in guest RAM, parse its header (virtio_blk_handle_request), submit the I/O; on
// completion write the status byte, push the used element and notify the guest.

import { defineEvent, type Tracer } from '../trace/events';
import {
  SECTOR_SHIFT, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_BARRIER, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
  VIRTIO_F_NOTIFY_ON_EMPTY, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, virtio_blk_outhdr,
} from '../uapi/virtio';
import type { Mm } from '../host/mm';
import type { BlockBackend } from './block/block_backend';
import type { GuestMemory } from './dma';
import { VirtIODevice, VirtQueue, type IoVec, type VirtQueueElement } from './virtio';

const EV_HANDLE_OUTPUT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_output', ['queue']);
const EV_HANDLE_WRITE = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_write', ['sector', 'nsectors']);
const EV_HANDLE_READ = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_handle_read', ['sector', 'nsectors']);
const EV_RW_COMPLETE = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_rw_complete', ['ret']);
const EV_REQ_COMPLETE = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_blk_req_complete', ['status']);

export const VIRTIO_BLK_QUEUE_SIZE = 256;

interface VirtIOBlockReq { elem: VirtQueueElement; vq: VirtQueue; inLen: number; status: IoVec }

export class VirtIOBlock extends VirtIODevice {
  constructor(mem: GuestMemory, t: Tracer, private readonly mm: Mm, private readonly blk: BlockBackend) {
    super('virtio-blk', mem, t);
    this.hostFeatures = (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) | (1 << VIRTIO_BLK_F_FLUSH)
      | (1 << VIRTIO_F_NOTIFY_ON_EMPTY) | (1 << VIRTIO_RING_F_INDIRECT_DESC) | (1 << VIRTIO_RING_F_EVENT_IDX);
    this.vqs.push(new VirtQueue(0, VIRTIO_BLK_QUEUE_SIZE, (vq) => this.virtio_blk_handle_output(vq)));
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
    if (this.t.on) this.t.rec(EV_HANDLE_OUTPUT, -1, vq.index);
    for (let elem = this.virtqueue_pop(vq); elem; elem = this.virtqueue_pop(vq)) this.virtio_blk_handle_request(vq, elem);
  }

  /** virtio_blk_handle_request: validate the layout, parse the header, dispatch on the type. */
  private virtio_blk_handle_request(vq: VirtQueue, elem: VirtQueueElement): void {
    const mm = this.mm;
    const hdr = elem.out[0];
    if (!hdr || hdr.len < virtio_blk_outhdr.sizeof) { this.virtio_error('virtio-blk request outhdr too short'); return; }
    const last = elem.in[elem.in.length - 1];
    if (!last || last.len < 1) { this.virtio_error('virtio-blk request inhdr too short'); return; }
    const status: IoVec = { hva: last.hva + last.len - 1, len: 1 };
    const inIov = [...elem.in.slice(0, -1), ...(last.len > 1 ? [{ hva: last.hva, len: last.len - 1 }] : [])];
    const req: VirtIOBlockReq = { elem, vq, inLen: elem.in.reduce((s, v) => s + v.len, 0), status };
    const type = mm.u32(hdr.hva + virtio_blk_outhdr.type);
    const sector = mm.u64(hdr.hva + virtio_blk_outhdr.sector);
    // The data follows the header in the same or further out buffers.
    const outIov = [...(hdr.len > virtio_blk_outhdr.sizeof ? [{ hva: hdr.hva + virtio_blk_outhdr.sizeof, len: hdr.len - virtio_blk_outhdr.sizeof }] : []), ...elem.out.slice(1)];
    switch ((type & ~(VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER)) >>> 0) {
      case VIRTIO_BLK_T_IN: {
        const isWrite = (type & VIRTIO_BLK_T_OUT) !== 0;
        const qiov = isWrite ? outIov : inIov;
        const bytes = qiov.reduce((s, v) => s + v.len, 0);
        if (this.t.on) this.t.rec(isWrite ? EV_HANDLE_WRITE : EV_HANDLE_READ, -1, sector, bytes / 512);
        if (!this.sectRangeOk(sector, bytes)) { this.virtio_blk_req_complete(req, VIRTIO_BLK_S_IOERR); return; }
        const offset = sector * 2 ** SECTOR_SHIFT;
        if (isWrite) this.blk.blk_aio_pwritev(offset, qiov, (ret) => this.virtio_blk_rw_complete(req, ret));
        else this.blk.blk_aio_preadv(offset, qiov, (ret) => this.virtio_blk_rw_complete(req, ret));
        return;
      }
      case VIRTIO_BLK_T_FLUSH:
        this.blk.blk_aio_flush((ret) => this.virtio_blk_rw_complete(req, ret));
        return;
      default:
        this.virtio_blk_req_complete(req, VIRTIO_BLK_S_UNSUPP);
    }
  }

  /** virtio_blk_sect_range_ok: aligned to the logical block and inside the disk. */
  private sectRangeOk(sector: number, bytes: number): boolean {
    if (bytes % 512 !== 0) return false;
    const total = Math.floor(this.blk.size / 512);
    return sector <= total && bytes / 512 <= total - sector;
  }

  /** virtio_blk_rw_complete: an error is reported to the guest (werror=report, the default). */
  private virtio_blk_rw_complete(req: VirtIOBlockReq, ret: number): void {
    if (this.t.on) this.t.rec(EV_RW_COMPLETE, -1, ret);
    this.virtio_blk_req_complete(req, ret === 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
  }

  /** virtio_blk_req_complete: status byte, used ring, interrupt. */
  private virtio_blk_req_complete(req: VirtIOBlockReq, status: number): void {
    if (this.t.on) this.t.rec(EV_REQ_COMPLETE, -1, status);
    this.mm.setU8(req.status.hva, status);
    this.virtqueue_push(req.vq, req.elem, req.inLen);
    this.virtio_notify(req.vq);
  }
}
