// fs/ext2/balloc.c: block bitmaps. A group's bitmap is read once (read_block_bitmap: a read request
// the first time), then changed in its buffer: mark_buffer_dirty, nothing written yet. The group
// descriptor's free count changes with it (group_adjust_blocks), in the descriptor's buffer.

import { groupFirstBlock, groupLastBlock } from '../../ext2/layout';
import type { KCode } from '../io';
import type { BufferHead } from '../page_cache';
import { EV, clearBit, findNextZeroBit, setBit, testBit, type Ext2Inode, type Ext2Sb } from './ext2';

const ENOSPC = 28;
const EIO = 5;

/** read_block_bitmap: the group's block bitmap buffer, read from the disk if not up to date. */
export function* read_block_bitmap(fs: Ext2Sb, group: number): KCode<BufferHead | null> {
  const n = fs.gdGet(group, 'bg_block_bitmap');
  const bh = fs.bdev.getblk(n);
  if (bh.uptodate) return bh;
  if (fs.t.on) fs.t.rec(EV.read_block_bitmap, 0, group);
  return yield* fs.bdev.bread(n);
}

/** group_adjust_blocks: the descriptor's free-block count, in its buffer, dirty. */
function group_adjust_blocks(fs: Ext2Sb, group: number, delta: number): void {
  fs.gdAdd(group, 'bg_free_blocks_count', delta);
  fs.bdev.mark_buffer_dirty(fs.gd(group).bh);
}

/**
 * find_next_usable_block: a free block near the goal (to the next 64-block boundary), else the
 * first free byte (eight free blocks), else any free bit.
 */
function find_next_usable_block(fs: Ext2Sb, start: number, base: number, maxblocks: number): number {
  if (start > 0) {
    const endGoal = Math.min((start + 63) & ~63, maxblocks);
    const here = findNextZeroBit(fs.ram, base, endGoal, start);
    if (here < endGoal) return here;
  }
  const here = Math.max(0, start);
  for (let byte = here >> 3; byte < (maxblocks + 7) >> 3; byte++) {
    if (fs.ram.bytes[base + byte] === 0) { const next = byte << 3; if (next < maxblocks && next >= here) return next; break; }
  }
  const next = findNextZeroBit(fs.ram, base, maxblocks, here);
  return next >= maxblocks ? -1 : next;
}

/**
 * ext2_try_to_allocate without a reservation window: from the goal (or a usable block, moved back
 * over up to 7 free blocks before it), claim up to `count` consecutive free blocks.
 */
function ext2_try_to_allocate(fs: Ext2Sb, group: number, bitmap: BufferHead, goal: number, count: number): { start: number; num: number } | null {
  const end = groupLastBlock(fs.g, group) - groupFirstBlock(fs.g, group) + 1;
  let start = goal > 0 ? goal : 0;
  let grpGoal = goal;
  const base = bitmap.gpa;
  if (grpGoal < 0 || grpGoal >= end) grpGoal = -1;
  for (;;) {
    if (grpGoal < 0) {
      grpGoal = find_next_usable_block(fs, start, base, end);
      if (grpGoal < 0) return null;
      for (let i = 0; i < 7 && grpGoal > start && !testBit(fs.ram, base, grpGoal - 1); i++) grpGoal--;
    }
    start = grpGoal;
    if (setBit(fs.ram, base, grpGoal)) {
      // Taken: try the next block (the goal moves on one by one).
      start++; grpGoal++;
      if (start >= end) return null;
      continue;
    }
    let num = 1;
    grpGoal++;
    while (num < count && grpGoal < end && !setBit(fs.ram, base, grpGoal)) { num++; grpGoal++; }
    return { start: grpGoal - num, num };
  }
}

/**
 * ext2_new_blocks: up to `count` blocks, at the goal if it is free, else near it in the goal's
 * group, else in the next groups with free blocks. The bitmap and the descriptor become dirty,
 * the inode's i_blocks grows (dquot_alloc_block). Returns the first block and how many, or -errno.
 */
export function* ext2_new_blocks(fs: Ext2Sb, inode: Ext2Inode, goal: number, count: number): KCode<{ block: number; count: number } | number> {
  const g = fs.g;
  if (fs.freeBlocks <= 0) return -ENOSPC;
  if (goal < g.firstDataBlock || goal >= g.blocksCount) goal = g.firstDataBlock;
  let group = Math.floor((goal - g.firstDataBlock) / g.blocksPerGroup);
  let got: { start: number; num: number } | null = null;
  if (fs.gdGet(group, 'bg_free_blocks_count') > 0) {
    const bitmap = yield* read_block_bitmap(fs, group);
    if (!bitmap) return -EIO;
    got = ext2_try_to_allocate(fs, group, bitmap, (goal - g.firstDataBlock) % g.blocksPerGroup, count);
    if (got) fs.bdev.mark_buffer_dirty(bitmap);
  }
  for (let i = 0; !got && i < g.groups; i++) {
    if (++group >= g.groups) group = 0;
    if (!fs.gdGet(group, 'bg_free_blocks_count')) continue;
    const bitmap = yield* read_block_bitmap(fs, group);
    if (!bitmap) return -EIO;
    got = ext2_try_to_allocate(fs, group, bitmap, -1, count);
    if (got) fs.bdev.mark_buffer_dirty(bitmap);
  }
  if (!got) return -ENOSPC;
  const block = got.start + groupFirstBlock(g, group);
  group_adjust_blocks(fs, group, -got.num);
  fs.freeBlocks -= got.num;
  inode.blocks += got.num * (fs.bs / 512);
  inode.dirty |= 1;   // dquot_alloc_block → mark_inode_dirty_sync
  if (fs.t.on) fs.t.rec(EV.new_blocks, 0, goal, block, got.num);
  return { block, count: got.num };
}

/** ext2_free_blocks: clear `count` bits from `block` (which may span groups), adjust the counts. */
export function* ext2_free_blocks(fs: Ext2Sb, inode: Ext2Inode, block: number, count: number): KCode {
  const g = fs.g;
  if (fs.t.on) fs.t.rec(EV.free_blocks, 0, block, count);
  while (count > 0) {
    const group = Math.floor((block - g.firstDataBlock) / g.blocksPerGroup);
    const bit = (block - g.firstDataBlock) % g.blocksPerGroup;
    const n = Math.min(count, g.blocksPerGroup - bit);
    const bitmap = yield* read_block_bitmap(fs, group);
    if (!bitmap) return;
    let freed = 0;
    for (let i = 0; i < n; i++) if (clearBit(fs.ram, bitmap.gpa, bit + i)) freed++;
    fs.bdev.mark_buffer_dirty(bitmap);
    group_adjust_blocks(fs, group, freed);
    fs.freeBlocks += freed;
    inode.blocks -= freed * (fs.bs / 512);
    block += n;
    count -= n;
  }
}
