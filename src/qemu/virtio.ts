// hw/virtio/virtio.c: the device side of a split virtqueue. The ring lives in guest RAM; qemu reads
// the avail ring and descriptors from there (virtqueue_pop), maps each buffer, and writes the used
// ring back (virtqueue_push). Malformed rings end in virtio_error(): the device is marked broken.

import { defineEvent, type Tracer } from '../trace/events';
import {
  VIRTIO_CONFIG_S_NEEDS_RESET, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
  vring_avail, vring_desc, vring_used, vring_used_elem, vringLayout,
} from '../uapi/virtio';
import type { GuestMemory } from './dma';

export const VIRTIO_QUEUE_MAX = 1024;

export interface IoVec { hva: number; len: number }
export interface VirtQueueElement { index: number; out: IoVec[]; in: IoVec[] }

const EV_POP = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_pop', ['head', 'out_num', 'in_num']);
const EV_FLUSH = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_flush', ['count']);
const EV_ERROR = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'virtio_error', ['reason:str']);

export class VirtQueue {
  num = 0;
  desc = 0; avail = 0; used = 0;
  lastAvailIdx = 0;
  usedIdx = 0;
  /** Heads handed to the device and not yet pushed back. */
  inuse = 0;
  constructor(readonly index: number, readonly maxNum: number, readonly handleOutput: (vq: VirtQueue) => void) { this.num = maxNum; }

  /** virtio_queue_set_addr → virtio_queue_update_rings: legacy layout from the PFN. */
  setAddr(pa: number): void {
    const l = vringLayout(pa, this.num);
    this.desc = l.desc; this.avail = l.avail; this.used = l.used;
  }
  get ready(): boolean { return this.desc !== 0; }
}

export abstract class VirtIODevice {
  status = 0;
  isr = 0;
  hostFeatures = 0;
  guestFeatures = 0;
  queueSel = 0;
  broken = false;
  readonly vqs: VirtQueue[] = [];
  /** Set by the transport: raise or lower the interrupt line to match the ISR (virtio_notify_vector). */
  notifyTransport: ((vq: VirtQueue) => void) | undefined;

  constructor(readonly name: string, protected readonly mem: GuestMemory, protected readonly t: Tracer) {}

  abstract configRead(off: number, size: number): number;

  /** virtio_error: log, mark the device broken; the guest must reset it. */
  virtio_error(reason: string): void {
    this.broken = true;
    this.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
    if (this.t.on) this.t.rec(EV_ERROR, -1, this.t.str(reason));
  }

  reset(): void {
    this.status = 0; this.isr = 0; this.guestFeatures = 0; this.queueSel = 0; this.broken = false;
    for (const vq of this.vqs) { vq.desc = vq.avail = vq.used = 0; vq.lastAvailIdx = vq.usedIdx = vq.inuse = 0; vq.num = vq.maxNum; }
  }

  /** virtio_queue_notify: the guest kicked queue n. */
  virtio_queue_notify(n: number): void {
    const vq = this.vqs[n];
    if (!vq || !vq.ready || this.broken) return;
    vq.handleOutput(vq);
  }

  /** virtqueue_pop: the next available chain, mapped; undefined when empty or on a malformed ring. */
  virtqueue_pop(vq: VirtQueue): VirtQueueElement | undefined {
    if (this.broken) return undefined;
    const m = this.mem;
    const availIdx = m.lduw(vq.avail + vring_avail.idx);
    const pending = (availIdx - vq.lastAvailIdx) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > vq.num) { this.virtio_error(`Guest moved used index from ${vq.lastAvailIdx} to ${availIdx}`); return undefined; }
    const head = m.lduw(vq.avail + vring_avail.ring + 2 * (vq.lastAvailIdx % vq.num));
    vq.lastAvailIdx = (vq.lastAvailIdx + 1) & 0xffff;
    if (head >= vq.num) { this.virtio_error(`Guest says index ${head} is available`); return undefined; }
    const elem: VirtQueueElement = { index: head, out: [], in: [] };
    let i = head;
    for (let seen = 0; ; seen++) {
      if (seen >= vq.num) { this.virtio_error('Looped descriptor'); return undefined; }
      const d = vq.desc + i * vring_desc.sizeof;
      const addr = m.ldq(d + vring_desc.addr);
      const len = m.ldl(d + vring_desc.len);
      const flags = m.lduw(d + vring_desc.flags);
      if (flags & VRING_DESC_F_INDIRECT) { this.virtio_error('Indirect descriptors not negotiated'); return undefined; }
      const hva = m.map(addr, len);
      if (hva === undefined) { this.virtio_error('virtio: bogus descriptor or out of resources'); return undefined; }
      if (flags & VRING_DESC_F_WRITE) elem.in.push({ hva, len });
      else {
        if (elem.in.length > 0) { this.virtio_error('Incorrect order for descriptors'); return undefined; }
        elem.out.push({ hva, len });
      }
      if (!(flags & VRING_DESC_F_NEXT)) break;
      i = m.lduw(d + vring_desc.next);
      if (i >= vq.num) { this.virtio_error(`Desc next is ${i}`); return undefined; }
    }
    vq.inuse++;
    if (this.t.on) this.t.rec(EV_POP, -1, head, elem.out.length, elem.in.length);
    return elem;
  }

  /** virtqueue_push = virtqueue_fill + virtqueue_flush: one used element, then the used index. */
  virtqueue_push(vq: VirtQueue, elem: VirtQueueElement, len: number): void {
    const m = this.mem;
    const slot = vq.used + vring_used.ring + (vq.usedIdx % vq.num) * vring_used_elem.sizeof;
    m.stl(slot + vring_used_elem.id, elem.index);
    m.stl(slot + vring_used_elem.len, len);
    vq.usedIdx = (vq.usedIdx + 1) & 0xffff;
    m.stw(vq.used + vring_used.idx, vq.usedIdx);
    vq.inuse--;
    if (this.t.on) this.t.rec(EV_FLUSH, -1, 1);
  }

  /** virtio_notify: unless the driver suppressed interrupts, set ISR bit 0 and tell the transport. */
  virtio_notify(vq: VirtQueue): void {
    if (this.mem.lduw(vq.avail + vring_avail.flags) & VRING_AVAIL_F_NO_INTERRUPT) return;
    this.isr |= 1;
    this.notifyTransport?.(vq);
  }
}
