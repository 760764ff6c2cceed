// fs/direct-io.c, do_blockdev_direct_IO (3.2: __blockdev_direct_IO) with ext2_get_block, for a synchronous O_DIRECT read or
// write: the user's pages go to the device without the page cache. The file offset, the length
// and the buffer's address must be aligned to the file system's block size or, failing that, to
// the device's logical block size (512 bytes): otherwise -EINVAL.
// A write maps (allocating: ext2_get_block with as many blocks as remain) block after block and
// builds bios over contiguous blocks under one plug; a write into a hole inside i_size is not
// allowed to allocate (DIO_SKIP_HOLES) and stops there, and the caller finishes through the page
// cache. Part of a newly allocated block the write does not cover is written as zeros (dio_zero_block).

import { bioAddPage, newBio, SECTOR_SIZE, type Bio } from './block';
import type { KCode } from './io';
import type { Ext2Inode, Ext2Sb } from './ext2/ext2';
import { ext2_get_block } from './ext2/inode';

const EINVAL = 22;
const EIO = 5;

/**
 * do_blockdev_direct_IO / __blockdev_direct_IO. `zeroPage` is ZERO_PAGE(0) (a page of zeros in guest RAM).
 */
export function* blockdev_direct_IO(fs: Ext2Sb, inode: Ext2Inode, write: boolean, pos: number, buf: number, count: number, zeroPage: number): KCode<number> {
  const bs = fs.bs;
  // Alignment: the fs block size, else the device's logical block size.
  const aligned = (a: number) => pos % a === 0 && buf % a === 0 && count % a === 0;
  if (!aligned(bs) && !aligned(SECTOR_SIZE)) return -EINVAL;
  if (!write && pos >= inode.size) return 0;
  if (fs.t.on) fs.t.rec(fs.names.directIO, 0, pos, count, write ? 1 : 0);
  const end = write ? pos + count : Math.min(pos + count, inode.size);
  // The reads stop at EOF rounded up to the sector (the tail of the last block is the file's).
  const endRead = write ? end : Math.min(pos + count, Math.ceil(inode.size / SECTOR_SIZE) * SECTOR_SIZE);
  const bios: Bio[] = [];
  let bio: Bio | undefined;
  let nextSector = -1;
  const plug = fs.blk.blk_start_plug();
  // dio_bio_add_page: a piece contiguous with the bio being built joins it; any other ends that bio
  // (returned, for the caller to submit: dio_bio_submit) and starts the next.
  const add = (sector: number, gpa: number, len: number): Bio | undefined => {
    let full: Bio | undefined;
    if (bio && sector !== nextSector) { full = bio; bio = undefined; }
    if (!bio) { bio = newBio(write ? 'write' : 'read', sector); bios.push(bio); }
    bioAddPage(bio, gpa, len);
    nextSector = sector + len / SECTOR_SIZE;
    return full;
  };
  let full: Bio | undefined;
  let done = 0;
  let p = pos;
  const stop = write ? end : endRead;
  let err = 0;
  while (p < stop) {
    const iblock = Math.floor(p / bs);
    const lastBlock = Math.floor((stop - 1) / bs);
    // DIO_SKIP_HOLES: inside i_size a write may only overwrite.
    const create = write && !(inode.size && iblock <= Math.floor((inode.size - 1) / bs));
    const m = yield* ext2_get_block(fs, inode, iblock, lastBlock - iblock + 1, create);
    if (typeof m === 'number') { err = m; break; }
    if (!m) {
      if (write) break;   // a hole inside i_size: the caller falls back to buffered I/O
      // A hole reads as zeros.
      const n = Math.min(bs - (p % bs), stop - p);
      fs.ram.bytes.fill(0, buf + done, buf + done + n);
      p += n; done += n;
      continue;
    }
    for (let k = 0; k < m.count && p < stop; k++) {
      const block = m.block + k;
      const off = p % bs;
      const n = Math.min(bs - off, stop - p);
      const sector = (block * bs + off) / SECTOR_SIZE;
      if (m.isNew && write && off > 0 && (full = add((block * bs) / SECTOR_SIZE, zeroPage, off))) yield* fs.blk.submit_bio(full);
      if ((full = add(sector, buf + done, n))) yield* fs.blk.submit_bio(full);
      if (m.isNew && write && off + n < bs && (full = add(sector + n / SECTOR_SIZE, zeroPage, bs - off - n))) yield* fs.blk.submit_bio(full);
      p += n; done += n;
    }
  }
  if (bio) yield* fs.blk.submit_bio(bio);
  yield* fs.blk.blk_finish_plug(plug);
  const e = yield* fs.blk.wait_bios(bios);
  if (err && done === 0) return err;
  if (e) return -EIO;
  return write ? done : Math.min(done, Math.max(0, inode.size - pos));
}
