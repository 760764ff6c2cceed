// The model's mkfs.ext2: what `mkfs.ext2 -b BS -I 128 -O ^resize_inode,^dir_index,^ext_attr IMAGE`
// writes (e2fsprogs' misc/mke2fs.c: ext2fs_initialize, ext2fs_allocate_tables, create_root_dir,
// create_lost_and_found, reserve_inodes), deterministically: a fixed UUID and the model's epoch as
// the time. Revision 1, features filetype, sparse_super and large_file. Blocks that stay zero (the
// inode tables, bar their first block) are not written: a fresh image is all zeros already.

import {
  EXT2_DYNAMIC_REV, EXT2_ERRORS_CONTINUE, EXT2_FEATURE_INCOMPAT_FILETYPE, EXT2_FEATURE_RO_COMPAT_LARGE_FILE,
  EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER, EXT2_FT_DIR, EXT2_GOOD_OLD_FIRST_INO, EXT2_ROOT_INO, EXT2_SUPER_MAGIC, EXT2_VALID_FS,
  S_IFDIR, SUPERBLOCK_OFFSET, blocksPerGroupFor, ext2_dir_entry_2, ext2_group_desc, ext2_inode, ext2_super_block, groupHasSuper, le,
} from './layout';

/** The time the model's clocks start from: 2013-12-01 00:00:00 UTC, the season of the talk. */
export const EXT2_EPOCH = 1385856000;
/** The inode size the model's mkfs chooses (mke2fs -I 128). */
export const MKFS_INODE_SIZE = 128;
/** lost+found's inode, as mke2fs allocates it first. */
export const LOST_AND_FOUND_INO = EXT2_GOOD_OLD_FIRST_INO;

export interface MkfsOptions { blockSize: 1024 | 4096 }

export interface MkfsResult {
  blocksCount: number; groups: number; inodesCount: number; inodesPerGroup: number;
  /** The first block no metadata and no directory occupies. */
  firstFreeBlock: number;
}

/**
 * Format `bytes` bytes through `write(offset, data)`. Throws a RangeError when the device is too
 * small for one block group's metadata (mke2fs refuses such a device too).
 */
export function mkfsExt2(bytes: number, write: (offset: number, data: Uint8Array) => void, opts: MkfsOptions): MkfsResult {
  const bs = opts.blockSize;
  const firstDataBlock = bs === 1024 ? 1 : 0;
  let blocksCount = Math.floor(bytes / bs);
  const bpg = blocksPerGroupFor(bs);
  // mke2fs.conf: "floppy" below 3 MiB, "small" below 512 MiB, the default above.
  const inodeRatio = bytes < 3 * 1024 * 1024 ? 8192 : bytes < 512 * 1024 * 1024 ? 4096 : 16384;
  const inodesPerBlock = bs / MKFS_INODE_SIZE;

  const layout = () => {
    const groups = Math.ceil((blocksCount - firstDataBlock) / bpg);
    const descBlocks = Math.ceil((groups * ext2_group_desc.sizeof) / bs);
    // ext2fs_initialize: inodes per group from the ratio, at most 8 × block size, a whole number of inode-table blocks.
    let ipg = Math.ceil(Math.ceil(bytes / inodeRatio) / groups);
    ipg = Math.min(ipg, bs * 8);
    const unit = Math.max(8, inodesPerBlock);
    ipg = Math.max(unit, Math.ceil(ipg / unit) * unit);
    if (ipg > bs * 8) ipg = Math.floor((bs * 8) / unit) * unit;
    return { groups, descBlocks, ipg, itb: (ipg * MKFS_INODE_SIZE) / bs };
  };
  let l = layout();
  // ext2fs_initialize drops a last group too small to hold its own metadata and 50 data blocks.
  const overheadOf = (g: number) => (groupHasSuper(g, true) ? 1 + l.descBlocks : 0) + 2 + l.itb;
  const rem = (blocksCount - firstDataBlock) % bpg;
  if (l.groups > 1 && rem !== 0 && rem < overheadOf(l.groups - 1) + 50) { blocksCount -= rem; l = layout(); }
  if (blocksCount - firstDataBlock < overheadOf(0) + 50) {
    throw new RangeError(`a ${bytes}-byte device is too small for ext2 with ${bs}-byte blocks`);
  }
  const { groups, descBlocks, ipg, itb } = l;
  const inodesCount = ipg * groups;
  const blk = (n: number) => n * bs;
  const first = (g: number) => firstDataBlock + g * bpg;
  const last = (g: number) => (g === groups - 1 ? blocksCount - 1 : first(g) + bpg - 1);

  // ext2fs_allocate_tables without flex_bg: each group's bitmaps and inode table follow its
  // superblock and descriptor copies (or start the group when it has none).
  const tables = [] as { bb: number; ib: number; it: number; used: number }[];
  for (let g = 0; g < groups; g++) {
    const start = first(g) + (groupHasSuper(g, true) ? 1 + descBlocks : 0);
    tables.push({ bb: start, ib: start + 1, it: start + 2, used: start + 2 + itb - first(g) });
  }
  // Directories: the root's one block, then lost+found's (mke2fs grows it to 16 KiB, within the 12 direct blocks).
  const rootBlock = tables[0]!.it + itb;
  const lpfBlocks = Math.min(12, Math.max(2, 16384 / bs));
  const lpfFirst = rootBlock + 1;
  const firstFree = lpfFirst + lpfBlocks;
  tables[0]!.used = firstFree - first(0);

  const T = EXT2_EPOCH;
  // Group descriptors.
  const gdt = new Uint8Array(descBlocks * bs);
  let freeBlocks = 0;
  for (let g = 0; g < groups; g++) {
    const t = tables[g]!;
    const o = g * ext2_group_desc.sizeof;
    const size = last(g) - first(g) + 1;
    const free = size - t.used;
    freeBlocks += free;
    le.set32(gdt, o + ext2_group_desc.bg_block_bitmap, t.bb);
    le.set32(gdt, o + ext2_group_desc.bg_inode_bitmap, t.ib);
    le.set32(gdt, o + ext2_group_desc.bg_inode_table, t.it);
    le.set16(gdt, o + ext2_group_desc.bg_free_blocks_count, free);
    le.set16(gdt, o + ext2_group_desc.bg_free_inodes_count, g === 0 ? ipg - LOST_AND_FOUND_INO : ipg);
    le.set16(gdt, o + ext2_group_desc.bg_used_dirs_count, g === 0 ? 2 : 0);
  }

  // The superblock (each backup the same but for s_block_group_nr).
  const S = ext2_super_block;
  const sb = new Uint8Array(S.sizeof);
  le.set32(sb, S.s_inodes_count, inodesCount);
  le.set32(sb, S.s_blocks_count, blocksCount);
  le.set32(sb, S.s_r_blocks_count, Math.floor(blocksCount * 0.05));
  le.set32(sb, S.s_free_blocks_count, freeBlocks);
  le.set32(sb, S.s_free_inodes_count, inodesCount - LOST_AND_FOUND_INO);
  le.set32(sb, S.s_first_data_block, firstDataBlock);
  le.set32(sb, S.s_log_block_size, bs === 1024 ? 0 : 2);
  le.set32(sb, S.s_log_frag_size, bs === 1024 ? 0 : 2);
  le.set32(sb, S.s_blocks_per_group, bpg);
  le.set32(sb, S.s_frags_per_group, bpg);
  le.set32(sb, S.s_inodes_per_group, ipg);
  le.set32(sb, S.s_wtime, T);
  le.set16(sb, S.s_max_mnt_count, 0xffff);
  le.set16(sb, S.s_magic, EXT2_SUPER_MAGIC);
  le.set16(sb, S.s_state, EXT2_VALID_FS);
  le.set16(sb, S.s_errors, EXT2_ERRORS_CONTINUE);
  le.set32(sb, S.s_lastcheck, T);
  le.set32(sb, S.s_rev_level, EXT2_DYNAMIC_REV);
  le.set32(sb, S.s_first_ino, EXT2_GOOD_OLD_FIRST_INO);
  le.set16(sb, S.s_inode_size, MKFS_INODE_SIZE);
  le.set32(sb, S.s_feature_incompat, EXT2_FEATURE_INCOMPAT_FILETYPE);
  le.set32(sb, S.s_feature_ro_compat, EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE);
  // A fixed, version-4-shaped UUID: the model's images are reproducible byte for byte.
  sb.set([0x65, 0x78, 0x69, 0x74, 0x70, 0x61, 0x74, 0x68, 0x45, 0x32, 0x46, 0x53, 0x00, 0x00, 0x00, 0x01], S.s_uuid);
  sb[S.s_uuid + 6] = (sb[S.s_uuid + 6]! & 0x0f) | 0x40;
  sb[S.s_uuid + 8] = (sb[S.s_uuid + 8]! & 0x3f) | 0x80;

  for (let g = 0; g < groups; g++) {
    if (!groupHasSuper(g, true)) continue;
    const copy = sb.slice();
    le.set16(copy, S.s_block_group_nr, g);
    // The primary is at byte 1024; a backup starts its group's first block.
    write(g === 0 ? SUPERBLOCK_OFFSET : blk(first(g)), copy);
    write(blk(first(g) + 1), gdt);
  }

  // Bitmaps: a group's used blocks, and the padding past the end of a short last group set, as
  // e2fsprogs writes them (write_bitmaps); the inode bitmap's bytes past inodes_per_group are 0xff.
  for (let g = 0; g < groups; g++) {
    const t = tables[g]!;
    const bb = new Uint8Array(bs);
    const setBit = (b: Uint8Array, i: number) => { b[i >> 3] = b[i >> 3]! | (1 << (i & 7)); };
    for (let i = 0; i < t.used; i++) setBit(bb, i);
    for (let i = last(g) - first(g) + 1; i < bs * 8; i++) setBit(bb, i);
    write(blk(t.bb), bb);
    const ib = new Uint8Array(bs);
    if (g === 0) for (let i = 0; i < LOST_AND_FOUND_INO; i++) setBit(ib, i);
    ib.fill(0xff, ipg / 8);
    write(blk(t.ib), ib);
  }

  // The first inode-table block of group 0 holds the root (inode 2) and lost+found (inode 11).
  const inodeBlockOf = (ino: number) => Math.floor(((ino - 1) * MKFS_INODE_SIZE) / bs);
  const itBlocks = new Map<number, Uint8Array>();
  const putDirInode = (ino: number, mode: number, links: number, blocks: number[]) => {
    const k = inodeBlockOf(ino);
    let b = itBlocks.get(k);
    if (!b) { b = new Uint8Array(bs); itBlocks.set(k, b); }
    const o = (((ino - 1) * MKFS_INODE_SIZE) % bs);
    const I = ext2_inode;
    le.set16(b, o + I.i_mode, mode);
    le.set32(b, o + I.i_size, blocks.length * bs);
    le.set32(b, o + I.i_atime, T); le.set32(b, o + I.i_ctime, T); le.set32(b, o + I.i_mtime, T);
    le.set16(b, o + I.i_links_count, links);
    le.set32(b, o + I.i_blocks, (blocks.length * bs) / 512);
    blocks.forEach((x, i) => le.set32(b, o + I.i_block + 4 * i, x));
  };
  const lpf = Array.from({ length: lpfBlocks }, (_, i) => lpfFirst + i);
  putDirInode(EXT2_ROOT_INO, S_IFDIR | 0o755, 3, [rootBlock]);
  putDirInode(LOST_AND_FOUND_INO, S_IFDIR | 0o700, 2, lpf);
  for (const [k, b] of itBlocks) write(blk(tables[0]!.it + k), b);

  // Directory blocks: ".", "..", and lost+found in the root; "." and ".." in lost+found's first block.
  const D = ext2_dir_entry_2;
  const dirent = (b: Uint8Array, o: number, ino: number, recLen: number, name: string) => {
    le.set32(b, o + D.inode, ino);
    le.set16(b, o + D.rec_len, recLen);
    b[o + D.name_len] = name.length;
    b[o + D.file_type] = EXT2_FT_DIR;
    for (let i = 0; i < name.length; i++) b[o + D.name + i] = name.charCodeAt(i);
  };
  const root = new Uint8Array(bs);
  dirent(root, 0, EXT2_ROOT_INO, 12, '.');
  dirent(root, 12, EXT2_ROOT_INO, 12, '..');
  dirent(root, 24, LOST_AND_FOUND_INO, bs - 24, 'lost+found');
  write(blk(rootBlock), root);
  const l0 = new Uint8Array(bs);
  dirent(l0, 0, LOST_AND_FOUND_INO, 12, '.');
  dirent(l0, 12, EXT2_ROOT_INO, bs - 12, '..');
  write(blk(lpf[0]!), l0);
  // The other blocks of lost+found: one empty entry spanning the block.
  const empty = new Uint8Array(bs);
  le.set16(empty, D.rec_len, bs);
  for (const b of lpf.slice(1)) write(blk(b), empty);
  return { blocksCount, groups, inodesCount, inodesPerGroup: ipg, firstFreeBlock: firstFree };
}
