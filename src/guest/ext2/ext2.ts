// fs/ext2/ext2.h: the in-memory superblock (struct ext2_sb_info) and inode (struct inode with its
// ext2_inode_info), and the little accessors over guest RAM the rest of ext2 uses. The on-disk
// structures themselves stay in the buffers, in guest RAM, and are edited there byte by byte.

import { defineEvent, type Tracer } from '../../trace/events';
import { ext2_group_desc, ext2_super_block, type Geometry } from '../../ext2/layout';
import type { BlockLayer } from '../block';
import { fsNames, type FsNames } from '../fs_names';
import type { BlockDevice } from '../buffer';
import type { GuestRam, PageAllocator } from '../memory';
import { AddressSpace, type BufferHead } from '../page_cache';

/** Inode dirty state (include/linux/fs.h): I_DIRTY_SYNC (timestamps and the like), I_DIRTY_DATASYNC (what fdatasync needs: size, blocks). */
export const I_DIRTY_SYNC = 1;
export const I_DIRTY_DATASYNC = 2;
export const I_DIRTY_INODE = I_DIRTY_SYNC | I_DIRTY_DATASYNC;

/** struct inode + struct ext2_inode_info, as far as the model needs them. */
export interface Ext2Inode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  atime: number;
  ctime: number;
  mtime: number;
  /** ext2_inode_info */
  dtime: number;
  /** i_blocks, in 512-byte units. */
  blocks: number;
  flags: number;
  generation: number;
  fileAcl: number;
  dirAcl: number;
  faddr: number;
  /** i_data[15]: the block map's root. */
  data: number[];
  blockGroup: number;
  dirStartLookup: number;
  /** EXT2_STATE_NEW: not yet written; the first write zeroes the whole on-disk inode. */
  stateNew: boolean;
  /** I_DIRTY_* of the inode itself (dirty pages are the mapping's). */
  dirty: number;
  mapping: AddressSpace;
  /** ext2_block_alloc_info: the last allocation, the goal for the next (regular files). */
  allocInfo: { lastLogical: number; lastPhysical: number } | null;
  /** Open files and the like holding the inode (i_count beyond the dentry's). */
  opens: number;
  /** unlinked while open: evicted at the last close. */
  unlinked: boolean;
}

export const EV = {
  get_block: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_get_block', ['iblock', 'block', 'count', 'new']),
  new_blocks: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_new_blocks', ['goal', 'block', 'count']),
  free_blocks: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_free_blocks', ['block', 'count']),
  new_inode: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_new_inode', ['ino', 'group']),
  free_inode: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_free_inode', ['ino']),
  read_block_bitmap: defineEvent('call', 'guest kernel', 'guest kernel', 'read_block_bitmap', ['group']),
  read_inode_bitmap: defineEvent('call', 'guest kernel', 'guest kernel', 'read_inode_bitmap', ['group']),
  iget: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_iget', ['ino']),
  write_inode: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_write_inode', ['ino', 'sync']),
  lookup: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_lookup', ['dir', 'name:str']),
  add_link: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_add_link', ['dir', 'ino']),
  delete_entry: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_delete_entry', ['dir']),
  create: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_create', ['dir', 'name:str']),
  mkdir: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_mkdir', ['dir', 'name:str']),
  unlink: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_unlink', ['dir', 'name:str']),
  rename: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_rename', ['old_dir', 'new_dir']),
  truncate: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_truncate_blocks', ['ino']),
  evict: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_evict_inode', ['ino']),
  fsync: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_fsync', ['ino', 'datasync']),
  sync_super: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_sync_super', ['wait']),
  fill_super: defineEvent('call', 'guest kernel', 'guest kernel', 'ext2_fill_super', ['block_size']),
} as const;

/** struct ext2_sb_info with its superblock and group-descriptor buffers. */
export class Ext2Sb {
  readonly icache = new Map<number, Ext2Inode>();
  /** s_debts: how far each group's directories ran ahead of its files (find_group_orlov). */
  debts: number[] = [];
  /** The percpu counters. */
  freeBlocks = 0;
  freeInodes = 0;
  dirs = 0;
  /** s_next_generation (Linux seeds it with random bytes; the model with a constant). */
  nextGeneration = 0x2013;
  /** s_mount_state: the superblock's state when mounted, restored at unmount. */
  mountState = 0;
  root!: Ext2Inode;
  g!: Geometry;
  sbh!: BufferHead;
  /** Where the superblock starts in its buffer (1024 for 4 KiB blocks: block 0 begins with the boot sector). */
  esOff = 0;
  groupDesc: BufferHead[] = [];
  readOnly = false;

  /** The names of the VFS and page-cache functions along the walk, by the guest kernel's version. */
  readonly names: FsNames;

  constructor(readonly t: Tracer, readonly ram: GuestRam, readonly bdev: BlockDevice, readonly blk: BlockLayer,
    readonly pages: PageAllocator, readonly now: () => number, readonly pid: () => number) {
    this.names = fsNames(blk.kernel);
  }

  get bs(): number { return this.g.blockSize; }
  get bytes(): Uint8Array { return this.ram.bytes; }

  // es->s_*: the superblock in its buffer.
  private esAt(field: number): number { return this.sbh.gpa + this.esOff + field; }
  esU32(field: keyof typeof ext2_super_block): number { return this.ram.u32(this.esAt(ext2_super_block[field])); }
  esU16(field: keyof typeof ext2_super_block): number { return this.ram.u16(this.esAt(ext2_super_block[field])); }
  setEsU32(field: keyof typeof ext2_super_block, v: number): void { this.ram.setU32(this.esAt(ext2_super_block[field]), v); }
  setEsU16(field: keyof typeof ext2_super_block, v: number): void { this.ram.setU16(this.esAt(ext2_super_block[field]), v & 0xffff); }

  /** ext2_get_group_desc: the descriptor's address in its buffer, and the buffer. */
  gd(group: number): { gpa: number; bh: BufferHead } {
    const perBlock = this.bs / ext2_group_desc.sizeof;
    const bh = this.groupDesc[Math.floor(group / perBlock)]!;
    return { gpa: bh.gpa + (group % perBlock) * ext2_group_desc.sizeof, bh };
  }
  gdGet(group: number, field: keyof typeof ext2_group_desc): number {
    const { gpa } = this.gd(group);
    const o = ext2_group_desc[field];
    return field === 'bg_block_bitmap' || field === 'bg_inode_bitmap' || field === 'bg_inode_table' ? this.ram.u32(gpa + o) : this.ram.u16(gpa + o);
  }
  gdAdd(group: number, field: 'bg_free_blocks_count' | 'bg_free_inodes_count' | 'bg_used_dirs_count', delta: number): void {
    const { gpa } = this.gd(group);
    const o = gpa + ext2_group_desc[field];
    this.ram.setU16(o, (this.ram.u16(o) + delta) & 0xffff);
  }

  newMapping(): AddressSpace { return new AddressSpace(this.bs); }
}

// Bit operations on a bitmap in guest RAM (ext2_set_bit_atomic, ext2_test_bit, ext2_find_next_zero_bit).
export function testBit(ram: GuestRam, base: number, i: number): boolean { return (ram.bytes[base + (i >> 3)]! & (1 << (i & 7))) !== 0; }
/** Sets the bit; returns whether it was already set. */
export function setBit(ram: GuestRam, base: number, i: number): boolean {
  const a = base + (i >> 3);
  const m = 1 << (i & 7);
  const was = (ram.bytes[a]! & m) !== 0;
  ram.bytes[a] = ram.bytes[a]! | m;
  return was;
}
/** Clears the bit; returns whether it was set. */
export function clearBit(ram: GuestRam, base: number, i: number): boolean {
  const a = base + (i >> 3);
  const m = 1 << (i & 7);
  const was = (ram.bytes[a]! & m) !== 0;
  ram.bytes[a] = ram.bytes[a]! & ~m;
  return was;
}
export function findNextZeroBit(ram: GuestRam, base: number, size: number, from: number): number {
  const b = ram.bytes;
  let i = Math.max(0, from);
  while (i < size) {
    if ((i & 7) === 0 && b[base + (i >> 3)] === 0xff && i + 8 <= size) { i += 8; continue; }
    if (!(b[base + (i >> 3)]! & (1 << (i & 7)))) return i;
    i++;
  }
  return size;
}
