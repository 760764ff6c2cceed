// The one path from qemu's device models to guest memory: system/physmem.c and system/dma-helpers.c
// (QEMU 9.x) for a machine whose memory map is RAM from guest-physical 0 up to the PCI hole
// ("ram-below-4g") and, with 3.5 GiB or more, the rest from 4 GiB ("ram-above-4g"): two aliases of
// one host allocation (pc.ram), two memslots; everything else is unassigned space up to 2^64.
// (Simplification: the real map has MMIO regions in the hole — the IOAPIC, the MSI window, PCI
// BARs; DMA to them would reach those devices. Here everything that is not RAM reads as zeros and
// drops writes, as qemu's unassigned region does.)
//
//  - address_space_map / dma_memory_map: a guest-physical range in RAM maps to qemu's own mapping
//    of guest RAM, as far as RAM goes (a shorter length, as qemu returns). A range outside RAM gets a
//    bounce buffer — zeros for the device to read, its writes dropped at unmap — as QEMU 9.1+ makes
//    them (system/physmem.c, per-AddressSpace bounce buffering): each its own allocation of exactly
//    the mapped length, taken from a budget of 4 KiB per address space (max_bounce_buffer_size);
//    when that is used up the map fails and the device must cope (virtio_error). Each buffer here
//    has a mapping of its own, so a store that runs past one lands in no other.
//  - address_space_cache_init and the *_cached accessors: the rings' region caches and indirect
//    tables. A cache never spans RAM and unassigned space: its length stops at the boundary.
//  - the *_hva accessors: loads and stores through host pointers from a mapping (the request
//    header, the status byte).
//
// Guest-physical addresses from the guest are 64-bit: they arrive as bigint and are compared and
// added as bigint modulo 2^64, as hwaddr arithmetic is, so nothing is rounded into range.
//
// The guard rail: every load and store is checked once more against guest RAM and the live bounce
// buffers. One that would touch any other byte is refused (loads read 0, stores are dropped) and
// counted as a violation, by site. The device models validate before they access, so the count
// stays 0; tests assert it. One site is different: qemu itself stores there without a bound
// (QEMU_OVERRUN_SITES). The model makes the same store, refuses the bytes that fall outside guest
// RAM, and counts them apart as qemuOverruns: a faithful reproduction, not a model bug.

import type { Mm } from '../host/mm';
import { defineEvent, type Tracer } from '../trace/events';

/** A region cache over [gpa, gpa + len): RAM (hva valid) or unassigned space (reads 0, writes dropped). */
export interface MemoryRegionCache { readonly gpa: bigint; readonly len: number; readonly ram: boolean; readonly hva: number }

/** One mapping handed to a device: its host address and length, and whether it is a bounce buffer. */
export interface DmaMapping { hva: number; len: number }

interface Bounce { hva: number; len: number; gpa: bigint; isWrite: boolean }

const EV_VIOLATION = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'dma_guard_violation', ['site:str', 'hva:hex', 'len']);
const EV_QEMU_OVERRUN = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'dma_guard_qemu_overrun', ['site:str', 'hva:hex', 'len']);

export const U64_MAX = (1n << 64n) - 1n;
const FOUR_GIB = 1n << 32n;

/**
 * Stores qemu makes without checking the buffer's length, reproduced as they are:
 * virtio_blk_handle_scsi writes 4 bytes (stl_le_p of virtio_scsi_inhdr.errors = 255) at the start
 * of the second-to-last device-writable buffer, whatever that buffer's length; a guest that puts a
 * shorter buffer at the very end of RAM gets up to 3 bytes stored past it.
 */
export const QEMU_OVERRUN_SITES: ReadonlySet<string> = new Set(['virtio_blk_handle_scsi:scsi->errors']);
/** DEFAULT_MAX_BOUNCE_BUFFER_SIZE (hw/pci/pci.c, x-max-bounce-buffer-size). */
export const MAX_BOUNCE_BUFFER_SIZE = 4096;

export class GuestMemory {
  /** Loads and stores refused because they would have stepped outside guest RAM (or a bounce buffer). */
  violations = 0;
  /** Bytes qemu itself would have stored outside guest RAM at a QEMU_OVERRUN_SITES site (refused here). */
  qemuOverruns = 0;
  readonly violationSites = new Map<string, number>();
  /** Set by the owner to record violations in the trace. */
  tracer: Tracer | undefined;
  private readonly end: number;
  /** RAM below the PCI hole, and the RAM above 4 GiB (0 when all of it fits below). */
  private readonly belowN: bigint;
  private readonly aboveN: bigint;
  /** as->bounce_buffer_size: bytes of bounce buffers handed out and not yet unmapped. */
  bounceBufferSize = 0;
  /** Bounce buffers handed out so far (for the fuzzer's accounting). */
  bounceMaps = 0;
  private readonly bounces = new Map<number, Bounce>();

  constructor(readonly mm: Mm, readonly ramHva: number, readonly ramSize: number, readonly below4g = ramSize) {
    this.end = ramHva + ramSize;
    this.belowN = BigInt(below4g);
    this.aboveN = BigInt(ramSize - below4g);
  }

  /**
   * flatview_translate, reduced: the section holding `a` — RAM (its host address and how much of
   * it follows) or unassigned space up to the next RAM (4 GiB when RAM continues there) or 2^64.
   */
  private section(a: bigint): { ram: true; hva: number; avail: bigint } | { ram: false; avail: bigint } {
    if (a < this.belowN) return { ram: true, hva: this.ramHva + Number(a), avail: this.belowN - a };
    if (this.aboveN > 0n && a >= FOUR_GIB && a < FOUR_GIB + this.aboveN) {
      return { ram: true, hva: this.ramHva + Number(this.belowN + (a - FOUR_GIB)), avail: FOUR_GIB + this.aboveN - a };
    }
    return { ram: false, avail: this.aboveN > 0n && a < FOUR_GIB ? FOUR_GIB - a : (U64_MAX - a) + 1n };
  }

  private violation(site: string, hva: number, len: number): void {
    if (QEMU_OVERRUN_SITES.has(site)) {
      this.qemuOverruns++;
      const t = this.tracer;
      if (t?.on) t.rec(EV_QEMU_OVERRUN, -1, t.str(site), hva, len);
      return;
    }
    this.violations++;
    this.violationSites.set(site, (this.violationSites.get(site) ?? 0) + 1);
    const t = this.tracer;
    if (t?.on) t.rec(EV_VIOLATION, -1, t.str(site), hva, len);
  }

  /**
   * address_space_map: qemu's address for guest-physical `gpa` and how many of `len` bytes are
   * mapped there contiguously; undefined when nothing can be mapped (len 0, or no bounce budget).
   */
  address_space_map(gpa: bigint | number, len: bigint | number, isWrite: boolean): DmaMapping | undefined {
    const a = BigInt.asUintN(64, BigInt(gpa));
    let l = BigInt(len);
    if (l <= 0n) return undefined;
    const s = this.section(a);
    if (s.ram) return { hva: s.hva, len: Number(l < s.avail ? l : s.avail) };
    // flatview_translate: the unassigned section runs to the next RAM or the top of the address space.
    if (l > s.avail) l = s.avail;
    // l = MIN(max_bounce_buffer_size - used, l); nothing left: *plen = 0, NULL.
    const room = BigInt(MAX_BOUNCE_BUFFER_SIZE - this.bounceBufferSize);
    const alloc = Number(l < room ? l : room);
    if (alloc <= 0) return undefined;
    // g_malloc0(l + sizeof(BounceBuffer)): zeros, which is also what flatview_read of unassigned
    // memory puts in it for a device that reads (!is_write).
    const hva = this.mm.map(new Uint8Array(alloc), 'bounce');
    this.bounceBufferSize += alloc;
    this.bounceMaps++;
    this.bounces.set(hva, { hva, len: alloc, gpa: a, isWrite });
    return { hva, len: alloc };
  }

  /**
   * address_space_unmap: a bounce buffer's contents go back to where it came from when the device
   * wrote it (for unassigned space: nowhere), and its budget is returned. RAM needs nothing.
   */
  address_space_unmap(hva: number): void {
    const b = this.bounces.get(hva);
    if (!b) return;
    this.bounces.delete(hva);
    this.mm.unmap(hva);                  // g_free(bounce)
    this.bounceBufferSize -= b.len;
  }

  /** True when a host address is a bounce buffer (not guest RAM). */
  isBounce(hva: number): boolean { return this.bounces.has(hva); }

  /** address_space_cache_init: a cache over [gpa, gpa+len); its len stops where the section does. */
  address_space_cache_init(gpa: bigint | number, len: number): MemoryRegionCache {
    const a = BigInt.asUintN(64, BigInt(gpa));
    const l = BigInt(Math.max(0, len));
    const s = this.section(a);
    if (s.ram) return { gpa: a, len: Number(l < s.avail ? l : s.avail), ram: true, hva: s.hva };
    return { gpa: a, len: Number(l < s.avail ? l : s.avail), ram: false, hva: -1 };
  }

  /** The one check every access makes: [hva, hva+len) inside guest RAM or inside one live bounce buffer. */
  private ok(hva: number, len: number, site: string): boolean {
    if (Number.isSafeInteger(hva) && len >= 0 && hva >= this.ramHva && hva + len <= this.end) return true;
    if (this.bounces.size > 0) {
      for (const b of this.bounces.values()) if (hva >= b.hva && hva + len <= b.hva + b.len) return true;
    }
    this.violation(site, hva, len);
    return false;
  }
  /** address_space_*_cached asserts the access lies in the cache; the model refuses and counts. */
  private okCached(c: MemoryRegionCache, off: number, len: number, site: string): boolean {
    if (off >= 0 && len >= 0 && off + len <= c.len) return !c.ram || this.ok(c.hva + off, len, site);
    this.violation(site, c.hva + off, len);
    return false;
  }

  // address_space_lduw_le_cached / ldl / ldq / stw / stl. Unassigned space reads 0 and drops writes.
  lduw_cached(c: MemoryRegionCache, off: number, site = 'lduw_le_cached'): number {
    return this.okCached(c, off, 2, site) && c.ram ? this.mm.u16(c.hva + off) : 0;
  }
  ldl_cached(c: MemoryRegionCache, off: number, site = 'ldl_le_cached'): number {
    return this.okCached(c, off, 4, site) && c.ram ? this.mm.u32(c.hva + off) : 0;
  }
  /** A 64-bit field, exactly. */
  ldq_cached(c: MemoryRegionCache, off: number, site = 'ldq_le_cached'): bigint {
    if (!this.okCached(c, off, 8, site) || !c.ram) return 0n;
    return BigInt(this.mm.u32(c.hva + off)) | (BigInt(this.mm.u32(c.hva + off + 4)) << 32n);
  }
  stw_cached(c: MemoryRegionCache, off: number, v: number, site = 'stw_le_cached'): void {
    if (this.okCached(c, off, 2, site) && c.ram) this.mm.setU16(c.hva + off, v & 0xffff);
  }
  stl_cached(c: MemoryRegionCache, off: number, v: number, site = 'stl_le_cached'): void {
    if (this.okCached(c, off, 4, site) && c.ram) this.mm.setU32(c.hva + off, v);
  }

  // Loads and stores through a host pointer from a mapping: ldub_p / stb_p / stl_le_p on iov_base.
  ldub_hva(hva: number, site = 'ldub_p'): number { return this.ok(hva, 1, site) ? this.mm.u8(hva) : 0; }
  stb_hva(hva: number, v: number, site = 'stb_p'): void { if (this.ok(hva, 1, site)) this.mm.setU8(hva, v & 0xff); }
  /** stl_le_p: byte by byte, so the part of the store that lands in guest memory is made, the rest refused. */
  stl_hva(hva: number, v: number, site = 'stl_le_p'): void {
    for (let i = 0; i < 4; i++) this.stb_hva(hva + i, (v >>> (8 * i)) & 0xff, site);
  }

  /** iov_to_buf: gather up to `n` bytes from offset `off` of an iovec list. */
  iov_to_buf(iov: readonly DmaMapping[], off: number, n: number, site = 'iov_to_buf'): Uint8Array {
    const out = new Uint8Array(n);
    let done = 0;
    let skip = off;
    for (const v of iov) {
      if (done >= n) break;
      if (skip >= v.len) { skip -= v.len; continue; }
      const take = Math.min(v.len - skip, n - done);
      if (!this.ok(v.hva + skip, take, site)) break;
      out.set(this.mm.slice(v.hva + skip, take), done);
      done += take;
      skip = 0;
    }
    return done === n ? out : out.subarray(0, done);
  }

  /** iov_from_buf: scatter `data` into an iovec list from offset `off`; returns the bytes copied. */
  iov_from_buf(iov: readonly DmaMapping[], off: number, data: Uint8Array, site = 'iov_from_buf'): number {
    let done = 0;
    let skip = off;
    for (const v of iov) {
      if (done >= data.length) break;
      if (skip >= v.len) { skip -= v.len; continue; }
      const take = Math.min(v.len - skip, data.length - done);
      if (!this.ok(v.hva + skip, take, site)) break;
      this.mm.slice(v.hva + skip, take).set(data.subarray(done, done + take));
      done += take;
      skip = 0;
    }
    return done;
  }

  /** A host range about to be handed to the host kernel for I/O must be device-mapped memory (checked, counted). */
  checkIov(hva: number, len: number, site = 'dma_iov'): boolean { return this.ok(hva, len, site); }

  /** The mapped host address when all of [gpa, gpa+len) is RAM; undefined otherwise. */
  map(gpa: number | bigint, len: number | bigint): number | undefined {
    const a = BigInt(gpa);
    const l = BigInt(len);
    if (a < 0n || l <= 0n) return undefined;
    const s = this.section(a);
    return s.ram && l <= s.avail ? s.hva : undefined;
  }

  // Guest-physical loads and stores (lduw_le_phys ...) for callers that address RAM directly.
  private phys(gpa: number): number {
    if (!Number.isSafeInteger(gpa) || gpa < 0) return -1;
    if (gpa < this.below4g) return this.ramHva + gpa;
    const high = gpa - 2 ** 32;
    return high >= 0 && high < this.ramSize - this.below4g ? this.ramHva + this.below4g + high : -1;
  }
  lduw(gpa: number): number { const h = this.phys(gpa); return this.ok(h, 2, 'lduw_le_phys') ? this.mm.u16(h) : 0; }
  ldl(gpa: number): number { const h = this.phys(gpa); return this.ok(h, 4, 'ldl_le_phys') ? this.mm.u32(h) : 0; }
  ldq(gpa: number): number { const h = this.phys(gpa); return this.ok(h, 8, 'ldq_le_phys') ? this.mm.u64(h) : 0; }
  stw(gpa: number, v: number): void { const h = this.phys(gpa); if (this.ok(h, 2, 'stw_le_phys')) this.mm.setU16(h, v & 0xffff); }
  stl(gpa: number, v: number): void { const h = this.phys(gpa); if (this.ok(h, 4, 'stl_le_phys')) this.mm.setU32(h, v); }
}
