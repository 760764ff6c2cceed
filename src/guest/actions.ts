// What the harness asks the guest to do: a process's syscalls, or one instruction in kernel mode.

import { ERRNO } from '../uapi/errno';
import { AsmError, MNEMONICS, parseInsn, parseProgram } from './asm';
import { editDistance } from '../edit_distance';
import type { KCode } from './io';
import { O_APPEND, O_CREAT, O_DIRECT, O_RDONLY, O_SYNC, O_WRONLY, POOL_START, type Action, type ActionResult, type GuestKernel } from './kernel';

export class ActionError extends Error {}

/**
 * Actions that run on any CPU: the kernel's own instructions. A process's syscalls and its block
 * I/O run on CPU 0 (the model's process, page cache and virtio queue belong to the boot CPU).
 */
const ANY_CPU = new WeakSet<Action>();
export const runsOnAnyCpu = (a: Action): boolean => ANY_CPU.has(a);
const anyCpu = (a: Action): Action => { ANY_CPU.add(a); return a; };

const res = (n: number, extra: Partial<ActionResult> = {}): ActionResult => ({ value: n, errno: n < 0 ? -n : null, ...extra });

function* withFile(k: GuestKernel, path: string, flags: number, body: (fd: number) => KCode<ActionResult>): KCode<ActionResult> {
  const fd = yield* k.sys_openat(path, flags);
  if (fd < 0) return res(fd);
  const r = yield* body(fd);
  yield* k.sys_close(fd);
  return r;
}

/** The seed's open flags: the write goes through the page cache and is on the disk when write() returns. */
export const SEED_FLAGS = O_CREAT | O_WRONLY | O_SYNC;

/**
 * A process writes `data` to `path` (created if needed), opened O_SYNC: one write() call, which
 * copies into the page cache and then, in generic_write_sync, writes the data and the inode back
 * and flushes the disk's cache before it returns.
 */
export function writeAction(data: Uint8Array, path: string, flags = SEED_FLAGS): Action {
  return (k) => withFile(k, path, flags, function* (fd) {
    const buf = k.userBuffer(data.length);
    k.ram.bytes.set(data, buf);
    const n = yield* k.sys_write(fd, buf, data.length);
    k.freeUserBuffer(buf, data.length);
    return res(n);
  });
}

/**
 * The seed's write while another process on vCPU 0 computes for `cycles`: the writer sleeps
 * waiting for each request, schedule() runs the other process instead of idling (until its
 * computation ends), so a completion interrupt arrives while the guest is running.
 */
export function writeWhileComputingAction(data: Uint8Array, path: string, cycles: number, flags = SEED_FLAGS): Action {
  return (k) => withFile(k, path, flags, function* (fd) {
    const buf = k.userBuffer(data.length);
    k.ram.bytes.set(data, buf);
    k.cpus[0]!.runnable.push(k.computeTask(cycles));
    const n = yield* k.sys_write(fd, buf, data.length);
    k.freeUserBuffer(buf, data.length);
    return res(n);
  });
}

/** A process reads up to `count` bytes of `path` from its start: one read() call (through the page cache). */
export function readAction(count: number, path: string, flags = O_RDONLY): Action {
  return (k) => withFile(k, path, flags, function* (fd) {
    const buf = k.userBuffer(count);
    const n = yield* k.sys_read(fd, buf, count);
    const data = n > 0 ? k.ram.bytes.slice(buf, buf + n) : new Uint8Array(0);
    k.freeUserBuffer(buf, count);
    return res(n, { data });
  });
}

/** A process opens `path` (a file or a directory) read-only and calls fsync (or fdatasync) on it. */
export function fsyncAction(path: string, datasync = false): Action {
  return (k) => withFile(k, path, O_RDONLY, function* (fd) { return res(yield* k.sys_fsync(fd, datasync)); });
}

/** A process appends `data` to `path` (created if needed): O_APPEND with the seed's O_SYNC. */
export function appendAction(data: Uint8Array, path: string): Action {
  return writeAction(data, path, O_CREAT | O_WRONLY | O_APPEND | O_SYNC);
}

export function mkdirAction(path: string): Action { return (k) => (function* () { return res(yield* k.sys_mkdir(path)); })(); }
export function unlinkAction(path: string): Action { return (k) => (function* () { return res(yield* k.sys_unlink(path)); })(); }
export function renameAction(from: string, to: string): Action { return (k) => (function* () { return res(yield* k.sys_rename(from, to)); })(); }
/** sync(2) */
export function syncAction(): Action { return (k) => (function* () { return res(yield* k.sys_sync()); })(); }
/** umount("/"): what a clean shutdown does before the disk is taken away. */
export function umountAction(): Action { return (k) => (function* () { return res(yield* k.sys_umount()); })(); }
/** echo 3 > /proc/sys/vm/drop_caches: clean cached pages and buffers are dropped (no I/O). */
export function dropCachesAction(): Action {
  return (k) => (function* (): KCode<ActionResult> { k.drop_caches(); yield* []; return res(0); })();
}

/** One instruction, executed by the guest kernel. */
export function instructionAction(text: string): Action {
  // One instruction, or several separated by ';': the result is the last one's; a fault stops the run.
  const program = parseProgram(text);
  return anyCpu((_k, c) => (function* (): KCode<ActionResult> {
    let result: ActionResult = { value: 0, errno: null };
    for (const insn of program) {
      insn.load(c.r);
      const f = yield insn.op;
      // A fault (e.g. #GP from an MSR kvm does not emulate) is fixed up by the kernel and reported.
      if (f !== 0) return { value: -1, errno: null, fault: f & 0xff };
      result = { value: insn.result(c.r), errno: null };
    }
    return result;
  })());
}

/**
 * The kernel on this CPU wakes CPU `cpu` (smp_send_reschedule): a reschedule IPI through the local
 * APIC's ICR. Its result is 0.
 */
export function reschedIpiAction(cpu: number): Action {
  return anyCpu((k, c) => (function* (): KCode<ActionResult> {
    if (!k.cpus[cpu]) return res(-ERRNO.EINVAL);
    yield* k.smp_send_reschedule(c, cpu);
    return res(0);
  })());
}

/**
 * One instruction executed `n` times by the guest kernel without returning to the harness: a
 * workload (an exit storm). Stops at the first fault; the result is that of the last instruction.
 */
export function loopAction(text: string, n: number): Action {
  const insn = parseInsn(text);
  return anyCpu((_k, c) => (function* (): KCode<ActionResult> {
    const r = c.r;
    const op = insn.op;
    for (let i = 0; i < n; i++) {
      insn.load(r);
      const f = yield op;
      if (f !== 0) return { value: -1, errno: null, fault: f & 0xff };
    }
    return { value: insn.result(r), errno: null };
  })());
}

/**
 * A process writes `blocks` blocks of `kib` KiB to `path` (created if needed) with O_DIRECT: one
 * open, `blocks` write() calls of one buffer each, one close. The result is the total written, or
 * the first error. Write i fills its buffer with one letter, 'A' + i mod 26, so the image shows
 * which write landed where.
 */
export function writeBlocksAction(blocks: number, kib: number, path: string): Action {
  const len = kib * 1024;
  return (k) => withFile(k, path, O_CREAT | O_WRONLY | O_DIRECT, function* (fd) {
    const buf = k.userBuffer(len);
    let total = 0;
    for (let i = 0; i < blocks; i++) {
      k.ram.bytes.fill(0x41 + (i % 26), buf, buf + len);
      const n = yield* k.sys_write(fd, buf, len);
      if (n < 0) { k.freeUserBuffer(buf, len); return res(total > 0 ? total : n); }
      total += n;
      if (n < len) break;
    }
    k.freeUserBuffer(buf, len);
    return res(total);
  });
}

/** A count in an ACTION: a whole number from 1 to 1,000,000,000. */
function count(s: string, text: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1e9) throw new ActionError(`action "${text}": ${s} is not a count from 1 to 1000000000`);
  return n;
}

/** What the guest kernel keeps for itself in the pool (the virtqueue, page tables of the model: a few pages; 1 MiB). */
const KERNEL_RESERVE = 0x100000;
/**
 * The largest buffer one read() or write() of the guest process can have: the guest's RAM above the
 * kernel's page pool start, less the kernel's own pages. (Simplification: the process's buffer is
 * contiguous guest-physical pages from the kernel's pool; a real process has virtual memory.)
 */
export function maxBufferBytes(ramBytes: number): number { return Math.max(0, ramBytes - POOL_START - KERNEL_RESERVE); }

function buffer(bytes: number, what: string, text: string, ramBytes: number | undefined): void {
  if (ramBytes === undefined || bytes <= maxBufferBytes(ramBytes)) return;
  const kib = Math.floor(maxBufferBytes(ramBytes) / 1024);
  throw new ActionError(`action "${text}": ${what} needs a buffer of ${bytes.toLocaleString('en-US')} bytes in the guest, which has `
    + `${ramBytes / 1024 / 1024} MiB of RAM: at most ${kib.toLocaleString('en-US')} KiB (${(kib * 1024).toLocaleString('en-US')} bytes) for one buffer (set memory_mib for more)`);
}

/**
 * Parse an ACTION as `exitpath explain` takes it. With `ramBytes` (the guest's RAM), a read or write
 * whose buffer cannot fit in the guest is refused here, with the limit.
 */
/** The process actions' forms, for the errors that name them. */
const ACTION_FORMS = `expected 'write TEXT PATH', 'append TEXT PATH', 'read N PATH', 'fsync PATH', 'fdatasync PATH', `
  + `'mkdir PATH', 'unlink PATH', 'rename PATH PATH', 'sync', 'drop-caches', 'write-blocks N KIB PATH', 'loop N INSTRUCTION', `
  + `'ipi CPU' (PATH starts with /) or an instruction`;

export function parseAction(text: string, limits: { ramBytes?: number } = {}): Action {
  const t = text.trim();
  let m = /^write\s+(?:"([^"]*)"|(\S+))\s+(\/\S*)$/.exec(t);
  if (m) {
    const data = new TextEncoder().encode(m[1] ?? m[2]!);
    buffer(data.length, `a write of ${data.length} bytes`, text, limits.ramBytes);
    return writeAction(data, m[3]!);
  }
  m = /^read\s+(\d+)\s+(\/\S*)$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) throw new ActionError(`action "${text}": ${m[1]} is not a byte count`);
    buffer(n, `a read of ${n} bytes`, text, limits.ramBytes);
    return readAction(n, m[2]!);
  }
  m = /^fsync\s+(\/\S*)$/.exec(t);
  if (m) return fsyncAction(m[1]!);
  m = /^fdatasync\s+(\/\S*)$/.exec(t);
  if (m) return fsyncAction(m[1]!, true);
  m = /^append\s+(?:"([^"]*)"|(\S+))\s+(\/\S*)$/.exec(t);
  if (m) {
    const data = new TextEncoder().encode(m[1] ?? m[2]!);
    buffer(data.length, `an append of ${data.length} bytes`, text, limits.ramBytes);
    return appendAction(data, m[3]!);
  }
  m = /^mkdir\s+(\/\S*)$/.exec(t);
  if (m) return mkdirAction(m[1]!);
  m = /^unlink\s+(\/\S*)$/.exec(t);
  if (m) return unlinkAction(m[1]!);
  m = /^rename\s+(\/\S*)\s+(\/\S*)$/.exec(t);
  if (m) return renameAction(m[1]!, m[2]!);
  if (t === 'sync') return syncAction();
  if (t === 'drop-caches') return dropCachesAction();
  m = /^write-blocks\s+(\d+)\s+(\d+)\s*(?:KiB)?\s+(\/\S*)$/.exec(t);
  if (m) {
    const kib = count(m[2]!, text);
    buffer(kib * 1024, `a write of ${kib} KiB`, text, limits.ramBytes);
    return writeBlocksAction(count(m[1]!, text), kib, m[3]!);
  }
  m = /^ipi\s+(\d+)$/.exec(t);
  if (m) return reschedIpiAction(Number(m[1]));
  m = /^loop\s+(\d+)\s+(.+)$/.exec(t);
  if (m) {
    const n = count(m[1]!, text);
    try { return loopAction(m[2]!, n); } catch (e) {
      if (e instanceof AsmError) throw new ActionError(`action ${e.message}`);
      throw e;
    }
  }
  if (/^(write|read|fsync|fdatasync|append|mkdir|unlink|rename|write-blocks|loop|ipi)\b/.test(t)) {
    throw new ActionError(`action "${text}": ${ACTION_FORMS}`);
  }
  try { return instructionAction(t); } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    // Not an instruction's mnemonic: a misspelt process action ("wirte hello /x") is named as one.
    const word = t.split(/\s+/)[0] ?? '';
    const near = MNEMONICS.includes(word.toLowerCase()) ? [] : ACTION_VERBS.filter((v) => editDistance(word, v) <= (word.length > 4 ? 2 : 1));
    if (near.length) throw new ActionError(`action "${text}": unknown action '${word}' (closest: ${near.join(', ')}); ${ACTION_FORMS}`);
    throw new ActionError(`action ${e.message}`);
  }
}

const ACTION_VERBS = ['write', 'append', 'read', 'fsync', 'fdatasync', 'mkdir', 'unlink', 'rename', 'sync', 'drop-caches', 'write-blocks', 'loop', 'ipi'];

export { ERRNO };
