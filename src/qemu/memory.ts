// system/memory.c and physmem.c (QEMU 9.0), reduced: an address space is a set of memory regions;
// an access is dispatched to the region that covers it (memory_region_dispatch_read/write →
// mr->ops). An access nobody claims is dropped if it is a write; a read returns what the address
// space's unassigned ops return — 0 in the memory address space (unassigned_mem_read, which
// memory_region_dispatch_read also uses when the access is not valid), all ones in the I/O space
// (system/ioport.c unassigned_io_read: -1ULL, cut to the access size).
//
// qemu-kvm 0.14 had no memory API (it came with 1.0): a port access went cpu_outb/w/l or
// cpu_inb/w/l → ioport_write/ioport_read to the handler registered for the port and size, a
// memory access cpu_physical_memory_rw to the region's io_mem_write/io_mem_read function.

import { defineEvent, type Tracer } from '../trace/events';

export interface MemoryRegionOps {
  read(addr: number, size: number): number;
  write(addr: number, value: number, size: number): void;
}

export interface MemoryRegion {
  readonly name: string; readonly owner: string; readonly base: number; readonly size: number; readonly ops: MemoryRegionOps;
  /** memory_region_set_flush_coalesced: replay kvm's coalesced ring before an access here. */
  readonly flushCoalesced?: boolean;
  /** memory_region_add_coalescing: ranges (offsets in the region) whose writes kvm may coalesce. */
  readonly coalesced?: readonly { offset: number; size: number }[];
}

const EV_WRITE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'memory_region_dispatch_write', ['addr:hex', 'value:hex', 'size', 'device:str']);
const EV_READ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'memory_region_dispatch_read', ['addr:hex', 'size', 'device:str']);
const EV_PHYS_RW_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'cpu_physical_memory_rw', ['addr:hex', 'size', 'is_write', 'device:str']);
const EV_OUT_0_14 = new Map([1, 2, 4].map((n) => [n, defineEvent('call', 'qemu-kvm', 'qemu-kvm', `cpu_out${'bwl'[n >> 1]}`, ['addr:hex', 'value:hex', 'size', 'device:str'])]));
const EV_IN_0_14 = new Map([1, 2, 4].map((n) => [n, defineEvent('call', 'qemu-kvm', 'qemu-kvm', `cpu_in${'bwl'[n >> 1]}`, ['addr:hex', 'size', 'device:str'])]));

/** The events that dispatch a device access, in either era (for readers of a trace). */
export const DISPATCH_EVENTS: ReadonlySet<string> = new Set(['memory_region_dispatch_write', 'memory_region_dispatch_read',
  'cpu_physical_memory_rw', 'cpu_outb', 'cpu_outw', 'cpu_outl', 'cpu_inb', 'cpu_inw', 'cpu_inl']);

export class AddressSpace {
  private regions: MemoryRegion[] = [];
  /** qemu_flush_coalesced_mmio_buffer, for regions with flush_coalesced_mmio (set by the accelerator). */
  flushCoalesced: (() => void) | undefined;
  /** The memory listener's region_add for coalesced ranges (kvm_coalesce_pio_add / kvm_coalesce_mmio_region). */
  coalesceAdd: ((start: number, size: number) => void) | undefined;
  private readonly evWrite: (size: number) => number;
  private readonly evRead: (size: number) => number;
  /**
   * `unassigned`: what a read nobody claims returns (the I/O space's all ones, or memory's 0);
   * `era`: QEMU 9.0's memory API (absent) or qemu-kvm 0.14's dispatch.
   */
  constructor(readonly name: string, private readonly t: Tracer, private readonly unassigned: 'ones' | 'zero' = 'ones',
    era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1') {
    const io = unassigned === 'ones';
    if (era === 'linux-6.1') { this.evWrite = () => EV_WRITE; this.evRead = () => EV_READ; }
    else if (io) { this.evWrite = (n) => EV_OUT_0_14.get(n) ?? EV_WRITE; this.evRead = (n) => EV_IN_0_14.get(n) ?? EV_READ; }
    else { this.evWrite = () => EV_PHYS_RW_0_14; this.evRead = () => EV_PHYS_RW_0_14; }
    this.phys = era !== 'linux-6.1' && !io;
  }
  /** 0.14's memory space: one event for both directions (cpu_physical_memory_rw's is_write). */
  private readonly phys: boolean;

  /** memory_region_add_subregion; overlapping regions are a configuration error. */
  add(mr: MemoryRegion): void {
    for (const o of this.regions) {
      if (mr.base < o.base + o.size && o.base < mr.base + mr.size) {
        throw new Error(`${this.name}: region ${mr.name} at 0x${mr.base.toString(16)} overlaps ${o.name}`);
      }
    }
    this.regions.push(mr);
    if (mr.coalesced && this.coalesceAdd) for (const c of mr.coalesced) this.coalesceAdd(mr.base + c.offset, c.size);
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
    if (mr?.flushCoalesced) this.flushCoalesced?.();
    if (this.t.on) {
      const dev = this.t.str(mr ? mr.owner : 'unassigned');
      if (this.phys) this.t.rec(EV_PHYS_RW_0_14, -1, addr, size, 1, dev);
      else this.t.rec(this.evWrite(size), -1, addr, value, size, dev);
    }
    mr?.ops.write(addr - mr.base, value, size);
  }

  read(addr: number, size: number): number {
    const mr = this.find(addr, size);
    if (mr?.flushCoalesced) this.flushCoalesced?.();
    // Recorded on the way in: what the device does for the read (an ISR read lowers the line) follows it.
    if (this.t.on) {
      const dev = this.t.str(mr ? mr.owner : 'unassigned');
      if (this.phys) this.t.rec(EV_PHYS_RW_0_14, -1, addr, size, 0, dev);
      else this.t.rec(this.evRead(size), -1, addr, size, dev);
    }
    return mr ? mr.ops.read(addr - mr.base, size) : this.unassigned === 'zero' ? 0
      : size === 4 ? 0xffffffff : size === 2 ? 0xffff : size === 1 ? 0xff : 2 ** 53 - 1;
  }
}
