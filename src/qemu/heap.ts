// qemu's heap (g_malloc / qemu_memalign), in the process's address space: the structs it hands the
// kernel (iocbs, iovec arrays, pollfds, kvm structs) are bytes at addresses from here.

import type { Mm } from '../host/mm';

export class Heap {
  private next: number;
  private readonly free = new Map<number, number[]>();
  /** Size of the block at each address handed out so far; 0 once it is freed (the entry stays: no map emptied per call). */
  private readonly sizes = new Map<number, number>();
  constructor(readonly mm: Mm, private readonly base: number, private readonly size: number) { this.next = base; }

  /** g_malloc0: zeroed, 16-byte aligned. */
  alloc(n: number): number {
    const sz = Math.max(16, Math.ceil(n / 16) * 16);
    const list = this.free.get(sz);
    let a = list?.pop();
    if (a === undefined) {
      a = this.next;
      if (a + sz > this.base + this.size) throw new Error('qemu: heap exhausted');
      this.next += sz;
    }
    this.sizes.set(a, sz);
    this.mm.fill(a, sz, 0);
    return a;
  }

  release(a: number): void {
    const sz = this.sizes.get(a);
    if (!sz) throw new Error(`qemu: g_free of 0x${a.toString(16)} that was never allocated`);
    this.sizes.set(a, 0);
    let list = this.free.get(sz);
    if (!list) { list = []; this.free.set(sz, list); }
    list.push(a);
  }
}
