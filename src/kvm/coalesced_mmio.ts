// virt/kvm/coalesced_mmio.c (Linux 6.1): writes userspace does not need to see at once. A zone
// registered with KVM_REGISTER_COALESCED_MMIO (on KVM_PIO_BUS when zone.pio = 1, KVM_CAP_COALESCED_PIO,
// 4.18) makes a guest write there an in-kernel access: coalesced_mmio_write appends it to the VM's
// ring (struct kvm_coalesced_mmio_ring, the page every vCPU maps at KVM_COALESCED_MMIO_PAGE_OFFSET)
// and the vCPU re-enters the guest. Userspace replays the ring later (qemu's
// kvm_flush_coalesced_mmio_buffer). Reads are not coalesced: the device has no read method.

import { defineEvent } from '../trace/events';
import { PAGE_SIZE, kvm_coalesced_mmio, kvm_coalesced_mmio_ring } from '../uapi/kvm';
import type { KvmIoDevice } from './io_bus';
import type { KvmVm } from './vm';

/** KVM_COALESCED_MMIO_MAX: ring entries that fit in the page after its header. */
export const KVM_COALESCED_MMIO_MAX = Math.floor((PAGE_SIZE - kvm_coalesced_mmio_ring.sizeof) / kvm_coalesced_mmio.sizeof);
const EOPNOTSUPP = 95;

const EV_WRITE = defineEvent('call', 'kvm', 'kvm', 'coalesced_mmio_write', ['addr:hex', 'len', 'val:hex']);

/** struct kvm_coalesced_mmio_dev: one zone on the PIO or MMIO bus, writing into the VM's ring. */
export class KvmCoalescedMmioDev implements KvmIoDevice {
  readonly name = 'coalesced_mmio';
  constructor(private readonly vm: KvmVm, readonly addr: number, readonly size: number, readonly pio: boolean) {}

  /** coalesced_mmio_write: append, unless out of the zone or the ring is full (then the access goes on as usual). */
  write(addr: number, len: number, val: number): number {
    if (addr < this.addr || addr + len > this.addr + this.size) return -EOPNOTSUPP;
    const ring = this.vm.coalescedRing;
    const first = ring.getUint32(kvm_coalesced_mmio_ring.first, true);
    const last = ring.getUint32(kvm_coalesced_mmio_ring.last, true);
    // coalesced_mmio_has_room: one slot always stays empty, so that first == last means empty.
    if ((last + 1) % KVM_COALESCED_MMIO_MAX === first) return -EOPNOTSUPP;
    const e = kvm_coalesced_mmio_ring.coalesced_mmio + last * kvm_coalesced_mmio.sizeof;
    ring.setBigUint64(e + kvm_coalesced_mmio.phys_addr, BigInt(addr), true);
    ring.setUint32(e + kvm_coalesced_mmio.len, len, true);
    ring.setUint32(e + kvm_coalesced_mmio.pio, this.pio ? 1 : 0, true);
    ring.setBigUint64(e + kvm_coalesced_mmio.data, BigInt.asUintN(64, BigInt(val)), true);
    ring.setUint32(kvm_coalesced_mmio_ring.last, (last + 1) % KVM_COALESCED_MMIO_MAX, true);
    const t = this.vm.env.t;
    if (t.on) t.rec(EV_WRITE, -1, addr, len, val);
    return 0;
  }
}
