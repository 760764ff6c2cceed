// fs/ext2/ialloc.c: inode bitmaps and the choice of a new inode's group — a file goes to its
// directory's group (find_group_other), a directory is spread out (find_group_orlov).

import { S_ISDIR } from '../../ext2/layout';
import type { KCode } from '../io';
import type { BufferHead } from '../page_cache';
import { EV, clearBit, findNextZeroBit, setBit, type Ext2Inode, type Ext2Sb } from './ext2';

const ENOSPC = 28;
const EIO = 5;
const INODE_COST = 64;
const BLOCK_COST = 256;
/** EXT2_TOPDIR_FL */
const EXT2_TOPDIR_FL = 0x00020000;
/** The flags a new inode inherits from its directory (EXT2_FL_INHERITED), masked by its type (ext2_mask_flags). */
const EXT2_FL_INHERITED = 0x0001c6cf;
const EXT2_REG_FLMASK = ~(0x00010000 | 0x00020000);

/** read_inode_bitmap */
export function* read_inode_bitmap(fs: Ext2Sb, group: number): KCode<BufferHead | null> {
  const n = fs.gdGet(group, 'bg_inode_bitmap');
  const bh = fs.bdev.getblk(n);
  if (bh.uptodate) return bh;
  if (fs.t.on) fs.t.rec(EV.read_inode_bitmap, 0, group);
  return yield* fs.bdev.bread(n);
}

/** find_group_other: the parent's group if it has a free inode and a free block, else a hash, else any. */
function find_group_other(fs: Ext2Sb, parent: Ext2Inode): number {
  const n = fs.g.groups;
  const ok = (g: number) => fs.gdGet(g, 'bg_free_inodes_count') > 0 && fs.gdGet(g, 'bg_free_blocks_count') > 0;
  let group = parent.blockGroup;
  if (ok(group)) return group;
  group = (group + parent.ino) % n;
  for (let i = 1; i < n; i <<= 1) {
    group += i;
    if (group >= n) group -= n;
    if (ok(group)) return group;
  }
  group = parent.blockGroup;
  for (let i = 0; i < n; i++) {
    if (++group >= n) group = 0;
    if (fs.gdGet(group, 'bg_free_inodes_count') > 0) return group;
  }
  return -1;
}

/**
 * find_group_orlov: a directory under the root (or a TOPDIR) goes to the group with the fewest
 * directories among those with at least average free inodes and blocks, searching from a random
 * group — the model's get_random_u32_below returns 0. Other directories stay near their parent
 * unless its group is over its debt or short of room.
 */
function find_group_orlov(fs: Ext2Sb, parent: Ext2Inode): number {
  const n = fs.g.groups;
  const ipg = fs.g.inodesPerGroup;
  let avefreei = Math.floor(fs.freeInodes / n);
  const freeBlocks = fs.freeBlocks;
  const avefreeb = Math.floor(freeBlocks / n);
  let parentGroup = parent.blockGroup;
  const fi = (g: number) => fs.gdGet(g, 'bg_free_inodes_count');
  const fb = (g: number) => fs.gdGet(g, 'bg_free_blocks_count');
  const nd = (g: number) => fs.gdGet(g, 'bg_used_dirs_count');
  if (parent === fs.root || (parent.flags & EXT2_TOPDIR_FL)) {
    let best = -1;
    let bestNdir = ipg;
    parentGroup = 0;
    for (let i = 0; i < n; i++) {
      const g = (parentGroup + i) % n;
      if (!fi(g) || nd(g) >= bestNdir || fi(g) < avefreei || fb(g) < avefreeb) continue;
      best = g; bestNdir = nd(g);
    }
    if (best >= 0) return best;
  } else {
    const ndirs = Math.max(1, fs.dirs);
    const blocksPerDir = Math.floor((fs.g.blocksCount - freeBlocks) / ndirs);
    const maxDirs = Math.floor(ndirs / n) + Math.floor(ipg / 16);
    const minInodes = avefreei - Math.floor(ipg / 4);
    const minBlocks = avefreeb - Math.floor(fs.g.blocksPerGroup / 4);
    let maxDebt = Math.floor(fs.g.blocksPerGroup / Math.max(blocksPerDir, BLOCK_COST));
    if (maxDebt * INODE_COST > ipg) maxDebt = Math.floor(ipg / INODE_COST);
    maxDebt = Math.max(1, Math.min(255, maxDebt));
    for (let i = 0; i < n; i++) {
      const g = (parentGroup + i) % n;
      if (!fi(g) || fs.debts[g]! >= maxDebt || nd(g) >= maxDirs || fi(g) < minInodes || fb(g) < minBlocks) continue;
      return g;
    }
  }
  for (;;) {
    for (let i = 0; i < n; i++) {
      const g = (parentGroup + i) % n;
      if (fi(g) && fi(g) >= avefreei) return g;
    }
    if (!avefreei) return -1;
    avefreei = 0;
  }
}

/**
 * ext2_new_inode: a group, the first free bit of its inode bitmap (read the first time), the
 * bitmap and the descriptor dirty, the counters, and a new in-memory inode marked EXT2_STATE_NEW
 * and dirty. Nothing is written here.
 */
export function* ext2_new_inode(fs: Ext2Sb, dir: Ext2Inode, mode: number): KCode<Ext2Inode | number> {
  let group = S_ISDIR(mode) ? find_group_orlov(fs, dir) : find_group_other(fs, dir);
  if (group < 0) return -ENOSPC;
  const ipg = fs.g.inodesPerGroup;
  let found = -1;
  for (let i = 0; i < fs.g.groups; i++) {
    const bitmap = yield* read_inode_bitmap(fs, group);
    if (!bitmap) return -EIO;
    let bit = 0;
    for (;;) {
      bit = findNextZeroBit(fs.ram, bitmap.gpa, ipg, bit);
      if (bit >= ipg) break;
      if (!setBit(fs.ram, bitmap.gpa, bit)) break;
      bit++;
    }
    if (bit < ipg) {
      fs.bdev.mark_buffer_dirty(bitmap);
      found = bit;
      break;
    }
    if (++group === fs.g.groups) group = 0;
  }
  if (found < 0) return -ENOSPC;
  const ino = found + group * ipg + 1;
  if (ino < fs.g.firstIno || ino > fs.g.inodesCount) return -EIO;
  fs.freeInodes--;
  fs.gdAdd(group, 'bg_free_inodes_count', -1);
  if (S_ISDIR(mode)) {
    fs.dirs++;
    if (fs.debts[group]! < 255) fs.debts[group]!++;
    fs.gdAdd(group, 'bg_used_dirs_count', 1);
  } else if (fs.debts[group]) fs.debts[group]!--;
  fs.bdev.mark_buffer_dirty(fs.gd(group).bh);
  const now = fs.now();
  const inode: Ext2Inode = {
    ino, mode, uid: 0, gid: 0, size: 0, nlink: 1, atime: now, ctime: now, mtime: now, dtime: 0, blocks: 0,
    flags: (dir.flags & EXT2_FL_INHERITED) & (S_ISDIR(mode) ? ~0 : EXT2_REG_FLMASK), generation: fs.nextGeneration++,
    fileAcl: 0, dirAcl: 0, faddr: 0, data: new Array<number>(15).fill(0), blockGroup: group, dirStartLookup: 0, stateNew: true,
    dirty: 3, mapping: fs.newMapping(), allocInfo: null, opens: 0, unlinked: false,
  };
  fs.icache.set(ino, inode);
  if (fs.t.on) fs.t.rec(EV.new_inode, 0, ino, group);
  return inode;
}

/** ext2_free_inode: the bit cleared, the counts back (the inode itself was written with its dtime). */
export function* ext2_free_inode(fs: Ext2Sb, inode: Ext2Inode): KCode {
  if (fs.t.on) fs.t.rec(EV.free_inode, 0, inode.ino);
  const ipg = fs.g.inodesPerGroup;
  const group = Math.floor((inode.ino - 1) / ipg);
  const bit = (inode.ino - 1) % ipg;
  const bitmap = yield* read_inode_bitmap(fs, group);
  if (!bitmap) return;
  if (clearBit(fs.ram, bitmap.gpa, bit)) {
    fs.gdAdd(group, 'bg_free_inodes_count', 1);
    if (S_ISDIR(inode.mode)) { fs.gdAdd(group, 'bg_used_dirs_count', -1); fs.dirs--; }
    fs.bdev.mark_buffer_dirty(fs.gd(group).bh);
    fs.freeInodes++;
  }
  fs.bdev.mark_buffer_dirty(bitmap);
}
