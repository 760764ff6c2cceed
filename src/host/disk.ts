// The disk image behind the virtio-blk device: in host memory (sparse, so a 64 MiB disk costs only
// what is written) or a real raw file on the host's file system.

import * as fs from 'node:fs';

export interface ImageFile {
  readonly size: number;
  readonly path: string | null;
  pwrite(offset: number, data: Uint8Array): void;
  pread(offset: number, len: number): Uint8Array;
  fdatasync(): void;
  close(): void;
}

const CHUNK = 64 * 1024;

export class MemoryImage implements ImageFile {
  readonly path = null;
  private chunks = new Map<number, Uint8Array>();
  constructor(readonly size: number) {}

  pwrite(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const ci = Math.floor(pos / CHUNK);
      const co = pos % CHUNK;
      let c = this.chunks.get(ci);
      if (!c) { c = new Uint8Array(CHUNK); this.chunks.set(ci, c); }
      const n = Math.min(CHUNK - co, data.length - done);
      c.set(data.subarray(done, done + n), co);
      done += n;
    }
  }

  pread(offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const pos = offset + done;
      const ci = Math.floor(pos / CHUNK);
      const co = pos % CHUNK;
      const n = Math.min(CHUNK - co, len - done);
      const c = this.chunks.get(ci);
      if (c) out.set(c.subarray(co, co + n), done);
      done += n;
    }
    return out;
  }

  fdatasync(): void {}
  close(): void {}
}

export class RawFileImage implements ImageFile {
  private readonly fd: number;
  readonly size: number;
  /** Opens an existing raw image; its size is the file's. */
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'r+');
    this.size = fs.fstatSync(this.fd).size;
  }
  pwrite(offset: number, data: Uint8Array): void { fs.writeSync(this.fd, data, 0, data.length, offset); }
  pread(offset: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    fs.readSync(this.fd, b, 0, len, offset);
    return b;
  }
  fdatasync(): void { fs.fdatasyncSync(this.fd); }
  close(): void { fs.closeSync(this.fd); }
}
