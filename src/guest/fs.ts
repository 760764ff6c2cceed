// exitfs: the guest's file system, kept deliberately small behind the interface a block file
// system gives the VFS: a path names a file; file offsets map to 4 KiB blocks on the disk.
// Metadata lives in guest memory only (it is not written to the disk); data blocks are allocated in
// creation order from block 1, so the first file's first byte is at byte 4096 of the disk.

export const BLOCK_SIZE = 4096;
export const FIRST_DATA_BLOCK = 1;

export interface Inode { path: string; size: number; blocks: number[] }

export class ExitFs {
  private readonly files = new Map<string, Inode>();
  private nextBlock = FIRST_DATA_BLOCK;
  constructor(private readonly diskBytes: number) {}

  lookup(path: string): Inode | undefined { return this.files.get(path); }

  create(path: string): Inode {
    const ino: Inode = { path, size: 0, blocks: [] };
    this.files.set(path, ino);
    return ino;
  }

  /** The disk block behind file block `i`, allocating it (and reporting that it is new) if asked. */
  bmap(ino: Inode, i: number, allocate: boolean): { block: number; fresh: boolean } | undefined {
    const b = ino.blocks[i];
    if (b !== undefined) return { block: b, fresh: false };
    if (!allocate) return undefined;
    if ((this.nextBlock + 1) * BLOCK_SIZE > this.diskBytes) return undefined;
    const block = this.nextBlock++;
    ino.blocks[i] = block;
    return { block, fresh: true };
  }
}
