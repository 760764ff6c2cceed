// Guest-physical memory as the guest kernel sees it once its pages are mapped: plain loads and
// stores, which the CPU executes natively. The bytes are the memslot qemu allocated.

import { getU64, setU64 } from '../uapi/u64';

export class GuestRam {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) { this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length); }
  get size(): number { return this.bytes.length; }
  u8(a: number): number { return this.view.getUint8(a); }
  u16(a: number): number { return this.view.getUint16(a, true); }
  u32(a: number): number { return this.view.getUint32(a, true); }
  u64(a: number): number { return getU64(this.view, a); }
  setU8(a: number, v: number): void { this.view.setUint8(a, v); }
  setU16(a: number, v: number): void { this.view.setUint16(a, v, true); }
  setU32(a: number, v: number): void { this.view.setUint32(a, v >>> 0, true); }
  setU64(a: number, v: number): void { setU64(this.view, a, v); }
}

/** The guest kernel found no free pages for a request (the model's guest has no swap or reclaim). */
export class GuestOutOfMemory extends Error {}

/** The guest kernel's page allocator over a region of RAM (alloc_pages, reduced to a free list). */
export class PageAllocator {
  private next: number;
  private free: number[] = [];
  constructor(private readonly start: number, private readonly end: number) { this.next = start; }
  alloc(pages = 1): number {
    if (pages === 1 && this.free.length > 0) return this.free.pop()!;
    // Reuse a run of freed pages that happen to be contiguous (the buddy allocator would merge them).
    if (pages > 1 && this.free.length >= pages) {
      const sorted = [...this.free].sort((a, b) => a - b);
      for (let i = 0; i + pages <= sorted.length; i++) {
        if (sorted[i + pages - 1]! - sorted[i]! === (pages - 1) * 4096) {
          const start = sorted[i]!;
          this.free = this.free.filter((p) => p < start || p >= start + pages * 4096);
          return start;
        }
      }
    }
    const a = this.next;
    if (a + pages * 4096 > this.end) throw new GuestOutOfMemory(`guest: out of memory in the kernel page pool (${pages} pages asked, ${Math.max(0, (this.end - a) / 4096)} left)`);
    this.next += pages * 4096;
    return a;
  }
  release(gpa: number): void { this.free.push(gpa); }
  /** Every page handed out so far (for mapping them at boot). */
  get used(): [number, number] { return [this.start, this.next]; }
}
