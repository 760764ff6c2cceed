// Crash consistency of the guest's ext2 under power loss, as a property over random workloads.
//
// A workload is a VM (a random cache mode, 1 or 4 KiB blocks) and a sequence of file operations on
// a few files: writes through the page cache, with O_SYNC, O_DSYNC, O_DIRECT or O_DIRECT|O_SYNC,
// appending or overwriting; fsync, fdatasync, sync(2), truncation at open, unlink, rename. Every
// time the host disk takes a write or a cache flush — every moment at which a power loss would
// leave a different disk — is a cut point: the media as they are then (the disk's stable content)
// are read back with the image reader, and every byte the guest was promised is checked.
//
// What is promised (Linux's contract, on this drive):
//   - fsync or fdatasync returned: the file's data and size as they were when it was called;
//   - an O_SYNC or O_DSYNC write returned: what it wrote, and the size;
//   - on a drive without a volatile write cache (cache=directsync, writethrough), an O_DIRECT
//     write returned: what it wrote, where the file's blocks were already durable (inside the
//     size its last fsync made durable; the model's workloads leave no holes); and sync(2)
//     returned: every file's data and size. On a drive with a write cache (none, writeback) a
//     plain O_DIRECT write and sync(2) promise nothing: ext2 sends no flush for them.
//   - cache=unsafe: qemu drops the flushes, so nothing is promised; what it loses is counted apart.
// A byte is intact if it holds the promised value, or the value of a write issued after the
// promise (power may cut in the middle of one). Files are found by inode number: a file's fsync
// does not make its name durable. A truncation, unlink or rename over a file ends what was
// promised for it.
//
// The guest is Linux 6.1's (profile linux-6.1), whose ext2 fsync ends with a cache flush. (Linux
// 3.2's did not: under profile qemu-kvm-2013 an fsync'ed file survives only on a drive without a
// volatile cache — features/faults/fsync-durability.feature.)
//
// `npm run fuzz` runs it after the device fuzzer (scripts/fuzz.ts) with at least 10,000 cut points.

import { DEFAULT_CONFIG, type VmConfig } from '../src/config';
import { Ext2Image } from '../src/ext2/image';
import { S_ISREG } from '../src/ext2/layout';
import type { KCode } from '../src/guest/io';
import {
  O_APPEND, O_CREAT, O_DIRECT, O_DSYNC, O_RDONLY, O_SYNC, O_TRUNC, O_WRONLY, type Action, type ActionResult, type GuestKernel,
} from '../src/guest/kernel';
import { Stack } from '../src/stack';

export type CacheMode = 'none' | 'directsync' | 'writeback' | 'writethrough' | 'unsafe';
const MODES: { cache: CacheMode; backend: 'linux-aio' | 'threads' }[] = [
  { cache: 'none', backend: 'linux-aio' }, { cache: 'directsync', backend: 'linux-aio' },
  { cache: 'writeback', backend: 'threads' }, { cache: 'writethrough', backend: 'threads' }, { cache: 'unsafe', backend: 'threads' },
];
/** The drive tells the guest it has no volatile cache: a completed write is on the media. */
const writeThroughDrive = (c: CacheMode) => c === 'directsync' || c === 'writethrough';

type WriteMode = 'buffered' | 'sync' | 'dsync' | 'direct' | 'direct-sync';
type Op =
  | { kind: 'write'; file: number; mode: WriteMode; append: boolean; off: number; len: number }
  | { kind: 'fsync' | 'fdatasync' | 'unlink' | 'trunc'; file: number }
  | { kind: 'rename'; file: number; to: number }
  | { kind: 'sync' };

export interface Workload { seed: number; cache: CacheMode; blockSize: 1024 | 4096; ops: Op[] }

const PATHS = ['/f0', '/f1', '/d/f2'];
const MAX_FILE = 512 * 1024;

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomWorkload(seed: number): Workload {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const cache = pick(MODES).cache;
  const blockSize = r() < 0.5 ? 1024 : 4096;
  const ops: Op[] = [];
  const n = 8 + Math.floor(r() * 14);
  for (let i = 0; i < n; i++) {
    const file = Math.floor(r() * PATHS.length);
    const x = r();
    if (x < 0.55) {
      const mode = pick<WriteMode>(['buffered', 'buffered', 'sync', 'dsync', 'direct', 'direct-sync']);
      const direct = mode === 'direct' || mode === 'direct-sync';
      // O_DIRECT needs 512-byte alignment; others take any length and offset.
      const len = direct ? 512 * (1 + Math.floor(r() * 64)) : 1 + Math.floor(r() * 40000);
      ops.push({ kind: 'write', file, mode, append: r() < 0.6, off: Math.floor(r() * 60000), len });
    } else if (x < 0.7) ops.push({ kind: 'fsync', file });
    else if (x < 0.78) ops.push({ kind: 'fdatasync', file });
    else if (x < 0.85) ops.push({ kind: 'sync' });
    else if (x < 0.9) ops.push({ kind: 'unlink', file });
    else if (x < 0.95) ops.push({ kind: 'trunc', file });
    else ops.push({ kind: 'rename', file, to: (file + 1 + Math.floor(r() * (PATHS.length - 1))) % PATHS.length });
  }
  return { seed, cache, blockSize, ops };
}

/** What the harness knows of a file: its content, and what the guest was promised about it. */
class FileState {
  ino = -1;
  size = 0;
  readonly content = new Uint8Array(MAX_FILE);
  /** For each byte: the operation whose return promised it (0: none), and the promised value. */
  readonly ackSeq = new Int32Array(MAX_FILE);
  readonly ackVal = new Uint8Array(MAX_FILE);
  /** The size the disk holds durably for this file (its inode's, as last synced). */
  ackedSize = 0;
  /** Writes issued since the file's current life began, for the values a cut may catch. */
  writes: { seq: number; off: number; data: Uint8Array }[] = [];
  /** A new life: truncated, unlinked or replaced. What was promised before no longer holds. */
  reset(ino: number): void {
    this.ino = ino; this.size = 0; this.ackedSize = 0; this.writes = [];
    this.ackSeq.fill(0); this.content.fill(0);
  }
  ackRange(seq: number, from: number, to: number): void {
    for (let b = from; b < to; b++) { this.ackSeq[b] = seq; this.ackVal[b] = this.content[b]!; }
  }
  ackAll(seq: number): void { this.ackRange(seq, 0, this.size); this.ackedSize = this.size; }
}

export interface CrashStats {
  workloads: number;
  cutPoints: number;
  /** Promised bytes checked, summed over the cut points. */
  bytesChecked: number;
  /** Promised bytes missing where the cache mode promises them: must stay 0. */
  bytesLost: number;
  /** Promised bytes missing with cache=unsafe, which promises nothing. */
  unsafeBytesLost: number;
  cutsByMode: Map<CacheMode, number>;
  crashes: number;
  failures: string[];
}

export function newCrashStats(): CrashStats {
  return { workloads: 0, cutPoints: 0, bytesChecked: 0, bytesLost: 0, unsafeBytesLost: 0, cutsByMode: new Map(), crashes: 0, failures: [] };
}

const res = (v: number): ActionResult => ({ value: v, errno: v < 0 ? -v : null });

/**
 * Run one workload, checking at every cut point. `onCut`, when given, is called at each cut point
 * with the stack (the disk's stable content is what a power loss would leave).
 */
export function runWorkload(w: Workload, stats: CrashStats, onCut?: (stack: Stack, files: ReadonlyMap<number, FileState>, seq: number) => void): void {
  const mode = MODES.find((m) => m.cache === w.cache)!;
  const config: VmConfig = structuredClone(DEFAULT_CONFIG);
  config.disk = { ...config.disk, size_mib: 16, backend: mode.backend, cache: mode.cache, ext2_block_size: w.blockSize };
  const stack = new Stack(config);
  const files = new Map<number, FileState>(PATHS.map((_, i) => [i, new FileState()]));
  let seq = 0;
  let current = -1;

  const check = (): void => {
    stats.cutPoints++;
    stats.cutsByMode.set(w.cache, (stats.cutsByMode.get(w.cache) ?? 0) + 1);
    let img: Ext2Image;
    try { img = new Ext2Image((o, l) => stack.image.stable(o, l)); } catch (e) {
      stats.failures.push(`workload ${w.seed}: the disk is not ext2 at a cut point: ${(e as Error).message}`);
      stats.bytesLost++;
      return;
    }
    for (const [i, f] of files) {
      if (f.ino < 0) continue;
      let promised = 0;
      for (let b = 0; b < f.size; b++) if (f.ackSeq[b]) promised++;
      if (!promised) continue;
      stats.bytesChecked += promised;
      const inode = img.inode(f.ino);
      const ok = inode && inode.links > 0 && !inode.dtime && S_ISREG(inode.mode);
      const disk = ok ? img.readFile(inode, 0, Math.min(inode.size, MAX_FILE)) : new Uint8Array(0);
      let lost = 0;
      let first = -1;
      for (let b = 0; b < f.size; b++) {
        const s = f.ackSeq[b]!;
        if (!s) continue;
        const v = b < disk.length ? disk[b] : undefined;
        let fine = v === f.ackVal[b];
        if (!fine && v !== undefined) {
          for (const wr of f.writes) if (wr.seq > s && b >= wr.off && b < wr.off + wr.data.length && wr.data[b - wr.off] === v) { fine = true; break; }
        }
        if (!fine) { lost++; if (first < 0) first = b; }
      }
      if (!lost) continue;
      if (w.cache === 'unsafe') { stats.unsafeBytesLost += lost; continue; }
      stats.bytesLost += lost;
      if (stats.failures.length < 5) {
        stats.failures.push(`workload ${w.seed} (cache=${w.cache}, ${w.blockSize}-byte blocks), at op ${current} of ${JSON.stringify(w.ops)}: `
          + `${PATHS[i]} (inode ${f.ino}) lost ${lost} promised bytes, the first at offset ${first}${ok ? '' : ' (the inode is not in use on the disk)'}`);
      }
    }
    onCut?.(stack, files, seq);
  };
  stack.image.onDurableChange = check;

  const fileOp = (path: string, flags: number, body: (k: GuestKernel, fd: number) => KCode<number>): Action =>
    (k) => (function* (): KCode<ActionResult> {
      const fd = yield* k.sys_openat(path, flags);
      if (fd < 0) return res(fd);
      const r = yield* body(k, fd);
      yield* k.sys_close(fd);
      return res(r);
    })();

  const mkdir: Action = (k) => (function* (): KCode<ActionResult> { return res(yield* k.sys_mkdir('/d')); })();
  try {
    stack.run(mkdir);
    for (let oi = 0; oi < w.ops.length; oi++) {
      current = oi;
      const op = w.ops[oi]!;
      const s = ++seq;
      if (op.kind === 'sync') {
        stack.run((k) => (function* (): KCode<ActionResult> {
          const r = yield* k.sys_sync();
          if (writeThroughDrive(w.cache)) for (const f of files.values()) if (f.ino >= 0) f.ackAll(s);
          return res(r);
        })());
        continue;
      }
      const f = files.get(op.file)!;
      const path = PATHS[op.file]!;
      if (op.kind === 'fsync' || op.kind === 'fdatasync') {
        if (f.ino < 0) continue;
        stack.run(fileOp(path, O_RDONLY, function* (k, fd) {
          const r = yield* k.sys_fsync(fd, op.kind === 'fdatasync');
          if (r === 0) f.ackAll(s);
          return r;
        }));
      } else if (op.kind === 'unlink') {
        if (f.ino < 0) continue;
        f.reset(-1);
        stack.run((k) => (function* (): KCode<ActionResult> { return res(yield* k.sys_unlink(path)); })());
      } else if (op.kind === 'trunc') {
        if (f.ino < 0) continue;
        f.reset(f.ino);
        stack.run(fileOp(path, O_WRONLY | O_TRUNC, function* () { return 0; }));
      } else if (op.kind === 'rename') {
        if (f.ino < 0) continue;
        const to = files.get(op.to)!;
        stack.run((k) => (function* (): KCode<ActionResult> {
          // The target's inode loses its name (and, unopened, its life) when the rename runs.
          to.reset(-1);
          const r = yield* k.sys_rename(path, PATHS[op.to]!);
          return res(r);
        })());
        // The state moves with the inode to its new name.
        files.set(op.to, f);
        const fresh = new FileState();
        files.set(op.file, fresh);
      } else if (op.kind === 'write') {
        const direct = op.mode === 'direct' || op.mode === 'direct-sync';
        const flags = O_CREAT | O_WRONLY | (op.append ? O_APPEND : 0) | (direct ? O_DIRECT : 0)
          | (op.mode === 'sync' || op.mode === 'direct-sync' ? O_SYNC : op.mode === 'dsync' ? O_DSYNC : 0);
        stack.run(fileOp(path, flags, function* (k, fd) {
          const ino = k.inodeOf(fd);
          if (f.ino !== ino) f.reset(ino);
          // No holes: a write starts inside the file or at its end (direct ones on a sector).
          let off = op.append ? f.size : Math.min(op.off, f.size);
          if (direct) off = Math.floor(off / 512) * 512;
          if (op.append && direct && f.size % 512) return 0;   // O_APPEND would put it off the sector grid
          const len = Math.min(op.len, MAX_FILE - off);
          if (len <= 0 || (direct && len % 512)) return 0;
          if (!op.append) { const p = yield* k.sys_lseek(fd, off, 0); if (p !== off) return -1; }
          const data = new Uint8Array(len);
          for (let i = 0; i < len; i++) data[i] = (s * 31 + i * 7 + (i >> 9)) & 0xff;
          const buf = k.userBuffer(len);
          k.ram.bytes.set(data, buf);
          // The bytes may reach the disk from now on.
          f.writes.push({ seq: s, off, data });
          const sizeBefore = f.ackedSize;
          const n = yield* k.sys_write(fd, buf, len);
          k.freeUserBuffer(buf, len);
          if (n !== len) return n < 0 ? n : -1;
          f.content.set(data, off);
          f.size = Math.max(f.size, off + n);
          if (op.mode === 'sync' || op.mode === 'dsync' || op.mode === 'direct-sync') {
            f.ackRange(s, off, off + n);
            f.ackedSize = f.size;
          } else if (op.mode === 'direct' && writeThroughDrive(w.cache)) f.ackRange(s, off, Math.min(off + n, sizeBefore));
          return n;
        }));
      }
    }
    // And the power lost when the workload is done.
    current = w.ops.length;
    check();
  } catch (e) {
    stats.crashes++;
    if (stats.failures.length < 5) stats.failures.push(`workload ${w.seed}: ${(e as Error).stack ?? String(e)}`);
  } finally {
    stack.image.onDurableChange = undefined;
  }
  const v = stack.violations();
  if (v.dma || v.image || v.invariants.length) {
    stats.crashes++;
    if (stats.failures.length < 5) stats.failures.push(`workload ${w.seed}: guard or invariant violations ${JSON.stringify({ dma: v.dma, image: v.image, invariants: v.invariants.length })}`);
  }
  stats.workloads++;
}

/** Random workloads until at least `cutPoints` cut points have been checked. */
export function runCrashConsistency(opts: { cutPoints: number; seed: number; onProgress?: (s: CrashStats) => void }): CrashStats {
  const stats = newCrashStats();
  let next = 10_000;
  for (let i = 0; stats.cutPoints < opts.cutPoints; i++) {
    runWorkload(randomWorkload(opts.seed * 1_000_003 + i), stats);
    if (opts.onProgress && stats.cutPoints >= next) { opts.onProgress(stats); next += 10_000; }
  }
  return stats;
}

export function crashReport(s: CrashStats): string {
  const lines = [
    `crash consistency: ${s.workloads} workloads, ${s.cutPoints} cut points (${[...s.cutsByMode].map(([m, n]) => `${m} ${n}`).join(', ')})`,
    `  promised bytes checked: ${s.bytesChecked}`,
    `  promised bytes lost where the cache mode promises them: ${s.bytesLost}`,
    `  promised bytes lost with cache=unsafe (which promises nothing): ${s.unsafeBytesLost}`,
    `  crashes and guard violations: ${s.crashes}`,
  ];
  for (const f of s.failures) lines.push(`  FAILED: ${f}`);
  return lines.join('\n');
}
