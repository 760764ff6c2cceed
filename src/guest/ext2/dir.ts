// fs/ext2/dir.c: directories are files of linear entries, read and changed through the
// directory's page cache (ext2_get_page → read_mapping_page). A change is prepared like a write
// (ext2_prepare_chunk → __block_write_begin, allocating a block when the directory grows) and
// committed (ext2_commit_chunk → block_write_end): the page is dirty, nothing is written — unless
// the directory is DIRSYNC, which the model's mounts never are.

import { EXT2_DIR_REC_LEN, EXT2_FEATURE_INCOMPAT_FILETYPE, EXT2_FT_DIR, EXT2_FT_REG_FILE, EXT2_FT_UNKNOWN, S_ISDIR, S_ISREG, ext2_dir_entry_2 } from '../../ext2/layout';
import { block_write_begin, grab_cache_page, read_mapping_page } from '../filemap';
import type { KCode } from '../io';
import { PAGE_SIZE, type Page } from '../page_cache';
import { EV, I_DIRTY_INODE, type Ext2Inode, type Ext2Sb } from './ext2';

const EIO = 5;
const EEXIST = 17;
const D = ext2_dir_entry_2;
/** EXT2_BTREE_FL (EXT2_INDEX_FL): ext2 drops it from a directory it changes. */
const EXT2_BTREE_FL = 0x00001000;

/** A directory entry found in a page: the page and the entry's offset in it. */
export interface DirSlot { page: Page; off: number }

const dirPages = (dir: Ext2Inode) => Math.ceil(dir.size / PAGE_SIZE);
/** ext2_last_byte: where the directory's bytes end in page `n`. */
const lastByte = (dir: Ext2Inode, n: number) => Math.min(PAGE_SIZE, dir.size - n * PAGE_SIZE);

function entry(fs: Ext2Sb, page: Page, off: number) {
  const a = page.gpa + off;
  const ram = fs.ram;
  return {
    get ino() { return ram.u32(a + D.inode); }, set ino(v: number) { ram.setU32(a + D.inode, v); },
    get recLen() { return ram.u16(a + D.rec_len); }, set recLen(v: number) { ram.setU16(a + D.rec_len, v); },
    get nameLen() { return ram.u8(a + D.name_len); },
    name(): string { return String.fromCharCode(...ram.bytes.subarray(a + D.name, a + D.name + ram.u8(a + D.name_len))); },
  };
}

function ext2_match(fs: Ext2Sb, page: Page, off: number, name: string): boolean {
  const e = entry(fs, page, off);
  if (e.nameLen !== name.length || !e.ino) return false;
  const a = page.gpa + off + D.name;
  for (let i = 0; i < name.length; i++) if (fs.ram.bytes[a + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** ext2_set_de_type: with the filetype feature, the entry says what the inode is. */
function set_de_type(fs: Ext2Sb, page: Page, off: number, inode: Ext2Inode): void {
  const t = fs.g.featureIncompat & EXT2_FEATURE_INCOMPAT_FILETYPE ? (S_ISDIR(inode.mode) ? EXT2_FT_DIR : S_ISREG(inode.mode) ? EXT2_FT_REG_FILE : EXT2_FT_UNKNOWN) : 0;
  fs.ram.setU8(page.gpa + off + D.file_type, t);
}

function setName(fs: Ext2Sb, page: Page, off: number, name: string): void {
  fs.ram.setU8(page.gpa + off + D.name_len, name.length);
  for (let i = 0; i < name.length; i++) fs.ram.setU8(page.gpa + off + D.name + i, name.charCodeAt(i));
}

/** ext2_get_page: the directory's page `n`, read if needed. */
function* ext2_get_page(fs: Ext2Sb, dir: Ext2Inode, n: number): KCode<Page | number> {
  return yield* read_mapping_page(fs, dir, n);
}

/** ext2_prepare_chunk + the change + ext2_commit_chunk: the page dirty, i_size grown if the chunk lies past it. */
function* prepare_chunk(fs: Ext2Sb, dir: Ext2Inode, page: Page, off: number, len: number): KCode<number> {
  return yield* block_write_begin(fs, dir, page, off, off + len);
}
function commit_chunk(fs: Ext2Sb, dir: Ext2Inode, page: Page, off: number, len: number): void {
  for (let j = 0; j < page.bufs.length; j++) {
    const s = j * fs.bs;
    if (s + fs.bs <= off || s >= off + len) continue;
    const bh = page.bufs[j]!;
    bh.uptodate = true; bh.dirty = true; bh.isNew = false;
  }
  page.dirty = true;
  if (page.bufs.every((b) => b.uptodate)) page.uptodate = true;
  const end = page.index * PAGE_SIZE + off + len;
  if (end > dir.size) { dir.size = end; dir.dirty |= I_DIRTY_INODE; }
}

/** ext2_find_entry: scan the pages from where the last lookup succeeded. */
export function* ext2_find_entry(fs: Ext2Sb, dir: Ext2Inode, name: string): KCode<DirSlot | null | number> {
  const npages = dirPages(dir);
  if (npages === 0) return null;
  const reclen = EXT2_DIR_REC_LEN(name.length);
  let start = dir.dirStartLookup;
  if (start >= npages) start = 0;
  let n = start;
  do {
    const page = yield* ext2_get_page(fs, dir, n);
    if (typeof page === 'number') return page;
    const limit = lastByte(dir, n) - reclen;
    for (let off = 0; off <= limit;) {
      const e = entry(fs, page, off);
      if (e.recLen === 0) return -EIO;   // ext2_error: zero-length directory entry
      if (ext2_match(fs, page, off, name)) { dir.dirStartLookup = n; return { page, off }; }
      off += e.recLen;
    }
    if (++n >= npages) n = 0;
  } while (n !== start);
  return null;
}

/** ext2_inode_by_name */
export function* ext2_inode_by_name(fs: Ext2Sb, dir: Ext2Inode, name: string): KCode<number> {
  const s = yield* ext2_find_entry(fs, dir, name);
  if (typeof s === 'number') return s;
  return s ? entry(fs, s.page, s.off).ino : 0;
}

/**
 * ext2_add_link: the first entry with room for the name (a deleted one, or the slack at the end of
 * a live one, which is split), else a new chunk past i_size — a new block for the directory.
 */
export function* ext2_add_link(fs: Ext2Sb, dir: Ext2Inode, name: string, inode: Ext2Inode): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.add_link, 0, dir.ino, inode.ino);
  const reclen = EXT2_DIR_REC_LEN(name.length);
  const npages = dirPages(dir);
  for (let n = 0; n <= npages; n++) {
    const page = n < npages ? yield* ext2_get_page(fs, dir, n) : grab_cache_page(fs, dir, n);
    if (typeof page === 'number') return page;
    const dirEnd = n < npages ? lastByte(dir, n) : 0;
    for (let off = 0; off <= PAGE_SIZE - reclen;) {
      const e = entry(fs, page, off);
      let recLen: number;
      let nameLen: number;
      if (off === dirEnd) {
        // We hit i_size: a new chunk of one block.
        nameLen = 0;
        recLen = fs.bs;
        const err = yield* prepare_chunk(fs, dir, page, off, recLen);
        if (err) return err;
        e.recLen = fs.bs;
        e.ino = 0;
      } else {
        if (e.recLen === 0) return -EIO;
        if (ext2_match(fs, page, off, name)) return -EEXIST;
        nameLen = EXT2_DIR_REC_LEN(e.nameLen);
        recLen = e.recLen;
        if (!(e.ino === 0 && recLen >= reclen) && !(recLen >= nameLen + reclen)) { off += recLen; continue; }
        const err = yield* prepare_chunk(fs, dir, page, off, recLen);
        if (err) return err;
      }
      // got_it
      let at = off;
      if (e.ino) {
        const e1 = entry(fs, page, off + nameLen);
        e1.recLen = recLen - nameLen;
        e.recLen = nameLen;
        at = off + nameLen;
      }
      setName(fs, page, at, name);
      entry(fs, page, at).ino = inode.ino;
      set_de_type(fs, page, at, inode);
      commit_chunk(fs, dir, page, off, recLen);
      dir.mtime = dir.ctime = fs.now();
      dir.flags &= ~EXT2_BTREE_FL;
      dir.dirty |= I_DIRTY_INODE;
      return 0;
    }
  }
  return -EIO;
}

/** ext2_delete_entry: the entry is folded into the one before it in its chunk, or its inode zeroed if it starts the chunk. */
export function* ext2_delete_entry(fs: Ext2Sb, dir: Ext2Inode, slot: DirSlot): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.delete_entry, 0, dir.ino);
  const { page, off } = slot;
  let from = off & ~(fs.bs - 1);
  const to = off + entry(fs, page, off).recLen;
  let pde = -1;
  for (let de = from; de < off;) {
    const r = entry(fs, page, de).recLen;
    if (r === 0) return -EIO;
    pde = de;
    de += r;
  }
  if (pde >= 0) from = pde;
  const err = yield* prepare_chunk(fs, dir, page, from, to - from);
  if (err) return err;
  if (pde >= 0) entry(fs, page, pde).recLen = to - from;
  entry(fs, page, off).ino = 0;
  commit_chunk(fs, dir, page, from, to - from);
  dir.ctime = dir.mtime = fs.now();
  dir.flags &= ~EXT2_BTREE_FL;
  dir.dirty |= I_DIRTY_INODE;
  return 0;
}

/** ext2_set_link: point an existing entry at another inode (rename over a file, a moved directory's ".."). */
export function* ext2_set_link(fs: Ext2Sb, dir: Ext2Inode, slot: DirSlot, inode: Ext2Inode, updateTimes: boolean): KCode<number> {
  const { page, off } = slot;
  const len = entry(fs, page, off).recLen;
  const err = yield* prepare_chunk(fs, dir, page, off, len);
  if (err) return err;
  entry(fs, page, off).ino = inode.ino;
  set_de_type(fs, page, off, inode);
  commit_chunk(fs, dir, page, off, len);
  if (updateTimes) { dir.mtime = dir.ctime = fs.now(); }
  dir.flags &= ~EXT2_BTREE_FL;
  dir.dirty |= I_DIRTY_INODE;
  return 0;
}

/** ext2_make_empty: a new directory's first block, "." and "..". */
export function* ext2_make_empty(fs: Ext2Sb, inode: Ext2Inode, parent: Ext2Inode): KCode<number> {
  const page = grab_cache_page(fs, inode, 0);
  const err = yield* prepare_chunk(fs, inode, page, 0, fs.bs);
  if (err) return err;
  fs.ram.bytes.fill(0, page.gpa, page.gpa + fs.bs);
  const dot = EXT2_DIR_REC_LEN(1);
  setName(fs, page, 0, '.');
  entry(fs, page, 0).recLen = dot;
  entry(fs, page, 0).ino = inode.ino;
  set_de_type(fs, page, 0, inode);
  setName(fs, page, dot, '..');
  entry(fs, page, dot).recLen = fs.bs - dot;
  entry(fs, page, dot).ino = parent.ino;
  set_de_type(fs, page, dot, inode);
  commit_chunk(fs, inode, page, 0, fs.bs);
  return 0;
}

/** ext2_dotdot: the ".." entry of a directory (the second entry of its first chunk). */
export function* ext2_dotdot(fs: Ext2Sb, dir: Ext2Inode): KCode<DirSlot | null> {
  const page = yield* ext2_get_page(fs, dir, 0);
  if (typeof page === 'number') return null;
  const first = entry(fs, page, 0).recLen;
  return first ? { page, off: first } : null;
}

/** ext2_empty_dir: nothing but "." and "..". */
export function* ext2_empty_dir(fs: Ext2Sb, dir: Ext2Inode): KCode<boolean> {
  for (let n = 0; n < dirPages(dir); n++) {
    const page = yield* ext2_get_page(fs, dir, n);
    if (typeof page === 'number') return false;
    for (let off = 0; off < lastByte(dir, n);) {
      const e = entry(fs, page, off);
      if (e.recLen === 0) return false;
      if (e.ino) {
        const nm = e.name();
        if (nm !== '.' && nm !== '..') return false;
      }
      off += e.recLen;
    }
  }
  return true;
}

/** The inode number an entry names. */
export const slotIno = (fs: Ext2Sb, s: DirSlot): number => entry(fs, s.page, s.off).ino;
