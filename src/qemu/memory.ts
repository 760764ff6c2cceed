// softmmu/memory.c and physmem.c, reduced: an address space is a set of memory regions; an access is
// dispatched to the region that covers it (memory_region_dispatch_read/write → mr->ops). An I/O access
// nobody claims goes to the unassigned ops: reads return all ones, writes are dropped.

import { defineEvent, type Tracer } from '../trace/events';

export interface MemoryRegionOps {
  read(addr: number, size: number): number;
  write(addr: number, value: number, size: number): void;
}

export interface MemoryRegion { readonly name: string; readonly owner: string; readonly base: number; readonly size: number; readonly ops: MemoryRegionOps }

const EV_WRITE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'memory_region_dispatch_write', ['addr:hex', 'value:hex', 'size', 'device:str']);
const EV_READ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'memory_region_dispatch_read', ['addr:hex', 'value:hex', 'size', 'device:str']);

export class AddressSpace {
  private regions: MemoryRegion[] = [];
  constructor(readonly name: string, private readonly t: Tracer) {}

  /** memory_region_add_subregion; overlapping regions are a configuration error. */
  add(mr: MemoryRegion): void {
    for (const o of this.regions) {
      if (mr.base < o.base + o.size && o.base < mr.base + mr.size) {
        throw new Error(`${this.name}: region ${mr.name} at 0x${mr.base.toString(16)} overlaps ${o.name}`);
      }
    }
    this.regions.push(mr);
  }

  /** The devices that own a region here (the names `memory_region_dispatch_*` records). */
  owners(): string[] {
    return [...new Set(this.regions.map((r) => r.owner))];
  }

  find(addr: number, size: number): MemoryRegion | undefined {
    for (const r of this.regions) if (addr >= r.base && addr + size <= r.base + r.size) return r;
    return undefined;
  }

  /** address_space_rw for a device access (MMIO or port I/O). */
  write(addr: number, value: number, size: number): void {
    const mr = this.find(addr, size);
    if (this.t.on) this.t.rec(EV_WRITE, -1, addr, value, size, this.t.str(mr ? mr.owner : 'unassigned'));
    mr?.ops.write(addr - mr.base, value, size);
  }

  read(addr: number, size: number): number {
    const mr = this.find(addr, size);
    const v = mr ? mr.ops.read(addr - mr.base, size) : size === 4 ? 0xffffffff : size === 2 ? 0xffff : size === 1 ? 0xff : 2 ** 53 - 1;
    if (this.t.on) this.t.rec(EV_READ, -1, addr, v, size, this.t.str(mr ? mr.owner : 'unassigned'));
    return v;
  }
}
