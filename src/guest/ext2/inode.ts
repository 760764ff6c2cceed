// fs/ext2/inode.c: reading and writing inodes in the inode table, the block map (ext2_get_block:
// direct, indirect, double- and triple-indirect blocks, allocating as it goes), truncation to
// zero and eviction of an unlinked inode.

import {
  EXT2_DIND_BLOCK, EXT2_GOOD_OLD_REV, EXT2_IND_BLOCK, EXT2_NDIR_BLOCKS, EXT2_N_BLOCKS, EXT2_TIND_BLOCK, S_ISREG,
  EXT2_FEATURE_RO_COMPAT_LARGE_FILE, ext2_inode,
} from '../../ext2/layout';
import type { KCode } from '../io';
import type { BufferHead } from '../page_cache';
import { ext2_free_blocks, ext2_new_blocks } from './balloc';
import { EV, I_DIRTY_INODE, type Ext2Inode, type Ext2Sb } from './ext2';
import { ext2_free_inode } from './ialloc';

const EIO = 5;

/** ext2_get_inode: the inode-table block holding `ino` (sb_bread) and the inode's offset in it. */
export function* ext2_get_inode(fs: Ext2Sb, ino: number): KCode<{ bh: BufferHead; gpa: number } | null> {
  const g = fs.g;
  if (ino < 1 || ino > g.inodesCount) return null;
  const group = Math.floor((ino - 1) / g.inodesPerGroup);
  const offset = ((ino - 1) % g.inodesPerGroup) * g.inodeSize;
  const block = fs.gdGet(group, 'bg_inode_table') + Math.floor(offset / g.blockSize);
  const bh = yield* fs.bdev.bread(block);
  return bh ? { bh, gpa: bh.gpa + (offset % g.blockSize) } : null;
}

/** ext2_iget: from the inode cache, or read from its inode-table block. */
export function* ext2_iget(fs: Ext2Sb, ino: number): KCode<Ext2Inode | null> {
  const cached = fs.icache.get(ino);
  if (cached) return cached;
  if (fs.t.on) fs.t.rec(EV.iget, 0, ino);
  const r = yield* ext2_get_inode(fs, ino);
  if (!r) return null;
  const ram = fs.ram;
  const a = r.gpa;
  const I = ext2_inode;
  const mode = ram.u16(a + I.i_mode);
  const nlink = ram.u16(a + I.i_links_count);
  const dtime = ram.u32(a + I.i_dtime);
  if (nlink === 0 && (mode === 0 || dtime)) return null;   // a deleted inode: -ESTALE
  const inode: Ext2Inode = {
    ino, mode, uid: ram.u16(a + I.i_uid) | (ram.u16(a + I.l_i_uid_high) << 16), gid: ram.u16(a + I.i_gid) | (ram.u16(a + I.l_i_gid_high) << 16),
    size: ram.u32(a + I.i_size) + (S_ISREG(mode) ? ram.u32(a + I.i_dir_acl) * 2 ** 32 : 0), nlink,
    atime: ram.u32(a + I.i_atime), ctime: ram.u32(a + I.i_ctime), mtime: ram.u32(a + I.i_mtime), dtime: 0,
    blocks: ram.u32(a + I.i_blocks), flags: ram.u32(a + I.i_flags), generation: ram.u32(a + I.i_generation),
    fileAcl: ram.u32(a + I.i_file_acl), dirAcl: S_ISREG(mode) ? 0 : ram.u32(a + I.i_dir_acl), faddr: ram.u32(a + I.i_faddr),
    data: Array.from({ length: EXT2_N_BLOCKS }, (_, i) => ram.u32(a + I.i_block + 4 * i)),
    blockGroup: Math.floor((ino - 1) / fs.g.inodesPerGroup), dirStartLookup: 0, stateNew: false, dirty: 0,
    mapping: fs.newMapping(), allocInfo: null, opens: 0, unlinked: false,
  };
  fs.icache.set(ino, inode);
  return inode;
}

/**
 * __ext2_write_inode: the in-memory inode into its slot of the inode-table buffer (zeroed first
 * for a new inode), mark_buffer_dirty; with `sync`, sync_dirty_buffer writes that block now.
 */
export function* __ext2_write_inode(fs: Ext2Sb, inode: Ext2Inode, sync: boolean): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.write_inode, 0, inode.ino, sync ? 1 : 0);
  const r = yield* ext2_get_inode(fs, inode.ino);
  if (!r) return -EIO;
  const ram = fs.ram;
  const a = r.gpa;
  const I = ext2_inode;
  if (inode.stateNew) ram.bytes.fill(0, a, a + fs.g.inodeSize);
  ram.setU16(a + I.i_mode, inode.mode);
  ram.setU16(a + I.i_uid, inode.uid & 0xffff);
  ram.setU16(a + I.i_gid, inode.gid & 0xffff);
  ram.setU16(a + I.l_i_uid_high, inode.dtime ? 0 : inode.uid >>> 16);
  ram.setU16(a + I.l_i_gid_high, inode.dtime ? 0 : inode.gid >>> 16);
  ram.setU16(a + I.i_links_count, inode.nlink);
  ram.setU32(a + I.i_size, inode.size % 2 ** 32);
  ram.setU32(a + I.i_atime, inode.atime);
  ram.setU32(a + I.i_ctime, inode.ctime);
  ram.setU32(a + I.i_mtime, inode.mtime);
  ram.setU32(a + I.i_blocks, inode.blocks);
  ram.setU32(a + I.i_dtime, inode.dtime);
  ram.setU32(a + I.i_flags, inode.flags);
  ram.setU32(a + I.i_faddr, inode.faddr);
  ram.setU8(a + I.l_i_frag, 0);
  ram.setU8(a + I.l_i_fsize, 0);
  ram.setU32(a + I.i_file_acl, inode.fileAcl);
  if (!S_ISREG(inode.mode)) ram.setU32(a + I.i_dir_acl, inode.dirAcl);
  else {
    ram.setU32(a + I.i_dir_acl, Math.floor(inode.size / 2 ** 32));
    if (inode.size > 0x7fffffff && (!(fs.esU32('s_feature_ro_compat') & EXT2_FEATURE_RO_COMPAT_LARGE_FILE) || fs.esU32('s_rev_level') === EXT2_GOOD_OLD_REV)) {
      // The first large file: the feature goes into the superblock at once.
      fs.setEsU32('s_feature_ro_compat', fs.esU32('s_feature_ro_compat') | EXT2_FEATURE_RO_COMPAT_LARGE_FILE);
    }
  }
  ram.setU32(a + I.i_generation, inode.generation);
  for (let n = 0; n < EXT2_N_BLOCKS; n++) ram.setU32(a + I.i_block + 4 * n, inode.data[n]!);
  fs.bdev.mark_buffer_dirty(r.bh);
  let err = 0;
  if (sync) err = yield* fs.bdev.sync_dirty_buffer(r.bh);
  inode.stateNew = false;
  return err ? -EIO : 0;
}

// ------------------------------------------------------------------ the block map

/** A step of the chain from the inode to a data block: where the pointer is, and its value. */
interface Indirect { bh: BufferHead | null; idx: number; key: number }

function ptrGet(fs: Ext2Sb, inode: Ext2Inode, p: { bh: BufferHead | null; idx: number }): number {
  return p.bh ? fs.ram.u32(p.bh.gpa + 4 * p.idx) : inode.data[p.idx]!;
}
function ptrSet(fs: Ext2Sb, inode: Ext2Inode, p: { bh: BufferHead | null; idx: number }, v: number): void {
  if (p.bh) fs.ram.setU32(p.bh.gpa + 4 * p.idx, v); else inode.data[p.idx] = v;
}

/** ext2_block_to_path: the offsets at each level for file block `i`, and how many pointers remain in the last one. */
function ext2_block_to_path(fs: Ext2Sb, i: number): { offsets: number[]; boundary: number } {
  const ptrs = fs.bs / 4;
  let offsets: number[];
  let final: number;
  if (i < EXT2_NDIR_BLOCKS) { offsets = [i]; final = EXT2_NDIR_BLOCKS; }
  else if ((i -= EXT2_NDIR_BLOCKS) < ptrs) { offsets = [EXT2_IND_BLOCK, i]; final = ptrs; }
  else if ((i -= ptrs) < ptrs * ptrs) { offsets = [EXT2_DIND_BLOCK, Math.floor(i / ptrs), i % ptrs]; final = ptrs; }
  else if (Math.floor((i -= ptrs * ptrs) / (ptrs * ptrs)) < ptrs) {
    offsets = [EXT2_TIND_BLOCK, Math.floor(i / (ptrs * ptrs)), Math.floor(i / ptrs) % ptrs, i % ptrs]; final = ptrs;
  } else return { offsets: [], boundary: 0 };
  return { offsets, boundary: final - 1 - (offsets[offsets.length - 1]! & (ptrs - 1)) };
}

/**
 * ext2_get_branch: follow the chain, reading indirect blocks (sb_bread). Returns the chain and the
 * index of the first missing link (chain.length when the whole chain exists), or -EIO.
 */
function* ext2_get_branch(fs: Ext2Sb, inode: Ext2Inode, offsets: number[]): KCode<{ chain: Indirect[]; partial: number } | number> {
  const chain: Indirect[] = [{ bh: null, idx: offsets[0]!, key: inode.data[offsets[0]!]! }];
  if (!chain[0]!.key) return { chain, partial: 0 };
  for (let d = 1; d < offsets.length; d++) {
    const bh = yield* fs.bdev.bread(chain[d - 1]!.key);
    if (!bh) return -EIO;
    const key = fs.ram.u32(bh.gpa + 4 * offsets[d]!);
    chain.push({ bh, idx: offsets[d]!, key });
    if (!key) return { chain, partial: d };
  }
  return { chain, partial: offsets.length };
}

/**
 * ext2_find_near: a block to the left in the same array, else the indirect block itself, else the
 * inode's group, coloured by the process id so concurrent writers do not collide.
 */
function ext2_find_near(fs: Ext2Sb, inode: Ext2Inode, ind: Indirect): number {
  for (let i = ind.idx - 1; i >= 0; i--) {
    const v = ptrGet(fs, inode, { bh: ind.bh, idx: i });
    if (v) return v;
  }
  if (ind.bh) return ind.bh.blocknr;
  const bgStart = fs.g.firstDataBlock + inode.blockGroup * fs.g.blocksPerGroup;
  const colour = (fs.pid() % 16) * Math.floor(fs.g.blocksPerGroup / 16);
  return bgStart + colour;
}

export interface Mapped { block: number; count: number; isNew: boolean; boundary: boolean }

/**
 * ext2_get_blocks / ext2_get_block: map file block `iblock` (and up to `maxblocks` contiguous
 * ones). With `create`, a missing branch is allocated: the indirect blocks first, then the data
 * blocks, in one run from the goal when the bitmap allows (ext2_alloc_branch), the new indirect
 * buffers zeroed and dirtied on the inode's list (mark_buffer_dirty_inode), then spliced into the
 * tree (ext2_splice_branch), the inode dirty. Returns null for a hole (without create), or -errno.
 */
export function* ext2_get_block(fs: Ext2Sb, inode: Ext2Inode, iblock: number, maxblocks: number, create: boolean): KCode<Mapped | null | number> {
  const { offsets, boundary: toBoundary } = ext2_block_to_path(fs, iblock);
  const depth = offsets.length;
  if (depth === 0) return -EIO;
  const br = yield* ext2_get_branch(fs, inode, offsets);
  if (typeof br === 'number') return br;
  const { chain, partial } = br;
  let result: Mapped;
  if (partial === depth) {
    const last = chain[depth - 1]!;
    let count = 1;
    while (count < maxblocks && count <= toBoundary && ptrGet(fs, inode, { bh: last.bh, idx: last.idx + count }) === last.key + count) count++;
    result = { block: last.key, count, isNew: false, boundary: count > toBoundary };
  } else {
    if (!create) return null;
    if (S_ISREG(inode.mode) && !inode.allocInfo) inode.allocInfo = { lastLogical: 0, lastPhysical: 0 };
    const at = chain[partial]!;
    // ext2_find_goal
    const ai = inode.allocInfo;
    const goal = ai && iblock === ai.lastLogical + 1 && ai.lastPhysical !== 0 ? ai.lastPhysical + 1 : ext2_find_near(fs, inode, at);
    const indirectBlks = depth - partial - 1;
    // ext2_blks_to_allocate
    let count: number;
    if (indirectBlks > 0) count = Math.min(maxblocks, toBoundary + 1);
    else {
      count = 1;
      while (count < maxblocks && count <= toBoundary && ptrGet(fs, inode, { bh: at.bh, idx: at.idx + count }) === 0) count++;
    }
    // ext2_alloc_blocks: the indirect blocks, then at least one data block.
    const newBlocks: number[] = [];
    let target = indirectBlks + count;
    let dataCount = 0;
    let firstData = 0;
    for (;;) {
      const got = yield* ext2_new_blocks(fs, inode, goal, target);
      if (typeof got === 'number') {
        for (const b of newBlocks) yield* ext2_free_blocks(fs, inode, b, 1);
        return got;
      }
      let cur = got.block;
      let n = got.count;
      target -= n;
      while (newBlocks.length < indirectBlks && n) { newBlocks.push(cur++); n--; }
      if (n > 0) { firstData = cur; dataCount = n; break; }
    }
    // ext2_alloc_branch: link the new indirect blocks, each zeroed and dirty on the inode's list.
    const links = [...newBlocks, firstData];
    for (let n = 1; n <= indirectBlks; n++) {
      const bh = fs.bdev.getblk(links[n - 1]!);
      fs.ram.bytes.fill(0, bh.gpa, bh.gpa + fs.bs);
      const idx = offsets[partial + n]!;
      fs.ram.setU32(bh.gpa + 4 * idx, links[n]!);
      if (n === indirectBlks) for (let i = 1; i < dataCount; i++) fs.ram.setU32(bh.gpa + 4 * (idx + i), firstData + i);
      bh.uptodate = true;
      fs.bdev.mark_buffer_dirty_inode(bh, inode.mapping);
      chain[partial + n] = { bh, idx, key: links[n]! };
    }
    // ext2_splice_branch
    ptrSet(fs, inode, at, links[0]!);
    if (indirectBlks === 0) for (let i = 1; i < dataCount; i++) ptrSet(fs, inode, { bh: at.bh, idx: at.idx + i }, firstData + i);
    if (inode.allocInfo) { inode.allocInfo.lastLogical = iblock + dataCount - 1; inode.allocInfo.lastPhysical = firstData + dataCount - 1; }
    if (at.bh) fs.bdev.mark_buffer_dirty_inode(at.bh, inode.mapping);
    inode.ctime = fs.now();
    inode.dirty |= I_DIRTY_INODE;
    // The new data blocks may still sit in the device's cache from an earlier life (clean_bdev_aliases).
    fs.bdev.forgetRange(firstData, dataCount);
    result = { block: firstData, count: dataCount, isNew: true, boundary: dataCount > toBoundary };
  }
  if (fs.t.on) fs.t.rec(EV.get_block, 0, iblock, result.block, result.count, result.isNew ? 1 : 0);
  return result;
}

// ------------------------------------------------------------------ truncate and evict

/** ext2_free_data: free the blocks of a pointer array, a run of consecutive ones per ext2_free_blocks. */
function* ext2_free_data(fs: Ext2Sb, inode: Ext2Inode, ptrs: { bh: BufferHead | null; from: number; to: number }): KCode {
  let start = 0;
  let count = 0;
  for (let i = ptrs.from; i < ptrs.to; i++) {
    const p = { bh: ptrs.bh, idx: i };
    const nr = ptrGet(fs, inode, p);
    if (!nr) continue;
    ptrSet(fs, inode, p, 0);
    if (count > 0 && start === nr - count) { count++; continue; }
    if (count > 0) { yield* ext2_free_blocks(fs, inode, start, count); inode.dirty |= I_DIRTY_INODE; }
    start = nr;
    count = 1;
  }
  if (count > 0) { yield* ext2_free_blocks(fs, inode, start, count); inode.dirty |= I_DIRTY_INODE; }
}

/** ext2_free_branches: read each indirect block (sb_bread), free below it, forget it (bforget), free it. */
function* ext2_free_branches(fs: Ext2Sb, inode: Ext2Inode, nr: number, depth: number): KCode {
  const bh = yield* fs.bdev.bread(nr);
  if (bh) {
    const ptrs = fs.bs / 4;
    if (depth > 1) {
      for (let i = 0; i < ptrs; i++) {
        const child = fs.ram.u32(bh.gpa + 4 * i);
        if (!child) continue;
        fs.ram.setU32(bh.gpa + 4 * i, 0);
        yield* ext2_free_branches(fs, inode, child, depth - 1);
      }
    } else yield* ext2_free_data(fs, inode, { bh, from: 0, to: ptrs });
    fs.bdev.bforget(bh);
  }
  yield* ext2_free_blocks(fs, inode, nr, 1);
  inode.dirty |= I_DIRTY_INODE;
}

/**
 * ext2_truncate_blocks to size 0 (__ext2_truncate_blocks: the direct blocks, then the indirect
 * trees) — all the model truncates to (O_TRUNC, eviction). The file's pages leave the cache
 * (truncate_inode_pages) and so do its indirect buffers.
 */
export function* ext2_truncate_blocks(fs: Ext2Sb, inode: Ext2Inode): KCode {
  if (fs.t.on) fs.t.rec(EV.truncate, 0, inode.ino);
  for (const p of inode.mapping.pages.values()) fs.pages.release(p.gpa);
  inode.mapping.pages.clear();
  for (const bh of [...inode.mapping.assoc]) fs.bdev.bforget(bh);
  yield* ext2_free_data(fs, inode, { bh: null, from: 0, to: EXT2_NDIR_BLOCKS });
  for (const [slot, depth] of [[EXT2_IND_BLOCK, 1], [EXT2_DIND_BLOCK, 2], [EXT2_TIND_BLOCK, 3]] as const) {
    const nr = inode.data[slot]!;
    if (!nr) continue;
    inode.data[slot] = 0;
    inode.dirty |= I_DIRTY_INODE;
    yield* ext2_free_branches(fs, inode, nr, depth);
  }
  if (inode.allocInfo) inode.allocInfo = { lastLogical: 0, lastPhysical: 0 };
}

/**
 * ext2_evict_inode for an inode whose last link and last user are gone: the deletion time, the
 * inode into its buffer (as it was, with dtime), its blocks freed, its bit cleared.
 */
export function* ext2_evict_inode(fs: Ext2Sb, inode: Ext2Inode): KCode {
  if (fs.t.on) fs.t.rec(EV.evict, 0, inode.ino);
  inode.dtime = fs.now();
  yield* __ext2_write_inode(fs, inode, false);
  inode.size = 0;
  if (inode.blocks) yield* ext2_truncate_blocks(fs, inode);
  inode.dirty = 0;
  fs.icache.delete(inode.ino);
  yield* ext2_free_inode(fs, inode);
}
