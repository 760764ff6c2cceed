// A host process's address space: mappings of bytes at virtual addresses. Everything a process
// hands the kernel (an iocb, an iovec array, a pollfd array, a kvm struct) is bytes at an address
// here, and the kernel reads it with copy_from_user, as the real one does.

export interface Mapping { readonly start: number; readonly len: number; readonly bytes: Uint8Array; readonly view: DataView; readonly name: string }

export class Efault extends Error {}

const MMAP_BASE = 0x7f0000000000;

export class Mm {
  private maps: Mapping[] = [];
  private next = MMAP_BASE;
  private last: Mapping | undefined;

  /**
   * Map `bytes` (fresh anonymous memory or a device's pages) at a new address; returns it. Several
   * runs of bytes are mapped back to back (an access stays within one of them).
   */
  map(bytes: Uint8Array | Uint8Array[], name: string): number {
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    const start = this.next;
    let at = start;
    for (const b of parts) {
      this.maps.push({ start: at, len: b.length, bytes: b, view: new DataView(b.buffer, b.byteOffset, b.length), name });
      at += b.length;
    }
    this.next += Math.ceil(Math.max(at - start, 1) / 0x200000 + 1) * 0x200000; // 2 MiB-aligned, with a guard gap
    return start;
  }

  /** Remove the mapping that starts at `start` (munmap, or free of a buffer that had its own mapping). */
  unmap(start: number): void {
    const i = this.maps.findIndex((m) => m.start === start);
    if (i < 0) throw new Efault(`unmap: no mapping at 0x${start.toString(16)}`);
    if (this.last === this.maps[i]) this.last = undefined;
    this.maps.splice(i, 1);
  }

  /** The mapping covering [addr, addr+len), or throws Efault. */
  find(addr: number, len: number): Mapping {
    const l = this.last;
    if (l && addr >= l.start && addr + len <= l.start + l.len) return l;
    for (const m of this.maps) {
      if (addr >= m.start && addr + len <= m.start + m.len) { this.last = m; return m; }
    }
    throw new Efault(`bad address 0x${addr.toString(16)}+${len}`);
  }

  /** True when [addr, addr+len) lies inside one mapping (access_ok plus a present mapping). */
  ok(addr: number, len: number): boolean {
    try { this.find(addr, len); return true; } catch { return false; }
  }

  u8(a: number): number { const m = this.find(a, 1); return m.view.getUint8(a - m.start); }
  u16(a: number): number { const m = this.find(a, 2); return m.view.getUint16(a - m.start, true); }
  u32(a: number): number { const m = this.find(a, 4); return m.view.getUint32(a - m.start, true); }
  i32(a: number): number { const m = this.find(a, 4); return m.view.getInt32(a - m.start, true); }
  u64(a: number): number { const m = this.find(a, 8); return Number(m.view.getBigUint64(a - m.start, true)); }
  i64(a: number): number { const m = this.find(a, 8); return Number(m.view.getBigInt64(a - m.start, true)); }
  setU8(a: number, v: number): void { const m = this.find(a, 1); m.view.setUint8(a - m.start, v); }
  setU16(a: number, v: number): void { const m = this.find(a, 2); m.view.setUint16(a - m.start, v, true); }
  setU32(a: number, v: number): void { const m = this.find(a, 4); m.view.setUint32(a - m.start, v >>> 0, true); }
  setI32(a: number, v: number): void { const m = this.find(a, 4); m.view.setInt32(a - m.start, v, true); }
  setU64(a: number, v: number): void { const m = this.find(a, 8); m.view.setBigUint64(a - m.start, BigInt.asUintN(64, BigInt(v)), true); }
  setI64(a: number, v: number): void { const m = this.find(a, 8); m.view.setBigInt64(a - m.start, BigInt(v), true); }
  /** A view of [addr, addr+len) (the bytes themselves, not a copy). */
  slice(a: number, len: number): Uint8Array { const m = this.find(a, len); return m.bytes.subarray(a - m.start, a - m.start + len); }
  fill(a: number, len: number, v: number): void { this.slice(a, len).fill(v); }
}
