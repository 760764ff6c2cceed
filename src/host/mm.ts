// A host process's address space: mappings of bytes at virtual addresses. Everything a process
// hands the kernel (an iocb, an iovec array, a pollfd array, a kvm struct) is bytes at an address
// here, and the kernel reads it with copy_from_user, as the real one does.

import { markWritten } from '../sim/dirty';
import { getI64, getU64, setU64 } from '../uapi/u64';

export interface Mapping {
  readonly start: number; readonly len: number; readonly bytes: Uint8Array; readonly view: DataView; readonly name: string;
  /** Anonymous memory of this process's own (mmap with fd -1): freed when the process exits. */
  readonly anon?: boolean;
  /** Its pages' dirty bits (sim/dirty.ts), when it is memory the host reuses. */
  readonly dirty?: Uint8Array;
}

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
  map(bytes: Uint8Array | Uint8Array[], name: string, anon = false, dirty?: Uint8Array): number {
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    const start = this.next;
    let at = start;
    for (const b of parts) {
      this.maps.push({ start: at, len: b.length, bytes: b, view: new DataView(b.buffer, b.byteOffset, b.length), name, anon, dirty });
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

  /** exit_mmap: every mapping goes; returns them. */
  unmapAll(): Mapping[] {
    const all = this.maps;
    this.maps = [];
    this.last = undefined;
    return all;
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
  u64(a: number): number { const m = this.find(a, 8); return getU64(m.view, a - m.start); }
  i64(a: number): number { const m = this.find(a, 8); return getI64(m.view, a - m.start); }
  setU8(a: number, v: number): void { const m = this.find(a, 1); markWritten(m.dirty, a - m.start, 1); m.view.setUint8(a - m.start, v); }
  setU16(a: number, v: number): void { const m = this.find(a, 2); markWritten(m.dirty, a - m.start, 2); m.view.setUint16(a - m.start, v, true); }
  setU32(a: number, v: number): void { const m = this.find(a, 4); markWritten(m.dirty, a - m.start, 4); m.view.setUint32(a - m.start, v >>> 0, true); }
  setI32(a: number, v: number): void { const m = this.find(a, 4); markWritten(m.dirty, a - m.start, 4); m.view.setInt32(a - m.start, v, true); }
  setU64(a: number, v: number): void { const m = this.find(a, 8); markWritten(m.dirty, a - m.start, 8); setU64(m.view, a - m.start, v); }
  setI64(a: number, v: number): void { const m = this.find(a, 8); markWritten(m.dirty, a - m.start, 8); setU64(m.view, a - m.start, v); }
  /** A view of [addr, addr+len) (the bytes themselves, not a copy), which the caller may write: its pages count as written. */
  slice(a: number, len: number): Uint8Array {
    const m = this.find(a, len);
    markWritten(m.dirty, a - m.start, len);
    return m.bytes.subarray(a - m.start, a - m.start + len);
  }
  fill(a: number, len: number, v: number): void {
    const m = this.find(a, len);
    markWritten(m.dirty, a - m.start, len);
    m.bytes.fill(v, a - m.start, a - m.start + len);
  }
  /**
   * [addr, addr+len) for a user that keeps the pages mapped and marks what it writes itself (kvm's
   * memslots, the guest's RAM): the bytes, and the dirty bits of their mapping with where they start.
   */
  pages(a: number, len: number): { bytes: Uint8Array; dirty: Uint8Array | undefined; dirtyOffset: number } {
    const m = this.find(a, len);
    return { bytes: m.bytes.subarray(a - m.start, a - m.start + len), dirty: m.dirty, dirtyOffset: a - m.start };
  }
}
