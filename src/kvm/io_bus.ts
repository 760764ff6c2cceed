// virt/kvm/kvm_main.c: kvm_io_bus. In-kernel devices (PIC, PIT, IOAPIC, ioeventfds) register
// address ranges on a bus; kvm_io_bus_write finds the ones covering an access. A bus of address
// ranges that rejects overlaps of different devices, as Firecracker's does.

export interface KvmIoDevice {
  readonly name: string;
  /** Returns 0 when handled, -EOPNOTSUPP to decline (an ioeventfd whose datamatch differs). */
  write(addr: number, len: number, val: number): number;
  read?(addr: number, len: number): number | undefined;
}

interface Range { addr: number; len: number; dev: KvmIoDevice }

export const KVM_PIO_BUS = 0;
export const KVM_MMIO_BUS = 1;
export const KVM_FAST_MMIO_BUS = 2;
const EOPNOTSUPP = 95;

export class KvmIoBus {
  private ranges: Range[] = [];
  constructor(readonly name: string) {}

  register(addr: number, len: number, dev: KvmIoDevice): void {
    this.ranges.push({ addr, len, dev });
    this.ranges.sort((a, b) => a.addr - b.addr || a.len - b.len);
  }

  unregister(dev: KvmIoDevice): void { this.ranges = this.ranges.filter((r) => r.dev !== dev); }

  /** __kvm_io_bus_write: first device in range that accepts; returns its index or -EOPNOTSUPP. */
  write(addr: number, len: number, val: number): number {
    const rs = this.ranges;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (addr >= r.addr && addr + len <= r.addr + (r.len || len) && r.dev.write(addr, len, val) === 0) return i;
    }
    return -EOPNOTSUPP;
  }

  /** __kvm_io_bus_read: the value, or undefined when no device claims the access. */
  read(addr: number, len: number): number | undefined {
    for (const r of this.ranges) {
      if (addr >= r.addr && addr + len <= r.addr + r.len && r.dev.read) {
        const v = r.dev.read(addr, len);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  }

  devices(): string[] { return this.ranges.map((r) => `${r.dev.name}@0x${r.addr.toString(16)}+${r.len}`); }
}
