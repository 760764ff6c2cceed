// A read-only ext2 reader for images, as `debugfs -R "cat PATH"` reads them: superblock, group
// descriptors, inodes, the block map (direct, indirect, double- and triple-indirect), directories.
// The tests, the crash checker and the command line use it on images the guest wrote; it never
// throws on what a crash may leave (a pointer past the end reads as a hole, a damaged directory
// ends the listing).

import {
  EXT2_DIND_BLOCK, EXT2_IND_BLOCK, EXT2_NDIR_BLOCKS, EXT2_ROOT_INO, EXT2_TIND_BLOCK, S_ISDIR, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE,
  ext2_dir_entry_2, ext2_group_desc, ext2_inode, geometry, le, superblockProblem, type Geometry,
} from './layout';

export interface ImageInode {
  ino: number; mode: number; size: number; links: number; dtime: number; blocks512: number; block: number[];
  /** The raw bytes of the inode (its first 128). */
  raw: Uint8Array;
}

export interface DirEntry { ino: number; name: string; fileType: number }

export class Ext2Image {
  readonly g: Geometry;
  private readonly gdt: Uint8Array;

  constructor(private readonly read: (offset: number, len: number) => Uint8Array) {
    const sb = read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
    const why = superblockProblem(sb);
    if (why) throw new Error(`not an ext2 image: ${why}`);
    this.g = geometry(sb);
    this.gdt = read((this.g.firstDataBlock + 1) * this.g.blockSize, this.g.descBlocks * this.g.blockSize);
  }

  block(n: number): Uint8Array { return this.read(n * this.g.blockSize, this.g.blockSize); }

  /** An indirect block, remembered: reading a file walks the same ones again and again. */
  private ptrCache = new Map<number, Uint8Array>();
  private ptrBlock(n: number): Uint8Array {
    let b = this.ptrCache.get(n);
    if (!b) {
      if (this.ptrCache.size >= 64) this.ptrCache.clear();
      b = this.block(n);
      this.ptrCache.set(n, b);
    }
    return b;
  }

  /** A group descriptor's fields. */
  group(i: number): { blockBitmap: number; inodeBitmap: number; inodeTable: number; freeBlocks: number; freeInodes: number; usedDirs: number } {
    const o = i * ext2_group_desc.sizeof;
    const D = ext2_group_desc;
    return {
      blockBitmap: le.u32(this.gdt, o + D.bg_block_bitmap), inodeBitmap: le.u32(this.gdt, o + D.bg_inode_bitmap),
      inodeTable: le.u32(this.gdt, o + D.bg_inode_table), freeBlocks: le.u16(this.gdt, o + D.bg_free_blocks_count),
      freeInodes: le.u16(this.gdt, o + D.bg_free_inodes_count), usedDirs: le.u16(this.gdt, o + D.bg_used_dirs_count),
    };
  }

  inode(ino: number): ImageInode | undefined {
    const g = this.g;
    if (ino < 1 || ino > g.inodesCount) return undefined;
    const grp = Math.floor((ino - 1) / g.inodesPerGroup);
    const idx = (ino - 1) % g.inodesPerGroup;
    const it = this.group(grp).inodeTable;
    if (it === 0 || it >= g.blocksCount) return undefined;
    const raw = this.read(it * g.blockSize + idx * g.inodeSize, ext2_inode.sizeof);
    const I = ext2_inode;
    return {
      ino, mode: le.u16(raw, I.i_mode), size: le.u32(raw, I.i_size) + le.u32(raw, I.i_dir_acl) * 2 ** 32 * (S_ISDIR(le.u16(raw, I.i_mode)) ? 0 : 1),
      links: le.u16(raw, I.i_links_count), dtime: le.u32(raw, I.i_dtime), blocks512: le.u32(raw, I.i_blocks),
      block: Array.from({ length: 15 }, (_, i) => le.u32(raw, I.i_block + 4 * i)), raw,
    };
  }

  /** The disk block behind file block `i` (0 for a hole or a pointer out of range). */
  bmap(ino: ImageInode, i: number): number {
    const ptrs = this.g.blockSize / 4;
    const ok = (b: number) => b > 0 && b < this.g.blocksCount;
    const via = (blk: number, idx: number) => (ok(blk) ? le.u32(this.ptrBlock(blk), 4 * idx) : 0);
    if (i < EXT2_NDIR_BLOCKS) return ok(ino.block[i]!) ? ino.block[i]! : 0;
    i -= EXT2_NDIR_BLOCKS;
    let b: number;
    if (i < ptrs) b = via(ino.block[EXT2_IND_BLOCK]!, i);
    else if ((i -= ptrs) < ptrs * ptrs) b = via(via(ino.block[EXT2_DIND_BLOCK]!, Math.floor(i / ptrs)), i % ptrs);
    else {
      i -= ptrs * ptrs;
      b = via(via(via(ino.block[EXT2_TIND_BLOCK]!, Math.floor(i / (ptrs * ptrs))), Math.floor(i / ptrs) % ptrs), i % ptrs);
    }
    return ok(b) ? b : 0;
  }

  /** `len` bytes of a file from `pos` (holes and what lies past a damaged map read as zeros). */
  readFile(ino: ImageInode, pos = 0, len = ino.size - pos): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(len, ino.size - pos)));
    const bs = this.g.blockSize;
    for (let done = 0; done < out.length;) {
      const p = pos + done;
      const off = p % bs;
      const first = Math.floor(p / bs);
      const b = this.bmap(ino, first);
      // A run of blocks contiguous on the disk is read at once.
      let run = 1;
      const maxRun = Math.ceil((off + out.length - done) / bs);
      while (b && run < maxRun && run < 256 && this.bmap(ino, first + run) === b + run) run++;
      const n = Math.min(run * bs - off, out.length - done);
      if (b) out.set(this.read(b * bs + off, n), done);
      done += n;
    }
    return out;
  }

  /** A directory's live entries, block by block; a malformed entry ends its block. */
  list(dir: ImageInode): DirEntry[] {
    const out: DirEntry[] = [];
    const bs = this.g.blockSize;
    const D = ext2_dir_entry_2;
    for (let i = 0; i * bs < dir.size; i++) {
      const b = this.bmap(dir, i);
      if (!b) continue;
      const data = this.block(b);
      for (let o = 0; o + 8 <= bs;) {
        const rec = le.u16(data, o + D.rec_len);
        const nameLen = data[o + D.name_len]!;
        if (rec < 8 || rec % 4 || o + rec > bs || nameLen + 8 > rec) break;
        const ino = le.u32(data, o + D.inode);
        if (ino) out.push({ ino, name: String.fromCharCode(...data.subarray(o + D.name, o + D.name + nameLen)), fileType: data[o + D.file_type]! });
        o += rec;
      }
    }
    return out;
  }

  /** The inode a path names, following directories from the root. */
  lookup(path: string): ImageInode | undefined {
    let cur = this.inode(EXT2_ROOT_INO);
    for (const part of path.split('/').filter(Boolean)) {
      if (!cur || !S_ISDIR(cur.mode)) return undefined;
      const e = this.list(cur).find((x) => x.name === part);
      cur = e ? this.inode(e.ino) : undefined;
    }
    return cur;
  }

  /** `cat PATH`: the file's bytes, or undefined when the path does not name a file. */
  cat(path: string): Uint8Array | undefined {
    const i = this.lookup(path);
    return i ? this.readFile(i) : undefined;
  }
}
