// The guest's page cache (mm/filemap.c): each file, directory and the block device itself has an
// address_space of 4 KiB pages of guest RAM. A page is split into buffers (buffer_heads,
// fs/buffer.c) of the file system's block size — one for 4 KiB blocks, four for 1 KiB ones — each
// knowing the disk block behind it and whether it is up to date and dirty.

export const PAGE_SIZE = 4096;
/** No pages: what a mapping without cached pages has dirty. */
const NO_PAGES: readonly never[] = [];

/** struct buffer_head, reduced. `blocknr` is meaningful once `mapped`. */
export interface BufferHead {
  blocknr: number;
  size: number;
  /** b_data: where the buffer's bytes are in guest RAM. */
  gpa: number;
  mapped: boolean;
  uptodate: boolean;
  dirty: boolean;
  /** BH_New: freshly allocated by get_block; its old contents on disk mean nothing. */
  isNew: boolean;
  /** b_assoc_map: the inode whose fsync must write this metadata buffer (mark_buffer_dirty_inode). */
  assoc: AddressSpace | null;
  page: Page;
}

export interface Page {
  index: number;
  gpa: number;
  uptodate: boolean;
  /** PG_dirty */
  dirty: boolean;
  /** The page's buffers, in order (attached when the page is created). */
  bufs: BufferHead[];
}

export class AddressSpace {
  readonly pages = new Map<number, Page>();
  /** mapping->private_list: dirty metadata buffers associated with this inode. */
  readonly assoc = new Set<BufferHead>();
  constructor(readonly blockSize: number) {}

  find(index: number): Page | undefined { return this.pages.get(index); }

  /** A new page at `index` of guest RAM `gpa`, with its buffers (create_empty_buffers), none mapped. */
  add(index: number, gpa: number): Page {
    const p: Page = { index, gpa, uptodate: false, dirty: false, bufs: [] };
    for (let off = 0; off < PAGE_SIZE; off += this.blockSize) {
      p.bufs.push({ blocknr: 0, size: this.blockSize, gpa: gpa + off, mapped: false, uptodate: false, dirty: false, isNew: false, assoc: null, page: p });
    }
    this.pages.set(index, p);
    return p;
  }

  delete(index: number): Page | undefined {
    const p = this.pages.get(index);
    this.pages.delete(index);
    return p;
  }

  /** Dirty pages with first ≤ index ≤ last, in index order (what write_cache_pages walks). */
  dirtyPages(first = 0, last = Number.MAX_SAFE_INTEGER): readonly Page[] {
    if (this.pages.size === 0) return NO_PAGES;
    const out: Page[] = [];
    for (const p of this.pages.values()) if (p.dirty && p.index >= first && p.index <= last) out.push(p);
    return out.sort((a, b) => a.index - b.index);
  }

  get hasDirty(): boolean { for (const p of this.pages.values()) if (p.dirty) return true; return false; }
}
