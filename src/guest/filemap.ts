// The page-cache side of file I/O for ext2 (mm/filemap.c, fs/mpage.c, fs/buffer.c), with
// ext2_get_block as the get_block of every path:
//   - reading pages: mpage_readahead / mpage_read_folio build one bio over contiguous blocks; a page
//     whose blocks are not contiguous, or that has buffers already, falls back to
//     block_read_full_folio (a bio per buffer to read);
//   - buffered writes: generic_perform_write → ext2_write_begin (block_write_begin: map or allocate
//     each buffer the write touches, read a partly overwritten one first) → copy → ext2_write_end
//     (the buffers and the page dirty; i_size);
//   - writeback: mpage_writepages under a plug, one bio over contiguous blocks across pages, a page
//     that is not simple ("confused") through block_write_full_page, a bio per dirty buffer.
// Simplifications: readahead reads exactly the pages a read asks for (no readahead window), and
// there is no background writeback (no flusher thread, no dirty expiry, no dirty throttling):
// dirty pages stay until fsync, sync or unmount.

import { defineEvent } from '../trace/events';
import { bioAddPage, newBio, SECTOR_SIZE, type Bio } from './block';
import type { KCode } from './io';
import { PAGE_SIZE, type BufferHead, type Page } from './page_cache';
import { I_DIRTY_INODE, type Ext2Inode, type Ext2Sb } from './ext2/ext2';
import { ext2_get_block } from './ext2/inode';

const EV_PERFORM_WRITE = defineEvent('call', 'guest kernel', 'guest kernel', 'generic_perform_write', ['pos', 'count']);
const EV_WRITEPAGES = defineEvent('call', 'guest kernel', 'guest kernel', 'mpage_writepages', ['ino', 'pages']);
const EIO = 5;

const sectorOf = (fs: Ext2Sb, block: number) => (block * fs.bs) / SECTOR_SIZE;
/** BIO_MAX_VECS: a bio holds 256 segments; a page that does not extend the last one needs a new one. */
const BIO_MAX_VECS = 256;
const bioFull = (bio: Bio, gpa: number): boolean => {
  const last = bio.sgs[bio.sgs.length - 1];
  return bio.sgs.length >= BIO_MAX_VECS && !(last && last.gpa + last.len === gpa);
};

/**
 * A new page of the file's cache at `index`, or the cached one. Like Linux's, a new page is not
 * zeroed: its buffers are not up to date until read, written whole, or zeroed where a write does
 * not cover a new block (block_write_begin); a hole is zeroed when read.
 */
export function grab_cache_page(fs: Ext2Sb, inode: Ext2Inode, index: number): Page {
  let p = inode.mapping.find(index);
  if (p) return p;
  p = inode.mapping.add(index, fs.pages.alloc(1));
  return p;
}

/** Map the buffers of a page that fall within the file (no allocation); holes stay unmapped. */
function* mapPage(fs: Ext2Sb, inode: Ext2Inode, page: Page): KCode<number> {
  const per = page.bufs.length;
  const lastBlock = Math.ceil(inode.size / fs.bs);
  for (let j = 0; j < per;) {
    const iblock = page.index * per + j;
    const bh = page.bufs[j]!;
    if (bh.mapped || iblock >= lastBlock) { j++; continue; }
    const m = yield* ext2_get_block(fs, inode, iblock, Math.min(per - j, lastBlock - iblock), false);
    if (typeof m === 'number') return m;
    if (!m) { j++; continue; }
    for (let k = 0; k < m.count && j + k < per; k++) { page.bufs[j + k]!.mapped = true; page.bufs[j + k]!.blocknr = m.block + k; }
    j += m.count;
  }
  return 0;
}

/**
 * mpage_readahead over `indices` (consecutive pages not in the cache): each page's mapped blocks
 * join the current bio when they follow its last block on the disk; holes and the part past EOF
 * are zero. A page that is not simple — a hole before a mapped block, blocks out of order — is
 * read buffer by buffer (block_read_full_folio). Waits for the reads; 0 or -EIO.
 */
export function* readPages(fs: Ext2Sb, inode: Ext2Inode, pages: Page[], one = false): KCode<number> {
  if (pages.length === 0) return 0;
  if (fs.t.on) {
    if (one) fs.t.rec(fs.names.readpage, 0, inode.ino);
    else fs.t.rec(fs.names.readahead, 0, inode.ino, pages.length);
  }
  const bios: Bio[] = [];
  let bio: Bio | undefined;
  let lastInBio = -2;
  // read_pages plugs around ->readahead (->readpages in 3.2); one page read by ->read_folio
  // (->readpage) is submitted without a plug.
  const plug = one ? false : fs.blk.blk_start_plug();
  const submit = function* (): KCode { if (bio) { const b = bio; bio = undefined; yield* fs.blk.submit_bio(b); } };
  for (const page of pages) {
    const err = yield* mapPage(fs, inode, page);
    if (err) { yield* submit(); yield* fs.blk.blk_finish_plug(plug); yield* fs.blk.wait_bios(bios); return err; }
    const want = page.bufs.filter((b) => !b.uptodate);
    // Holes and blocks past EOF read as zeros.
    for (const bh of page.bufs) if (!bh.mapped && !bh.uptodate) { fs.ram.bytes.fill(0, bh.gpa, bh.gpa + bh.size); bh.uptodate = true; }
    const mapped = want.filter((b) => b.mapped);
    if (mapped.length === 0) { page.uptodate = true; continue; }
    const firstHole = page.bufs.findIndex((b) => !b.mapped);
    const simple = want.length === page.bufs.length && (firstHole < 0 || page.bufs.slice(firstHole).every((b) => !b.mapped))
      && mapped.every((b, i) => i === 0 || b.blocknr === mapped[i - 1]!.blocknr + 1);
    if (simple) {
      if (bio && (lastInBio !== mapped[0]!.blocknr - 1 || bioFull(bio, page.gpa))) yield* submit();
      if (!bio) { bio = newBio('read', sectorOf(fs, mapped[0]!.blocknr)); bios.push(bio); }
      bioAddPage(bio, page.gpa, mapped.length * fs.bs);
      lastInBio = mapped[mapped.length - 1]!.blocknr;
    } else {
      yield* submit();
      for (const bh of mapped) {
        const b = newBio('read', sectorOf(fs, bh.blocknr));
        bioAddPage(b, bh.gpa, bh.size);
        bios.push(b);
        yield* fs.blk.submit_bio(b);
      }
    }
  }
  yield* submit();
  yield* fs.blk.blk_finish_plug(plug);
  const err = yield* fs.blk.wait_bios(bios);
  if (err) return -EIO;
  for (const page of pages) { for (const bh of page.bufs) bh.uptodate = true; page.uptodate = true; }
  return 0;
}

/** read_mapping_page: the page, read if it is not up to date (->read_folio / ->readpage: mpage_read_folio, mpage_readpage). */
export function* read_mapping_page(fs: Ext2Sb, inode: Ext2Inode, index: number): KCode<Page | number> {
  const page = grab_cache_page(fs, inode, index);
  if (page.uptodate) return page;
  const err = yield* readPages(fs, inode, [page], true);
  return err ? err : page;
}

/**
 * block_write_begin for [from, to) of a page: map (allocating) each buffer the write touches; a
 * new buffer not wholly written is zeroed around the write; a mapped one partly written and not up
 * to date is read first (one bio each, waited for).
 */
export function* block_write_begin(fs: Ext2Sb, inode: Ext2Inode, page: Page, from: number, to: number): KCode<number> {
  const reads: Bio[] = [];
  for (let j = 0; j < page.bufs.length; j++) {
    const bh = page.bufs[j]!;
    const start = j * fs.bs;
    const end = start + fs.bs;
    if (end <= from || start >= to) { if (page.uptodate) bh.uptodate = true; continue; }
    bh.isNew = false;
    if (!bh.mapped) {
      const m = yield* ext2_get_block(fs, inode, page.index * page.bufs.length + j, 1, true);
      if (typeof m === 'number') return m;
      if (!m) return -EIO;
      bh.mapped = true;
      bh.blocknr = m.block;
      if (m.isNew) {
        if (page.uptodate) { bh.uptodate = true; bh.dirty = true; continue; }
        bh.isNew = true;
        if (end > to || start < from) {
          fs.ram.bytes.fill(0, bh.gpa + Math.max(0, to - start), bh.gpa + fs.bs);
          fs.ram.bytes.fill(0, bh.gpa, bh.gpa + Math.max(0, from - start));
        }
        continue;
      }
    }
    if (page.uptodate) { bh.uptodate = true; continue; }
    if (!bh.uptodate && (start < from || end > to)) {
      const b = newBio('read', sectorOf(fs, bh.blocknr));
      bioAddPage(b, bh.gpa, bh.size);
      reads.push(b);
      yield* fs.blk.submit_bio(b);
    }
  }
  if (reads.length > 0) {
    const err = yield* fs.blk.wait_bios(reads);
    if (err) return -EIO;
    for (const b of page.bufs) if (b.mapped && !b.uptodate && reads.some((r) => r.sgs[0]!.gpa === b.gpa)) b.uptodate = true;
  }
  return 0;
}

/** block_write_end → __block_commit_write: the written buffers up to date and dirty, the page dirty. */
function block_write_end(fs: Ext2Sb, page: Page, from: number, to: number): void {
  let partial = false;
  for (let j = 0; j < page.bufs.length; j++) {
    const bh = page.bufs[j]!;
    const start = j * fs.bs;
    if (start + fs.bs <= from || start >= to) { if (!bh.uptodate) partial = true; continue; }
    bh.uptodate = true;
    bh.dirty = true;
    bh.isNew = false;
  }
  page.dirty = true;
  if (!partial) page.uptodate = true;
}

/**
 * generic_perform_write: page by page, write_begin, copy from the user's buffer (guest RAM), write_end;
 * i_size grows with mark_inode_dirty. No I/O but the reads write_begin needs. Returns bytes written.
 */
export function* generic_perform_write(fs: Ext2Sb, inode: Ext2Inode, pos: number, buf: number, count: number): KCode<number> {
  if (fs.t.on) fs.t.rec(EV_PERFORM_WRITE, 0, pos, count);
  let done = 0;
  while (done < count) {
    const p = pos + done;
    const index = Math.floor(p / PAGE_SIZE);
    const off = p % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, count - done);
    const page = grab_cache_page(fs, inode, index);
    const err = yield* block_write_begin(fs, inode, page, off, off + n);
    if (err) return done > 0 ? done : err;
    fs.ram.bytes.copyWithin(page.gpa + off, buf + done, buf + done + n);
    block_write_end(fs, page, off, off + n);
    done += n;
    // generic_write_end: i_size
    if (p + n > inode.size) { inode.size = p + n; inode.dirty |= I_DIRTY_INODE; }
  }
  return done;
}

/**
 * mpage_writepages for the dirty pages with first ≤ index ≤ last: under a plug, each page's
 * blocks join the current bio when contiguous with its end; the tail of the page past EOF is
 * zeroed; a confused page goes buffer by buffer. Returns the bios (not waited for).
 */
export function* writepages(fs: Ext2Sb, inode: Ext2Inode, first = 0, last = Number.MAX_SAFE_INTEGER): KCode<Bio[]> {
  const dirty = inode.mapping.dirtyPages(first, last);
  if (dirty.length === 0) return [];
  if (fs.t.on) fs.t.rec(EV_WRITEPAGES, 0, inode.ino, dirty.length);
  const bios: Bio[] = [];
  let bio: Bio | undefined;
  let lastInBio = -2;
  const plug = fs.blk.blk_start_plug();
  const submit = function* (): KCode { if (bio) { const b = bio; bio = undefined; yield* fs.blk.submit_bio(b); } };
  const endIndex = Math.floor(inode.size / PAGE_SIZE);
  for (const page of dirty) {
    page.dirty = false;
    if (page.index > endIndex || (page.index === endIndex && inode.size % PAGE_SIZE === 0)) {
      // Wholly past EOF (a truncate raced): nothing to write.
      for (const bh of page.bufs) bh.dirty = false;
      continue;
    }
    if (page.index === endIndex) fs.ram.bytes.fill(0, page.gpa + (inode.size % PAGE_SIZE), page.gpa + PAGE_SIZE);
    const lastBlock = Math.ceil(inode.size / fs.bs);
    const inFile = page.bufs.filter((_, j) => page.index * page.bufs.length + j < lastBlock);
    const firstUnmapped = inFile.findIndex((b) => !b.mapped);
    const mapped = firstUnmapped < 0 ? inFile : inFile.slice(0, firstUnmapped);
    const simple = mapped.length > 0 && (firstUnmapped < 0 || inFile.slice(firstUnmapped).every((b) => !b.mapped && !b.dirty))
      && mapped.every((b, i) => b.dirty && b.uptodate && (i === 0 || b.blocknr === mapped[i - 1]!.blocknr + 1));
    if (simple) {
      if (bio && (lastInBio !== mapped[0]!.blocknr - 1 || bioFull(bio, page.gpa))) yield* submit();
      if (!bio) { bio = newBio('write', sectorOf(fs, mapped[0]!.blocknr)); bios.push(bio); }
      bioAddPage(bio, page.gpa, mapped.length * fs.bs);
      lastInBio = mapped[mapped.length - 1]!.blocknr;
      for (const bh of page.bufs) bh.dirty = false;
    } else {
      // block_write_full_page: a bio per dirty, mapped buffer.
      yield* submit();
      for (const bh of inFile) {
        if (!bh.dirty || !bh.mapped) continue;
        const b = newBio('write', sectorOf(fs, bh.blocknr));
        bioAddPage(b, bh.gpa, bh.size);
        bios.push(b);
        bh.dirty = false;
        yield* fs.blk.submit_bio(b);
      }
      for (const bh of page.bufs) bh.dirty = false;
    }
  }
  yield* submit();
  yield* fs.blk.blk_finish_plug(plug);
  return bios;
}

/**
 * file_write_and_wait_range: write the dirty pages of [start, end] back and wait for them
 * (__filemap_fdatawrite_range + __filemap_fdatawait_range). 0 or -EIO.
 */
export function* file_write_and_wait_range(fs: Ext2Sb, inode: Ext2Inode, start: number, end: number): KCode<number> {
  if (fs.t.on) fs.t.rec(fs.names.writeAndWait, 0, inode.ino, start, end);
  const bios = yield* writepages(fs, inode, Math.floor(start / PAGE_SIZE), Math.floor(end / PAGE_SIZE));
  const err = yield* fs.blk.wait_bios(bios);
  return err ? -EIO : 0;
}

/** invalidate_inode_pages2_range: drop the clean cached pages of [first, last] (after a direct write). */
export function invalidate_pages(fs: Ext2Sb, inode: Ext2Inode, first: number, last: number): void {
  for (const [i, p] of [...inode.mapping.pages]) {
    if (i < first || i > last || p.dirty) continue;
    inode.mapping.delete(i);
    fs.pages.release(p.gpa);
  }
}

export type { BufferHead };
