// Anonymous memory (mmap with MAP_ANONYMOUS): it reads as zeroes until the process writes it. When a
// process exits (exit_mmap) its large mappings go back to the host, and a later mapping of the same
// length takes them again, with the pages the last owner wrote zeroed first — as the kernel clears a
// page before a fault maps it (clear_page in the anonymous fault path). Which pages were written is
// known from the mapping's dirty bits (sim/dirty.ts), kept by every writer. The bytes a new mapping
// reads are zeroes either way, so nothing of this shows in a trace: what it saves is a fresh buffer
// for every machine (guest RAM is hundreds of MiB) and the collector's work to drop the last.
//
// With EXITPATH_CHECK_RAM=1 in the environment, every mapping given back is also read whole, and a
// non-zero page whose dirty bit is clear (a writer that did not say so) is an error.

import { PAGE_SIZE } from '../sim/dirty';

/** Mappings from this length up are kept when their process exits (guest RAM); smaller ones are dropped. */
const POOL_MIN = 2 << 20;
/** Mappings kept per length. */
const POOL_PER_LENGTH = 2;

export interface AnonPages {
  bytes: Uint8Array;
  /** One byte a page, set when the page is written; absent for memory that is not kept for reuse. */
  dirty: Uint8Array | undefined;
}

const pool = new Map<number, AnonPages[]>();
const zeroPage = new Uint8Array(PAGE_SIZE);

/** `length` bytes of anonymous memory, all zeroes, with its dirty bits when it is to be reused. */
export function anonPages(length: number): AnonPages {
  const kept = pool.get(length)?.pop();
  if (kept) return kept;
  return { bytes: new Uint8Array(length), dirty: length >= POOL_MIN ? new Uint8Array(Math.ceil(length / PAGE_SIZE)) : undefined };
}

/** A page of `b` is all zeroes. */
function isZero(b: Buffer, at: number, end: number): boolean {
  return b.compare(zeroPage, 0, end - at, at, end) === 0;
}

/** Give back memory anonPages handed out, once nothing maps it any more (exit_mmap): its written pages are zeroed. */
export function freeAnonPages(m: AnonPages): void {
  const { bytes, dirty } = m;
  if (dirty === undefined) return;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (process.env.EXITPATH_CHECK_RAM === '1') {
    const missed: number[] = [];
    for (let p = 0; p < dirty.length; p++) {
      const at = p * PAGE_SIZE;
      if (dirty[p] === 0 && !isZero(b, at, Math.min(at + PAGE_SIZE, b.length))) missed.push(p);
    }
    if (missed.length) {
      throw new Error(`host: ${missed.length} page(s) of anonymous memory were written with no dirty bit set (first at 0x${(missed[0]! * PAGE_SIZE).toString(16)})`);
    }
  }
  for (let p = dirty.indexOf(1); p >= 0; p = dirty.indexOf(1, p + 1)) {
    const at = p * PAGE_SIZE;
    const end = Math.min(at + PAGE_SIZE, b.length);
    if (!isZero(b, at, end)) b.fill(0, at, end);
  }
  dirty.fill(0);
  let kept = pool.get(bytes.length);
  if (!kept) pool.set(bytes.length, kept = []);
  if (kept.length < POOL_PER_LENGTH && !kept.some((k) => k.bytes === bytes)) kept.push(m);
}
