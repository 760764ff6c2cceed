// The ext2 on-disk format, revision 1 (fs/ext2/ext2.h, include/linux/ext2_fs.h; e2fsprogs'
// lib/ext2fs/ext2_fs.h names the same fields). Everything is little-endian. The guest kernel's ext2,
// the model's mkfs and the image reader all go through these offsets; e2fsck is the judge of them.

export const EXT2_SUPER_MAGIC = 0xef53;
/** The primary superblock is always at byte 1024 of the device, whatever the block size. */
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;

export const EXT2_ROOT_INO = 2;
/** EXT2_GOOD_OLD_FIRST_INO: inodes 1–10 are reserved; mkfs gives 11 to lost+found. */
export const EXT2_GOOD_OLD_FIRST_INO = 11;
export const EXT2_GOOD_OLD_INODE_SIZE = 128;
export const EXT2_GOOD_OLD_REV = 0;
export const EXT2_DYNAMIC_REV = 1;

/** i_block[]: 12 direct pointers, then the indirect, double-indirect and triple-indirect ones. */
export const EXT2_NDIR_BLOCKS = 12;
export const EXT2_IND_BLOCK = 12;
export const EXT2_DIND_BLOCK = 13;
export const EXT2_TIND_BLOCK = 14;
export const EXT2_N_BLOCKS = 15;

/** s_state */
export const EXT2_VALID_FS = 0x0001;
export const EXT2_ERROR_FS = 0x0002;
/** s_errors: EXT2_ERRORS_CONTINUE */
export const EXT2_ERRORS_CONTINUE = 1;

// Feature flags (ext2.h).
export const EXT2_FEATURE_COMPAT_DIR_PREALLOC = 0x0001;
export const EXT2_FEATURE_COMPAT_IMAGIC_INODES = 0x0002;
export const EXT3_FEATURE_COMPAT_HAS_JOURNAL = 0x0004;
export const EXT2_FEATURE_COMPAT_EXT_ATTR = 0x0008;
export const EXT2_FEATURE_COMPAT_RESIZE_INO = 0x0010;
export const EXT2_FEATURE_COMPAT_DIR_INDEX = 0x0020;
export const EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER = 0x0001;
export const EXT2_FEATURE_RO_COMPAT_LARGE_FILE = 0x0002;
export const EXT2_FEATURE_RO_COMPAT_BTREE_DIR = 0x0004;
export const EXT2_FEATURE_INCOMPAT_COMPRESSION = 0x0001;
export const EXT2_FEATURE_INCOMPAT_FILETYPE = 0x0002;
export const EXT3_FEATURE_INCOMPAT_RECOVER = 0x0004;
export const EXT3_FEATURE_INCOMPAT_JOURNAL_DEV = 0x0008;
export const EXT2_FEATURE_INCOMPAT_META_BG = 0x0010;
/** What Linux's ext2 supports (EXT2_FEATURE_*_SUPP); the model leaves out META_BG (see guest/ext2/super.ts). */
export const EXT2_FEATURE_INCOMPAT_SUPP = EXT2_FEATURE_INCOMPAT_FILETYPE;
export const EXT2_FEATURE_RO_COMPAT_SUPP = EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE | EXT2_FEATURE_RO_COMPAT_BTREE_DIR;

/** struct ext2_super_block: field offsets within the 1024-byte superblock. */
export const ext2_super_block = {
  s_inodes_count: 0, s_blocks_count: 4, s_r_blocks_count: 8, s_free_blocks_count: 12, s_free_inodes_count: 16,
  s_first_data_block: 20, s_log_block_size: 24, s_log_frag_size: 28, s_blocks_per_group: 32, s_frags_per_group: 36,
  s_inodes_per_group: 40, s_mtime: 44, s_wtime: 48, s_mnt_count: 52 /* u16 */, s_max_mnt_count: 54 /* s16 */,
  s_magic: 56 /* u16 */, s_state: 58 /* u16 */, s_errors: 60 /* u16 */, s_minor_rev_level: 62 /* u16 */,
  s_lastcheck: 64, s_checkinterval: 68, s_creator_os: 72, s_rev_level: 76, s_def_resuid: 80 /* u16 */, s_def_resgid: 82 /* u16 */,
  s_first_ino: 84, s_inode_size: 88 /* u16 */, s_block_group_nr: 90 /* u16 */, s_feature_compat: 92, s_feature_incompat: 96,
  s_feature_ro_compat: 100, s_uuid: 104 /* u8[16] */, s_volume_name: 120 /* char[16] */, s_last_mounted: 136 /* char[64] */,
  s_algorithm_usage_bitmap: 200, s_prealloc_blocks: 204 /* u8 */, s_prealloc_dir_blocks: 205 /* u8 */,
  s_reserved_gdt_blocks: 206 /* u16, ext2's s_padding1 */, s_journal_uuid: 208, s_journal_inum: 224, s_journal_dev: 228,
  s_last_orphan: 232, s_hash_seed: 236 /* u32[4] */, s_def_hash_version: 252 /* u8 */, s_default_mount_opts: 256,
  s_first_meta_bg: 260,
  sizeof: 1024,
} as const;

/** struct ext2_group_desc: 32 bytes. */
export const ext2_group_desc = {
  bg_block_bitmap: 0, bg_inode_bitmap: 4, bg_inode_table: 8, bg_free_blocks_count: 12 /* u16 */,
  bg_free_inodes_count: 14 /* u16 */, bg_used_dirs_count: 16 /* u16 */, bg_flags: 18 /* u16, ext2's bg_pad */,
  sizeof: 32,
} as const;

/** struct ext2_inode: the 128 bytes of revision 0; larger inodes (s_inode_size) keep extra space after them. */
export const ext2_inode = {
  i_mode: 0 /* u16 */, i_uid: 2 /* u16 */, i_size: 4, i_atime: 8, i_ctime: 12, i_mtime: 16, i_dtime: 20,
  i_gid: 24 /* u16 */, i_links_count: 26 /* u16 */, i_blocks: 28, i_flags: 32, osd1: 36, i_block: 40 /* u32[15] */,
  i_generation: 100, i_file_acl: 104, i_dir_acl: 108 /* i_size_high for regular files */, i_faddr: 112,
  l_i_frag: 116 /* u8 */, l_i_fsize: 117 /* u8 */, i_pad1: 118 /* u16 */, l_i_uid_high: 120 /* u16 */,
  l_i_gid_high: 122 /* u16 */, l_i_reserved2: 124,
  sizeof: 128,
} as const;

/** struct ext2_dir_entry_2: inode, rec_len, name_len, file_type, then the name (not NUL-terminated). */
export const ext2_dir_entry_2 = { inode: 0, rec_len: 4 /* u16 */, name_len: 6 /* u8 */, file_type: 7 /* u8 */, name: 8 } as const;
export const EXT2_NAME_LEN = 255;
/** EXT2_DIR_REC_LEN: an entry's length, rounded up to 4 bytes. */
export const EXT2_DIR_REC_LEN = (nameLen: number): number => (nameLen + 8 + 3) & ~3;

/** File types in directory entries (EXT2_FT_*). */
export const EXT2_FT_UNKNOWN = 0;
export const EXT2_FT_REG_FILE = 1;
export const EXT2_FT_DIR = 2;

/** i_mode bits (include/uapi/linux/stat.h). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_ISREG = (m: number): boolean => (m & S_IFMT) === S_IFREG;
export const S_ISDIR = (m: number): boolean => (m & S_IFMT) === S_IFDIR;

/** EXT2_BLOCKS_PER_GROUP is 8 × the block size: one bitmap block per group. */
export const blocksPerGroupFor = (blockSize: number): number => 8 * blockSize;

/** ext2_group_sparse: does group g keep a copy of the superblock (0, 1, and powers of 3, 5 and 7)? */
export function groupHasSuper(g: number, sparse: boolean): boolean {
  if (!sparse || g <= 1) return true;
  if (!(g & 1)) return false;
  const powerOf = (n: number, b: number) => { while (n % b === 0) n /= b; return n === 1; };
  return powerOf(g, 3) || powerOf(g, 5) || powerOf(g, 7);
}

/** The geometry a superblock describes, read from its bytes. */
export interface Geometry {
  blockSize: number;
  blocksCount: number;
  inodesCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  groups: number;
  /** Blocks of group descriptors (the primary copy follows the superblock's block). */
  descBlocks: number;
  inodeTableBlocks: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  revLevel: number;
  firstIno: number;
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Why these 1024 bytes are not a superblock the model can use, or undefined when they are. */
export function superblockProblem(sb: Uint8Array): string | undefined {
  if (sb.length < SUPERBLOCK_SIZE || u16(sb, ext2_super_block.s_magic) !== EXT2_SUPER_MAGIC) {
    return `no ext2 superblock (the magic 0xef53 is not at byte ${SUPERBLOCK_OFFSET + ext2_super_block.s_magic})`;
  }
  const log = u32(sb, ext2_super_block.s_log_block_size);
  if (log > 2) return `block size ${1024 << Math.min(log, 20)} (the model's ext2 takes 1024, 2048 or 4096)`;
  const rev = u32(sb, ext2_super_block.s_rev_level);
  if (rev > EXT2_DYNAMIC_REV) return `revision ${rev} (ext2 knows 0 and 1)`;
  const incompat = u32(sb, ext2_super_block.s_feature_incompat);
  const ro = u32(sb, ext2_super_block.s_feature_ro_compat);
  const names: Record<number, string> = {
    [EXT2_FEATURE_INCOMPAT_COMPRESSION]: 'compression', [EXT3_FEATURE_INCOMPAT_RECOVER]: 'needs_recovery (a journal to replay)',
    [EXT3_FEATURE_INCOMPAT_JOURNAL_DEV]: 'journal_dev', [EXT2_FEATURE_INCOMPAT_META_BG]: 'meta_bg', 0x40: 'extent', 0x80: '64bit',
    0x200: 'flex_bg',
  };
  const bad = incompat & ~EXT2_FEATURE_INCOMPAT_SUPP;
  if (bad) {
    const list = Object.entries(names).filter(([b]) => bad & Number(b)).map(([, n]) => n);
    return `incompatible features ${list.length ? list.join(', ') : `0x${bad.toString(16)}`} (an ext3/ext4 image? format it with mkfs.ext2)`;
  }
  if (ro & ~EXT2_FEATURE_RO_COMPAT_SUPP) return `read-only-compatible features 0x${(ro & ~EXT2_FEATURE_RO_COMPAT_SUPP).toString(16)} ext2 cannot write (an ext4 image? format it with mkfs.ext2)`;
  const g = geometry(sb);
  if (g.blocksPerGroup === 0 || g.inodesPerGroup === 0 || g.groups === 0) return 'a superblock with no block groups';
  if (g.inodeSize < EXT2_GOOD_OLD_INODE_SIZE || g.inodeSize > g.blockSize || (g.inodeSize & (g.inodeSize - 1))) return `inode size ${g.inodeSize}`;
  return undefined;
}

export function geometry(sb: Uint8Array): Geometry {
  const S = ext2_super_block;
  const blockSize = 1024 << u32(sb, S.s_log_block_size);
  const blocksCount = u32(sb, S.s_blocks_count);
  const firstDataBlock = u32(sb, S.s_first_data_block);
  const blocksPerGroup = u32(sb, S.s_blocks_per_group);
  const inodesPerGroup = u32(sb, S.s_inodes_per_group);
  const revLevel = u32(sb, S.s_rev_level);
  const inodeSize = revLevel === EXT2_GOOD_OLD_REV ? EXT2_GOOD_OLD_INODE_SIZE : u16(sb, S.s_inode_size);
  const groups = blocksPerGroup ? Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup) : 0;
  return {
    blockSize, blocksCount, inodesCount: u32(sb, S.s_inodes_count), firstDataBlock, blocksPerGroup, inodesPerGroup, inodeSize,
    groups, descBlocks: Math.ceil((groups * ext2_group_desc.sizeof) / blockSize),
    inodeTableBlocks: inodeSize ? Math.ceil((inodesPerGroup * inodeSize) / blockSize) : 0,
    featureCompat: u32(sb, S.s_feature_compat), featureIncompat: u32(sb, S.s_feature_incompat),
    featureRoCompat: u32(sb, S.s_feature_ro_compat), revLevel,
    firstIno: revLevel === EXT2_GOOD_OLD_REV ? EXT2_GOOD_OLD_FIRST_INO : u32(sb, S.s_first_ino),
  };
}

/** ext2_group_first_block_no */
export const groupFirstBlock = (g: Geometry, group: number): number => g.firstDataBlock + group * g.blocksPerGroup;
/** ext2_group_last_block_no: the last group may be short. */
export const groupLastBlock = (g: Geometry, group: number): number =>
  group === g.groups - 1 ? g.blocksCount - 1 : groupFirstBlock(g, group) + g.blocksPerGroup - 1;

/** Little-endian accessors over a byte array (the buffers of the guest, the images of the tools). */
export const le = {
  u8: (b: Uint8Array, o: number): number => b[o]!,
  u16,
  u32,
  set8(b: Uint8Array, o: number, v: number): void { b[o] = v & 0xff; },
  set16(b: Uint8Array, o: number, v: number): void { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; },
  set32(b: Uint8Array, o: number, v: number): void { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff; },
};
