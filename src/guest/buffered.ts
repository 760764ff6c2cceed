// Buffered I/O actions: a process that opens without O_DIRECT goes through the page cache.

import type { KCode } from './io';
import { O_CREAT, O_WRONLY, type Action, type ActionResult, type GuestKernel } from './kernel';

/** A process writes `data` to `path` (created if needed) without O_DIRECT or O_SYNC: one write() into the page cache. */
export function bufferedWriteAction(data: Uint8Array, path: string, extraFlags = 0): Action {
  return (k: GuestKernel): KCode<ActionResult> => (function* () {
    const fd = yield* k.sys_openat(path, O_CREAT | O_WRONLY | extraFlags);
    if (fd < 0) return { value: fd, errno: -fd };
    const buf = k.userBuffer(data.length);
    k.ram.bytes.set(data, buf);
    const n = yield* k.sys_write(fd, buf, data.length);
    k.freeUserBuffer(buf, data.length);
    yield* k.sys_close(fd);
    return { value: n, errno: n < 0 ? -n : null };
  })();
}

/**
 * A process writes two new files in turns through the page cache: `a` and `b` opened, then
 * `chunk` bytes of `dataA` to `a`, `chunk` of `dataB` to `b`, and so on, then both closed. Each
 * file's blocks are allocated as its writes come, so on the disk the two files' blocks alternate.
 */
export function interleavedWriteAction(a: string, dataA: Uint8Array, b: string, dataB: Uint8Array, chunk: number): Action {
  return (k: GuestKernel): KCode<ActionResult> => (function* () {
    const fa = yield* k.sys_openat(a, O_CREAT | O_WRONLY);
    if (fa < 0) return { value: fa, errno: -fa };
    const fb = yield* k.sys_openat(b, O_CREAT | O_WRONLY);
    if (fb < 0) { yield* k.sys_close(fa); return { value: fb, errno: -fb }; }
    const buf = k.userBuffer(chunk);
    let total = 0;
    let err = 0;
    for (let off = 0; err === 0 && (off < dataA.length || off < dataB.length); off += chunk) {
      for (const [fd, data] of [[fa, dataA], [fb, dataB]] as const) {
        if (off >= data.length) continue;
        const part = data.subarray(off, off + chunk);
        k.ram.bytes.set(part, buf);
        const n = yield* k.sys_write(fd, buf, part.length);
        if (n < 0) { err = n; break; }
        total += n;
      }
    }
    k.freeUserBuffer(buf, chunk);
    yield* k.sys_close(fb);
    yield* k.sys_close(fa);
    return err < 0 ? { value: err, errno: -err } : { value: total, errno: null };
  })();
}

/**
 * Data for a write whose sectors can be told apart on the disk: each 512-byte sector holds its sector
 * number (of the data) in its first 4 bytes and its low byte after.
 */
export function patterned(bytes: number): Uint8Array {
  const d = new Uint8Array(bytes);
  const v = new DataView(d.buffer);
  for (let s = 0; s * 512 < bytes; s++) {
    const o = s * 512;
    d.fill(s & 0xff, o, Math.min(o + 512, bytes));
    if (o + 4 <= bytes) v.setUint32(o, s, true);
  }
  return d;
}
