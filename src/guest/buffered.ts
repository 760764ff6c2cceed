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
