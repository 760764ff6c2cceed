// hw/block/vhost-user-blk.c + hw/virtio/vhost.c + hw/virtio/vhost-user.c: the vhost-user-blk-pci
// device. qemu keeps the device's configuration and the PCI transport, but not the data path: at
// DRIVER_OK (vhost_dev_start) it tells the backend, over its unix socket, where guest memory is
// (SET_MEM_TABLE with the RAM's memfd), where the ring is (SET_VRING_NUM/ADDR/BASE), and which
// eventfds to use — the kick eventfd kvm signals (ioeventfd) and the call eventfd kvm turns into the
// interrupt (irqfd). From then on a request never passes through qemu.

import { defineEvent, type Tracer } from '../trace/events';
import { VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX } from '../uapi/virtio';
import * as VU from '../uapi/vhost_user';
import type { HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import type { GuestMemory } from './dma';
import type { Heap } from './heap';
import { VirtIODevice, VirtQueue } from './virtio';

const EV_START = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'vhost_dev_start', ['queues']);

export interface VhostUserChannel {
  host: HostKernel;
  proc: HostProcess;
  heap: Heap;
  /** qemu's end of the socket to the backend. */
  sock: number;
  /** The memfd behind guest RAM, its size, and where qemu mapped it. */
  ramFd: number;
  ramBytes: number;
  ramHva: number;
}

export class VhostUserBlk extends VirtIODevice {
  constructor(mem: GuestMemory, t: Tracer, private readonly capacityBytes: number, private readonly ch: VhostUserChannel) {
    super('vhost-user-blk', mem, t);
    this.hostFeatures = (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) | (1 << VIRTIO_BLK_F_FLUSH);
    // The queue exists for the transport (size, ring addresses); kicks never reach qemu's handler.
    this.vqs.push(new VirtQueue(0, 256, () => { throw new Error('vhost-user-blk: a kick reached qemu; the ioeventfd should have gone to the backend'); }));
  }

  /** vhost_user_blk_update_config: the capacity the backend reported (here: the image's size). */
  configRead(off: number, size: number): number {
    const cfg = new DataView(new ArrayBuffer(32));
    cfg.setBigUint64(0, BigInt(Math.floor(this.capacityBytes / 512)), true);
    cfg.setUint32(12, 126, true);
    cfg.setUint32(20, 512, true);
    if (off + size > 32) return 0;
    return size === 1 ? cfg.getUint8(off) : size === 2 ? cfg.getUint16(off, true) : cfg.getUint32(off, true);
  }

  /** vhost_dev_start: the memory table, each ring, and its kick and call eventfds. */
  vhostStart(kick: (vq: VirtQueue) => number, call: (vq: VirtQueue) => number): void {
    const ready = this.vqs.filter((vq) => vq.ready);
    if (this.t.on) this.t.rec(EV_START, -1, ready.length);
    const m = VU.memory;
    this.send(VU.VHOST_USER_SET_OWNER, 0, () => {});
    this.send(VU.VHOST_USER_SET_MEM_TABLE, m.regions + m.regionSize, (pl, mm) => {
      mm.setU32(pl + m.nregions, 1);
      const r = pl + m.regions;
      mm.setU64(r + m.gpa, 0); mm.setU64(r + m.size, this.ch.ramBytes); mm.setU64(r + m.uaddr, this.ch.ramHva); mm.setU64(r + m.mmapOffset, 0);
    }, [this.ch.ramFd]);
    for (const vq of ready) {
      const hva = (gpa: number) => this.ch.ramHva + gpa;
      this.send(VU.VHOST_USER_SET_VRING_NUM, VU.vringState.sizeof, (pl, mm) => { mm.setU32(pl, vq.index); mm.setU32(pl + 4, vq.num); });
      this.send(VU.VHOST_USER_SET_VRING_ADDR, VU.vringAddr.sizeof, (pl, mm) => {
        mm.setU32(pl + VU.vringAddr.index, vq.index);
        mm.setU64(pl + VU.vringAddr.desc, hva(vq.desc)); mm.setU64(pl + VU.vringAddr.used, hva(vq.used)); mm.setU64(pl + VU.vringAddr.avail, hva(vq.avail));
      });
      this.send(VU.VHOST_USER_SET_VRING_BASE, VU.vringState.sizeof, (pl, mm) => { mm.setU32(pl, vq.index); mm.setU32(pl + 4, 0); });
      this.send(VU.VHOST_USER_SET_VRING_KICK, 8, (pl, mm) => mm.setU64(pl, vq.index), [kick(vq)]);
      this.send(VU.VHOST_USER_SET_VRING_CALL, 8, (pl, mm) => mm.setU64(pl, vq.index), [call(vq)]);
      this.send(VU.VHOST_USER_SET_VRING_ENABLE, VU.vringState.sizeof, (pl, mm) => { mm.setU32(pl, vq.index); mm.setU32(pl + 4, 1); });
    }
  }

  /** vhost_user_write: header + payload with sendmsg, fds as SCM_RIGHTS. */
  private send(request: number, size: number, fill: (payload: number, mm: HostProcess['mm']) => void, fds: number[] = []): void {
    const { host, proc, heap, sock } = this.ch;
    const msg = heap.alloc(VU.VHOST_USER_HDR_SIZE + Math.max(size, 8));
    proc.mm.setU32(msg + VU.hdr.request, request);
    proc.mm.setU32(msg + VU.hdr.flags, VU.VHOST_USER_VERSION);
    proc.mm.setU32(msg + VU.hdr.size, size);
    fill(msg + VU.VHOST_USER_HDR_SIZE, proc.mm);
    const r = host.sendmsg(proc, sock, msg, VU.VHOST_USER_HDR_SIZE + size, fds);
    heap.release(msg);
    if (r < 0) throw new Error(`qemu: vhost-user ${VU.NAMES[request] ?? request} failed: ${r}`);
  }
}
