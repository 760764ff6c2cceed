// The guest's ext2: what a process does to its files (open flags, append, mkdir, unlink, rename,
// fdatasync, sync, unmount, drop_caches), the block requests that reach the disk, and the disk
// as the real e2fsprogs see it (e2fsck -fn, debugfs) or as the model's image reader reads it.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { After, Status, type DataTable, type ITestCaseHookParameter } from '@cucumber/cucumber';
import { expect } from 'chai';
import {
  dropCachesAction, fsyncAction, mkdirAction, readAction, renameAction, syncAction, umountAction, unlinkAction, writeAction, writeWhileComputingAction,
} from '../src/guest/actions';
import { O_APPEND, O_CREAT, O_DIRECT, O_DSYNC, O_RDONLY, O_SYNC, O_TRUNC, O_WRONLY } from '../src/guest/kernel';
import { Ext2Image } from '../src/ext2/image';
import { bufferedWriteAction, patterned, interleavedWriteAction } from '../src/guest/buffered';
import { writeImageFile } from '../src/walk';
import { stepsAbout } from './support/define';
import { SpecError, type ExitpathWorld } from './support/world';
import { cliScratchDir } from './cli.steps';

const { Given, When, Then } = stepsAbout('the guest\'s file system (ext2) and its disk');

const FLAGS: Record<string, number> = { O_DIRECT, O_SYNC, O_DSYNC, O_APPEND, O_TRUNC };

/** "O_SYNC|O_DIRECT" → the flags, with O_CREAT|O_WRONLY. */
function flagsOf(text: string): number {
  let f = O_CREAT | O_WRONLY;
  for (const name of text.split('|')) {
    const v = FLAGS[name.trim()];
    if (v === undefined) throw new SpecError(`'${name}' is not an open flag these steps know (${Object.keys(FLAGS).join(', ')})`);
    f |= v;
  }
  return f;
}

When('the guest process writes {string} to {string} with {word}', { doc: 'open with O_CREAT|O_WRONLY and the flags named (`O_SYNC`, `O_DSYNC`, `O_DIRECT`, `O_APPEND`, `O_TRUNC`, joined by `|`), one write(), close', example: 'When the guest process writes "hello" to "/f" with O_SYNC|O_DIRECT' }, function (this: ExitpathWorld, text: string, file: string, flags: string) {
  this.run(writeAction(new TextEncoder().encode(text), file, flagsOf(flags)));
});

When('the guest process writes {int} KiB of {string} to {string} with {word}', { doc: 'the same with KiB of one character: one write() of that many bytes' }, function (this: ExitpathWorld, kib: number, ch: string, file: string, flags: string) {
  if (ch.length !== 1) throw new SpecError(`'${ch}': expected one character to fill the data with`);
  this.run(writeAction(new TextEncoder().encode(ch.repeat(kib * 1024)), file, flagsOf(flags)));
});

When('the guest process reads {int} bytes from {string} with O_DIRECT', { doc: 'open O_RDONLY|O_DIRECT, one read() of that many bytes (a multiple of 512 at a 512-byte aligned offset, or EINVAL), close' }, function (this: ExitpathWorld, n: number, file: string) {
  this.run(readAction(n, file, O_RDONLY | O_DIRECT));
});

When('the guest process writes {int} KiB of {string} to {string} with {word} while another process computes for {int} µs',
  { doc: 'the same write, while a process that computes (no exit) runs whenever the writer sleeps' }, function (this: ExitpathWorld, kib: number, ch: string, file: string, flags: string, us: number) {
    this.run(writeWhileComputingAction(new TextEncoder().encode(ch.repeat(kib * 1024)), file, us * 1000 * this.stack.clock.ghz, flagsOf(flags)));
  });

/** What each path was last written with, and the inode ext2_new_inode gave it. */
const written = new WeakMap<ExitpathWorld, Map<string, { data: Uint8Array; ino: number }>>();

When(/^the guest process writes (\d+) (KiB|MiB) of patterned data to "([^"]+)" through the page cache$/, { doc: 'a buffered write to a new file of data that says where each 512-byte sector belongs (its sector number, then its low byte); the inode ext2_new_inode gives it is kept for the checks below', example: 'When the guest process writes 344 KiB of patterned data to "/f" through the page cache' }, function (this: ExitpathWorld, n: string, unit: string, file: string) {
  const data = patterned(Number(n) * (unit === 'MiB' ? 1 << 20 : 1024));
  this.run(bufferedWriteAction(data, file));
  const created = this.last.events.filter((e) => e.name === 'ext2_new_inode').pop();
  if (!created) throw new SpecError(`${file} was not created by this write (it must be a new file)`);
  const m = written.get(this) ?? new Map();
  m.set(file, { data, ino: Number(created.detail.ino) });
  written.set(this, m);
});

When('the guest process writes {int} KiB of patterned data to {string} and to {string} in turns, {int} KiB at a time, through the page cache', { doc: 'both new files opened, then that many KiB written to each, alternately in pieces of the size given (buffered writes: their blocks are allocated in turns); each file\'s data says where each of its sectors belongs, and both are kept for the checks below' }, function (this: ExitpathWorld, kib: number, a: string, b: string, piece: number) {
  const da = patterned(kib * 1024);
  const db = patterned(kib * 1024).map((x) => x ^ 0xff);
  this.run(interleavedWriteAction(a, da, b, db, piece * 1024));
  const created = this.last.events.filter((e) => e.name === 'ext2_new_inode');
  if (created.length !== 2) throw new SpecError(`${a} and ${b} must be new files (this step created ${created.length})`);
  const m = written.get(this) ?? new Map();
  m.set(a, { data: da, ino: Number(created[0]!.detail.ino) });
  m.set(b, { data: db, ino: Number(created[1]!.detail.ino) });
  written.set(this, m);
});

Then('every byte the process wrote to {string} is on the disk', { doc: 'the patterned file, read from the disk by its inode with the image reader: its size and every byte (after a power loss: what reached the media)' }, function (this: ExitpathWorld, file: string) {
  const w = written.get(this)?.get(file);
  if (!w) throw new SpecError(`no patterned data was written to ${file} in this scenario`);
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

Then('what the process wrote to {string} is not on the disk', { doc: 'the patterned file\'s inode on the disk is not in use with its size, or does not hold the data' }, function (this: ExitpathWorld, file: string) {
  const w = written.get(this)?.get(file);
  if (!w) throw new SpecError(`no patterned data was written to ${file} in this scenario`);
  const inode = image(this).inode(w.ino);
  expect(inode && inode.links > 0 && inode.size === w.data.length, `inode ${w.ino} is on the disk with the data`).to.equal(false);
});

/**
 * The block layer's own functions for a full ring: the queue stopped, and started again by a
 * completion — blk-mq's blk_mq_stop_hw_queue and blk_mq_start_stopped_hw_queues (6.1), the request
 * queue's blk_stop_queue and blk_start_queue (3.2).
 */
const QUEUE_STOP = { '6.1': 'blk_mq_stop_hw_queue', '3.2': 'blk_stop_queue' } as const;
const QUEUE_START = { '6.1': 'blk_mq_start_stopped_hw_queues', '3.2': 'blk_start_queue' } as const;

Then('the guest found the virtqueue full and completions restarted its queue', { doc: 'the driver had a request the ring could not hold and stopped the queue (blk-mq\'s `blk_mq_stop_hw_queue`, 3.2\'s `blk_stop_queue`); each stop was followed by a completion restarting it (`blk_mq_start_stopped_hw_queues`, `blk_start_queue`), and the queue ends running with nothing left behind', scope: true }, function (this: ExitpathWorld) {
  const kernel = this.stack.guest.mq.kernel;
  const ev = this.scoped.events;
  const stops = ev.flatMap((e, i) => (e.name === QUEUE_STOP[kernel] ? [i] : []));
  expect(stops.length, `times the driver found the ring full (${QUEUE_STOP[kernel]}) ${this.scopeWords}`).to.be.greaterThan(0);
  const unrestarted = stops.filter((i) => !ev.slice(i + 1).some((e) => e.name === QUEUE_START[kernel]));
  expect(unrestarted.length, `stops not followed by ${QUEUE_START[kernel]}`).to.equal(0);
  expect(this.stack.guest.mq.stopped, 'the queue is still stopped').to.equal(false);
});

When('the guest process calls fdatasync on {string}', { doc: 'open read-only, fdatasync(), close: like fsync, but the inode is written only if what changed matters to the data (I_DIRTY_DATASYNC)' }, function (this: ExitpathWorld, file: string) {
  this.run(fsyncAction(file, true));
});

When('the guest process creates the directory {string}', { doc: 'mkdir(2): ext2_mkdir — a new inode, a block for `.` and `..`, an entry in the parent' }, function (this: ExitpathWorld, dir: string) {
  this.run(mkdirAction(dir));
});

When('the guest process unlinks {string}', { doc: 'unlink(2): the entry goes (ext2_delete_entry); the inode and its blocks are freed at the last close' }, function (this: ExitpathWorld, file: string) {
  this.run(unlinkAction(file));
});

When('the guest process renames {string} to {string}', { doc: 'rename(2): ext2_rename — the new entry, then the old one removed' }, function (this: ExitpathWorld, from: string, to: string) {
  this.run(renameAction(from, to));
});

When('the guest process calls sync', { doc: 'sync(2): every dirty inode, page and buffer of the file system written back and waited for; ext2 sends no cache flush' }, function (this: ExitpathWorld) {
  this.run(syncAction());
});

When('the guest drops its caches', { doc: '`echo 3 > /proc/sys/vm/drop_caches`: clean pages and buffers leave the guest\'s caches (no I/O)' }, function (this: ExitpathWorld) {
  this.run(dropCachesAction());
});

Given('the disk\'s own write cache is off', { doc: 'the host disk writes through: a write it completes is on the media (what survives a power loss)' }, function (this: ExitpathWorld) {
  this.stack.image.setWriteCache(false);
});

Given(/^the host will lose power once the disk has taken (\d+) more writes?$/, { doc: 'a power cut armed: after that many more device writes the disk keeps what was durable then and takes nothing more', example: 'Given the host will lose power once the disk has taken 4 more writes' }, function (this: ExitpathWorld, n: string) {
  this.stack.image.cutPowerAfterWrites(Number(n));
});

When('the guest unmounts its disk', { doc: 'umount2("/"): sync_filesystem, then ext2_put_super marks the superblock clean; it must return 0' }, function (this: ExitpathWorld) {
  this.run(umountAction());
  expect(this.last.summary.guestResult.value, 'umount').to.equal(0);
});

// ---------------------------------------------------------------- block requests

/**
 * The block requests sent to the driver, in the walk a count step looks at: block_rq_issue (fired
 * once per request the first time the driver sees it), less those blk-mq took back
 * (block_rq_requeue) and issued again; with the guest syscall each was made in.
 */
function requests(w: ExitpathWorld): { op: string; sector: number; bytes: number; call: string }[] {
  const out: { op: string; sector: number; bytes: number; call: string }[] = [];
  let call = '';
  for (const e of w.scoped.events) {
    if (e.kind === 'syscall' && e.from === 'guest process') call = e.name;
    if (e.name === 'block_rq_issue') out.push({ op: String(e.detail.rwbs), sector: Number(e.detail.sector), bytes: Number(e.detail.bytes), call });
    if (e.name === 'block_rq_requeue') out.pop();
  }
  return out;
}

const blockSize = (w: ExitpathWorld) => w.config.disk.ext2_block_size ?? 4096;
const OPS: Record<string, string> = { R: 'read', W: 'write', F: 'flush' };

Then('the block requests are:', { doc: 'the requests, in order, as a table with any of the columns `call` (the guest syscall), `op` (read, write, flush), `block` (the first file-system block) and `blocks` (how many)', scope: true }, function (this: ExitpathWorld, table: DataTable) {
  const bs = blockSize(this);
  const got = requests(this).map((r) => {
    const row: Record<string, string> = { call: r.call, op: OPS[r.op] ?? r.op, block: r.op === 'F' ? '' : String((r.sector * 512) / bs), blocks: r.op === 'F' ? '' : String(Math.ceil(r.bytes / bs)) };
    return row;
  });
  const want = table.hashes();
  const cols = Object.keys(want[0] ?? {});
  const unknown = cols.filter((c) => !['call', 'op', 'block', 'blocks'].includes(c));
  if (unknown.length) throw new SpecError(`unknown column(s) ${unknown.join(', ')}: the columns are call, op, block and blocks`);
  expect(got.map((g) => Object.fromEntries(cols.map((c) => [c, g[c] ?? '']))), `block requests (${cols.join(', ')}) ${this.scopeWords}`).to.deep.equal(want);
});

Then(/^the guest sends (\d+) block requests?$/, { doc: 'exactly that many requests reach the driver (a flush counts)', scope: true, example: 'Then the guest sends 6 block requests' }, function (this: ExitpathWorld, n: string) {
  const r = requests(this);
  expect(r.length, `${r.map((x) => `${x.op}@${x.sector}`).join(' ')} ${this.scopeWords}`).to.equal(Number(n));
});

Then(/^the (write|read|fsync|openat) call takes (\d+) VM exits?$/, { doc: 'the VM exits between the guest process\'s syscall and its return', scope: true, example: 'Then the write call takes 16 VM exits' }, function (this: ExitpathWorld, name: string, n: string) {
  let inside = false;
  let exits = 0;
  for (const e of this.scoped.events) {
    if (e.kind === 'syscall' && e.from === 'guest process' && e.name === name) inside = true;
    else if (e.kind === 'syscall-return' && e.to === 'guest process' && e.name === name) inside = false;
    else if (inside && e.kind === 'vm-exit') exits++;
  }
  expect(exits, `VM exits inside ${name}() ${this.scopeWords}`).to.equal(Number(n));
});

// ---------------------------------------------------------------- the disk, read back

/** The image as a process on the host would read it now (after a power loss: what survived). */
function image(w: ExitpathWorld): Ext2Image {
  const img = w.stack.image;
  return new Ext2Image((o, l) => img.peek(o, l));
}

Then('the file {string} on the disk holds {string}', { doc: 'the image as a process on the host reads it now, read by the model\'s ext2 reader: the path resolves and the file holds exactly that text' }, function (this: ExitpathWorld, file: string, text: string) {
  const data = image(this).cat(file);
  expect(data, `${file} is not on the disk`).to.not.equal(undefined);
  expect(new TextDecoder().decode(data)).to.equal(text);
});

Then('the disk has no file {string}', { doc: 'no directory entry on the disk resolves the path' }, function (this: ExitpathWorld, file: string) {
  expect(image(this).lookup(file), `${file} is on the disk`).to.equal(undefined);
});

Then('inode {int} on the disk holds {string}', { doc: 'the inode is in use on the disk and its data is exactly that text (whether or not a name leads to it)' }, function (this: ExitpathWorld, ino: number, text: string) {
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
  writeImageFile(w.stack.image, file);
  return file;
}

function tool(cmd: string, args: string[]): { status: number; out: string; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin` } });
  if (r.error) throw new SpecError(`cannot run ${cmd} (${(r.error as NodeJS.ErrnoException).code}): install e2fsprogs (Debian: apt-get install e2fsprogs)`);
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** e2fsck -fn's findings: its output without the banner, the pass headings and the summary line; the image's name reads IMAGE. */
export function e2fsckFindings(file: string): { status: number; findings: string[] } {
  const { status, out } = tool('e2fsck', ['-fn', file]);
  const findings = out.split('\n').map((l) => l.trimEnd().split(file).join('IMAGE'))
    .filter((l) => l && !/^e2fsck \d/.test(l) && !/^Pass \d/.test(l) && !l.includes(' files (') && !/^\s*$/.test(l));
  return { status, findings };
}

/**
 * Run `f` on the image as a host process reads it: the VM's own raw file when nothing of it waits
 * in the host's page cache (the file then is what a reader sees), else a copy made for the check.
 */
function withImage<T>(w: ExitpathWorld, f: (file: string) => T): T {
  const own = w.stack.image.readableFile();
  if (own !== null) return f(own);
  const file = imageFile(w);
  try { return f(file); } finally { fs.rmSync(path.dirname(file), { recursive: true, force: true }); }
}

Then('e2fsck finds the disk clean', { doc: 'the real `e2fsck -fn` on the image as the host reads it now: no finding, exit status 0' }, function (this: ExitpathWorld) {
  withImage(this, (file) => {
    const r = e2fsckFindings(file);
    expect(r.findings, 'e2fsck -fn findings').to.deep.equal([]);
    expect(r.status, 'e2fsck -fn exit status').to.equal(0);
  });
});

Then('e2fsck -fn exits with {int} and reports:', { doc: 'the real `e2fsck -fn`\'s findings, without its banner, pass headings and summary line; the image\'s name reads IMAGE' }, function (this: ExitpathWorld, status: number, text: string) {
  withImage(this, (file) => {
    const r = e2fsckFindings(file);
    expect(r.findings.join('\n')).to.equal(text.trim());
    expect(r.status, 'e2fsck -fn exit status').to.equal(status);
  });
});

Then('debugfs -R {string} prints {string}', { doc: 'the real `debugfs -R REQUEST` on the image prints exactly that' }, function (this: ExitpathWorld, request: string, text: string) {
  withImage(this, (file) => {
    const r = tool('debugfs', ['-R', request, file]);
    expect(r.stdout).to.equal(text);
  });
});

Then(/^debugfs -R "([^"]+)" prints (\d+) bytes of "(.)"(?: then (\d+) bytes of "(.)")?$/, { doc: 'the same, for output of many repeated letters', example: 'Then debugfs -R "cat /big" prints 61440 bytes of "q"' }, function (this: ExitpathWorld, request: string, n1: string, c1: string, n2?: string, c2?: string) {
  const want = c1.repeat(Number(n1)) + (c2 ? c2.repeat(Number(n2)) : '');
  withImage(this, (file) => {
    const r = tool('debugfs', ['-R', request, file]);
    expect(r.stdout.length, 'bytes printed').to.equal(want.length);
    const at = [...want].findIndex((ch, i) => r.stdout[i] !== ch);
    expect(at, 'the first byte that differs').to.equal(-1);
  });
});

// The image a CLI run wrote (explain --disk-out FILE), in the CLI steps' scratch directory.
Then('debugfs -R {string} on {string} prints {string}', { doc: 'the real debugfs on a file a CLI step wrote (`explain … --disk-out FILE`)' }, function (this: ExitpathWorld, request: string, file: string, text: string) {
  expect(tool('debugfs', ['-R', request, path.join(cliScratchDir(this), file)]).stdout).to.equal(text);
});

Then('e2fsck finds {string} clean', { doc: 'the real `e2fsck -fn` on a file a CLI step wrote: no finding, status 0' }, function (this: ExitpathWorld, file: string) {
  const r = e2fsckFindings(path.join(cliScratchDir(this), file));
  expect({ status: r.status, findings: r.findings }).to.deep.equal({ status: 0, findings: [] });
});

/** A disk image made by the real tools: mkfs.ext2 -b 4096 FILE 64M, then files put there with debugfs -w. */
Given('a disk made by {string} with the files:', { doc: 'the real `mkfs.ext2 -b 4096 IMAGE 64M` (or `-b 1024`), then the files put there by one `debugfs -w` run (content `<directory>` for a directory, `<N KiB of x>` for repeated letters, `\\n` for a newline); the VM boots on it (disk.image)' }, function (this: ExitpathWorld, mkfs: string, table: DataTable) {
  const m = /^mkfs\.ext2 -b (1024|4096) IMAGE (\d+)M$/.exec(mkfs);
  if (!m) throw new SpecError(`'${mkfs}': expected "mkfs.ext2 -b 4096 IMAGE 64M"`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-mkfs-'));
  const file = path.join(dir, 'disk.img');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, Number(m[2]) * 1024 * 1024);
  const r = tool('mkfs.ext2', ['-q', '-F', '-b', m[1]!, file]);
  if (r.status !== 0) throw new Error(`mkfs.ext2 failed: ${r.out}`);
  // One debugfs -w run for all the files, its requests in a command file (debugfs -f).
  const requests: string[] = [];
  let writes = 0;
  table.hashes().forEach((row, i) => {
    const p = row.path!;
    if (row.content === '<directory>') { requests.push(`mkdir ${p}`); return; }
    const src = path.join(dir, `src${i}`);
    // "<60 KiB of q>" stands for that many bytes of one letter; "\n" is a newline.
    const big = /^<(\d+) KiB of (.)>$/.exec(row.content ?? '');
    fs.writeFileSync(src, big ? big[2]!.repeat(Number(big[1]) * 1024) : (row.content ?? '').replace(/\\n/g, '\n'));
    requests.push(`write ${src} ${p}`);
    writes++;
  });
  const cmds = path.join(dir, 'debugfs.cmds');
  fs.writeFileSync(cmds, requests.join('\n') + '\n');
  const w = tool('debugfs', ['-w', '-f', cmds, file]);
  const allocated = (w.out.match(/Allocated inode/g) ?? []).length;
  if (allocated !== writes) throw new Error(`debugfs wrote ${allocated} of the ${writes} files: ${w.out}`);
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

/**
 * With EXITPATH_CHECK_DISKS=1 in the environment (test/disks.test.ts runs the whole suite so), every
 * scenario that passed ends with a check of the disk its guest wrote: the guest unmounts its ext2
 * (sync_filesystem and ext2_put_super: every dirty page and buffer written, the superblock marked
 * clean) and the real `e2fsck -fn` reads the image; a finding fails the scenario. A disk is not
 * checked, for a reason said in EXITPATH_CHECK_DISKS_LOG, when no machine ran, when its last action
 * did not finish (the guest waits, the VM is paused), when the host lost power (the crash scenarios
 * state what e2fsck finds then), when a step wrote sectors behind the file system (the driver's own
 * requests), or when the guest can no longer finish the unmount's I/O.
 */
After({ name: 'the guest\'s ext2 is whole on the disk' }, function (this: ExitpathWorld, { result, pickle }: ITestCaseHookParameter) {
  if (process.env.EXITPATH_CHECK_DISKS !== '1' || result?.status !== Status.PASSED) return;
  const where = `${pickle.uri}\t${pickle.name}`;
  const log = (what: string) => { const f = process.env.EXITPATH_CHECK_DISKS_LOG; if (f) fs.appendFileSync(f, `${what}\t${where}\n`); };
  const last = this.walks[this.walks.length - 1];
  const skip = !this.running ? 'no machine ran'
    : last && last.state !== 'done' ? 'the last action did not finish'
      : this.stack.image.powerCut || this.stack.isGone ? 'the host lost power'
        : this.rawDiskWrites ? 'sectors were written behind the file system' : undefined;
  if (skip) { log(`not checked: ${skip}`); return; }
  try {
    this.stack.run(umountAction());
  } catch (e) {
    log(`not checked: the unmount could not finish (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-check-disk-'));
  try {
    const file = path.join(dir, 'disk.img');
    writeImageFile(this.stack.image, file);
    const r = e2fsckFindings(file);
    if (r.status !== 0 || r.findings.length) {
      log('dirty');
      throw new Error(`after the scenario and an unmount, e2fsck -fn finds the guest's ext2 damaged (status ${r.status}):\n${r.findings.join('\n')}`);
    }
    log('clean');
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
