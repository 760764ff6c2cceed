// The guest's page cache, reduced to what buffered I/O needs (mm/filemap.c, mm/page-writeback.c):
// a 4 KiB page of guest RAM per cached file block, dirty until written back. A buffered write
// only copies into it (no I/O, so no exit); fsync writes the dirty pages back, then flushes.

import type { Inode } from './fs';

export interface CachedPage { gpa: number; dirty: boolean }

export class PageCache {
  private readonly pages = new Map<Inode, Map<number, CachedPage>>();

  find(ino: Inode, index: number): CachedPage | undefined { return this.pages.get(ino)?.get(index); }

  add(ino: Inode, index: number, gpa: number): CachedPage {
    let m = this.pages.get(ino);
    if (!m) { m = new Map(); this.pages.set(ino, m); }
    const p = { gpa, dirty: false };
    m.set(index, p);
    return p;
  }

  /** Dirty pages of a file in index order (what filemap_write_and_wait_range walks). */
  dirty(ino: Inode): [number, CachedPage][] {
    return [...(this.pages.get(ino) ?? new Map<number, CachedPage>())].filter(([, p]) => p.dirty).sort((a, b) => a[0] - b[0]);
  }

  /** Drop a page (an O_DIRECT write invalidates the cached copy of what it overwrites). */
  invalidate(ino: Inode, index: number): CachedPage | undefined {
    const m = this.pages.get(ino);
    const p = m?.get(index);
    m?.delete(index);
    return p;
  }
}
