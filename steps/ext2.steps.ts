// The guest's ext2: what a process does to its files (open flags, append, mkdir, unlink, rename,
// fdatasync, sync, unmount, drop_caches), the block requests that reach the disk, and the disk
// as the real e2fsprogs see it (e2fsck -fn, debugfs) or as the model's image reader reads it.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { After, Given, Then, When, type DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import {
  dropCachesAction, fsyncAction, mkdirAction, readAction, renameAction, syncAction, umountAction, unlinkAction, writeAction, writeWhileComputingAction,
} from '../src/guest/actions';
import { O_APPEND, O_CREAT, O_DIRECT, O_DSYNC, O_RDONLY, O_SYNC, O_TRUNC, O_WRONLY } from '../src/guest/kernel';
import { Ext2Image } from '../src/ext2/image';
import { bufferedWriteAction } from '../src/guest/buffered';
import type { ExitpathWorld } from './support/world';
import { cliScratchDir } from './cli.steps';

const FLAGS: Record<string, number> = { O_DIRECT, O_SYNC, O_DSYNC, O_APPEND, O_TRUNC };

/** "O_SYNC|O_DIRECT" → the flags, with O_CREAT|O_WRONLY. */
function flagsOf(text: string): number {
  let f = O_CREAT | O_WRONLY;
  for (const name of text.split('|')) {
    const v = FLAGS[name.trim()];
    if (v === undefined) throw new Error(`'${name}' is not an open flag these steps know (${Object.keys(FLAGS).join(', ')})`);
    f |= v;
  }
  return f;
}

When('the guest process writes {string} to {string} with {word}', function (this: ExitpathWorld, text: string, file: string, flags: string) {
  this.run(writeAction(new TextEncoder().encode(text), file, flagsOf(flags)));
});

When('the guest process writes {int} KiB of {string} to {string} with {word}', function (this: ExitpathWorld, kib: number, ch: string, file: string, flags: string) {
  if (ch.length !== 1) throw new Error(`'${ch}': expected one character to fill the data with`);
  this.run(writeAction(new TextEncoder().encode(ch.repeat(kib * 1024)), file, flagsOf(flags)));
});

When('the guest process reads {int} bytes from {string} with O_DIRECT', function (this: ExitpathWorld, n: number, file: string) {
  this.run(readAction(n, file, O_RDONLY | O_DIRECT));
});

When('the guest process writes {int} KiB of {string} to {string} with {word} while another process computes for {int} µs',
  function (this: ExitpathWorld, kib: number, ch: string, file: string, flags: string, us: number) {
    this.run(writeWhileComputingAction(new TextEncoder().encode(ch.repeat(kib * 1024)), file, us * 1000 * this.stack.clock.ghz, flagsOf(flags)));
  });

/** Data that shows where each sector belongs: its sector number in its first 4 bytes, its low byte after. */
function patterned(bytes: number): Uint8Array {
  const d = new Uint8Array(bytes);
  const v = new DataView(d.buffer);
  for (let s = 0; s * 512 < bytes; s++) {
    const o = s * 512;
    d.fill(s & 0xff, o, Math.min(o + 512, bytes));
    if (o + 4 <= bytes) v.setUint32(o, s, true);
  }
  return d;
}

/** What each path was last written with, and the inode ext2_new_inode gave it. */
const written = new WeakMap<ExitpathWorld, Map<string, { data: Uint8Array; ino: number }>>();

When(/^the guest process writes (\d+) (KiB|MiB) of patterned data to "([^"]+)" through the page cache$/, function (this: ExitpathWorld, n: string, unit: string, file: string) {
  const data = patterned(Number(n) * (unit === 'MiB' ? 1 << 20 : 1024));
  this.run(bufferedWriteAction(data, file));
  const created = this.last.events.filter((e) => e.name === 'ext2_new_inode').pop();
  if (!created) throw new Error(`${file} was not created by this write (it must be a new file)`);
  const m = written.get(this) ?? new Map();
  m.set(file, { data, ino: Number(created.detail.ino) });
  written.set(this, m);
});

Then('every byte the process wrote to {string} is on the disk', function (this: ExitpathWorld, file: string) {
  const w = written.get(this)?.get(file);
  if (!w) throw new Error(`no patterned data was written to ${file} in this scenario`);
  const img = image(this);
  const inode = img.inode(w.ino);
  expect(inode && inode.links > 0, `inode ${w.ino} is not in use on the disk`).to.equal(true);
  expect(inode!.size, `inode ${w.ino}'s size on the disk`).to.equal(w.data.length);
  const got = img.readFile(inode!);
  const same = Buffer.from(got.buffer, got.byteOffset, got.length).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.length));
  let bad = -1;
  if (!same) for (let i = 0; i < got.length; i++) if (got[i] !== w.data[i]) { bad = i; break; }
  const lost = same ? 0 : got.reduce((n, b, i) => n + (b !== w.data[i] ? 1 : 0), 0);
  expect(lost, `bytes of ${file} not on the disk (the first at offset ${bad})`).to.equal(0);
});

Then('what the process wrote to {string} is not on the disk', function (this: ExitpathWorld, file: string) {
  const w = written.get(this)?.get(file);
  if (!w) throw new Error(`no patterned data was written to ${file} in this scenario`);
  const inode = image(this).inode(w.ino);
  expect(inode && inode.links > 0 && inode.size === w.data.length, `inode ${w.ino} is on the disk with the data`).to.equal(false);
});

Then('blk-mq found the virtqueue full and requeued requests until completions restarted it', function (this: ExitpathWorld) {
  const ev = this.last.events;
  const stops = ev.filter((e) => e.name === 'blk_mq_stop_hw_queue').length;
  const restarts = ev.filter((e) => e.name === 'blk_mq_start_stopped_hw_queues').length;
  expect(stops, 'times virtio_queue_rq found the ring full (BLK_STS_DEV_RESOURCE)').to.be.greaterThan(0);
  expect(restarts, 'times virtblk_done restarted the stopped queue').to.equal(stops);
  expect(this.stack.guest.mq.stopped, 'the hardware queue is still stopped').to.equal(false);
});

When('the guest process calls fdatasync on {string}', function (this: ExitpathWorld, file: string) {
  this.run(fsyncAction(file, true));
});

When('the guest process creates the directory {string}', function (this: ExitpathWorld, dir: string) {
  this.run(mkdirAction(dir));
});

When('the guest process unlinks {string}', function (this: ExitpathWorld, file: string) {
  this.run(unlinkAction(file));
});

When('the guest process renames {string} to {string}', function (this: ExitpathWorld, from: string, to: string) {
  this.run(renameAction(from, to));
});

When('the guest process calls sync', function (this: ExitpathWorld) {
  this.run(syncAction());
});

When('the guest drops its caches', function (this: ExitpathWorld) {
  this.run(dropCachesAction());
});

Given('the disk\'s own write cache is off', function (this: ExitpathWorld) {
  this.stack.image.setWriteCache(false);
});

Given(/^the host will lose power once the disk has taken (\d+) more writes?$/, function (this: ExitpathWorld, n: string) {
  this.stack.image.cutPowerAfterWrites(Number(n));
});

When('the guest unmounts its disk', function (this: ExitpathWorld) {
  this.run(umountAction());
  expect(this.last.summary.guestResult.value, 'umount').to.equal(0);
});

// ---------------------------------------------------------------- block requests

/** The block requests the last action sent to the driver: block_rq_issue, less those turned away and issued again. */
function requests(w: ExitpathWorld): { op: string; sector: number; bytes: number; call: string }[] {
  const out: { op: string; sector: number; bytes: number; call: string }[] = [];
  let call = '';
  for (const e of w.last.events) {
    if (e.kind === 'syscall' && e.from === 'guest process') call = e.name;
    if (e.name === 'block_rq_issue') out.push({ op: String(e.detail.rwbs), sector: Number(e.detail.sector), bytes: Number(e.detail.bytes), call });
    if (e.name === 'block_rq_requeue') out.pop();
  }
  return out;
}

const blockSize = (w: ExitpathWorld) => w.config.disk.ext2_block_size ?? 4096;
const OPS: Record<string, string> = { R: 'read', W: 'write', F: 'flush' };

Then('the block requests are:', function (this: ExitpathWorld, table: DataTable) {
  const bs = blockSize(this);
  const got = requests(this).map((r) => {
    const row: Record<string, string> = { call: r.call, op: OPS[r.op] ?? r.op, block: r.op === 'F' ? '' : String((r.sector * 512) / bs), blocks: r.op === 'F' ? '' : String(Math.ceil(r.bytes / bs)) };
    return row;
  });
  const want = table.hashes();
  const cols = Object.keys(want[0] ?? {});
  expect(got.map((g) => Object.fromEntries(cols.map((c) => [c, g[c] ?? '']))), 'block requests (call, op, block, blocks)').to.deep.equal(want);
});

Then(/^the guest sends (\d+) block requests?$/, function (this: ExitpathWorld, n: string) {
  const r = requests(this);
  expect(r.length, r.map((x) => `${x.op}@${x.sector}`).join(' ')).to.equal(Number(n));
});

Then(/^the (write|read|fsync|openat) call takes (\d+) VM exits?$/, function (this: ExitpathWorld, name: string, n: string) {
  let inside = false;
  let exits = 0;
  for (const e of this.last.events) {
    if (e.kind === 'syscall' && e.from === 'guest process' && e.name === name) inside = true;
    else if (e.kind === 'syscall-return' && e.to === 'guest process' && e.name === name) inside = false;
    else if (inside && e.kind === 'vm-exit') exits++;
  }
  expect(exits).to.equal(Number(n));
});

// ---------------------------------------------------------------- the disk, read back

/** The image as a process on the host would read it now (after a power loss: what survived). */
function image(w: ExitpathWorld): Ext2Image {
  const img = w.stack.image;
  return new Ext2Image((o, l) => img.peek(o, l));
}

Then('the file {string} on the disk holds {string}', function (this: ExitpathWorld, file: string, text: string) {
  const data = image(this).cat(file);
  expect(data, `${file} is not on the disk`).to.not.equal(undefined);
  expect(new TextDecoder().decode(data)).to.equal(text);
});

Then('the disk has no file {string}', function (this: ExitpathWorld, file: string) {
  expect(image(this).lookup(file), `${file} is on the disk`).to.equal(undefined);
});

Then('inode {int} on the disk holds {string}', function (this: ExitpathWorld, ino: number, text: string) {
  const img = image(this);
  const inode = img.inode(ino);
  expect(inode && inode.links > 0 && !inode.dtime, `inode ${ino} is not in use on the disk`).to.equal(true);
  expect(new TextDecoder().decode(img.readFile(inode!))).to.equal(text);
});

// ---------------------------------------------------------------- e2fsprogs

/** The image in a temporary file, for e2fsprogs. */
function imageFile(w: ExitpathWorld): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-ext2-'));
  const file = path.join(dir, 'disk.img');
  const img = w.stack.image;
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, img.size);
    for (let off = 0; off < img.size; off += 1 << 20) {
      const part = img.peek(off, Math.min(1 << 20, img.size - off));
      for (let i = 0; i < part.length; i += 4096) {
        const page = part.subarray(i, i + 4096);
        if (!allZero(page)) fs.writeSync(fd, page, 0, page.length, off + i);
      }
    }
  } finally { fs.closeSync(fd); }
  return file;
}

function tool(cmd: string, args: string[]): { status: number; out: string; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin` } });
  if (r.error) throw new Error(`cannot run ${cmd} (${(r.error as NodeJS.ErrnoException).code}): install e2fsprogs (Debian: apt-get install e2fsprogs)`);
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** e2fsck -fn's findings: its output without the banner, the pass headings and the summary line; the image's name reads IMAGE. */
export function e2fsckFindings(file: string): { status: number; findings: string[] } {
  const { status, out } = tool('e2fsck', ['-fn', file]);
  const findings = out.split('\n').map((l) => l.trimEnd().split(file).join('IMAGE'))
    .filter((l) => l && !/^e2fsck \d/.test(l) && !/^Pass \d/.test(l) && !l.includes(' files (') && !/^\s*$/.test(l));
  return { status, findings };
}

function withImage<T>(w: ExitpathWorld, f: (file: string) => T): T {
  const file = imageFile(w);
  try { return f(file); } finally { fs.rmSync(path.dirname(file), { recursive: true, force: true }); }
}

Then('e2fsck finds the disk clean', function (this: ExitpathWorld) {
  withImage(this, (file) => {
    const r = e2fsckFindings(file);
    expect(r.findings, 'e2fsck -fn findings').to.deep.equal([]);
    expect(r.status, 'e2fsck -fn exit status').to.equal(0);
  });
});

Then('e2fsck -fn exits with {int} and reports:', function (this: ExitpathWorld, status: number, text: string) {
  withImage(this, (file) => {
    const r = e2fsckFindings(file);
    expect(r.findings.join('\n')).to.equal(text.trim());
    expect(r.status, 'e2fsck -fn exit status').to.equal(status);
  });
});

Then('debugfs -R {string} prints {string}', function (this: ExitpathWorld, request: string, text: string) {
  withImage(this, (file) => {
    const r = tool('debugfs', ['-R', request, file]);
    expect(r.stdout).to.equal(text);
  });
});

Then(/^debugfs -R "([^"]+)" prints (\d+) bytes of "(.)"(?: then (\d+) bytes of "(.)")?$/, function (this: ExitpathWorld, request: string, n1: string, c1: string, n2?: string, c2?: string) {
  const want = c1.repeat(Number(n1)) + (c2 ? c2.repeat(Number(n2)) : '');
  withImage(this, (file) => {
    const r = tool('debugfs', ['-R', request, file]);
    expect(r.stdout.length, 'bytes printed').to.equal(want.length);
    const at = [...want].findIndex((ch, i) => r.stdout[i] !== ch);
    expect(at, 'the first byte that differs').to.equal(-1);
  });
});

// The image a CLI run wrote (explain --disk-out FILE), in the CLI steps' scratch directory.
Then('debugfs -R {string} on {string} prints {string}', function (this: ExitpathWorld, request: string, file: string, text: string) {
  expect(tool('debugfs', ['-R', request, path.join(cliScratchDir(this), file)]).stdout).to.equal(text);
});

Then('e2fsck finds {string} clean', function (this: ExitpathWorld, file: string) {
  const r = e2fsckFindings(path.join(cliScratchDir(this), file));
  expect({ status: r.status, findings: r.findings }).to.deep.equal({ status: 0, findings: [] });
});

/** A disk image made by the real tools: mkfs.ext2 -b 4096 FILE 64M, then files put there with debugfs -w. */
Given('a disk made by {string} with the files:', function (this: ExitpathWorld, mkfs: string, table: DataTable) {
  const m = /^mkfs\.ext2 -b (1024|4096) IMAGE (\d+)M$/.exec(mkfs);
  if (!m) throw new Error(`'${mkfs}': expected "mkfs.ext2 -b 4096 IMAGE 64M"`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-mkfs-'));
  const file = path.join(dir, 'disk.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, Number(m[2]) * 1024 * 1024);
  const r = tool('mkfs.ext2', ['-q', '-F', '-b', m[1]!, file]);
  if (r.status !== 0) throw new Error(`mkfs.ext2 failed: ${r.out}`);
  for (const row of table.hashes()) {
    const p = row.path!;
    if (row.content === '<directory>') { tool('debugfs', ['-w', '-R', `mkdir ${p}`, file]); continue; }
    const src = path.join(dir, 'src');
    // "<60 KiB of q>" stands for that many bytes of one letter; "\n" is a newline.
    const big = /^<(\d+) KiB of (.)>$/.exec(row.content ?? '');
    fs.writeFileSync(src, big ? big[2]!.repeat(Number(big[1]) * 1024) : (row.content ?? '').replace(/\\n/g, '\n'));
    const w = tool('debugfs', ['-w', '-R', `write ${src} ${p}`, file]);
    if (!/Allocated inode/.test(w.out)) throw new Error(`debugfs could not write ${p}: ${w.out}`);
  }
  this.configure((c) => { c.disk = { ...c.disk, image: file }; });
  madeDirs.set(this, [...(madeDirs.get(this) ?? []), dir]);
});

/** The images the scenario made are removed when it ends (the VM's file is closed first). */
const madeDirs = new WeakMap<ExitpathWorld, string[]>();
After(function (this: ExitpathWorld) {
  const dirs = madeDirs.get(this);
  if (!dirs) return;
  (this as unknown as { stackInstance?: { image: { close(): void } } }).stackInstance?.image.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Whether a 4 KiB page (at a 4-byte aligned offset of its buffer) holds only zeros. */
function allZero(page: Uint8Array): boolean {
  const w = new Int32Array(page.buffer, page.byteOffset, page.length >> 2);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  for (let i = w.length << 2; i < page.length; i++) if (page[i] !== 0) return false;
  return true;
}
