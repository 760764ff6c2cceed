// The guest's ext2 against the real e2fsprogs: the model's mkfs, and disks cut off by a power loss
// at random points of random workloads (scripts/crash.ts), which e2fsck must find only in the
// states ext2 without a journal may leave — and never with a promised byte missing.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { expect } from 'chai';
import { mkfsExt2 } from '../src/ext2/mkfs';
import { Ext2Image } from '../src/ext2/image';
import { newCrashStats, randomWorkload, runWorkload, crashReport } from '../scripts/crash';

const INSTALL_HINT = 'install e2fsprogs (Debian: apt-get install e2fsprogs)';

function e2fsck(file: string): { status: number; findings: string[] } {
  const r = spawnSync('e2fsck', ['-fn', file], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin` } });
  if (r.error) throw new Error(`cannot run e2fsck (${(r.error as NodeJS.ErrnoException).code}): ${INSTALL_HINT}`);
  const findings = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trimEnd()).filter((l) => l && !/^e2fsck \d/.test(l) && !/^Pass \d/.test(l) && !l.includes(' files ('));
  return { status: r.status ?? -1, findings };
}

function tmpFile(bytes: Uint8Array | number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-ext2-test-'));
  const file = path.join(dir, 'disk.img');
  if (typeof bytes === 'number') { fs.writeFileSync(file, ''); fs.truncateSync(file, bytes); } else fs.writeFileSync(file, bytes);
  return file;
}
const rm = (file: string) => fs.rmSync(path.dirname(file), { recursive: true, force: true });

test('the model\'s mkfs.ext2 makes disks the real e2fsck finds clean, at 1 and 4 KiB blocks and sizes from 1 MiB to 700 MiB', () => {
  for (const [mib, bs] of [[1, 1024], [1, 4096], [3, 1024], [64, 1024], [64, 4096], [130, 1024], [700, 4096]] as const) {
    const file = tmpFile(mib << 20);
    try {
      const fd = fs.openSync(file, 'r+');
      const r = mkfsExt2(mib << 20, (o, d) => fs.writeSync(fd, d, 0, d.length, o), { blockSize: bs });
      fs.closeSync(fd);
      const f = e2fsck(file);
      expect({ status: f.status, findings: f.findings }, `${mib} MiB, ${bs}-byte blocks`).to.deep.equal({ status: 0, findings: [] });
      // The reader sees the root and lost+found, and the geometry mkfs reports.
      const img = new Ext2Image((o, l) => { const b = new Uint8Array(l); const d = fs.openSync(file, 'r'); fs.readSync(d, b, 0, l, o); fs.closeSync(d); return b; });
      expect(img.g.blocksCount).to.equal(r.blocksCount);
      expect(img.list(img.inode(2)!).map((e) => e.name)).to.deep.equal(['.', '..', 'lost+found']);
    } finally { rm(file); }
  }
});

test('a device too small for one block group is refused', () => {
  expect(() => mkfsExt2(64 * 1024, () => {}, { blockSize: 4096 })).to.throw(RangeError, /too small/);
});

/**
 * What e2fsck -fn may report after a power loss on ext2, which writes its metadata in no order
 * and keeps no journal (each with the "no" of a read-only run). Anything else is a finding the
 * model should not produce.
 */
const ALLOWED = [
  /^Unattached inode \d+$/, /^Connect to \/lost\+found\? no$/,
  /^Unattached zero-length inode \d+\.  Clear\? no$/,
  /^Entry '.*' in .* \(\d+\) has deleted\/unused inode \d+\.  Clear\? no$/,
  /^Entry '.*' in .* \(\d+\) has an incorrect filetype \(was \d+, should be \d+\)\.$/,
  /^Inode \d+ ref count is \d+, should be \d+\.  Fix\? no$/,
  /^Inode \d+, i_size is \d+, should be \d+\.  Fix\? no$/,
  /^Inode \d+, i_blocks is \d+, should be \d+\.  Fix\? no$/,
  /^Inode \d+ has illegal block\(s\)\.  Clear\? no$/, /^Illegal block #\d+ \(\d+\) in inode \d+\.  IGNORED\.$/,
  /^Too many illegal blocks in inode \d+\.$/, /^Clear inode\? no$/, /^Suppress messages\? no$/,
  /^Block bitmap differences: .*$/, /^Inode bitmap differences: .*$/,
  /^Free (blocks|inodes) count wrong( for group #\d+)? \(\d+, counted=\d+\)\.$/,
  /^Directories count wrong for group #\d+ \(\d+, counted=\d+\)\.$/,
  /^Fix\? no$/, /^Clear\? no$/,
  // Blocks freed by one file and taken by another before either reached the disk (pass 1B–1D).
  /^Running additional passes to resolve blocks claimed by more than one inode\.\.\.$/, /^Pass 1[BCD]: .*$/,
  /^Multiply-claimed block\(s\) in inode \d+:.*$/, /^\(There (are|is) \d+ inodes? containing multiply-claimed blocks\.\)$/,
  /^File .* \(inode #\d+, mod time .*\)$/, /^\s*has \d+ multiply-claimed block\(s\), shared with \d+ file\(s\):$/,
  /^\s+.* \(inode #\d+, mod time .*\)$/, /^Clone multiply-claimed blocks\? no$/, /^Delete file\? no$/,
  // A moved directory whose ".." or entry lags behind.
  /^Unconnected directory inode \d+ \(.*\)$/, /^'\.\.' in .* \(\d+\) is .* \(\d+\), should be .* \(\d+\)\.$/,
  /^.*: \*+ WARNING: Filesystem still has errors \*+$/,
];

test('power cut at random points of random workloads: e2fsck finds only what ext2 without a journal may leave, and no promised byte is lost', () => {
  const stats = newCrashStats();
  const seen = new Set<string>();
  let checked = 0;
  let clean = 0;
  for (let i = 0; i < 12; i++) {
    const w = randomWorkload(4242 + i);
    let cut = 0;
    runWorkload(w, stats, (stack) => {
      // Every 6th cut point of each workload goes to the real e2fsck.
      if (cut++ % 6 !== 2) return;
      const file = tmpFile(stack.image.stable(0, stack.image.size));
      try {
        const r = e2fsck(file);
        checked++;
        if (r.findings.length === 0) clean++;
        expect([0, 4], `e2fsck -fn exit status (workload ${w.seed}):\n${r.findings.join('\n')}`).to.include(r.status);
        for (const line of r.findings) {
          expect(ALLOWED.some((re) => re.test(line)), `workload ${w.seed} (cache=${w.cache}, ${w.blockSize}-byte blocks): e2fsck -fn reported "${line}"`).to.equal(true);
          seen.add(line.replace(/\d+/g, 'N'));
        }
      } finally { rm(file); }
    });
  }
  expect({ lost: stats.bytesLost, crashes: stats.crashes }, crashReport(stats)).to.deep.equal({ lost: 0, crashes: 0 });
  // Not vacuous: e2fsck ran at many cut points, some clean and some not, and bytes were promised.
  expect(checked).to.be.greaterThan(20);
  expect(clean).to.be.greaterThan(0);
  expect(seen.size, 'kinds of findings').to.be.greaterThan(2);
  expect(stats.bytesChecked).to.be.greaterThan(0);
});

test('the checker is not vacuous: with cache=unsafe (flushes dropped) promised bytes go missing and are counted', () => {
  const stats = newCrashStats();
  for (let seed = 1; stats.unsafeBytesLost === 0 && seed < 200; seed++) {
    const w = randomWorkload(seed);
    if (w.cache !== 'unsafe') continue;
    runWorkload(w, stats);
  }
  expect(stats.unsafeBytesLost).to.be.greaterThan(0);
  expect(stats.bytesLost).to.equal(0);
});
