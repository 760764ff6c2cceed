// The block device's own page cache and its buffer heads (fs/buffer.c, block/bdev.c): the file
// system reads and writes its metadata — superblock, group descriptors, bitmaps, inode tables,
// indirect blocks — through buffers of its block size. A buffer is read once (sb_bread) and then
// served from guest RAM; a change marks it dirty (mark_buffer_dirty) and it reaches the disk only
// as a block request: at once (sync_dirty_buffer), at an inode's fsync when it is associated with
// that inode (mark_buffer_dirty_inode → sync_mapping_buffers), or when the device's dirty pages are
// written back (sync_blockdev, at sync(2) and unmount).

import { defineEvent, type Tracer } from '../trace/events';
import { bioAddPage, newBio, SECTOR_SIZE, type Bio, type BlockLayer } from './block';
import type { KCode } from './io';
import type { GuestRam, PageAllocator } from './memory';
import { AddressSpace, PAGE_SIZE, type BufferHead } from './page_cache';

const EV_BREAD = defineEvent('call', 'guest kernel', 'guest kernel', '__bread', ['block']);
const EV_MARK_DIRTY = defineEvent('call', 'guest kernel', 'guest kernel', 'mark_buffer_dirty', ['block']);
const EV_SYNC_DIRTY = defineEvent('call', 'guest kernel', 'guest kernel', 'sync_dirty_buffer', ['block']);
const EV_SYNC_MAPPING = defineEvent('call', 'guest kernel', 'guest kernel', 'sync_mapping_buffers', ['buffers']);
const EV_SYNC_BLOCKDEV = defineEvent('call', 'guest kernel', 'guest kernel', 'sync_blockdev', ['pages']);

export class BlockDevice {
  /** The block device's address_space (bdev->bd_inode->i_mapping). */
  mapping: AddressSpace;
  constructor(private readonly t: Tracer, private readonly ram: GuestRam, private readonly pages: PageAllocator,
    readonly blk: BlockLayer, public blockSize = 1024) {
    this.mapping = new AddressSpace(blockSize);
  }

  /** set_blocksize: a new buffer size drops the device's cached pages (kill_bdev). */
  set_blocksize(size: number): void {
    if (size === this.blockSize) return;
    for (const p of this.mapping.pages.values()) this.pages.release(p.gpa);
    this.blockSize = size;
    this.mapping = new AddressSpace(size);
  }

  /** __getblk: the buffer of block `n`, creating its page in the device's cache if needed (not read). */
  getblk(n: number): BufferHead {
    const per = PAGE_SIZE / this.blockSize;
    const index = Math.floor(n / per);
    let page = this.mapping.find(index);
    if (!page) {
      const gpa = this.pages.alloc(1);
      this.ram.bytes.fill(0, gpa, gpa + PAGE_SIZE);
      page = this.mapping.add(index, gpa);
      page.bufs.forEach((b, i) => { b.blocknr = index * per + i; b.mapped = true; });
    }
    return page.bufs[n % per]!;
  }

  /** submit_bh: one bio for one buffer. */
  *submit_bh(op: 'read' | 'write', bh: BufferHead): KCode<Bio> {
    const bio = newBio(op, (bh.blocknr * bh.size) / SECTOR_SIZE);
    bioAddPage(bio, bh.gpa, bh.size);
    yield* this.blk.submit_bio(bio);
    return bio;
  }

  /** __bread / sb_bread: the buffer, read from the disk unless it is up to date; null on an I/O error. */
  *bread(n: number): KCode<BufferHead | null> {
    const bh = this.getblk(n);
    if (bh.uptodate) return bh;
    if (this.t.on) this.t.rec(EV_BREAD, 0, n);
    const bio = yield* this.submit_bh('read', bh);
    const err = yield* this.blk.wait_bios([bio]);
    if (err) return null;
    bh.uptodate = true;
    return bh;
  }

  /** mark_buffer_dirty: a buffer already dirty returns at once (its fast path), so only a clean one records the call. */
  mark_buffer_dirty(bh: BufferHead): void {
    if (bh.dirty) return;
    if (this.t.on) this.t.rec(EV_MARK_DIRTY, 0, bh.blocknr);
    bh.dirty = true;
    bh.page.dirty = true;
  }

  /** mark_buffer_dirty_inode: dirty, and on the inode's list for its fsync (b_assoc_map). */
  mark_buffer_dirty_inode(bh: BufferHead, mapping: AddressSpace): void {
    this.mark_buffer_dirty(bh);
    if (!bh.assoc) { bh.assoc = mapping; mapping.assoc.add(bh); }
  }

  /** bforget: the buffer's contents no longer matter (a freed indirect block): not dirty, not associated. */
  bforget(bh: BufferHead): void {
    bh.dirty = false;
    if (bh.assoc) { bh.assoc.assoc.delete(bh); bh.assoc = null; }
    if (!bh.page.bufs.some((b) => b.dirty)) bh.page.dirty = false;
  }

  private clean(bh: BufferHead): void {
    bh.dirty = false;
    if (bh.assoc) { bh.assoc.assoc.delete(bh); bh.assoc = null; }
    if (!bh.page.bufs.some((b) => b.dirty)) bh.page.dirty = false;
  }

  /** sync_dirty_buffer: write the buffer now if it is dirty and wait; 0 or -EIO. */
  *sync_dirty_buffer(bh: BufferHead): KCode<number> {
    if (!bh.dirty) return 0;
    if (this.t.on) this.t.rec(EV_SYNC_DIRTY, 0, bh.blocknr);
    this.clean(bh);
    const bio = yield* this.submit_bh('write', bh);
    return yield* this.blk.wait_bios([bio]);
  }

  /**
   * sync_mapping_buffers → fsync_buffers_list: the inode's associated dirty buffers, written under
   * one plug (adjacent ones merge), then waited for.
   */
  *sync_mapping_buffers(mapping: AddressSpace): KCode<number> {
    if (mapping.assoc.size === 0) return 0;
    const list = [...mapping.assoc].filter((b) => b.dirty).sort((a, b) => a.blocknr - b.blocknr);
    if (this.t.on) this.t.rec(EV_SYNC_MAPPING, 0, list.length);
    for (const bh of [...mapping.assoc]) if (!bh.dirty) { mapping.assoc.delete(bh); bh.assoc = null; }
    const plug = this.blk.blk_start_plug();
    const bios: Bio[] = [];
    for (const bh of list) { this.clean(bh); bios.push(yield* this.submit_bh('write', bh)); }
    yield* this.blk.blk_finish_plug(plug);
    return yield* this.blk.wait_bios(bios);
  }

  /**
   * Write the device's dirty pages back (filemap_fdatawrite → generic_writepages under a plug →
   * block_write_full_page: a bio per dirty buffer); with `wait`, wait for them (sync_blockdev);
   * without, return the bios (sync_blockdev_nowait).
   */
  *writeback(wait: boolean): KCode<{ err: number; bios: Bio[] }> {
    const dirty = this.mapping.dirtyPages();
    if (this.t.on) this.t.rec(EV_SYNC_BLOCKDEV, 0, dirty.length);
    const plug = this.blk.blk_start_plug();
    const bios: Bio[] = [];
    for (const p of dirty) {
      for (const bh of p.bufs) if (bh.dirty) { this.clean(bh); bios.push(yield* this.submit_bh('write', bh)); }
      p.dirty = false;
    }
    yield* this.blk.blk_finish_plug(plug);
    const err = wait ? yield* this.blk.wait_bios(bios) : 0;
    return { err, bios };
  }

  /**
   * clean_bdev_aliases: blocks just allocated to a file may still have buffers in the device's cache
   * from an earlier life (an indirect block since freed); they must not be written over the data.
   */
  forgetRange(first: number, count: number): void {
    const per = PAGE_SIZE / this.blockSize;
    for (let n = first; n < first + count; n++) {
      const page = this.mapping.find(Math.floor(n / per));
      if (page) this.clean(page.bufs[n % per]!);
    }
  }

  /** drop_caches: clean, unreferenced pages of the device leave the cache. */
  dropClean(inUse: (bh: BufferHead) => boolean): void {
    for (const [i, p] of [...this.mapping.pages]) {
      if (p.dirty || p.bufs.some((b) => b.dirty || b.assoc || inUse(b))) continue;
      this.mapping.delete(i);
      this.pages.release(p.gpa);
    }
  }
}
