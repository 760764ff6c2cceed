// The guest's virtio-blk driver on the legacy virtio-pci transport:
// drivers/virtio/virtio_pci_legacy.c (probe, setup_vq, vp_notify), virtio_pci_common.c
// (vp_interrupt) and drivers/block/virtio_blk.c (virtio_queue_rq, virtblk_done), Linux 6.1 — and
// the seed's Linux 3.2 (Fedora 15's 2.6.42), whose driver predates blk-mq: the request function
// do_virtblk_request → do_req → virtqueue_add_buf for every request the queue holds, then one
// virtqueue_kick, and the completion blk_done → __blk_end_request_all, then blk_start_queue. The
// ring, the transport and the interrupt are the same for both.

import { defineEvent } from '../trace/events';
import type { Tracer } from '../trace/events';
import {
  SECTOR_SIZE, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_PCI_CONFIG_OFF_NO_MSIX, VIRTIO_PCI_GUEST_FEATURES,
  VIRTIO_PCI_HOST_FEATURES, VIRTIO_PCI_ISR, VIRTIO_PCI_QUEUE_ADDR_SHIFT, VIRTIO_PCI_QUEUE_NOTIFY, VIRTIO_PCI_QUEUE_NUM,
  VIRTIO_PCI_QUEUE_PFN, VIRTIO_PCI_QUEUE_SEL, VIRTIO_PCI_STATUS, VIRTIO_PCI_VRING_ALIGN, VIRTIO_BLK_F_FLUSH,
  virtio_blk_outhdr, vring_size,
} from '../uapi/virtio';
import type { Regs } from '../vmx/insn';
import { ioread16, ioread32, ioread8, iowrite16, iowrite32, iowrite8, readb, readl, readw, writeb, writel, writew, type KCode } from './io';
import {
  VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_PCI_COMMON_DF, VIRTIO_PCI_COMMON_DFSELECT, VIRTIO_PCI_COMMON_GF, VIRTIO_PCI_COMMON_GFSELECT,
  VIRTIO_PCI_COMMON_MSIX, VIRTIO_PCI_COMMON_Q_AVAILHI, VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_DESCHI,
  VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_ENABLE, VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_PCI_COMMON_Q_NOFF,
  VIRTIO_PCI_COMMON_Q_SELECT, VIRTIO_PCI_COMMON_Q_SIZE, VIRTIO_PCI_COMMON_Q_USEDHI, VIRTIO_PCI_COMMON_Q_USEDLO,
  VIRTIO_PCI_COMMON_STATUS, VIRTIO_RING_F_EVENT_IDX, vringLayout,
} from '../uapi/virtio';

/** The modern BAR's layout as qemu sets it up (hw/virtio/virtio-pci.c virtio_pci_realize). */
const MODERN_COMMON = 0x0000;
const MODERN_ISR = 0x1000;
const MODERN_DEVICE = 0x2000;
const MODERN_NOTIFY = 0x3000;
const MODERN_NOTIFY_MULT = 4;
import { VIRTIO_MSI_CONFIG_VECTOR, VIRTIO_MSI_QUEUE_VECTOR, VIRTIO_PCI_CONFIG_OFF_MSIX } from '../uapi/virtio';

/** The IDT vectors Linux gives the device's two MSI-X interrupts (config changes, queue 0). */
export const MSIX_CONFIG_VECTOR = 0x33;
export const MSIX_QUEUE_VECTOR = 0x32;
import type { GuestRam } from './memory';
import { VringVirtqueue, type Sg } from './virtio_ring';

/** A block request as blk-mq hands it to the driver (struct request + struct virtblk_req). */
export interface BlkRequest {
  op: 'read' | 'write' | 'flush';
  sector: number;
  sgs: Sg[];
  /** virtblk_req: out_hdr and the status byte, in guest RAM. */
  hdrGpa: number;
  statusGpa: number;
  /** BLK_STS_*: 0 ok, or the errno the block layer maps it to; -1 while in flight. */
  status: number;
  done: boolean;
}

const call = (name: string, args: string[] = []) => defineEvent('call', 'guest kernel', 'guest kernel', name, args);
const EV_VP_NOTIFY = call('vp_notify');
const EV_IOWRITE16 = call('iowrite16');
const EV_VP_INTERRUPT = call('vp_interrupt');
const EV_VP_VRING_INTERRUPT = call('vp_vring_interrupt');
const EV_VRING_INTERRUPT = call('vring_interrupt');

/** The driver's functions along a request, by the guest kernel's version. */
interface DriverNames {
  /** The request function, once per batch (3.2's do_virtblk_request), or 0 when each request is queued by itself (blk-mq). */
  requestFn: number;
  /** One request: virtio_queue_rq (6.1) or do_req (3.2), with its sector and type. */
  queueRq: number;
  /** Adding it to the ring: virtblk_add_req → virtqueue_add_sgs (6.1), virtqueue_add_buf (3.2). */
  addReq: number;
  addBuf: number;
  /** The batch's kick that blk-mq asks for (virtio_commit_rqs), 0 in 3.2. */
  commitRqs: number;
  /** 6.1: virtqueue_kick_prepare, then virtqueue_notify if it said so. 3.2: virtqueue_kick decides and notifies. */
  kickPrepare: number;
  notify: number;
  kick: number;
  /** The queue's callback: virtblk_done (6.1) or blk_done (3.2); each request ends in blk_mq_complete_request or __blk_end_request_all. */
  done: number;
  complete: number;
}
const EV_VIRTQUEUE_KICK = call('virtqueue_kick');
const NAMES_6_1: DriverNames = {
  requestFn: 0, queueRq: call('virtio_queue_rq', ['sector', 'type']), addReq: call('virtblk_add_req'), addBuf: call('virtqueue_add_sgs'),
  commitRqs: call('virtio_commit_rqs'), kickPrepare: call('virtqueue_kick_prepare'), notify: call('virtqueue_notify'), kick: 0,
  done: call('virtblk_done'), complete: call('blk_mq_complete_request', ['status']),
};
const NAMES_3_2: DriverNames = {
  requestFn: call('do_virtblk_request'), queueRq: call('do_req', ['sector', 'type']), addReq: 0, addBuf: call('virtqueue_add_buf'),
  commitRqs: 0, kickPrepare: 0, notify: 0, kick: EV_VIRTQUEUE_KICK,
  done: call('blk_done'), complete: call('__blk_end_request_all', ['status']),
};

/**
 * What the block layer lends the driver: stop the queue (blk_mq_stop_hw_queue), end a request
 * (blk_mq_complete_request, __blk_end_request_all), and the completion's restart of the queue
 * (blk_mq_start_stopped_hw_queues, blk_start_queue).
 */
export interface QueueHooks { stop(): void; complete(req: BlkRequest): void; restart(): KCode }

/** What 3.2's request function asks of its request queue: blk_peek_request, blk_start_request, blk_stop_queue. */
export interface RequestFnQueue { peek(): BlkRequest | undefined; start(req: BlkRequest): void; stop(): void }

export class VirtioBlkDriver {
  vq: VringVirtqueue<BlkRequest> | undefined;
  queue: QueueHooks | undefined;
  capacitySectors = 0;
  hostFeatures = 0;

  constructor(private readonly r: Regs, private readonly ram: GuestRam, private readonly t: Tracer,
    readonly ioaddr: number, private readonly allocPages: (n: number) => number,
    /** The function's MSI-X capability, when it has one (vectors > 0): where its table is. */
    readonly msix: { tableBase: number } | undefined,
    /** The modern (virtio 1.0) memory BAR when the driver binds through it (virtio_pci_modern), else null. */
    readonly modernBar: number | null = null,
    /** The guest kernel's version, for the names along the path. */
    readonly kernel: '6.1' | '3.2' = '6.1') {
    this.n = kernel === '3.2' ? NAMES_3_2 : NAMES_6_1;
    this.unsupp = kernel === '3.2' ? -25 : -95;
  }

  /** The errno a VIRTIO_BLK_S_UNSUPP request ends with. */
  private readonly unsupp: number;

  private readonly n: DriverNames;

  private notifyAddr = 0;
  /** The features this driver knows and takes when offered. */
  private readonly wanted = (1 << VIRTIO_BLK_F_FLUSH) | (1 << VIRTIO_RING_F_EVENT_IDX);

  /**
   * virtio_pci_modern_probe + vp_modern_find_vqs: the same handshake through the common
   * configuration structure in the memory BAR (MMIO), VIRTIO_F_VERSION_1 negotiated, the three ring
   * addresses given separately, the queue enabled, and its notify address computed from
   * queue_notify_off × notify_off_multiplier. (Finding the capabilities in PCI config space is left out.)
   */
  private *probe_modern(bar: number): KCode {
    const r = this.r;
    const c = bar + MODERN_COMMON;
    yield* writeb(r, 0, c + VIRTIO_PCI_COMMON_STATUS);
    yield* writeb(r, VIRTIO_CONFIG_S_ACKNOWLEDGE, c + VIRTIO_PCI_COMMON_STATUS);
    yield* writeb(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, c + VIRTIO_PCI_COMMON_STATUS);
    yield* writel(r, 0, c + VIRTIO_PCI_COMMON_DFSELECT);
    this.hostFeatures = yield* readl(r, c + VIRTIO_PCI_COMMON_DF);
    yield* writel(r, 1, c + VIRTIO_PCI_COMMON_DFSELECT);
    const hi = yield* readl(r, c + VIRTIO_PCI_COMMON_DF);
    if (!(hi & 1)) throw new Error('virtio_pci_modern: device lacks VIRTIO_F_VERSION_1');
    yield* writel(r, 0, c + VIRTIO_PCI_COMMON_GFSELECT);
    yield* writel(r, this.hostFeatures & this.wanted, c + VIRTIO_PCI_COMMON_GF);
    yield* writel(r, 1, c + VIRTIO_PCI_COMMON_GFSELECT);
    yield* writel(r, 1, c + VIRTIO_PCI_COMMON_GF);
    yield* writeb(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, c + VIRTIO_PCI_COMMON_STATUS);
    yield* this.program_msix(true);
    yield* writew(r, 0, c + VIRTIO_PCI_COMMON_Q_SELECT);
    const num = yield* readw(r, c + VIRTIO_PCI_COMMON_Q_SIZE);
    const base = this.alloc_vring(num);
    const l = vringLayout(base, num);
    yield* writel(r, l.desc, c + VIRTIO_PCI_COMMON_Q_DESCLO);
    yield* writel(r, 0, c + VIRTIO_PCI_COMMON_Q_DESCHI);
    yield* writel(r, l.avail, c + VIRTIO_PCI_COMMON_Q_AVAILLO);
    yield* writel(r, 0, c + VIRTIO_PCI_COMMON_Q_AVAILHI);
    yield* writel(r, l.used, c + VIRTIO_PCI_COMMON_Q_USEDLO);
    yield* writel(r, 0, c + VIRTIO_PCI_COMMON_Q_USEDHI);
    if (this.msix) yield* writew(r, 1, c + VIRTIO_PCI_COMMON_Q_MSIX);
    const noff = yield* readw(r, c + VIRTIO_PCI_COMMON_Q_NOFF);
    this.notifyAddr = bar + MODERN_NOTIFY + noff * MODERN_NOTIFY_MULT;
    yield* writew(r, 1, c + VIRTIO_PCI_COMMON_Q_ENABLE);
    this.vq = new VringVirtqueue<BlkRequest>(this.ram, 0, num, base, () => this.vp_notify());
    this.vq.eventIdx = (this.hostFeatures & this.wanted & (1 << VIRTIO_RING_F_EVENT_IDX)) !== 0;
    const lo = yield* readl(r, bar + MODERN_DEVICE);
    const chi = yield* readl(r, bar + MODERN_DEVICE + 4);
    this.capacitySectors = chi * 0x100000000 + lo;
    yield* writeb(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, c + VIRTIO_PCI_COMMON_STATUS);
  }

  /** vring_create_virtqueue_split: zeroed pages for a ring of `num` entries in the legacy layout. */
  private alloc_vring(num: number): number {
    if (num === 0) throw new Error('virtio_blk: queue 0 does not exist');
    const pages = Math.ceil(vring_size(num, VIRTIO_PCI_VRING_ALIGN) / 4096);
    const base = this.allocPages(pages);
    this.ram.bytes.fill(0, base, base + pages * 4096);
    return base;
  }

  /** pci_alloc_irq_vectors: the MSI-X table entries, then the config vector through the transport. */
  private *program_msix(modern: boolean): KCode {
    const msix = this.msix;
    if (!msix) return;
    const r = this.r;
    // The message address is the local APIC (destination APIC ID 0), the data the vector. (Enabling
    // MSI-X in the PCI capability is config-space work the model leaves out: the unmask stands for it.)
    const entries = [MSIX_CONFIG_VECTOR, MSIX_QUEUE_VECTOR];
    for (let i = 0; i < entries.length; i++) {
      const e = msix.tableBase + 16 * i;
      yield* writel(r, 0xfee00000, e);
      yield* writel(r, 0, e + 4);
      yield* writel(r, entries[i]!, e + 8);
      yield* writel(r, 0, e + 12);
    }
    if (modern) yield* writew(r, 0, this.modernBar! + MODERN_COMMON + VIRTIO_PCI_COMMON_MSIX);
    else yield* iowrite16(r, 0, this.ioaddr + VIRTIO_MSI_CONFIG_VECTOR);
  }

  /**
   * virtio_pci_legacy_probe + virtio_dev_probe + virtblk_probe: status handshake, features, then
   * vp_find_vqs — with MSI-X (vp_find_vqs_msix) the table entries are programmed and each vector
   * is assigned through VIRTIO_MSI_CONFIG_VECTOR / VIRTIO_MSI_QUEUE_VECTOR — then the capacity.
   */
  *probe(): KCode {
    if (this.modernBar !== null) { yield* this.probe_modern(this.modernBar); return; }
    const r = this.r;
    const io = this.ioaddr;
    yield* iowrite8(r, 0, io + VIRTIO_PCI_STATUS);                                    // reset
    yield* iowrite8(r, VIRTIO_CONFIG_S_ACKNOWLEDGE, io + VIRTIO_PCI_STATUS);
    yield* iowrite8(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, io + VIRTIO_PCI_STATUS);
    this.hostFeatures = yield* ioread32(r, io + VIRTIO_PCI_HOST_FEATURES);
    // The driver takes what it knows: FLUSH, and EVENT_IDX (no indirect descriptors on this path).
    yield* iowrite32(r, this.hostFeatures & this.wanted, io + VIRTIO_PCI_GUEST_FEATURES);
    const msix = this.msix;
    yield* this.program_msix(false);
    // setup_vq (legacy): select the queue, read its size, allocate the ring, tell the device its PFN.
    yield* iowrite16(r, 0, io + VIRTIO_PCI_QUEUE_SEL);
    const num = yield* ioread16(r, io + VIRTIO_PCI_QUEUE_NUM);
    const base = this.alloc_vring(num);
    yield* iowrite32(r, base / 2 ** VIRTIO_PCI_QUEUE_ADDR_SHIFT, io + VIRTIO_PCI_QUEUE_PFN);
    if (msix) yield* iowrite16(r, 1, io + VIRTIO_MSI_QUEUE_VECTOR);
    this.vq = new VringVirtqueue<BlkRequest>(this.ram, 0, num, base, () => this.vp_notify());
    this.vq.eventIdx = (this.hostFeatures & this.wanted & (1 << VIRTIO_RING_F_EVENT_IDX)) !== 0;
    const cfg = io + (msix ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX);
    const lo = yield* ioread32(r, cfg);
    const hi = yield* ioread32(r, cfg + 4);
    this.capacitySectors = hi * 0x100000000 + lo;
    yield* iowrite8(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, io + VIRTIO_PCI_STATUS);
  }

  /** vp_notify: iowrite16(vq->index, vq->priv), priv = ioaddr + VIRTIO_PCI_QUEUE_NOTIFY: the `outw`. */
  *vp_notify(): KCode {
    if (this.t.on) { this.t.rec(EV_VP_NOTIFY, 0); this.t.rec(EV_IOWRITE16, 0); }
    // Legacy: the notify register is an I/O port (outw). Modern: an MMIO address (a 16-bit store).
    if (this.modernBar !== null) yield* writew(this.r, this.vq!.index, this.notifyAddr);
    else yield* iowrite16(this.r, this.vq!.index, this.ioaddr + VIRTIO_PCI_QUEUE_NOTIFY);
  }

  /** virtblk_setup_cmd + virtblk_add_req (6.1) / do_req (3.2): the request's header, data and status on the ring, if they fit. */
  private addReq(req: BlkRequest): boolean {
    const type = req.op === 'write' ? VIRTIO_BLK_T_OUT : req.op === 'read' ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_FLUSH;
    const n = this.n;
    const t = this.t;
    if (t.on) t.rec(n.queueRq, 0, req.sector, type);
    const ram = this.ram;
    ram.setU32(req.hdrGpa + virtio_blk_outhdr.type, type);
    ram.setU32(req.hdrGpa + virtio_blk_outhdr.ioprio, 0);
    ram.setU64(req.hdrGpa + virtio_blk_outhdr.sector, req.op === 'flush' ? 0 : req.sector);
    ram.setU8(req.statusGpa, 0xff);
    const hdr: Sg = { gpa: req.hdrGpa, len: virtio_blk_outhdr.sizeof };
    const status: Sg = { gpa: req.statusGpa, len: 1 };
    // Header out; data out for a write, in for a read; status in.
    const out = req.op === 'write' ? [hdr, ...req.sgs] : [hdr];
    const inp = req.op === 'read' ? [...req.sgs, status] : [status];
    if (t.on) { if (n.addReq) t.rec(n.addReq, 0); t.rec(n.addBuf, 0); }
    return this.vq!.add_sgs(out, inp, req) >= 0;
  }

  /**
   * blk-mq's ->queue_rq (6.1): virtio_queue_rq → virtblk_setup_cmd + virtblk_add_req →
   * virtqueue_add_sgs, then, for the last request of a batch (bd->last), virtqueue_kick_prepare and
   * virtqueue_notify. A ring without room: virtqueue_kick for what is there, blk_mq_stop_hw_queue,
   * and -ENOSPC (BLK_STS_DEV_RESOURCE).
   */
  *virtio_queue_rq(req: BlkRequest, last = true): KCode<number> {
    if (!this.addReq(req)) {
      if (this.t.on) this.t.rec(EV_VIRTQUEUE_KICK, 0);
      yield* this.notifyBatch();
      this.queue?.stop();
      return -28;
    }
    // `bd->last`: only the last request of a batch kicks (virtio_commit_rqs kicks for the rest).
    if (last) yield* this.notifyBatch();
    return 0;
  }

  /**
   * 3.2's request function, do_virtblk_request: every request the queue holds, in order, to the ring
   * (do_req); one that does not fit stays queued and the queue is stopped; then, if any was issued,
   * one virtqueue_kick.
   */
  *do_virtblk_request(q: RequestFnQueue): KCode {
    if (this.t.on && this.n.requestFn) this.t.rec(this.n.requestFn, 0);
    let issued = 0;
    for (let req = q.peek(); req; req = q.peek()) {
      if (!this.addReq(req)) { q.stop(); break; }
      q.start(req);
      issued++;
    }
    if (issued) yield* this.notifyBatch();
  }

  /** The kick for a batch queued with last = false: virtio_commit_rqs (6.1). */
  *kick(): KCode {
    if (this.n.commitRqs && this.t.on) this.t.rec(this.n.commitRqs, 0);
    yield* this.notifyBatch();
  }

  /** virtqueue_kick_prepare + virtqueue_notify (6.1); virtqueue_kick (3.2), which notifies only when the device wants it. */
  private *notifyBatch(): KCode {
    const vq = this.vq!;
    const n = this.n;
    if (this.t.on) this.t.rec(n.kick || n.kickPrepare, 0);
    if (!vq.kick_prepare()) return;
    if (n.notify && this.t.on) this.t.rec(n.notify, 0);
    yield* vq.notify();
  }

  /** An MSI-X queue vector: its handler is vring_interrupt itself (vp_request_msix_vectors); no ISR to read. */
  *vring_interrupt(): KCode {
    if (this.t.on) this.t.rec(EV_VRING_INTERRUPT, 0);
    yield* this.virtblk_done();
  }

  /**
   * vp_interrupt (INTx): reading the ISR acknowledges it and lowers the line; bit 0 = a queue has
   * work: vp_vring_interrupt → vring_interrupt for each queue.
   */
  *vp_interrupt(): KCode {
    if (this.t.on) this.t.rec(EV_VP_INTERRUPT, 0);
    const isr = this.modernBar !== null ? yield* readb(this.r, this.modernBar + MODERN_ISR) : yield* ioread8(this.r, this.ioaddr + VIRTIO_PCI_ISR);
    if (!(isr & 1)) return;
    if (this.t.on) this.t.rec(EV_VP_VRING_INTERRUPT, 0);
    yield* this.vring_interrupt();
  }

  /**
   * virtblk_done (6.1) / blk_done (3.2): every used chain completes its request
   * (blk_mq_complete_request / __blk_end_request_all), then callbacks are re-enabled; then, in
   * case the queue is stopped waiting for room on the ring, 6.1 restarts it if a request completed
   * (blk_mq_start_stopped_hw_queues) and 3.2 always calls blk_start_queue, which runs the request
   * function here, in the interrupt handler.
   */
  private *virtblk_done(): KCode {
    const vq = this.vq!;
    const t = this.t;
    if (t.on) t.rec(this.n.done, 0);
    let done = false;
    for (let b = vq.get_buf(); b; b = vq.get_buf()) {
      const req = b.data;
      const st = this.ram.u8(req.statusGpa);
      // virtblk_result: OK → 0; UNSUPP → -EOPNOTSUPP (3.2's blk_done: -ENOTTY); IOERR and anything else → -EIO.
      req.status = st === VIRTIO_BLK_S_OK ? 0 : st === 2 ? this.unsupp : -5;
      if (t.on) t.rec(this.n.complete, 0, req.status);
      req.done = true;
      this.queue?.complete(req);
      done = true;
    }
    // virtqueue_enable_cb: with EVENT_IDX, ask for the next interrupt after what was just consumed.
    vq.enable_cb();
    if (this.queue && (done || this.kernel === '3.2')) yield* this.queue.restart();
  }

  get sectorSize(): number { return SECTOR_SIZE; }
}
