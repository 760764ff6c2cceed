// fs/ext2/namei.c: the directory operations — lookup, create, mkdir, unlink, rename. Each changes
// inodes and directory pages in memory; none writes anything (no DIRSYNC).

import { S_IFDIR, S_IFREG, S_ISDIR } from '../../ext2/layout';
import type { KCode } from '../io';
import { EV, I_DIRTY_INODE, type Ext2Inode, type Ext2Sb } from './ext2';
import { ext2_add_link, ext2_delete_entry, ext2_dotdot, ext2_empty_dir, ext2_find_entry, ext2_inode_by_name, ext2_make_empty, ext2_set_link, slotIno } from './dir';
import { ext2_new_inode } from './ialloc';
import { ext2_evict_inode, ext2_iget } from './inode';

const ENOENT = 2;
const EIO = 5;
const EEXIST = 17;
const ENOTDIR = 20;
const EISDIR = 21;
const EINVAL = 22;
const ENOTEMPTY = 39;
const EMLINK = 31;
const EXT2_LINK_MAX = 32000;

const str = (fs: Ext2Sb, s: string) => (fs.t.on ? fs.t.str(s) : 0);

/** ext2_lookup: the inode a name in `dir` names, or null (a negative dentry). */
export function* ext2_lookup(fs: Ext2Sb, dir: Ext2Inode, name: string): KCode<Ext2Inode | null | number> {
  if (fs.t.on) fs.t.rec(EV.lookup, 0, dir.ino, str(fs, name));
  const ino = yield* ext2_inode_by_name(fs, dir, name);
  if (ino < 0) return ino;
  if (!ino) return null;
  const inode = yield* ext2_iget(fs, ino);
  return inode ?? -EIO;
}

/** ext2_create: a new regular file's inode, and its link in the directory (ext2_add_nondir). */
export function* ext2_create(fs: Ext2Sb, dir: Ext2Inode, name: string, mode: number): KCode<Ext2Inode | number> {
  if (fs.t.on) fs.t.rec(EV.create, 0, dir.ino, str(fs, name));
  const inode = yield* ext2_new_inode(fs, dir, S_IFREG | (mode & 0o7777));
  if (typeof inode === 'number') return inode;
  const err = yield* ext2_add_link(fs, dir, name, inode);
  if (err) { inode.nlink = 0; yield* iput_final(fs, inode); return err; }
  return inode;
}

/** ext2_mkdir: the parent's link count, a new directory inode (Orlov), its first block, its link. */
export function* ext2_mkdir(fs: Ext2Sb, dir: Ext2Inode, name: string, mode: number): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.mkdir, 0, dir.ino, str(fs, name));
  if (dir.nlink >= EXT2_LINK_MAX) return -EMLINK;
  dir.nlink++;
  dir.dirty |= I_DIRTY_INODE;
  const inode = yield* ext2_new_inode(fs, dir, S_IFDIR | (mode & 0o7777));
  if (typeof inode === 'number') { dir.nlink--; return inode; }
  inode.nlink = 2;
  let err = yield* ext2_make_empty(fs, inode, dir);
  if (!err) err = yield* ext2_add_link(fs, dir, name, inode);
  if (err) { inode.nlink = 0; dir.nlink--; yield* iput_final(fs, inode); return err; }
  return 0;
}

/** The last reference to an inode with no links left: ext2_evict_inode. */
export function* iput_final(fs: Ext2Sb, inode: Ext2Inode): KCode {
  if (inode.nlink === 0 && inode.opens === 0) yield* ext2_evict_inode(fs, inode);
  else if (inode.nlink === 0) inode.unlinked = true;
}

/** ext2_unlink: the entry goes, the inode loses a link (and, with no user left, is evicted). */
export function* ext2_unlink(fs: Ext2Sb, dir: Ext2Inode, name: string): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.unlink, 0, dir.ino, str(fs, name));
  const slot = yield* ext2_find_entry(fs, dir, name);
  if (typeof slot === 'number') return slot;
  if (!slot) return -ENOENT;
  const inode = yield* ext2_iget(fs, slotIno(fs, slot));
  if (!inode) return -EIO;
  if (S_ISDIR(inode.mode)) return -EISDIR;
  const err = yield* ext2_delete_entry(fs, dir, slot);
  if (err) return err;
  inode.ctime = dir.ctime;
  inode.nlink--;
  inode.dirty |= I_DIRTY_INODE;
  yield* iput_final(fs, inode);
  return 0;
}

/** ext2_rename (flags 0): link under the new name (over a file that is there), unlink the old, fix a moved directory's "..". */
export function* ext2_rename(fs: Ext2Sb, oldDir: Ext2Inode, oldName: string, newDir: Ext2Inode, newName: string, isAncestor: (a: Ext2Inode, b: Ext2Inode) => boolean): KCode<number> {
  if (fs.t.on) fs.t.rec(EV.rename, 0, oldDir.ino, newDir.ino);
  const oldSlot = yield* ext2_find_entry(fs, oldDir, oldName);
  if (typeof oldSlot === 'number') return oldSlot;
  if (!oldSlot) return -ENOENT;
  const oldInode = yield* ext2_iget(fs, slotIno(fs, oldSlot));
  if (!oldInode) return -EIO;
  const target = yield* ext2_lookup(fs, newDir, newName);
  if (typeof target === 'number') return target;
  if (target === oldInode) return 0;
  const isDir = S_ISDIR(oldInode.mode);
  if (isDir && isAncestor(oldInode, newDir)) return -EINVAL;
  if (target && S_ISDIR(target.mode) !== isDir) return isDir ? -ENOTDIR : -EISDIR;
  let dirDe = null;
  if (isDir) { dirDe = yield* ext2_dotdot(fs, oldInode); if (!dirDe) return -EIO; }
  if (target) {
    if (dirDe && !(yield* ext2_empty_dir(fs, target))) return -ENOTEMPTY;
    const newSlot = yield* ext2_find_entry(fs, newDir, newName);
    if (typeof newSlot === 'number') return newSlot;
    if (!newSlot) return -ENOENT;
    const err = yield* ext2_set_link(fs, newDir, newSlot, oldInode, true);
    if (err) return err;
    target.ctime = fs.now();
    if (dirDe) target.nlink--;
    target.nlink--;
    target.dirty |= I_DIRTY_INODE;
    yield* iput_final(fs, target);
  } else {
    const err = yield* ext2_add_link(fs, newDir, newName, oldInode);
    if (err) return err === -EEXIST ? -EEXIST : err;
    if (dirDe) { newDir.nlink++; newDir.dirty |= I_DIRTY_INODE; }
  }
  oldInode.ctime = fs.now();
  oldInode.dirty |= I_DIRTY_INODE;
  let err = yield* ext2_delete_entry(fs, oldDir, oldSlot);
  if (!err && dirDe) {
    if (oldDir !== newDir) err = yield* ext2_set_link(fs, oldInode, dirDe, newDir, false);
    oldDir.nlink--;
    oldDir.dirty |= I_DIRTY_INODE;
  }
  return err;
}
