// The fsync durability sweep: a new file written through the guest's page cache with data that
// says where each 512-byte sector belongs, fsync'ed, then the host loses power; every byte must be
// on the media, read back by its inode with the image reader. For every cache mode that promises
// durability (none and directsync with Linux AIO, writeback and writethrough with the thread pool):
//   - 1 KiB, 344 KiB (the 12 direct blocks and the rest after the indirect block: two bios) and
//     4 MiB (the same two bios, the second of 4,048 KiB split by blk-mq at 1,280 KiB into four:
//     five data requests) on 4 KiB blocks, each with the indirect block, the inode and a flush;
//   - 64 MiB on 1 KiB blocks, where an indirect block every 256 KiB makes a bio of each 256 KiB:
//     more requests than the 128 tags and than the ring's 256 descriptors hold, so the writer waits
//     for tags (blk_mq_get_tag) and the driver stops the queue until completions restart it.
// And cache=unsafe, which promises nothing: qemu drops the flush, and the power loss takes the file.
// features/faults/fsync-durability.feature keeps the cases that show the mechanism; this is the
// whole matrix. `npm run durability`; CI runs it after the fuzzers.

import { DEFAULT_CONFIG, type VmConfig } from '../src/config';
import { Ext2Image } from '../src/ext2/image';
import { fsyncAction } from '../src/guest/actions';
import { bufferedWriteAction, patterned } from '../src/guest/buffered';
import { Stack } from '../src/stack';

type Mode = { cache: 'none' | 'directsync' | 'writeback' | 'writethrough' | 'unsafe'; backend: 'linux-aio' | 'threads' };
const PROMISING: Mode[] = [
  { cache: 'none', backend: 'linux-aio' }, { cache: 'directsync', backend: 'linux-aio' },
  { cache: 'writeback', backend: 'threads' }, { cache: 'writethrough', backend: 'threads' },
];
const CASES: { bytes: number; blockSize: 1024 | 4096 }[] = [
  { bytes: 1024, blockSize: 4096 }, { bytes: 344 * 1024, blockSize: 4096 }, { bytes: 4 << 20, blockSize: 4096 }, { bytes: 64 << 20, blockSize: 1024 },
];

export interface SweepResult { name: string; lost: number; requests: number; stops: number; tagWaits: number; ok: boolean; note: string }

/** One case: write, fsync, power loss; how many of the file's bytes are not on the media. */
export function sweepCase(mode: Mode, bytes: number, blockSize: 1024 | 4096): SweepResult {
  const config: VmConfig = structuredClone(DEFAULT_CONFIG);
  config.disk = { ...config.disk, size_mib: 128, backend: mode.backend, cache: mode.cache, ext2_block_size: blockSize };
  const stack = new Stack(config);
  const data = patterned(bytes);
  const w = stack.run(bufferedWriteAction(data, '/f'));
  if (w.result.value !== bytes) throw new Error(`the write returned ${w.result.value}`);
  const created = stack.trace.slice(w.from, w.to).find((e) => e.name === 'ext2_new_inode');
  if (!created) throw new Error('/f was not created');
  const ino = Number(created.detail.ino);
  const stats0 = { ...stack.guest.mq.stats };
  const f = stack.run(fsyncAction('/f'));
  if (f.result.value !== 0) throw new Error(`fsync returned ${f.result.value}`);
  let requests = 0;
  for (const e of stack.trace.slice(f.from, f.to)) {
    if (e.name === 'block_rq_issue') requests++;
    else if (e.name === 'block_rq_requeue') requests--;
  }
  stack.powerLoss();
  const img = new Ext2Image((o, l) => stack.image.peek(o, l));
  const inode = img.inode(ino);
  let lost = bytes;
  if (inode && inode.links > 0 && inode.size === bytes) {
    const got = img.readFile(inode);
    lost = 0;
    for (let i = 0; i < bytes; i++) if (got[i] !== data[i]) lost++;
  }
  const stops = stack.guest.mq.stats.stops - stats0.stops;
  const tagWaits = stack.guest.mq.stats.tagWaits - stats0.tagWaits;
  const size = bytes >= 1 << 20 ? `${bytes >> 20} MiB` : `${bytes >> 10} KiB`;
  const name = `${size} on ${blockSize / 1024} KiB blocks, cache=${mode.cache}`;
  // cache=unsafe promises nothing; every other mode, every byte.
  const ok = mode.cache === 'unsafe' ? lost > 0 : lost === 0;
  // 64 MiB on 1 KiB blocks must also have gone through the full ring and the tag wait.
  const big = bytes >= 64 << 20;
  const note = big && (stops === 0 || tagWaits === 0) ? ' (expected the ring to fill and the tags to run out)' : '';
  return { name, lost, requests, stops, tagWaits, ok: ok && note === '', note };
}

export function runSweep(onResult?: (r: SweepResult) => void): SweepResult[] {
  const out: SweepResult[] = [];
  for (const mode of PROMISING) {
    for (const c of CASES) { const r = sweepCase(mode, c.bytes, c.blockSize); out.push(r); onResult?.(r); }
  }
  const r = sweepCase({ cache: 'unsafe', backend: 'threads' }, 344 * 1024, 4096);
  out.push(r);
  onResult?.(r);
  return out;
}

function main(): number {
  const t0 = Date.now();
  process.stdout.write('fsync durability: write, fsync, power loss, every byte back\n');
  const results = runSweep((r) => process.stdout.write(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.name}: ${r.requests} requests, `
    + `${r.stops} times the ring was full, ${r.tagWaits} waits for a tag, ${r.lost} bytes lost${r.note}\n`));
  const failed = results.filter((r) => !r.ok).length;
  process.stdout.write(`${results.length} cases, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) process.exitCode = main();
