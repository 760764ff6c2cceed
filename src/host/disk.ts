// The disk image behind the virtio-blk device, as the host kernel holds it:
//  - the block device: its media, and its volatile write cache. A disk with its write cache on
//    acknowledges a write once the data is in that cache; only a cache flush (blkdev_issue_flush,
//    REQ_PREFLUSH) makes it durable (block/blk-flush.c).
//  - the image file's page cache (mm/filemap.c): a buffered write dirties pages and returns; they
//    reach the device at writeback (filemap_write_and_wait_range), which fdatasync forces
//    (fs/sync.c: vfs_fsync_range → file_write_and_wait_range, then the flush).
// O_DIRECT I/O bypasses the page cache but still lands in the device's write cache.
// A power loss drops the page cache and the write cache: what remains is the media. The model drops
// every byte that was not durable — the worst case a real disk is allowed (it may have destaged some).
//
// The bytes live in memory (sparse: a 64 MiB disk costs what is written) or in a real raw file on
// the host, which always holds what the device would return; writes not yet durable keep their
// durable pre-image per sector, so a power loss can restore it (a sector never written has zeros
// for pre-image: a bit says so, nothing is copied).
//
// Every access goes through one bounds-checked path: a range outside [0, size) is refused and
// counted as a violation. The host kernel never forwards such a request (it returns -ENOSPC or a
// short count first); tests assert the count stays zero.

import * as fs from 'node:fs';

export const SECTOR = 512;
export const PAGE = 4096;

/** Where the newest copy of a byte range lives, from least to most durable. */
export type Durability = 'host page cache' | 'disk write cache' | 'stable storage';

export interface ImageFile {
  readonly size: number;
  readonly path: string | null;
  /** Accesses refused because they fell outside the image (the guard rail; expected to stay 0). */
  readonly violations: number;
  /** hdparm -W: the device's volatile write cache is on (as shipped) or off. */
  writeCache: boolean;
  /** hdparm -W0 / -W1 on a running disk: turning the write cache off first flushes it (SET FEATURES). */
  setWriteCache(on: boolean): void;
  /** Device write (O_DIRECT, or page-cache writeback): held in the write cache until a flush. */
  pwrite(offset: number, data: Uint8Array): void;
  /** Device read: what the disk returns (its write cache over its media). No side effects. */
  pread(offset: number, len: number): Uint8Array;
  /** fdatasync: write back the file's dirty pages, then flush the device's write cache. */
  fdatasync(): void;
  /** Buffered write into the page cache (generic_perform_write): the pages become dirty. */
  bufferedWrite(offset: number, data: Uint8Array): void;
  /** Buffered read (filemap_read): cached pages, the rest read from the device and kept. */
  bufferedRead(offset: number, len: number): Uint8Array;
  /** filemap_write_and_wait_range: dirty pages overlapping the range go to the device. */
  writebackRange(offset: number, len: number): void;
  /** invalidate_inode_pages2_range: drop cached pages overlapping the range (after writeback). */
  invalidateRange(offset: number, len: number): void;
  /** What a process on the host reading the file now sees (page cache over the device). No side effects. */
  peek(offset: number, len: number): Uint8Array;
  /** The media alone: what survives a power loss now. */
  stable(offset: number, len: number): Uint8Array;
  /**
   * The indexes of the `span`-byte pieces of the file (as peek reads it) that may hold anything but
   * zeros, in order: all of them for a file on the host, only those written for one in memory.
   */
  spansInUse(span: number): number[];
  /**
   * The host file that holds exactly what peek reads, when there is one: a raw image file none of
   * whose pages wait dirty in the host's page cache. Null for an image in memory.
   */
  readableFile(): string | null;
  /** The least durable place any byte of the range is held in. */
  durability(offset: number, len: number): Durability;
  /** Power loss: the page cache and the device's write cache are gone. */
  powerLoss(): void;
  /**
   * For crash tests: power is lost right after `n` more device writes (pwrite, or page-cache
   * writeback). From then on the disk keeps what was durable at that moment and takes nothing more;
   * reads still answer (what a host reading the dead disk's media would see).
   */
  cutPowerAfterWrites(n: number): void;
  /** The power was cut by cutPowerAfterWrites. */
  readonly powerCut: boolean;
  /** Called after every device write and every cache flush: what survives a power loss may have changed. */
  onDurableChange: (() => void) | undefined;
  close(): void;
}

interface Page { data: Uint8Array; dirty: boolean }

abstract class StorageStack implements ImageFile {
  violations = 0;
  writeCache = true;
  onDurableChange: (() => void) | undefined;
  private writesBeforeCut = -1;
  powerCut = false;
  /**
   * The device's write cache, by sector: one bit for each sector written since the last flush, and
   * that sector's durable content (its pre-image) when it is not zeros — a sector never written has
   * zeros for pre-image: its bit is all the cache keeps of it. The bits that may be set lie in
   * [cachedLo, cachedHi].
   */
  private cached: Uint8Array | undefined;
  private cachedCount = 0;
  private cachedLo = Number.MAX_SAFE_INTEGER;
  private cachedHi = -1;
  private readonly preImages = new Map<number, Uint8Array>();
  /** page index → cached page (the file's address_space). */
  private readonly pages = new Map<number, Page>();
  abstract readonly size: number;
  abstract readonly path: string | null;

  /** The backing bytes: what the device returns. Callers have checked the range. */
  protected abstract rawRead(offset: number, len: number): Uint8Array;
  /** Whether the range was never written (reads as zeros); false when unknown. */
  protected rawIsZero(_offset: number, _len: number): boolean { return false; }
  protected abstract rawWrite(offset: number, data: Uint8Array): void;
  abstract close(): void;

  /** The one bounds check every access passes. */
  private ok(offset: number, len: number): boolean {
    if (Number.isSafeInteger(offset) && Number.isSafeInteger(len) && offset >= 0 && len >= 0 && offset + len <= this.size) return true;
    this.violations++;
    return false;
  }

  setWriteCache(on: boolean): void {
    if (!on) this.flushDevice();
    this.writeCache = on;
  }

  cutPowerAfterWrites(n: number): void { this.writesBeforeCut = n; if (n <= 0) this.cutNow(); }

  private cutNow(): void { this.powerLoss(); this.powerCut = true; this.writesBeforeCut = -1; }

  private inCache(s: number): boolean { const b = this.cached; return b !== undefined && (b[s >> 3]! & (1 << (s & 7))) !== 0; }
  private addToCache(s: number): void {
    const b = this.cached ??= new Uint8Array(Math.ceil(this.size / SECTOR / 8));
    b[s >> 3] = b[s >> 3]! | (1 << (s & 7));
    this.cachedCount++;
    if (s < this.cachedLo) this.cachedLo = s;
    if (s > this.cachedHi) this.cachedHi = s;
  }
  private dropFromCache(s: number): void {
    if (!this.inCache(s)) return;
    this.cached![s >> 3] = this.cached![s >> 3]! & ~(1 << (s & 7));
    this.cachedCount--;
    this.preImages.delete(s);
  }
  /** What the media held for a cached sector before it was written (its pre-image). */
  private preImage(s: number): Uint8Array {
    return this.preImages.get(s) ?? (s * SECTOR + SECTOR <= this.size ? ZEROS : ZEROS.subarray(0, this.size - s * SECTOR));
  }

  pwrite(offset: number, data: Uint8Array): void {
    if (this.powerCut) return;
    if (!this.ok(offset, data.length)) return;
    const end = offset + data.length;
    if (this.writeCache) {
      // The durable content of the sectors not yet in the cache that were ever written, read once
      // for the whole write; a sector never written keeps only its bit (its pre-image is zeros).
      const first = Math.floor(offset / SECTOR);
      const last = Math.ceil(end / SECTOR);
      let pre: Uint8Array | undefined;
      for (let s = first; s < last; s++) {
        if (this.inCache(s)) continue;
        this.addToCache(s);
        if (this.rawIsZero(s * SECTOR, Math.min(SECTOR, this.size - s * SECTOR))) continue;
        pre ??= this.rawRead(first * SECTOR, Math.min(last * SECTOR, this.size) - first * SECTOR);
        const o = (s - first) * SECTOR;
        this.preImages.set(s, pre.subarray(o, Math.min(o + SECTOR, pre.length)));
      }
    } else if (this.cachedCount > 0) {
      // Written through: these sectors are on the media now, whatever the cache held for them.
      for (let s = Math.floor(offset / SECTOR); s * SECTOR < end; s++) this.dropFromCache(s);
    }
    this.rawWrite(offset, data);
    this.onDurableChange?.();
    if (this.writesBeforeCut > 0 && --this.writesBeforeCut === 0) this.cutNow();
  }

  pread(offset: number, len: number): Uint8Array {
    if (!this.ok(offset, len)) return new Uint8Array(Math.max(0, Math.min(len, 1 << 20)));
    return this.rawRead(offset, len);
  }

  /** blkdev_issue_flush: everything in the write cache reaches the media. */
  private flushDevice(): void {
    if (this.powerCut) return;
    this.emptyCache();
    this.onDurableChange?.();
  }

  private emptyCache(): void {
    if (this.cachedCount > 0) this.cached!.fill(0, this.cachedLo >> 3, (this.cachedHi >> 3) + 1);
    this.cachedCount = 0;
    this.cachedLo = Number.MAX_SAFE_INTEGER;
    this.cachedHi = -1;
    this.preImages.clear();
  }

  fdatasync(): void {
    this.writebackRange(0, this.size);
    this.flushDevice();
  }

  private pageOf(index: number, load: boolean): Page | undefined {
    let p = this.pages.get(index);
    if (!p && load) {
      const start = index * PAGE;
      const data = new Uint8Array(PAGE);
      data.set(this.rawRead(start, Math.min(PAGE, this.size - start)));
      p = { data, dirty: false };
      this.pages.set(index, p);
    }
    return p;
  }

  bufferedWrite(offset: number, data: Uint8Array): void {
    if (this.powerCut) return;
    if (!this.ok(offset, data.length)) return;
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const idx = Math.floor(pos / PAGE);
      const off = pos % PAGE;
      const n = Math.min(PAGE - off, data.length - done);
      // write_begin reads the page first unless the write covers it whole.
      const whole = off === 0 && (n === PAGE || pos + n === this.size);
      const p = this.pageOf(idx, !whole) ?? { data: new Uint8Array(PAGE), dirty: false };
      p.data.set(data.subarray(done, done + n), off);
      p.dirty = true;
      this.pages.set(idx, p);
      done += n;
    }
  }

  bufferedRead(offset: number, len: number): Uint8Array {
    if (!this.ok(offset, len)) return new Uint8Array(Math.max(0, Math.min(len, 1 << 20)));
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const pos = offset + done;
      const off = pos % PAGE;
      const n = Math.min(PAGE - off, len - done);
      out.set(this.pageOf(Math.floor(pos / PAGE), true)!.data.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  writebackRange(offset: number, len: number): void {
    if (!this.ok(offset, len) || this.pages.size === 0) return;
    const first = Math.floor(offset / PAGE);
    const last = Math.floor((offset + Math.max(len, 1) - 1) / PAGE);
    const dirty: number[] = [];
    for (const [idx, p] of this.pages) if (p.dirty && idx >= first && idx <= last) dirty.push(idx);
    dirty.sort((a, b) => a - b);
    // Runs of consecutive dirty pages go to the device as one write each.
    for (let i = 0; i < dirty.length;) {
      let j = i + 1;
      while (j < dirty.length && dirty[j] === dirty[j - 1]! + 1) j++;
      const start = dirty[i]! * PAGE;
      const len = Math.min((j - i) * PAGE, this.size - start);
      const buf = new Uint8Array(len);
      for (let k = i; k < j; k++) {
        const p = this.pages.get(dirty[k]!)!;
        const o = (k - i) * PAGE;
        buf.set(p.data.subarray(0, Math.min(PAGE, len - o)), o);
        p.dirty = false;
      }
      this.pwrite(start, buf);
      i = j;
    }
  }

  invalidateRange(offset: number, len: number): void {
    if (!this.ok(offset, len) || this.pages.size === 0) return;
    const first = Math.floor(offset / PAGE);
    const last = Math.floor((offset + Math.max(len, 1) - 1) / PAGE);
    for (const idx of [...this.pages.keys()]) if (idx >= first && idx <= last) this.pages.delete(idx);
  }

  readableFile(): string | null {
    if (this.path === null) return null;
    for (const p of this.pages.values()) if (p.dirty) return null;
    return this.path;
  }

  spansInUse(span: number): number[] {
    const used = new Set<number>();
    for (let i = 0; i * span < this.size; i++) if (!this.rawIsZero(i * span, Math.min(span, this.size - i * span))) used.add(i);
    for (const idx of this.pages.keys()) for (let i = Math.floor((idx * PAGE) / span); i * span < (idx + 1) * PAGE; i++) used.add(i);
    return [...used].sort((a, b) => a - b);
  }

  peek(offset: number, len: number): Uint8Array {
    if (!this.ok(offset, len)) return new Uint8Array(0);
    const out = this.rawRead(offset, len);
    for (const [idx, p] of this.pages) overlay(out, offset, idx * PAGE, p.data);
    return out;
  }

  stable(offset: number, len: number): Uint8Array {
    if (!this.ok(offset, len)) return new Uint8Array(0);
    const out = this.rawRead(offset, len);
    const first = Math.max(Math.floor(offset / SECTOR), this.cachedLo);
    const last = Math.min(Math.ceil((offset + len) / SECTOR), this.cachedHi + 1);
    for (let s = first; s < last; s++) if (this.inCache(s)) overlay(out, offset, s * SECTOR, this.preImage(s));
    return out;
  }

  durability(offset: number, len: number): Durability {
    if (!this.ok(offset, len)) return 'stable storage';
    const end = offset + Math.max(len, 1);
    for (let i = Math.floor(offset / PAGE); i * PAGE < end; i++) if (this.pages.get(i)?.dirty) return 'host page cache';
    for (let s = Math.floor(offset / SECTOR); s * SECTOR < end; s++) if (this.inCache(s)) return 'disk write cache';
    return 'stable storage';
  }

  powerLoss(): void {
    this.pages.clear();
    for (let s = this.cachedLo; s <= this.cachedHi; s++) if (this.inCache(s)) this.rawWrite(s * SECTOR, this.preImage(s));
    this.emptyCache();
  }
}

const CHUNK = 64 * 1024;
/**
 * Chunks of closed in-memory images, zeroed, for the next image to fill: taking memory the process
 * has touched before costs a fraction of fresh pages (a disk's written data is its size in memory).
 * Invisible in a trace: a chunk reads as zeros either way.
 */
const spareChunks: Uint8Array[] = [];
const SPARE_CHUNKS = 1024;
/** Zeros: the pre-image of every sector that was never written. */
const ZEROS = new Uint8Array(SECTOR);

/** Lay `data`, which holds the bytes from `start` on, over `out`, which holds the bytes from `offset` on, where they overlap. */
function overlay(out: Uint8Array, offset: number, start: number, data: Uint8Array): void {
  const a = Math.max(start, offset);
  const b = Math.min(start + data.length, offset + out.length);
  if (a < b) out.set(data.subarray(a - start, b - start), a - offset);
}

export class MemoryImage extends StorageStack {
  readonly path = null;
  private chunks = new Map<number, Uint8Array>();
  /** One bit for each sector ever written: the others read as zeros. */
  private readonly written: Uint8Array;
  constructor(readonly size: number) { super(); this.written = new Uint8Array(Math.ceil(size / SECTOR / 8)); }

  protected rawWrite(offset: number, data: Uint8Array): void {
    const w = this.written;
    for (let s = Math.floor(offset / SECTOR), e = Math.ceil((offset + data.length) / SECTOR); s < e; s++) w[s >> 3] = w[s >> 3]! | (1 << (s & 7));
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const ci = Math.floor(pos / CHUNK);
      const co = pos % CHUNK;
      let c = this.chunks.get(ci);
      if (!c) { c = spareChunks.pop() ?? new Uint8Array(CHUNK); this.chunks.set(ci, c); }
      const n = Math.min(CHUNK - co, data.length - done);
      c.set(data.subarray(done, done + n), co);
      done += n;
    }
  }

  protected override rawIsZero(offset: number, len: number): boolean {
    const w = this.written;
    for (let s = Math.floor(offset / SECTOR), e = Math.ceil((offset + len) / SECTOR); s < e; s++) if (w[s >> 3]! & (1 << (s & 7))) return false;
    return true;
  }

  protected rawRead(offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const pos = offset + done;
      const ci = Math.floor(pos / CHUNK);
      const co = pos % CHUNK;
      const n = Math.min(CHUNK - co, len - done);
      const c = this.chunks.get(ci);
      if (c) out.set(c.subarray(co, co + n), done);
      done += n;
    }
    return out;
  }

  /** The image is gone (its machine was closed): its chunks go to the next image, the written sectors zeroed. */
  close(): void {
    const w = this.written;
    const perChunk = CHUNK / SECTOR;
    for (const [ci, c] of this.chunks) {
      for (let i = 0; i < perChunk; i++) {
        const s = ci * perChunk + i;
        if (w[s >> 3]! & (1 << (s & 7))) c.fill(0, i * SECTOR, (i + 1) * SECTOR);
      }
      if (spareChunks.length < SPARE_CHUNKS) spareChunks.push(c);
    }
    this.chunks.clear();
    w.fill(0);
  }
}

export class RawFileImage extends StorageStack {
  private readonly fd: number;
  readonly size: number;
  /** Opens an existing raw image; its size is the file's. */
  constructor(readonly path: string) {
    super();
    this.fd = fs.openSync(path, 'r+');
    this.size = fs.fstatSync(this.fd).size;
  }
  protected rawWrite(offset: number, data: Uint8Array): void { fs.writeSync(this.fd, data, 0, data.length, offset); }
  protected rawRead(offset: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    fs.readSync(this.fd, b, 0, len, offset);
    return b;
  }
  private closed = false;
  close(): void { if (!this.closed) { this.closed = true; fs.closeSync(this.fd); } }
}
