// The 2013 profile is one era: every function, tracepoint, syscall and ioctl a walk under
// `profile: qemu-kvm-2013` prints must have existed in the seed's trees — Fedora 15's kernel
// (Linux 3.2.7's tree; the kvm_vmx_exit_handlers[] the seed shows, 2.6.38-3.0) and qemu-kvm 0.14
// (qemu-kvm.git at 0.14.50). The names and where each is defined: test/data/era-2013-names.tsv.

import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../runner/paths';
import { expect } from 'chai';
import { applySet, DEFAULT_CONFIG, type VmConfig } from '../src/config';
import { fsyncAction, parseAction, umountAction } from '../src/guest/actions';
import { bufferedWriteAction } from '../src/guest/buffered';
import { Stack } from '../src/stack';
import type { TraceEvent } from '../src/trace/recorder';
import { explain } from '../src/walk';

/**
 * The code a named event stands for, as `BOX NAME`: a function, tracepoint or exit handler of the box
 * it happens in; a syscall of the kernel that serves it; an ioctl or a KVM_EXIT_* of kvm.
 */
function codeName(e: TraceEvent): string | null {
  switch (e.kind) {
    case 'call': case 'exit-handler': case 'tracepoint': case 'aio-complete': return `${e.from}\t${e.name}`;
    case 'syscall': return `${e.to}\t${e.name}`;
    case 'syscall-return': return `${e.from}\t${e.name}`;
    case 'ioctl': return `${e.to}\t${e.name}`;
    case 'ioctl-return': return `${e.from}\t${e.name}`;
    default: return null;
  }
}

/** BOX<TAB>NAME → where it is defined (TREE PATH). */
function allowlist(): Map<string, string> {
  const file = path.join(packageRoot(), 'test', 'data', 'era-2013-names.tsv');
  const names = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [box, name, where] = line.split('\t');
    if (!box || !name || !where) throw new Error(`${file}: "${line}": expected BOX<TAB>NAME<TAB>WHERE`);
    names.set(`${box}\t${name}`, where);
  }
  return names;
}

function config(sets: string[]): VmConfig {
  return sets.reduce((c, s) => applySet(c, s), applySet(DEFAULT_CONFIG, 'profile=qemu-kvm-2013'));
}

function collect(into: Map<string, string>, events: readonly TraceEvent[], where: string): void {
  for (const e of events) {
    const k = codeName(e);
    if (k !== null && !into.has(k)) into.set(k, where);
  }
}

/** The machines of the era the model runs: the seed's, and what else qemu-kvm 0.14 could be told. */
const MACHINES = [[], ['disk.vectors=2'], ['ioeventfd=true'], ['disk.vectors=2', 'ioeventfd=true'], ['disk.backend=threads'],
  ['disk.backend=threads', 'disk.cache=writeback'], ['disk.backend=threads', 'disk.cache=unsafe'], ['irqchip=userspace'], ['memory_mib=4096']];
/**
 * A process's I/O, one after the other on one machine (the file exists for the read and the fsync):
 * the seed's write and what ext2 does besides — O_DIRECT, an append, fdatasync, directories,
 * rename, unlink, sync(2), and a read after the caches were dropped.
 */
const PROCESS = ['write hello /hello.txt', 'read 5 /hello.txt', 'fsync /hello.txt', 'write-blocks 3 4 /a', 'fsync /a',
  'append more /hello.txt', 'fdatasync /hello.txt', 'mkdir /d', 'rename /a /d/a', 'unlink /d/a', 'sync', 'drop-caches', 'read 8 /hello.txt'];
/** Single instructions, each on a fresh machine (some stop or reset it). */
const INSTRUCTIONS = ['cpuid 0x0', 'cpuid 0x40000001', 'rdmsr 0x1b', 'wrmsr 0x80b 0x0', 'wrmsr 0x808 0x20', 'inl 0x1234',
  'outb 0x70 0x0', 'inb 0x71', 'inb 0x61', 'outb 0x40 0x0', 'inb 0x40', 'outw 0xc050 0x0', 'readl 0xfe000000', 'writel 0xfe000000 0x1',
  'readl 0xfec00000', 'vmcall', 'hlt', 'invd', 'wbinvd', 'xsetbv 0 0x7', 'ud2', 'mwait', 'monitor', 'vmxon', 'invept', 'rdpmc 0x0',
  'pause', 'mov cr8 0x0', 'lidt 0x0; ud2', 'loop 2 cpuid 0x0'];

test('the 2013 profile prints only names that existed in Linux 3.2 and qemu-kvm 0.14', () => {
  const allowed = allowlist();
  const seen = new Map<string, string>();
  for (const sets of MACHINES) {
    const stack = new Stack(config(sets));
    for (const a of PROCESS) {
      const o = stack.submit(parseAction(a));
      collect(seen, stack.trace.slice(o.from, o.to), `${a} [${sets.join(' ') || 'seed machine'}]`);
    }
  }
  // More requests than the ring and the request pool hold: 34 MiB written through the page cache on
  // 1 KiB blocks, a request per 256 KiB between indirect blocks — 136, more than the 42 the
  // 128-descriptor ring takes and the 128 requests of the queue's pool — then fsync and the unmount.
  const big = new Stack(config(['disk.ext2_block_size=1024', 'disk.size_mib=64']));
  for (const a of [bufferedWriteAction(new Uint8Array(34 << 20).fill(0x61), '/big'), fsyncAction('/big'), umountAction()]) {
    const o = big.submit(a);
    collect(seen, big.trace.slice(o.from, o.to), 'a 34 MiB write, fsync and umount [disk.ext2_block_size=1024]');
  }
  expect(big.guest.mq.stats.stops, 'the ring filled').to.be.greaterThan(0);
  expect(big.guest.mq.stats.tagWaits, 'the request pool ran out').to.be.greaterThan(0);
  for (const sets of [[], ['irqchip=userspace'], ['on_triple_fault=shutdown']]) {
    for (const a of INSTRUCTIONS) collect(seen, explain(config(sets), a).events, `${a} [${sets.join(' ') || 'seed machine'}]`);
  }
  const foreign = [...seen].filter(([n]) => !allowed.has(n)).map(([n, where]) => `${n.replace('\t', ': ')} (in: ${where})`);
  expect(foreign, 'names the seed\'s trees do not have').to.deep.equal([]);
  expect(seen.size, 'names the walks printed').to.be.greaterThan(80);
});

test('the 2013 name list names where each name is defined', () => {
  for (const [name, where] of allowlist()) {
    expect(where, name).to.match(/^(linux-3\.2\.7|qemu-kvm-0\.14\.50|seed) \S+/);
  }
});
