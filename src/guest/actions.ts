// What the harness asks the guest to do: a process's syscalls, or one instruction in kernel mode.

import { ERRNO } from '../uapi/errno';
import { AsmError, parseInsn } from './asm';
import type { KCode } from './io';
import { O_CREAT, O_DIRECT, O_RDWR, O_WRONLY, type Action, type ActionResult, type GuestKernel } from './kernel';

export class ActionError extends Error {}

const res = (n: number, extra: Partial<ActionResult> = {}): ActionResult => ({ value: n, errno: n < 0 ? -n : null, ...extra });

function* withFile(k: GuestKernel, path: string, flags: number, body: (fd: number) => KCode<ActionResult>): KCode<ActionResult> {
  const fd = yield* k.sys_openat(path, flags);
  if (fd < 0) return res(fd);
  const r = yield* body(fd);
  yield* k.sys_close(fd);
  return r;
}

/** A process writes `data` to `path` (created if needed) with O_DIRECT: one write() call. */
export function writeAction(data: Uint8Array, path: string): Action {
  return (k) => withFile(k, path, O_CREAT | O_WRONLY | O_DIRECT, function* (fd) {
    const buf = k.userBuffer(data.length);
    k.ram.bytes.set(data, buf);
    const n = yield* k.sys_write(fd, buf, data.length);
    k.freeUserBuffer(buf, data.length);
    return res(n);
  });
}

/** A process reads up to `count` bytes of `path` from its start: one read() call. */
export function readAction(count: number, path: string): Action {
  return (k) => withFile(k, path, O_RDWR | O_DIRECT, function* (fd) {
    const buf = k.userBuffer(count);
    const n = yield* k.sys_read(fd, buf, count);
    const data = n > 0 ? k.ram.bytes.slice(buf, buf + n) : new Uint8Array(0);
    k.freeUserBuffer(buf, count);
    return res(n, { data });
  });
}

export function fsyncAction(path: string): Action {
  return (k) => withFile(k, path, O_RDWR, function* (fd) { return res(yield* k.sys_fsync(fd)); });
}

/** One instruction, executed by the guest kernel. */
export function instructionAction(text: string): Action {
  const insn = parseInsn(text);
  return (k) => (function* (): KCode<ActionResult> {
    insn.load(k.r);
    const f = yield insn.op;
    // A fault (e.g. #GP from an MSR kvm does not emulate) is fixed up by the kernel and reported.
    if (f !== 0) return { value: -1, errno: null, fault: f & 0xff };
    return { value: insn.result(k.r), errno: null };
  })();
}

/** Parse an ACTION as `exitpath explain` takes it. */
export function parseAction(text: string): Action {
  const t = text.trim();
  let m = /^write\s+(?:"([^"]*)"|(\S+))\s+(\/\S*)$/.exec(t);
  if (m) return writeAction(new TextEncoder().encode(m[1] ?? m[2]!), m[3]!);
  m = /^read\s+(\d+)\s+(\/\S*)$/.exec(t);
  if (m) return readAction(Number(m[1]), m[2]!);
  m = /^fsync\s+(\/\S*)$/.exec(t);
  if (m) return fsyncAction(m[1]!);
  if (/^(write|read|fsync)\b/.test(t)) {
    throw new ActionError(`action "${text}": expected 'write TEXT PATH', 'read N PATH' or 'fsync PATH' (PATH starts with /)`);
  }
  try { return instructionAction(t); } catch (e) {
    if (e instanceof AsmError) throw new ActionError(`action ${e.message}`);
    throw e;
  }
}

export { ERRNO };
