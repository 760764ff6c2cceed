// The guest's virtio-blk driver on the legacy virtio-pci transport:
// drivers/virtio/virtio_pci_legacy.c (probe, setup_vq, vp_notify), virtio_pci_common.c
// (vp_interrupt) and drivers/block/virtio_blk.c (virtio_queue_rq, virtblk_done), Linux 6.1.

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
import { ioread16, ioread32, ioread8, iowrite16, iowrite32, iowrite8, writel, type KCode } from './io';
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

const call = (name: string) => defineEvent('call', 'guest kernel', 'guest kernel', name, []);
const EV_QUEUE_RQ = defineEvent('call', 'guest kernel', 'guest kernel', 'virtio_queue_rq', ['sector', 'type']);
const EV_ADD_SGS = call('virtqueue_add_sgs');
const EV_KICK = call('virtqueue_kick');
const EV_VP_NOTIFY = call('vp_notify');
const EV_IOWRITE16 = call('iowrite16');
const EV_VP_INTERRUPT = call('vp_interrupt');
const EV_VRING_INTERRUPT = call('vring_interrupt');
const EV_VIRTBLK_DONE = defineEvent('call', 'guest kernel', 'guest kernel', 'virtblk_done', ['status']);

export class VirtioBlkDriver {
  vq: VringVirtqueue<BlkRequest> | undefined;
  capacitySectors = 0;
  hostFeatures = 0;

  constructor(private readonly r: Regs, private readonly ram: GuestRam, private readonly t: Tracer,
    readonly ioaddr: number, private readonly allocPages: (n: number) => number,
    /** The function's MSI-X capability, when it has one (vectors > 0): where its table is. */
    readonly msix: { tableBase: number } | undefined) {}

  /**
   * virtio_pci_legacy_probe + virtio_dev_probe + virtblk_probe: status handshake, features, then
   * vp_find_vqs — with MSI-X (vp_find_vqs_msix) the table entries are programmed and each vector
   * is assigned through VIRTIO_MSI_CONFIG_VECTOR / VIRTIO_MSI_QUEUE_VECTOR — then the capacity.
   */
  *probe(): KCode {
    const r = this.r;
    const io = this.ioaddr;
    yield* iowrite8(r, 0, io + VIRTIO_PCI_STATUS);                                    // reset
    yield* iowrite8(r, VIRTIO_CONFIG_S_ACKNOWLEDGE, io + VIRTIO_PCI_STATUS);
    yield* iowrite8(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, io + VIRTIO_PCI_STATUS);
    this.hostFeatures = yield* ioread32(r, io + VIRTIO_PCI_HOST_FEATURES);
    // The driver takes only what it knows; no EVENT_IDX, no indirect descriptors on this path.
    yield* iowrite32(r, this.hostFeatures & (1 << VIRTIO_BLK_F_FLUSH), io + VIRTIO_PCI_GUEST_FEATURES);
    const msix = this.msix;
    if (msix) {
      // pci_alloc_irq_vectors → the MSI-X table in the device's memory BAR: message address (the
      // local APIC, destination APIC ID 0), data = the vector, then unmask. (Enabling MSI-X in the
      // PCI capability is config-space work the model leaves out: the table's unmask stands for it.)
      const entries = [MSIX_CONFIG_VECTOR, MSIX_QUEUE_VECTOR];
      for (let i = 0; i < entries.length; i++) {
        const e = msix.tableBase + 16 * i;
        yield* writel(r, 0xfee00000, e);
        yield* writel(r, 0, e + 4);
        yield* writel(r, entries[i]!, e + 8);
        yield* writel(r, 0, e + 12);
      }
      yield* iowrite16(r, 0, io + VIRTIO_MSI_CONFIG_VECTOR);
    }
    // setup_vq (legacy): select the queue, read its size, allocate the ring, tell the device its PFN.
    yield* iowrite16(r, 0, io + VIRTIO_PCI_QUEUE_SEL);
    const num = yield* ioread16(r, io + VIRTIO_PCI_QUEUE_NUM);
    if (num === 0) throw new Error('virtio_blk: queue 0 does not exist');
    const pages = Math.ceil(vring_size(num, VIRTIO_PCI_VRING_ALIGN) / 4096);
    const base = this.allocPages(pages);
    this.ram.bytes.fill(0, base, base + pages * 4096);
    yield* iowrite32(r, base / 2 ** VIRTIO_PCI_QUEUE_ADDR_SHIFT, io + VIRTIO_PCI_QUEUE_PFN);
    if (msix) yield* iowrite16(r, 1, io + VIRTIO_MSI_QUEUE_VECTOR);
    this.vq = new VringVirtqueue<BlkRequest>(this.ram, 0, num, base, () => this.vp_notify());
    const cfg = io + (msix ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX);
    const lo = yield* ioread32(r, cfg);
    const hi = yield* ioread32(r, cfg + 4);
    this.capacitySectors = hi * 0x100000000 + lo;
    yield* iowrite8(r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, io + VIRTIO_PCI_STATUS);
  }

  /** vp_notify: iowrite16(vq->index, vq->priv), priv = ioaddr + VIRTIO_PCI_QUEUE_NOTIFY: the `outw`. */
  *vp_notify(): KCode {
    if (this.t.on) { this.t.rec(EV_VP_NOTIFY, 0); this.t.rec(EV_IOWRITE16, 0); }
    yield* iowrite16(this.r, this.vq!.index, this.ioaddr + VIRTIO_PCI_QUEUE_NOTIFY);
  }

  /** virtio_queue_rq → virtblk_setup_cmd + virtblk_add_req → virtqueue_add_sgs, then virtqueue_notify. */
  *virtio_queue_rq(req: BlkRequest): KCode<number> {
    const type = req.op === 'write' ? VIRTIO_BLK_T_OUT : req.op === 'read' ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_FLUSH;
    if (this.t.on) this.t.rec(EV_QUEUE_RQ, 0, req.sector, type);
    const ram = this.ram;
    ram.setU32(req.hdrGpa + virtio_blk_outhdr.type, type);
    ram.setU32(req.hdrGpa + virtio_blk_outhdr.ioprio, 0);
    ram.setU64(req.hdrGpa + virtio_blk_outhdr.sector, req.op === 'flush' ? 0 : req.sector);
    ram.setU8(req.statusGpa, 0xff);
    const hdr: Sg = { gpa: req.hdrGpa, len: virtio_blk_outhdr.sizeof };
    const status: Sg = { gpa: req.statusGpa, len: 1 };
    // virtblk_add_req: header out; data out for a write, in for a read; status in.
    const out = req.op === 'write' ? [hdr, ...req.sgs] : [hdr];
    const inp = req.op === 'read' ? [...req.sgs, status] : [status];
    if (this.t.on) this.t.rec(EV_ADD_SGS, 0);
    const vq = this.vq!;
    if (vq.add_sgs(out, inp, req) < 0) return -28;
    if (vq.kick_prepare()) {
      if (this.t.on) this.t.rec(EV_KICK, 0);
      yield* vq.notify();
    }
    return 0;
  }

  /** vp_vring_interrupt (an MSI-X queue vector): no ISR to read, the vector says which queue. */
  vring_interrupt(): void {
    if (this.t.on) this.t.rec(EV_VRING_INTERRUPT, 0);
    this.virtblk_done();
  }

  /** vp_interrupt (INTx): reading the ISR acknowledges it and lowers the line; bit 0 = a queue has work. */
  *vp_interrupt(): KCode {
    if (this.t.on) this.t.rec(EV_VP_INTERRUPT, 0);
    const isr = yield* ioread8(this.r, this.ioaddr + VIRTIO_PCI_ISR);
    if (isr & 1) this.virtblk_done();
  }

  /** virtblk_done: every used chain completes its request (blk_mq_complete_request). */
  private virtblk_done(): void {
    const vq = this.vq!;
    for (let b = vq.get_buf(); b; b = vq.get_buf()) {
      const req = b.data;
      const st = this.ram.u8(req.statusGpa);
      if (this.t.on) this.t.rec(EV_VIRTBLK_DONE, 0, st);
      // virtblk_result: OK → 0; UNSUPP → -EOPNOTSUPP; IOERR and anything else → -EIO.
      req.status = st === VIRTIO_BLK_S_OK ? 0 : st === 2 ? -95 : -5;
      req.done = true;
    }
  }

  get sectorSize(): number { return SECTOR_SIZE; }
}
