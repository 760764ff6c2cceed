// drivers/virtio/virtio_ring.c, split ring, driver side: descriptors, the avail ring and the used
// ring live in guest RAM in the layout of include/uapi/linux/virtio_ring.h; the device reads them
// from there. The driver keeps only its shadow state (free list, indices) in its own structures.

import { VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY, vring_avail, vring_desc, vring_used, vring_used_elem, vringLayout } from '../uapi/virtio';
import type { GuestRam } from './memory';

export interface Sg { gpa: number; len: number }

export class VringVirtqueue<T> {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private freeHead = 0;
  numFree: number;
  private availIdxShadow = 0;
  private lastUsedIdx = 0;
  /** desc_state[head].data: the driver's token for each chain in flight. */
  private readonly data: (T | undefined)[];
  private readonly chainLen: number[];

  constructor(private readonly ram: GuestRam, readonly index: number, readonly num: number, base: number,
    readonly notify: () => Generator<number, void, number>) {
    const l = vringLayout(base, num);
    this.desc = l.desc; this.avail = l.avail; this.used = l.used;
    this.numFree = num;
    this.data = new Array<T | undefined>(num);
    this.chainLen = new Array<number>(num).fill(0);
    for (let i = 0; i < num - 1; i++) ram.setU16(this.desc + i * vring_desc.sizeof + vring_desc.next, i + 1);
  }

  /** virtqueue_add_sgs → virtqueue_add_split: out buffers first, then in (device-writable) ones. */
  add_sgs(out: readonly Sg[], inp: readonly Sg[], data: T): number {
    const total = out.length + inp.length;
    if (total > this.numFree) return -28; // -ENOSPC
    const ram = this.ram;
    const head = this.freeHead;
    let i = head;
    let prev = -1;
    const all = [...out, ...inp];
    all.forEach((sg, k) => {
      const d = this.desc + i * vring_desc.sizeof;
      ram.setU64(d + vring_desc.addr, sg.gpa);
      ram.setU32(d + vring_desc.len, sg.len);
      const last = k === all.length - 1;
      ram.setU16(d + vring_desc.flags, (last ? 0 : VRING_DESC_F_NEXT) | (k >= out.length ? VRING_DESC_F_WRITE : 0));
      prev = i;
      i = ram.u16(d + vring_desc.next);
    });
    void prev;
    this.freeHead = i;
    this.numFree -= total;
    this.data[head] = data;
    this.chainLen[head] = total;
    // Put the head on the avail ring, then publish the new index (virtio_wmb before the idx store).
    const slot = this.availIdxShadow % this.num;
    ram.setU16(this.avail + vring_avail.ring + 2 * slot, head);
    this.availIdxShadow = (this.availIdxShadow + 1) & 0xffff;
    this.numAdded++;
    ram.setU16(this.avail + vring_avail.idx, this.availIdxShadow);
    return 0;
  }

  /** VIRTIO_RING_F_EVENT_IDX was negotiated: kicks and interrupts are suppressed by index. */
  eventIdx = false;
  /** Buffers added since the last kick (vq->num_added). */
  private numAdded = 0;

  /**
   * virtqueue_kick_prepare_split: with EVENT_IDX, kick only if the new avail index passed the
   * device's avail_event (vring_need_event); without it, unless the device set VRING_USED_F_NO_NOTIFY.
   */
  kick_prepare(): boolean {
    const added = this.numAdded;
    this.numAdded = 0;
    if (this.eventIdx) {
      const now = this.availIdxShadow;
      const old = (now - added) & 0xffff;
      const availEvent = this.ram.u16(this.used + vring_used.ring + vring_used_elem.sizeof * this.num);
      return ((now - availEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.ram.u16(this.used + vring_used.flags) & VRING_USED_F_NO_NOTIFY) === 0;
  }

  /** virtqueue_enable_cb_prepare_split: with EVENT_IDX, tell the device which used index to interrupt for (used_event). */
  enable_cb(): void {
    if (this.eventIdx) this.ram.setU16(this.avail + vring_avail.ring + 2 * this.num, this.lastUsedIdx);
  }

  /** virtqueue_get_buf: the next used chain's token and written length, or undefined. */
  get_buf(): { data: T; len: number } | undefined {
    const ram = this.ram;
    if (this.lastUsedIdx === ram.u16(this.used + vring_used.idx)) return undefined;
    const slot = this.lastUsedIdx % this.num;
    const e = this.used + vring_used.ring + slot * vring_used_elem.sizeof;
    const id = ram.u32(e + vring_used_elem.id);
    const len = ram.u32(e + vring_used_elem.len);
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    const data = this.data[id];
    if (id >= this.num || data === undefined) throw new Error(`virtio_ring: id ${id} is not a head (device bug)`);
    this.data[id] = undefined;
    this.detach(id);
    return { data, len };
  }

  /** detach_buf_split: return the chain to the free list. */
  private detach(head: number): void {
    let i = head;
    const n = this.chainLen[head]!;
    for (let k = 1; k < n; k++) i = this.ram.u16(this.desc + i * vring_desc.sizeof + vring_desc.next);
    this.ram.setU16(this.desc + i * vring_desc.sizeof + vring_desc.next, this.freeHead);
    this.freeHead = head;
    this.numFree += n;
  }
}
