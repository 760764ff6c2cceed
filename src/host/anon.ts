// Anonymous memory (mmap with MAP_ANONYMOUS): it reads as zeroes until the process writes it. When a
// process exits (exit_mmap) its large mappings go back to the host, and a later mapping of the same
// length takes them again; the pages the last owner left non-zero are zeroed first, as the kernel
// clears a page before a fault maps it (clear_page in the anonymous fault path). The bytes a new
// mapping reads are zeroes either way, so nothing of this shows in a trace: what it saves is a fresh
// buffer for every machine (guest RAM is hundreds of MiB) and the collector's work to drop the last.

/** Mappings from this length up are kept when their process exits (guest RAM); smaller ones are dropped. */
const POOL_MIN = 2 << 20;
/**
 * Up to this length. Finding the non-zero pages reads the whole mapping (a memcmp per 64 KiB, against
 * a zero page the untouched ones all map), which for 1 GiB and more costs about what a fresh
 * mapping does.
 */
const POOL_MAX = 512 << 20;
/** Mappings kept per length. */
const POOL_PER_LENGTH = 2;

const BLOCK = 64 << 10;
const PAGE = 4096;
const zeroBlock = Buffer.alloc(BLOCK);

const pool = new Map<number, Uint8Array[]>();

/** Zero every page of `bytes` that is not all zeroes. */
function clearDirtyPages(bytes: Uint8Array): void {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = b.length;
  for (let off = 0; off < n; off += BLOCK) {
    const end = Math.min(off + BLOCK, n);
    if (b.compare(zeroBlock, 0, end - off, off, end) === 0) continue;
    // Only the pages written: filling the whole block would make its untouched pages resident.
    for (let p = off; p < end; p += PAGE) {
      const q = Math.min(p + PAGE, end);
      if (b.compare(zeroBlock, 0, q - p, p, q) !== 0) b.fill(0, p, q);
    }
  }
}

/** `length` bytes of anonymous memory, all zeroes. */
export function anonPages(length: number): Uint8Array {
  const kept = length >= POOL_MIN && length <= POOL_MAX ? pool.get(length) : undefined;
  const bytes = kept?.pop();
  if (bytes === undefined) return new Uint8Array(length);
  clearDirtyPages(bytes);
  return bytes;
}

/** Give back memory anonPages handed out, once nothing maps it any more (exit_mmap, munmap). */
export function freeAnonPages(bytes: Uint8Array): void {
  const length = bytes.length;
  if (length < POOL_MIN || length > POOL_MAX || bytes.byteOffset !== 0 || bytes.buffer.byteLength !== length) return;
  let kept = pool.get(length);
  if (!kept) pool.set(length, kept = []);
  if (kept.length < POOL_PER_LENGTH && !kept.includes(bytes)) kept.push(bytes);
}
