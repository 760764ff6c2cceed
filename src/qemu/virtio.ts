// hw/virtio/virtio.c (QEMU 9.x): the device side of a split virtqueue. The ring lives in guest RAM;
// qemu reads it through region caches built when the driver sets the ring's address
// (virtio_init_region_cache), pops each available chain (virtqueue_split_pop: descriptors read
// with vring_split_desc_read, each buffer mapped with virtqueue_map_desc, indirect tables
// followed), and writes the used ring back (virtqueue_push = virtqueue_fill + virtqueue_flush).
// Whatever a guest writes into its ring, qemu checks it before it acts on it; a ring it cannot
// trust ends in virtio_error(): the device is broken until the driver resets it (and, when
// VIRTIO_F_VERSION_1 was negotiated, it sets VIRTIO_CONFIG_S_NEEDS_RESET and raises a config
// interrupt; the legacy interface has no such bit).

import { defineEvent, type Tracer } from '../trace/events';
import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
  VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY,
  vring_avail, vring_desc, vring_used, vring_used_elem, vringLayout,
} from '../uapi/virtio';
import { U64_MAX, type GuestMemory, type MemoryRegionCache } from './dma';
import { ERRNO } from '../uapi/errno';

const EINVAL = ERRNO.EINVAL;

export const VIRTIO_QUEUE_MAX = 1024;
/** VIRTQUEUE_MAX_SIZE: the most iovecs one element may carry. */
export const VIRTQUEUE_MAX_SIZE = 1024;
/** include/uapi/linux/virtio_config.h */
export const VIRTIO_F_VERSION_1 = 32;

export interface IoVec { hva: number; len: number }
export interface VirtQueueElement {
  /** The head descriptor's index: the id the used ring reports back. */
  index: number;
  ndescs: number;
  out: IoVec[];
  in: IoVec[];
}

/** vq->vring.caches */
export interface VRingMemoryRegionCaches { desc: MemoryRegionCache; avail: MemoryRegionCache; used: MemoryRegionCache }

const EV_POP = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_pop', ['head', 'out_num', 'in_num', 'queue']);
const EV_FILL = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_fill', ['id', 'len', 'idx', 'queue']);
const EV_FLUSH = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_flush', ['count', 'queue']);
const EV_DETACH = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_detach_element', ['head', 'queue']);
const EV_ERROR = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_error', ['reason:str']);
const EV_GUEST_ERROR = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'qemu_log_mask', ['reason:str']);

export class VirtQueue {
  num = 0;
  desc = 0; avail = 0; used = 0;
  lastAvailIdx = 0;
  /** vq->shadow_avail_idx: the avail index as last read from guest RAM. */
  shadowAvailIdx = 0;
  usedIdx = 0;
  /** Heads handed to the device and not yet pushed back (or detached). */
  inuse = 0;
  /** vq->notification: the device wants kicks (virtio_queue_set_notification). */
  notification = true;
  /** vq->signalled_used / signalled_used_valid: the used index the driver was last interrupted for. */
  signalledUsed = 0;
  signalledUsedValid = false;
  /** The region caches, and the ring geometry they were built for. */
  caches: VRingMemoryRegionCaches | undefined;
  private cachedFor = '';
  /** The device that owns the queue (virtio_add_queue). */
  vdev: VirtIODevice | undefined;
  constructor(readonly index: number, readonly maxNum: number, readonly handleOutput: (vq: VirtQueue) => void) { this.num = maxNum; }

  /** virtio_queue_set_addr → virtio_queue_update_rings: legacy layout from the PFN, then the region caches. */
  setAddr(pa: number): void {
    const l = vringLayout(pa, this.num);
    this.desc = l.desc; this.avail = l.avail; this.used = l.used;
    this.vdev?.virtio_init_region_cache(this);
  }
  get ready(): boolean { return this.desc !== 0; }
  /** The geometry the caches must match (a transport may set desc/avail/used directly). */
  geometry(): string { return `${this.desc}:${this.avail}:${this.used}:${this.num}`; }
  markCached(): void { this.cachedFor = this.geometry(); }
  get cachesCurrent(): boolean { return this.cachedFor === this.geometry(); }
}

/** What virtqueue_split_read_next_desc reports. */
const READ_DESC_ERROR = -1, READ_DESC_DONE = 0, READ_DESC_MORE = 1;

/** vring_split_desc_read: one 16-byte descriptor; addr kept 64-bit. */
interface VRingDesc { addr: bigint; len: number; flags: number; next: number }

export abstract class VirtIODevice {
  status = 0;
  isr = 0;
  hostFeatures = 0;
  /** Offered feature bits 32..63: VIRTIO_F_VERSION_1 on a modern transport (virtio_pci_device_plugged). */
  hostFeaturesHi = 0;
  guestFeatures = 0;
  /** Negotiated feature bits 32..63 (VIRTIO_F_VERSION_1 is bit 32), for transports that carry them. */
  guestFeaturesHi = 0;
  queueSel = 0;
  broken = false;
  readonly vqs: VirtQueue[] = [];
  /** Set by the transport: raise or lower the interrupt line to match the ISR (virtio_notify_vector). */
  notifyTransport: ((vq: VirtQueue) => void) | undefined;
  /** Set by the transport: the configuration-change interrupt (virtio_notify_config). */
  notifyConfigTransport: (() => void) | undefined;

  constructor(readonly name: string, protected readonly mem: GuestMemory, protected readonly t: Tracer) {}

  abstract configRead(off: number, size: number): number;

  /** virtio_add_queue */
  protected virtio_add_queue(num: number, handleOutput: (vq: VirtQueue) => void): VirtQueue {
    const vq = new VirtQueue(this.vqs.length, num, handleOutput);
    vq.vdev = this;
    this.vqs.push(vq);
    return vq;
  }

  /**
   * virtio_set_features (hw/virtio/virtio.c): the driver's features, masked by the device's
   * (virtio_set_features_nocheck); refused once FEATURES_OK is set. "VIRTIO_RING_F_EVENT_IDX changes
   * the size of the caches": with it negotiated every queue's region caches are rebuilt
   * (virtio_init_region_cache), so that used_event and avail_event lie inside them. 0, or -1 when
   * the driver asked for a feature the device does not offer, or -EINVAL after FEATURES_OK.
   */
  virtio_set_features(lo: number, hi = 0): number {
    if (this.status & VIRTIO_CONFIG_S_FEATURES_OK) return -EINVAL;
    const bad = ((lo & ~this.hostFeatures) >>> 0) !== 0 || ((hi & ~this.hostFeaturesHi) >>> 0) !== 0;
    this.guestFeatures = (lo & this.hostFeatures) >>> 0;
    this.guestFeaturesHi = (hi & this.hostFeaturesHi) >>> 0;
    if (this.virtio_vdev_has_feature(VIRTIO_RING_F_EVENT_IDX)) {
      for (const vq of this.vqs) if (vq.num !== 0) this.virtio_init_region_cache(vq);
    }
    return bad ? -1 : 0;
  }

  /** virtio_vdev_has_feature */
  virtio_vdev_has_feature(bit: number): boolean {
    return bit < 32 ? ((this.guestFeatures >>> bit) & 1) === 1 : ((this.guestFeaturesHi >>> (bit - 32)) & 1) === 1;
  }

  /** virtio_error: report, mark the device broken; with VERSION_1, NEEDS_RESET and a config interrupt. */
  virtio_error(reason: string): void {
    if (this.t.on) this.t.rec(EV_ERROR, -1, this.t.str(reason));
    if (this.virtio_vdev_has_feature(VIRTIO_F_VERSION_1)) {
      this.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
      this.virtio_notify_config();
    }
    this.broken = true;
  }

  /** virtio_notify_config: only once the driver is up; ISR bit 1 (VIRTIO_PCI_ISR_CONFIG). */
  virtio_notify_config(): void {
    if (!(this.status & VIRTIO_CONFIG_S_DRIVER_OK)) return;
    this.isr |= 3;
    this.notifyConfigTransport?.();
  }

  /**
   * Set by the transport: virtio_notify_vector(vdev, VIRTIO_NO_VECTOR) at the end of virtio_reset —
   * with INTx the line follows the cleared ISR down; with MSI-X there is no vector to signal.
   */
  notifyResetTransport: (() => void) | undefined;

  /**
   * virtio_reset (hw/virtio/virtio.c): the status goes to 0 (virtio_set_status), the device's own
   * reset runs (k->reset, which may first wait for requests in flight: virtio_blk_reset drains), then
   * the features, the ISR, the config vector and every queue are reset and the device is usable again.
   */
  reset(): void {
    this.status = 0;
    this.device_reset(() => this.virtio_reset_queues());
  }

  /** k->reset: the device's part of a reset; `done` continues virtio_reset once it has finished. */
  protected device_reset(done: () => void): void { done(); }

  /** The rest of virtio_reset, after k->reset: features, queue_sel, ISR, the vector, __virtio_queue_reset for each queue. */
  private virtio_reset_queues(): void {
    this.status = 0; this.isr = 0; this.guestFeatures = 0; this.guestFeaturesHi = 0; this.queueSel = 0; this.broken = false;
    this.notifyResetTransport?.();
    for (const vq of this.vqs) {
      vq.desc = vq.avail = vq.used = 0;
      vq.lastAvailIdx = vq.shadowAvailIdx = vq.usedIdx = vq.inuse = 0;
      vq.signalledUsed = 0; vq.signalledUsedValid = false;
      vq.num = vq.maxNum; vq.notification = true;
      vq.caches = undefined; vq.markCached();
    }
  }

  /** virtio_queue_notify: the guest kicked queue n. */
  virtio_queue_notify(n: number): void {
    const vq = this.vqs[n];
    if (!vq || !vq.ready || this.broken) return;
    vq.handleOutput(vq);
  }

  // ------------------------------------------------------------------ region caches

  /** virtio_init_region_cache: map desc, used and avail; any of them short → virtio_error, no caches. */
  virtio_init_region_cache(vq: VirtQueue): void {
    vq.markCached();
    vq.caches = undefined;
    if (!vq.desc) return;
    const m = this.mem;
    const s = this.virtio_vdev_has_feature(VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
    const descSize = vq.num * vring_desc.sizeof;
    const desc = m.address_space_cache_init(vq.desc, descSize);
    if (desc.len < descSize) { this.virtio_error('Cannot map desc'); return; }
    const usedSize = vring_used.ring + vring_used_elem.sizeof * vq.num + s;
    const used = m.address_space_cache_init(vq.used, usedSize);
    if (used.len < usedSize) { this.virtio_error('Cannot map used'); return; }
    const availSize = vring_avail.ring + 2 * vq.num + s;
    const avail = m.address_space_cache_init(vq.avail, availSize);
    if (avail.len < availSize) { this.virtio_error('Cannot map avail'); return; }
    vq.caches = { desc, avail, used };
  }

  /** vring_get_region_caches (built lazily when a transport set the ring fields directly). */
  protected vring_get_region_caches(vq: VirtQueue): VRingMemoryRegionCaches | undefined {
    if (!vq.cachesCurrent) this.virtio_init_region_cache(vq);
    return vq.caches;
  }

  protected vring_avail_flags(vq: VirtQueue): number {
    const c = this.vring_get_region_caches(vq);
    return c ? this.mem.lduw_cached(c.avail, vring_avail.flags, 'vring_avail_flags') : 0;
  }
  protected vring_avail_idx(vq: VirtQueue): number {
    const c = this.vring_get_region_caches(vq);
    if (!c) return 0;
    vq.shadowAvailIdx = this.mem.lduw_cached(c.avail, vring_avail.idx, 'vring_avail_idx');
    return vq.shadowAvailIdx;
  }
  protected vring_avail_ring(vq: VirtQueue, i: number): number {
    const c = this.vring_get_region_caches(vq);
    return c ? this.mem.lduw_cached(c.avail, vring_avail.ring + 2 * i, 'vring_avail_ring') : 0;
  }
  /** vring_set_avail_event: with EVENT_IDX, where the driver should kick next (used->ring[num]). */
  protected vring_set_avail_event(vq: VirtQueue, val: number): void {
    if (!vq.notification) return;
    const c = this.vring_get_region_caches(vq);
    if (c) this.mem.stw_cached(c.used, vring_used.ring + vring_used_elem.sizeof * vq.num, val, 'vring_set_avail_event');
  }

  /** virtio_queue_set_notification (split ring): ask for kicks again, or suppress them while draining. */
  virtio_queue_set_notification(vq: VirtQueue, enable: boolean): void {
    vq.notification = enable;
    if (!vq.desc) return;
    const c = this.vring_get_region_caches(vq);
    if (!c) return;
    if (this.virtio_vdev_has_feature(VIRTIO_RING_F_EVENT_IDX)) {
      this.vring_set_avail_event(vq, this.vring_avail_idx(vq));
    } else {
      const flags = this.mem.lduw_cached(c.used, vring_used.flags, 'vring_used_flags');
      const next = enable ? flags & ~VRING_USED_F_NO_NOTIFY : flags | VRING_USED_F_NO_NOTIFY;
      if (next !== flags) this.mem.stw_cached(c.used, vring_used.flags, next, 'vring_used_flags_set_bit');
    }
  }

  /** virtio_queue_empty (split): a broken device, or one without rings, has nothing available. */
  virtio_queue_empty(vq: VirtQueue): boolean {
    if (this.broken || !vq.avail) return true;
    if (vq.shadowAvailIdx !== vq.lastAvailIdx) return false;
    return this.vring_avail_idx(vq) === vq.lastAvailIdx;
  }

  // ------------------------------------------------------------------ popping

  private vring_split_desc_read(cache: MemoryRegionCache, i: number): VRingDesc {
    const m = this.mem;
    const o = i * vring_desc.sizeof;
    return {
      addr: m.ldq_cached(cache, o + vring_desc.addr, 'vring_split_desc_read'),
      len: m.ldl_cached(cache, o + vring_desc.len, 'vring_split_desc_read'),
      flags: m.lduw_cached(cache, o + vring_desc.flags, 'vring_split_desc_read'),
      next: m.lduw_cached(cache, o + vring_desc.next, 'vring_split_desc_read'),
    };
  }

  /** virtqueue_split_read_next_desc */
  private read_next_desc(desc: VRingDesc, cache: MemoryRegionCache, max: number): { rc: number; desc: VRingDesc } {
    if (!(desc.flags & VRING_DESC_F_NEXT)) return { rc: READ_DESC_DONE, desc };
    const next = desc.next;
    if (next >= max) { this.virtio_error(`Desc next is ${next}`); return { rc: READ_DESC_ERROR, desc }; }
    return { rc: READ_DESC_MORE, desc: this.vring_split_desc_read(cache, next) };
  }

  /**
   * virtqueue_map_desc: map one descriptor's buffer, as many iovecs as it takes; false after
   * virtio_error. The address is 64-bit and wraps modulo 2^64, as hwaddr does.
   */
  private virtqueue_map_desc(iov: IoVec[], maxNumSg: number, isWrite: boolean, pa: bigint, sz: number): boolean {
    if (!sz) { this.virtio_error('virtio: zero sized buffers are not allowed'); return false; }
    while (sz) {
      if (iov.length === maxNumSg) { this.virtio_error('virtio: too many write descriptors in indirect table'); return false; }
      const m = this.mem.address_space_map(pa, sz, isWrite);
      if (!m) { this.virtio_error('virtio: bogus descriptor or out of resources'); return false; }
      iov.push({ hva: m.hva, len: m.len });
      sz -= m.len;
      pa = (pa + BigInt(m.len)) & U64_MAX;
    }
    return true;
  }

  /** virtqueue_undo_map_desc / virtqueue_unmap_sg: give back what was mapped (bounce buffers). */
  private unmap(iovs: readonly IoVec[]): void {
    for (const v of iovs) this.mem.address_space_unmap(v.hva);
  }

  /** virtqueue_pop → virtqueue_split_pop: the next available chain, mapped; undefined when empty or after virtio_error. */
  virtqueue_pop(vq: VirtQueue): VirtQueueElement | undefined {
    if (this.broken) return undefined;                                   // virtio_device_disabled
    if (this.virtio_queue_empty(vq)) return undefined;
    let max = vq.num;
    if (vq.inuse >= vq.num) { this.virtio_error('Virtqueue size exceeded'); return undefined; }
    // virtqueue_get_head
    const head = this.vring_avail_ring(vq, vq.lastAvailIdx % vq.num);
    vq.lastAvailIdx = (vq.lastAvailIdx + 1) & 0xffff;
    if (head >= vq.num) { this.virtio_error(`Guest says index ${head} is available`); return undefined; }
    if (this.virtio_vdev_has_feature(VIRTIO_RING_F_EVENT_IDX)) this.vring_set_avail_event(vq, vq.lastAvailIdx);
    const caches = this.vring_get_region_caches(vq);
    if (!caches) { this.virtio_error('Region caches not initialized'); return undefined; }
    if (caches.desc.len < max * vring_desc.sizeof) { this.virtio_error('Cannot map descriptor ring'); return undefined; }
    let cache = caches.desc;
    let desc = this.vring_split_desc_read(cache, head);
    if (desc.flags & VRING_DESC_F_INDIRECT) {
      if (!desc.len || desc.len % vring_desc.sizeof) { this.virtio_error('Invalid size for indirect buffer table'); return undefined; }
      // virtio_check_indirect_feature (QEMU 10.1): followed anyway, logged as a guest error.
      if (!this.virtio_vdev_has_feature(VIRTIO_RING_F_INDIRECT_DESC) && this.t.on) {
        this.t.rec(EV_GUEST_ERROR, -1, this.t.str(`Device ${this.name}: indirect_desc was not negotiated!`));
      }
      const indirect = this.mem.address_space_cache_init(desc.addr, desc.len);
      if (indirect.len < desc.len) { this.virtio_error('Cannot map indirect buffer'); return undefined; }
      cache = indirect;
      max = desc.len / vring_desc.sizeof;
      desc = this.vring_split_desc_read(cache, 0);
    }
    const out: IoVec[] = [];
    const inp: IoVec[] = [];
    let entries = 0;
    for (;;) {
      let ok: boolean;
      if (desc.flags & VRING_DESC_F_WRITE) {
        ok = this.virtqueue_map_desc(inp, VIRTQUEUE_MAX_SIZE - out.length, true, desc.addr, desc.len);
      } else {
        if (inp.length) { this.virtio_error('Incorrect order for descriptors'); this.unmap(out); this.unmap(inp); return undefined; }
        ok = this.virtqueue_map_desc(out, VIRTQUEUE_MAX_SIZE, false, desc.addr, desc.len);
      }
      if (!ok) { this.unmap(out); this.unmap(inp); return undefined; }
      // If we've got too many, that implies a descriptor loop.
      if (++entries > max) { this.virtio_error('Looped descriptor'); this.unmap(out); this.unmap(inp); return undefined; }
      const n = this.read_next_desc(desc, cache, max);
      if (n.rc === READ_DESC_ERROR) { this.unmap(out); this.unmap(inp); return undefined; }
      if (n.rc === READ_DESC_DONE) break;
      desc = n.desc;
    }
    vq.inuse++;
    if (this.t.on) this.t.rec(EV_POP, -1, head, out.length, inp.length, vq.index);
    return { index: head, ndescs: 1, out, in: inp };
  }

  /** virtqueue_detach_element: the element is dropped without a used entry (a request qemu refused). */
  virtqueue_detach_element(vq: VirtQueue, elem: VirtQueueElement): void {
    vq.inuse -= elem.ndescs;
    this.unmap(elem.out); this.unmap(elem.in);
    if (this.t.on) this.t.rec(EV_DETACH, -1, elem.index, vq.index);
  }

  /** virtqueue_push = virtqueue_fill + virtqueue_flush: one used element, then the used index. */
  virtqueue_push(vq: VirtQueue, elem: VirtQueueElement, len: number): void {
    this.virtqueue_fill(vq, elem, len, 0);
    this.virtqueue_flush(vq, 1);
  }

  /** virtqueue_fill: unmap the buffers; unless the device is broken, write the used element. */
  virtqueue_fill(vq: VirtQueue, elem: VirtQueueElement, len: number, idx: number): void {
    if (this.t.on) this.t.rec(EV_FILL, -1, elem.index, len, idx, vq.index);
    this.unmap(elem.out); this.unmap(elem.in);
    if (this.broken || !vq.used) return;
    const c = this.vring_get_region_caches(vq);
    if (!c) return;
    const slot = vring_used.ring + ((idx + vq.usedIdx) % vq.num) * vring_used_elem.sizeof;
    this.mem.stl_cached(c.used, slot + vring_used_elem.id, elem.index, 'vring_used_write');
    this.mem.stl_cached(c.used, slot + vring_used_elem.len, len, 'vring_used_write');
  }

  /** virtqueue_flush: publish `count` used elements (a broken device only forgets them). */
  virtqueue_flush(vq: VirtQueue, count: number): void {
    if (this.broken) { vq.inuse -= count; return; }
    if (!vq.used) return;
    if (this.t.on) this.t.rec(EV_FLUSH, -1, count, vq.index);
    vq.usedIdx = (vq.usedIdx + count) & 0xffff;
    const c = this.vring_get_region_caches(vq);
    if (c) this.mem.stw_cached(c.used, vring_used.idx, vq.usedIdx, 'vring_used_idx_set');
    vq.inuse -= count;
  }

  /**
   * virtio_split_should_notify: with EVENT_IDX, only when the used index has just passed the
   * driver's used_event (vring_need_event); without it, unless the driver set NO_INTERRUPT.
   * (VIRTIO_F_NOTIFY_ON_EMPTY's "notify when the queue ran empty" is not modelled.)
   */
  protected virtio_should_notify(vq: VirtQueue): boolean {
    if (!this.virtio_vdev_has_feature(VIRTIO_RING_F_EVENT_IDX)) return !(this.vring_avail_flags(vq) & VRING_AVAIL_F_NO_INTERRUPT);
    const old = vq.signalledUsed;
    const valid = vq.signalledUsedValid;
    vq.signalledUsed = vq.usedIdx;
    vq.signalledUsedValid = true;
    if (!valid) return true;
    const c = this.vring_get_region_caches(vq);
    // vring_get_used_event: avail->ring[num]
    const usedEvent = c ? this.mem.lduw_cached(c.avail, vring_avail.ring + 2 * vq.num, 'vring_get_used_event') : 0;
    return ((vq.usedIdx - usedEvent - 1) & 0xffff) < ((vq.usedIdx - old) & 0xffff);
  }

  /** virtio_notify: if the driver wants it (virtio_should_notify), set ISR bit 0 and tell the transport. */
  virtio_notify(vq: VirtQueue): void {
    if (!this.virtio_should_notify(vq)) return;
    this.isr |= 1;
    this.notifyTransport?.(vq);
  }
}
