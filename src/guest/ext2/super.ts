// fs/ext2/super.c: mounting (ext2_fill_super), writing the superblock (ext2_sync_super,
// ext2_sync_fs) and unmounting (ext2_put_super). Mounted as with `-o noreservation`: Linux's
// default reservation windows (an in-memory 8-block window per open file) are not modelled, so
// ext2_new_blocks allocates from the goal straight in the bitmap.

import { EXT2_ROOT_INO, EXT2_VALID_FS, SUPERBLOCK_SIZE, geometry, groupLastBlock, groupFirstBlock, S_ISDIR, superblockProblem } from '../../ext2/layout';
import type { KCode } from '../io';
import { EV, type Ext2Sb } from './ext2';
import { ext2_iget } from './inode';

/** BLOCK_SIZE: the buffer size a mount starts with (sb_min_blocksize), and where the superblock is. */
const BLOCK_SIZE = 1024;

/**
 * ext2_fill_super: read the superblock with 1 KiB buffers (block 1), switch to the file system's
 * block size and read it again when that differs (sb_set_blocksize → sb_bread of the block that
 * holds byte 1024), read the group descriptors (sb_bread each block), the root inode (ext2_iget),
 * then ext2_setup_super and ext2_write_super: the superblock goes back to the disk at once with
 * EXT2_VALID_FS cleared — a crash from now on leaves a file system marked "not clean".
 * Returns why the mount failed, or undefined.
 */
export function* ext2_fill_super(fs: Ext2Sb): KCode<string | undefined> {
  const bdev = fs.bdev;
  bdev.set_blocksize(BLOCK_SIZE);
  let bh = yield* bdev.bread(1);
  if (!bh) return 'unable to read superblock';
  let sb = fs.ram.bytes.subarray(bh.gpa, bh.gpa + SUPERBLOCK_SIZE);
  const why = superblockProblem(sb);
  if (why) return `can't find an ext2 filesystem: ${why}`;
  const g = geometry(sb);
  if (fs.t.on) fs.t.rec(EV.fill_super, 0, g.blockSize);
  let offset = 0;
  if (g.blockSize !== BLOCK_SIZE) {
    bdev.set_blocksize(g.blockSize);
    const logic = Math.floor(BLOCK_SIZE / g.blockSize);
    offset = BLOCK_SIZE % g.blockSize;
    bh = yield* bdev.bread(logic);
    if (!bh) return "couldn't read superblock on 2nd try";
    sb = fs.ram.bytes.subarray(bh.gpa + offset, bh.gpa + offset + SUPERBLOCK_SIZE);
    if (superblockProblem(sb)) return 'magic mismatch';
  }
  fs.g = geometry(sb);
  fs.sbh = bh;
  fs.esOff = offset;
  fs.mountState = fs.esU16('s_state');
  // descriptor_loc: the group descriptor blocks follow the superblock's block.
  const logicSb = Math.floor(BLOCK_SIZE / g.blockSize);
  for (let i = 0; i < fs.g.descBlocks; i++) {
    const d = yield* bdev.bread(logicSb + i + 1);
    if (!d) return 'unable to read group descriptors';
    fs.groupDesc.push(d);
  }
  // ext2_check_descriptors
  for (let i = 0; i < fs.g.groups; i++) {
    const first = groupFirstBlock(fs.g, i);
    const last = groupLastBlock(fs.g, i);
    const bb = fs.gdGet(i, 'bg_block_bitmap');
    const ib = fs.gdGet(i, 'bg_inode_bitmap');
    const it = fs.gdGet(i, 'bg_inode_table');
    if (bb < first || bb > last || ib < first || ib > last || it < first || it + fs.g.inodeTableBlocks - 1 > last) return 'group descriptors corrupted';
  }
  fs.debts = new Array<number>(fs.g.groups).fill(0);
  // The percpu counters start from the descriptors (ext2_count_free_blocks and friends).
  for (let i = 0; i < fs.g.groups; i++) {
    fs.freeBlocks += fs.gdGet(i, 'bg_free_blocks_count');
    fs.freeInodes += fs.gdGet(i, 'bg_free_inodes_count');
    fs.dirs += fs.gdGet(i, 'bg_used_dirs_count');
  }
  const root = yield* ext2_iget(fs, EXT2_ROOT_INO);
  if (!root || !S_ISDIR(root.mode) || !root.blocks || !root.size) return 'corrupt root inode, run e2fsck';
  fs.root = root;
  root.opens++;   // the dentry of the root holds it
  // ext2_setup_super: one more mount.
  fs.setEsU16('s_mnt_count', fs.esU16('s_mnt_count') + 1);
  if (!fs.esU16('s_max_mnt_count')) fs.setEsU16('s_max_mnt_count', 20);
  yield* ext2_sync_fs(fs, true);
  return undefined;
}

/** ext2_sync_super: the free counts and the write time into the superblock; written now with `wait`. */
export function* ext2_sync_super(fs: Ext2Sb, wait: boolean): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.sync_super, 0, wait ? 1 : 0);
  let fb = 0;
  let fi = 0;
  for (let i = 0; i < fs.g.groups; i++) { fb += fs.gdGet(i, 'bg_free_blocks_count'); fi += fs.gdGet(i, 'bg_free_inodes_count'); }
  fs.setEsU32('s_free_blocks_count', fb);
  fs.setEsU32('s_free_inodes_count', fi);
  fs.setEsU32('s_wtime', fs.now());
  fs.bdev.mark_buffer_dirty(fs.sbh);
  return wait ? yield* fs.bdev.sync_dirty_buffer(fs.sbh) : 0;
}

/** ext2_sync_fs: a mounted file system is not clean (EXT2_VALID_FS cleared), then ext2_sync_super. */
export function* ext2_sync_fs(fs: Ext2Sb, wait: boolean): KCode<number> {
  const st = fs.esU16('s_state');
  if (st & EXT2_VALID_FS) fs.setEsU16('s_state', st & ~EXT2_VALID_FS);
  return yield* ext2_sync_super(fs, wait);
}

/** ext2_put_super: the state the file system had when mounted goes back (clean, if it was). */
export function* ext2_put_super(fs: Ext2Sb): KCode<number> {
  fs.setEsU16('s_state', fs.mountState);
  return yield* ext2_sync_super(fs, true);
}
