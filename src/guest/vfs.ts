// The VFS between the syscalls and ext2 (fs/open.c, fs/namei.c, fs/read_write.c, fs/sync.c,
// fs/libfs.c, fs/fs-writeback.c, mm/filemap.c): path walk, open with its flags, read and write
// (6.1: ext2_file_read_iter / ext2_file_write_iter → generic_file_*_iter; 3.2: do_sync_read /
// do_sync_write → generic_file_aio_*), fsync (ext2_fsync → generic_file_fsync), sync(2), unmount,
// and drop_caches. One mounted ext2, the root file system. The names each kernel gives the layers
// are in fs_names.ts; where 3.2 does something else (fsync sends no cache flush), it says so below.

import { defineEvent, type Tracer } from '../trace/events';
import { S_ISDIR, S_ISREG } from '../ext2/layout';
import { newBio, type BlockLayer } from './block';
import { BlockDevice } from './buffer';
import { blockdev_direct_IO } from './direct_io';
import { EV, Ext2Sb, I_DIRTY_DATASYNC, I_DIRTY_INODE, I_DIRTY_SYNC, type Ext2Inode } from './ext2/ext2';
import { __ext2_write_inode, ext2_truncate_blocks } from './ext2/inode';
import { ext2_create, ext2_lookup, ext2_mkdir, ext2_rename, ext2_unlink, iput_final } from './ext2/namei';
import { ext2_fill_super, ext2_put_super, ext2_sync_fs } from './ext2/super';
import { file_write_and_wait_range, generic_perform_write, grab_cache_page, invalidate_pages, readPages, writepages } from './filemap';
import type { KCode } from './io';
import type { GuestRam, PageAllocator } from './memory';
import { PAGE_SIZE, type Page } from './page_cache';

// open(2) flags (include/uapi/asm-generic/fcntl.h).
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_DIRECTORY = 0o200000;
export const __O_SYNC = 0o4000000;
export const O_SYNC = __O_SYNC | O_DSYNC;

const ENOENT = 2;
const EIO = 5;
const EBADF = 9;
const EEXIST = 17;
const ENOTDIR = 20;
const EISDIR = 21;
const EINVAL = 22;
const ENAMETOOLONG = 36;
const EBUSY = 16;

const EV_GENERIC_FSYNC = defineEvent('call', 'guest kernel', 'guest kernel', 'generic_file_fsync', ['start', 'end', 'datasync']);
const EV_WRITE_SYNC = defineEvent('call', 'guest kernel', 'guest kernel', 'generic_write_sync', ['start', 'end', 'datasync']);
const EV_FLUSH = defineEvent('call', 'guest kernel', 'guest kernel', 'blkdev_issue_flush', []);
const EV_SYNC_INODE = defineEvent('call', 'guest kernel', 'guest kernel', 'sync_inode_metadata', ['ino']);
const EV_WRITEBACK_SB = defineEvent('call', 'guest kernel', 'guest kernel', 'writeback_inodes_sb', ['inodes', 'sync']);
const EV_DROP_CACHES = defineEvent('call', 'guest kernel', 'guest kernel', 'drop_caches_sysctl_handler', ['pages']);

/** struct file: the inode, the position, the flags it was opened with. */
export interface OpenFile { inode: Ext2Inode; pos: number; flags: number }

export class Vfs {
  fs: Ext2Sb | undefined;
  readonly bdev: BlockDevice;
  /** ZERO_PAGE(0) */
  private zeroPage = 0;
  /** Why the root file system could not be mounted, if it could not. */
  mountError: string | undefined;

  constructor(private readonly t: Tracer, private readonly ram: GuestRam, private readonly pages: PageAllocator,
    readonly blk: BlockLayer, private readonly now: () => number, private readonly pid: () => number,
    /** The device's volatile write cache (VIRTIO_BLK_F_FLUSH): whether a flush means anything. */
    private readonly writeCache: () => boolean) {
    this.bdev = new BlockDevice(t, ram, pages, blk);
  }

  /** mount -t ext2 -o noreservation /dev/vda /: ext2_fill_super. */
  *mount(): KCode<string | undefined> {
    this.zeroPage = this.pages.alloc(1);
    this.ram.bytes.fill(0, this.zeroPage, this.zeroPage + PAGE_SIZE);
    const fs = new Ext2Sb(this.t, this.ram, this.bdev, this.blk, this.pages, this.now, this.pid);
    const err = yield* ext2_fill_super(fs);
    if (err) { this.mountError = err; return err; }
    this.fs = fs;
    return undefined;
  }

  private get sb(): Ext2Sb {
    if (!this.fs) throw new Error(`the guest has no file system mounted (${this.mountError ?? 'not mounted'})`);
    return this.fs;
  }

  /** Path walk (link_path_walk): the parent directory of the last component, and the component. */
  private *walk(path: string): KCode<{ dir: Ext2Inode; name: string } | number> {
    if (!path.startsWith('/')) return -ENOENT;
    const parts = path.split('/').filter((p) => p.length > 0);
    const fs = this.sb;
    let dir = fs.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      if (part.length > 255) return -ENAMETOOLONG;
      if (part === '.') continue;
      const next = yield* this.lookupOne(dir, part);
      if (typeof next === 'number') return next;
      if (!next) return -ENOENT;
      if (!S_ISDIR(next.mode)) return -ENOTDIR;
      dir = next;
    }
    const name = parts[parts.length - 1] ?? '.';
    if (name.length > 255) return -ENAMETOOLONG;
    return { dir, name };
  }

  private *lookupOne(dir: Ext2Inode, name: string): KCode<Ext2Inode | null | number> {
    if (name === '.') return dir;
    return yield* ext2_lookup(this.sb, dir, name);
  }

  /** do_sys_openat2 → path_openat: look the name up, create it (O_CREAT), truncate it (O_TRUNC). */
  *open(path: string, flags: number, mode = 0o644): KCode<OpenFile | number> {
    const w = yield* this.walk(path);
    if (typeof w === 'number') return w;
    let inode = yield* this.lookupOne(w.dir, w.name);
    if (typeof inode === 'number') return inode;
    if (inode && (flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;
    if (!inode) {
      if (!(flags & O_CREAT)) return -ENOENT;
      const created = yield* ext2_create(this.sb, w.dir, w.name, mode);
      if (typeof created === 'number') return created;
      inode = created;
    }
    if (S_ISDIR(inode.mode) && (flags & O_ACCMODE) !== O_RDONLY) return -EISDIR;
    if ((flags & O_DIRECTORY) && !S_ISDIR(inode.mode)) return -ENOTDIR;
    inode.opens++;
    if ((flags & O_TRUNC) && S_ISREG(inode.mode) && (flags & O_ACCMODE) !== O_RDONLY) {
      // handle_truncate → do_truncate → ext2_setattr → ext2_setsize(0) (with ATTR_MTIME|ATTR_CTIME).
      if (inode.size !== 0) {
        inode.size = 0;
        yield* ext2_truncate_blocks(this.sb, inode);
      }
      const now = this.now();
      inode.mtime = inode.ctime = now;
      inode.dirty |= I_DIRTY_INODE;
    }
    return { inode, pos: 0, flags };
  }

  *close(f: OpenFile): KCode {
    f.inode.opens--;
    if (f.inode.unlinked && f.inode.opens === 0) yield* iput_final(this.sb, f.inode);
  }

  /** file_update_time: mtime and ctime to now if they differ (mark_inode_dirty_sync). */
  private file_update_time(inode: Ext2Inode): void {
    const now = this.now();
    if (inode.mtime !== now || inode.ctime !== now) { inode.mtime = inode.ctime = now; inode.dirty |= I_DIRTY_SYNC; }
  }

  /**
   * ext2_file_write_iter → generic_file_write_iter (3.2: do_sync_write → generic_file_aio_write):
   * O_APPEND moves to the end; O_DIRECT goes to the device (falling back to the page cache at a
   * hole), otherwise generic_perform_write; then generic_write_sync for O_SYNC / O_DSYNC.
   */
  *write(f: OpenFile, buf: number, count: number): KCode<number> {
    const fs = this.sb;
    const inode = f.inode;
    if ((f.flags & O_ACCMODE) === O_RDONLY) return -EBADF;
    if (count === 0) return 0;
    if (f.flags & O_APPEND) f.pos = inode.size;
    const pos = f.pos;
    if (this.t.on) for (const ev of fs.names.write) this.t.rec(ev, 0, pos, count);
    this.file_update_time(inode);
    let written: number;
    if (f.flags & O_DIRECT) {
      // generic_file_direct_write: cached pages of the range written back and dropped first.
      const first = Math.floor(pos / PAGE_SIZE);
      const last = Math.floor((pos + count - 1) / PAGE_SIZE);
      const e = yield* file_write_and_wait_range(fs, inode, pos, pos + count - 1);
      if (e) return e;
      invalidate_pages(fs, inode, first, last);
      written = yield* blockdev_direct_IO(fs, inode, true, pos, buf, count, this.zeroPage);
      if (written < 0) return written;
      if (pos + written > inode.size) { inode.size = pos + written; inode.dirty |= I_DIRTY_INODE; }
      if (written < count) {
        // A hole inside i_size: the rest through the page cache, written back and dropped.
        const p2 = pos + written;
        const status = yield* this.buffered_write(inode, p2, buf + written, count - written);
        if (status > 0) {
          const e2 = yield* file_write_and_wait_range(fs, inode, p2, p2 + status - 1);
          if (!e2) { written += status; invalidate_pages(fs, inode, Math.floor(p2 / PAGE_SIZE), Math.floor((p2 + status - 1) / PAGE_SIZE)); }
        } else if (written === 0) return status;
      }
    } else {
      written = yield* this.buffered_write(inode, pos, buf, count);
      if (written < 0) return written;
    }
    f.pos = pos + written;
    // generic_write_sync
    if (written > 0 && (f.flags & O_DSYNC)) {
      const datasync = !(f.flags & __O_SYNC);
      if (this.t.on) this.t.rec(EV_WRITE_SYNC, 0, pos, pos + written - 1, datasync ? 1 : 0);
      const e = yield* this.fsync_range(inode, pos, pos + written - 1, datasync);
      if (e) return e;
    }
    return written;
  }

  /** The page-cache write: generic_perform_write (3.2: from generic_file_buffered_write). */
  private *buffered_write(inode: Ext2Inode, pos: number, buf: number, count: number): KCode<number> {
    const fs = this.sb;
    if (this.t.on && fs.names.bufferedWrite) this.t.rec(fs.names.bufferedWrite, 0, pos, count);
    return yield* generic_perform_write(fs, inode, pos, buf, count);
  }

  /** ext2_file_read_iter → generic_file_read_iter (3.2: do_sync_read → generic_file_aio_read): O_DIRECT to the device, else filemap_read. */
  *read(f: OpenFile, buf: number, count: number): KCode<number> {
    const fs = this.sb;
    const inode = f.inode;
    if ((f.flags & O_ACCMODE) === O_WRONLY) return -EBADF;
    if (S_ISDIR(inode.mode)) return -EISDIR;
    if (this.t.on) for (const ev of fs.names.read) this.t.rec(ev, 0, f.pos, count);
    if (count === 0) return 0;
    let done = 0;
    if (f.flags & O_DIRECT) {
      const e = yield* file_write_and_wait_range(fs, inode, f.pos, f.pos + count - 1);
      if (e) return e;
      this.touch_atime(inode);
      const n = yield* blockdev_direct_IO(fs, inode, false, f.pos, buf, count, this.zeroPage);
      if (n < 0) return n;
      f.pos += n;
      done = n;
      if (n === count || f.pos >= inode.size) return n;
    }
    const n = yield* this.filemap_read(inode, f.pos, buf + done, count - done);
    if (n < 0) return done > 0 ? done : n;
    f.pos += n;
    return done + n;
  }

  /** filemap_read: missing pages read (together, as readahead would), then copied out; atime (relatime). */
  private *filemap_read(inode: Ext2Inode, pos: number, buf: number, count: number): KCode<number> {
    const fs = this.sb;
    const len = Math.max(0, Math.min(count, inode.size - pos));
    if (len === 0) return 0;
    const first = Math.floor(pos / PAGE_SIZE);
    const last = Math.floor((pos + len - 1) / PAGE_SIZE);
    const toRead: Page[] = [];
    for (let i = first; i <= last; i++) {
      const p = inode.mapping.find(i);
      if (!p || !p.uptodate) toRead.push(grab_cache_page(fs, inode, i));
    }
    if (toRead.length > 0) {
      const err = yield* readPages(fs, inode, toRead);
      if (err) return err;
    }
    for (let done = 0; done < len;) {
      const p = pos + done;
      const page = inode.mapping.find(Math.floor(p / PAGE_SIZE))!;
      const off = p % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - done);
      this.ram.bytes.copyWithin(buf + done, page.gpa + off, page.gpa + off + n);
      done += n;
    }
    this.touch_atime(inode);
    return len;
  }

  /** touch_atime with relatime: only when atime is not newer than mtime/ctime, and not to the same second. */
  private touch_atime(inode: Ext2Inode): void {
    const now = this.now();
    if (inode.atime > inode.mtime && inode.atime > inode.ctime && now - inode.atime < 24 * 3600) return;
    if (inode.atime === now) return;
    inode.atime = now;
    inode.dirty |= I_DIRTY_SYNC;
  }

  /**
   * vfs_fsync_range → ext2_fsync → generic_file_fsync: the range's dirty pages written and waited
   * for (file_write_and_wait_range), the inode's metadata buffers (sync_mapping_buffers), the
   * inode itself if it is dirty — for fdatasync only if what changed matters to the data
   * (I_DIRTY_DATASYNC) — with sync_inode_metadata, then blkdev_issue_flush. Linux 3.2's
   * generic_file_fsync (fs/libfs.c) ends after the inode: it sends no flush (the flush came with
   * 3.16), so on a drive with a volatile write cache an fsync'ed file may still be only in that cache.
   */
  *fsync_range(inode: Ext2Inode, start: number, end: number, datasync: boolean): KCode<number> {
    const fs = this.sb;
    if (this.t.on) {
      this.t.rec(EV.fsync, 0, inode.ino, datasync ? 1 : 0);
      this.t.rec(EV_GENERIC_FSYNC, 0, start, end, datasync ? 1 : 0);
    }
    let err = yield* file_write_and_wait_range(fs, inode, start, end);
    if (err) return err;
    let ret = yield* fs.bdev.sync_mapping_buffers(inode.mapping);
    if (inode.dirty && !(datasync && !(inode.dirty & I_DIRTY_DATASYNC))) {
      err = yield* this.sync_inode_metadata(inode);
      if (!ret) ret = err;
    }
    if (ret) return -EIO;
    if (this.blk.kernel === '3.2') return 0;
    return yield* this.blkdev_issue_flush();
  }

  *fsync(f: OpenFile, datasync: boolean): KCode<number> {
    return yield* this.fsync_range(f.inode, 0, Number.MAX_SAFE_INTEGER, datasync);
  }

  /** sync_inode_metadata(inode, 1) → writeback_single_inode → ext2_write_inode with WB_SYNC_ALL. */
  private *sync_inode_metadata(inode: Ext2Inode): KCode<number> {
    if (this.t.on) this.t.rec(EV_SYNC_INODE, 0, inode.ino);
    inode.dirty = 0;
    return yield* __ext2_write_inode(this.sb, inode, true);
  }

  /** blkdev_issue_flush: an empty REQ_PREFLUSH bio; a queue without a write cache completes it at once. */
  private *blkdev_issue_flush(): KCode<number> {
    if (!this.writeCache()) return 0;
    if (this.t.on) this.t.rec(EV_FLUSH, 0);
    const err = yield* this.blk.submit_bio_wait(newBio('flush', 0));
    return err ? -EIO : 0;
  }

  /**
   * Write back every dirty inode of the file system (writeback_sb_inodes → __writeback_single_inode):
   * its pages are submitted (not waited for: sync(2) waits for them all at the end, wait_sb_inodes),
   * then the inode — with `sync` (WB_SYNC_ALL) each inode's block is written at once
   * (ext2_write_inode → sync_dirty_buffer), without it only copied into its buffer. In inode-number
   * order (Linux: the order they were first dirtied).
   */
  private *writeback_inodes(sync: boolean): KCode<number> {
    const fs = this.sb;
    const inodes = [...fs.icache.values()].filter((i) => i.dirty || i.mapping.hasDirty).sort((a, b) => a.ino - b.ino);
    if (this.t.on) this.t.rec(EV_WRITEBACK_SB, 0, inodes.length, sync ? 1 : 0);
    let err = 0;
    const all = [];
    for (const inode of inodes) {
      all.push(...(yield* writepages(fs, inode)));
      if (inode.dirty) {
        inode.dirty = 0;
        const e = yield* __ext2_write_inode(fs, inode, sync);
        if (e && !err) err = e;
      }
    }
    const e = yield* this.blk.wait_bios(all);
    if (e && !err) err = -EIO;
    return err;
  }

  /**
   * sync(2), ksys_sync: every inode written back and waited for (sync_inodes_sb), ext2_sync_fs
   * without and with wait, then the device's dirty buffers (sync_bdevs). ext2 sends no cache flush:
   * what sync wrote may still be in the disk's volatile cache.
   */
  *sync(): KCode<number> {
    const fs = this.sb;
    let err = yield* this.writeback_inodes(true);
    yield* ext2_sync_fs(fs, false);
    const e1 = yield* ext2_sync_fs(fs, true);
    const { err: e2 } = yield* fs.bdev.writeback(true);
    if (!err) err = e1 || e2;
    return err;
  }

  /**
   * umount(2): sync_filesystem (writeback_inodes_sb, ->sync_fs(0), sync_blockdev_nowait,
   * sync_inodes_sb, ->sync_fs(1), sync_blockdev), then ext2_put_super, which writes the superblock
   * back with the state it had at mount — clean. Open files make it -EBUSY.
   */
  *umount(): KCode<number> {
    const fs = this.sb;
    for (const i of fs.icache.values()) if (i !== fs.root && i.opens > 0) return -EBUSY;
    yield* this.writeback_inodes(false);
    yield* ext2_sync_fs(fs, false);
    const { bios } = yield* fs.bdev.writeback(false);
    yield* this.writeback_inodes(true);
    yield* ext2_sync_fs(fs, true);
    const { err } = yield* fs.bdev.writeback(true);
    const e0 = yield* this.blk.wait_bios(bios);
    const e = yield* ext2_put_super(fs);
    this.fs = undefined;
    this.mountError = 'unmounted';
    return err || e0 || e;
  }

  *unlink(path: string): KCode<number> {
    const w = yield* this.walk(path);
    if (typeof w === 'number') return w;
    return yield* ext2_unlink(this.sb, w.dir, w.name);
  }

  *mkdir(path: string, mode = 0o755): KCode<number> {
    const w = yield* this.walk(path);
    if (typeof w === 'number') return w;
    const existing = yield* this.lookupOne(w.dir, w.name);
    if (typeof existing === 'number') return existing;
    if (existing) return -EEXIST;
    return yield* ext2_mkdir(this.sb, w.dir, w.name, mode);
  }

  *rename(from: string, to: string): KCode<number> {
    const a = yield* this.walk(from);
    if (typeof a === 'number') return a;
    const b = yield* this.walk(to);
    if (typeof b === 'number') return b;
    if (a.name === '.' || b.name === '.') return -EINVAL;
    // lock_rename's check: a directory cannot move below itself.
    const norm = (p: string) => '/' + p.split('/').filter(Boolean).join('/');
    const intoItself = (norm(to) + '/').startsWith(norm(from) + '/');
    return yield* ext2_rename(this.sb, a.dir, a.name, b.dir, b.name, () => intoItself);
  }

  /**
   * echo 3 > /proc/sys/vm/drop_caches: clean, unused pages of files and of the device leave the
   * cache (drop_pagecache_sb, then the buffer cache). Inodes stay (the model keeps its inode cache).
   */
  dropCaches(): void {
    const fs = this.sb;
    let n = 0;
    for (const inode of fs.icache.values()) {
      for (const [i, p] of [...inode.mapping.pages]) {
        if (p.dirty || p.bufs.some((b) => b.dirty)) continue;
        inode.mapping.delete(i);
        this.pages.release(p.gpa);
        n++;
      }
    }
    // Unused, clean inodes leave the inode cache too (prune_icache_sb): the next use reads them again.
    for (const inode of [...fs.icache.values()]) {
      if (inode === fs.root || inode.opens > 0 || inode.dirty || inode.mapping.pages.size > 0 || inode.mapping.assoc.size > 0) continue;
      fs.icache.delete(inode.ino);
    }
    const held = new Set([fs.sbh, ...fs.groupDesc]);
    this.bdev.dropClean((bh) => held.has(bh));
    if (this.t.on) this.t.rec(EV_DROP_CACHES, 0, n);
  }

  /** The inode a path names (for the harness). */
  *stat(path: string): KCode<Ext2Inode | number> {
    const w = yield* this.walk(path);
    if (typeof w === 'number') return w;
    const i = yield* this.lookupOne(w.dir, w.name);
    if (typeof i === 'number') return i;
    return i ?? -ENOENT;
  }
}

export { EIO, EINVAL };
export type { BlockLayer };
