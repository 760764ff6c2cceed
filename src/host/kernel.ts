// The host kernel's syscall layer. Every syscall a host process makes enters here; it is recorded
// as a crossing (qemu-kvm → host kernel, or qemu-kvm → kvm for an ioctl on a kvm file), costs a
// syscall entry and return, and returns a result or -errno as the real ABI does.

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import { WaitQueue, type Block, type Scheduler } from '../sim/scheduler';
import { defineEvent, type Layer, type Tracer } from '../trace/events';
import { ERRNO } from '../uapi/errno';
import { KVM_EXIT_NAMES, KVM_IOCTL_NAMES, KVM_RUN } from '../uapi/kvm';
import { iovec } from '../uapi/aio';
import { Aio } from './aio';
import type { ImageFile } from './disk';
import { EFD_NONBLOCK, EventFd } from './eventfd';
import { POLLIN, type HostFile, type SysGen } from './file';
import { HostProcess } from './process';
import { RegularFile } from './regular';
import { IoUring, type HostFault } from './io_uring';
import { MemFd, UnixSocket } from './unix_socket';
import { IORING_REGISTER_EVENTFD } from '../uapi/io_uring';
import { SFD_NONBLOCK, SignalFd } from './signalfd';

export const O_RDWR = 0o2;
export const O_DIRECT = 0o40000;
export const FUTEX_WAIT = 0;
export const FUTEX_WAKE = 1;

const SYSCALL_ARGS: Record<string, string[]> = {
  openat: ['path:str', 'flags:hex'], close: ['fd'], ioctl: ['fd', 'request:hex'], mmap: ['length:hex', 'fd'],
  eventfd2: ['initval', 'flags:hex'], read: ['fd', 'count'], write: ['fd', 'count'], ppoll: ['nfds'],
  io_setup: ['nr_events'], io_submit: ['ctx:hex', 'nr'], io_getevents: ['ctx:hex', 'min_nr', 'nr'],
  pwritev: ['fd', 'iovcnt', 'offset:hex'], preadv: ['fd', 'iovcnt', 'offset:hex'], fdatasync: ['fd'],
  futex: ['uaddr:hex', 'op', 'val'], clone: [],
  memfd_create: ['name:str', 'size:hex'], socketpair: [], sendmsg: ['fd', 'len', 'nfds'], recvmsg: ['fd', 'maxlen'],
  io_uring_setup: ['entries'], io_uring_enter: ['fd', 'to_submit', 'min_complete'], io_uring_register: ['fd', 'opcode', 'nr_args'],
  tgkill: ['tid', 'sig'], kill: ['pid', 'sig'], signalfd4: ['fd', 'flags:hex'], select: ['nfds'],
};
/** Every syscall the host kernel model implements, by name. */
export const HOST_SYSCALL_NAMES: readonly string[] = Object.keys(SYSCALL_ARGS);
// Syscall events by the calling process's box (qemu-kvm, or a vhost-user backend) and name.
const sysEnter = new Map<Layer, Map<string, number>>();
const sysExit = new Map<Layer, Map<string, number>>();
function sysEvents(layer: Layer): void {
  const enter = new Map<string, number>();
  const exit = new Map<string, number>();
  for (const [name, args] of Object.entries(SYSCALL_ARGS)) {
    enter.set(name, defineEvent('syscall', layer, 'host kernel', name, args));
    exit.set(name, defineEvent('syscall-return', 'host kernel', layer, name, ['result']));
  }
  sysEnter.set(layer, enter);
  sysExit.set(layer, exit);
}
/** A thread of a process (a vCPU thread's id is its vCPU index; -1 for the main thread), as a number. */
const threadKey = (pid: number, tid: number): number => pid * 4096 + tid + 1;
sysEvents('qemu-kvm');
sysEvents('vhost-user-blk');
const ioctlName = (req: number): string => KVM_IOCTL_NAMES.get(req) ?? `0x${req.toString(16)}`;
const kvmIoctlEnter = new Map<number, number>();
const kvmIoctlExit = new Map<number, number>();
function kvmIoctlEv(req: number): number {
  let id = kvmIoctlEnter.get(req);
  if (id === undefined) { id = defineEvent('ioctl', 'qemu-kvm', 'kvm', ioctlName(req), ['fd', 'arg:hex']); kvmIoctlEnter.set(req, id); }
  return id;
}
function kvmIoctlRetEv(req: number): number {
  let id = kvmIoctlExit.get(req);
  if (id === undefined) { id = defineEvent('ioctl-return', 'kvm', 'qemu-kvm', ioctlName(req), ['result']); kvmIoctlExit.set(req, id); }
  return id;
}
/** KVM_RUN's return is named by kvm_run->exit_reason: the crossing ④ `KVM_EXIT_IO`. */
const kvmRunRet: number[] = [];
for (const [n, s] of KVM_EXIT_NAMES) kvmRunRet[n] = defineEvent('ioctl-return', 'kvm', 'qemu-kvm', `KVM_EXIT_${s}`, ['result', 'exitReason']);
const EV_KVM_RUN_ERR = defineEvent('ioctl-return', 'kvm', 'qemu-kvm', 'KVM_RUN', ['result']);

/** Run a syscall body that must not sleep; sleeping here would be a model bug. */
function runNow(g: SysGen, name: string): number {
  const r = g.next();
  if (!r.done) throw new Error(`${name}: would block in a context that cannot sleep`);
  return r.value;
}

export class HostKernel {
  readonly aio: Aio;
  private readonly devices = new Map<string, (p: HostProcess) => HostFile>();
  private readonly files = new Map<string, ImageFile>();
  private nextPid = 4000;

  constructor(readonly sched: Scheduler, readonly clock: Clock, private readonly profile: CpuProfile, private readonly t: Tracer) {
    this.aio = new Aio(sched, t, () => profile.diskLatencyNs);
  }

  /** misc_register: a character device such as /dev/kvm. */
  registerDevice(path: string, open: (p: HostProcess) => HostFile): void { this.devices.set(path, open); }
  /** A file on the host file system (the disk image). */
  addFile(path: string, image: ImageFile): void { this.files.set(path, image); }

  /** A new process; `layer` is the box its syscalls come from in traces. */
  spawn(comm: string, layer: Layer = 'qemu-kvm'): HostProcess { return new HostProcess(this.nextPid++, comm, layer); }

  private enter(p: HostProcess, name: string, a0 = 0, a1 = 0, a2 = 0): void {
    this.clock.spend(this.profile.cost.syscall);
    if (this.t.on) this.t.rec(sysEnter.get(p.layer)!.get(name)!, -1, a0, a1, a2);
  }
  private leave(p: HostProcess, name: string, r: number): number {
    if (this.t.on) this.t.rec(sysExit.get(p.layer)!.get(name)!, -1, r);
    return r;
  }

  openat(p: HostProcess, path: string, flags: number): number {
    this.enter(p, 'openat', this.t.on ? this.t.str(path) : 0, flags);
    const dev = this.devices.get(path);
    if (dev) return this.leave(p, 'openat', p.install(dev(p)));
    const img = this.files.get(path);
    if (!img) return this.leave(p, 'openat', -ERRNO.ENOENT);
    return this.leave(p, 'openat', p.install(new RegularFile(path, img, (flags & O_DIRECT) !== 0)));
  }

  close(p: HostProcess, fd: number): number {
    this.enter(p, 'close', fd);
    return this.leave(p, 'close', p.close(fd) ? 0 : -ERRNO.EBADF);
  }

  /** ioctl: on a kvm file the crossing is qemu-kvm → kvm; KVM_RUN may block inside kvm. */
  *ioctl(p: HostProcess, fd: number, req: number, arg: number, vcpu = -1): SysGen {
    const f = p.file(fd);
    if (!f?.ioctl) { this.enter(p, 'ioctl', fd, req); return this.leave(p, 'ioctl', f ? -ERRNO.EINVAL : -ERRNO.EBADF); }
    if (f.owner !== 'kvm') { this.enter(p, 'ioctl', fd, req); return this.leave(p, 'ioctl', yield* f.ioctl(req, arg, p)); }
    this.clock.spend(this.profile.cost.syscall);
    if (this.t.on) this.t.rec(kvmIoctlEv(req), vcpu, fd, arg);
    // The calling thread (a vCPU thread: its index) is inside this file until the call returns.
    const thread = threadKey(p.pid, vcpu);
    this.inKvmCall.set(thread, f);
    const r = yield* f.ioctl(req, arg, p);
    this.inKvmCall.delete(thread);
    if (this.t.on) {
      if (req === KVM_RUN) {
        const reason = r === 0 ? (f as HostFile & { exitReason(): number }).exitReason() : -1;
        this.t.rec(r === 0 && kvmRunRet[reason] !== undefined ? kvmRunRet[reason]! : EV_KVM_RUN_ERR, vcpu, r, reason);
      } else this.t.rec(kvmIoctlRetEv(req), vcpu, r);
    }
    return r;
  }

  /** Which file each thread is blocked in (a vCPU thread inside KVM_RUN), for signal delivery. */
  private readonly inKvmCall = new Map<number, HostFile>();

  /**
   * tgkill: a signal for one of the process's threads (qemu's SIG_IPI kick of a vCPU thread, whose
   * thread id here is its vCPU index). A thread inside KVM_RUN is kicked out of the guest
   * (signal_wake_up → kvm_vcpu_kick) and KVM_RUN returns -EINTR.
   */
  tgkill(p: HostProcess, tid: number, sig: number): number {
    this.enter(p, 'tgkill', tid, sig);
    this.inKvmCall.get(threadKey(p.pid, tid))?.signal?.();
    return this.leave(p, 'tgkill', 0);
  }

  /**
   * kill(pid, sig) to the calling process itself (posix-aio-compat's aio_thread signalling its
   * process): the signal becomes pending on the signalfd that reads it. (Simplification: other
   * targets, and delivery to a handler, are not modelled; a signal nobody reads is a model error.)
   */
  kill(p: HostProcess, pid: number, sig: number): number {
    this.enter(p, 'kill', pid, sig);
    if (pid !== p.pid) return this.leave(p, 'kill', -ERRNO.ESRCH);
    const taken = p.openFiles().some((f) => f instanceof SignalFd && f.deliver(sig));
    if (!taken) throw new Error(`host: signal ${sig} to ${p.comm} (${p.pid}) has no signalfd to read it`);
    return this.leave(p, 'kill', 0);
  }

  /** signalfd4(-1, mask, …): a new signalfd for the signals in `mask` (which the caller has blocked). */
  signalfd4(p: HostProcess, mask: readonly number[], flags: number): number {
    this.enter(p, 'signalfd4', -1, flags);
    return this.leave(p, 'signalfd4', p.install(new SignalFd(new Set(mask), (flags & SFD_NONBLOCK) !== 0)));
  }

  /** mmap of anonymous memory (fd = -1) or of a file's pages (a vcpu fd's kvm_run area). */
  mmap(p: HostProcess, length: number, fd: number, name = 'anon', offset = 0): number {
    this.enter(p, 'mmap', length, fd);
    if (fd < 0) return this.leave(p, 'mmap', p.mm.map(new Uint8Array(length), name));
    const f = p.file(fd);
    if (!f?.mmap) return this.leave(p, 'mmap', -ERRNO.ENODEV);
    return this.leave(p, 'mmap', p.mm.map(f.mmap(length, offset), f.name));
  }

  /** memfd_create + ftruncate: shareable anonymous memory (qemu's memory-backend-memfd,share=on). */
  memfd_create(p: HostProcess, name: string, size: number): number {
    this.enter(p, 'memfd_create', this.t.on ? this.t.str(name) : 0, size);
    return this.leave(p, 'memfd_create', p.install(new MemFd(`memfd:${name}`, new Uint8Array(size))));
  }

  /** socketpair(AF_UNIX, SOCK_STREAM): two connected sockets in the caller's fd table. */
  socketpair(p: HostProcess, sv: number): number {
    this.enter(p, 'socketpair');
    const [a, b] = UnixSocket.pair();
    p.mm.setI32(sv, p.install(a));
    p.mm.setI32(sv + 4, p.install(b));
    return this.leave(p, 'socketpair', 0);
  }

  /** Move a file to another process (as passing an fd over a unix socket, or inheriting it, would). */
  transferFd(from: HostProcess, fd: number, to: HostProcess): number {
    const f = from.file(fd);
    if (!f) return -ERRNO.EBADF;
    from.close(fd);
    return to.install(f);
  }

  /** sendmsg with SCM_RIGHTS: `len` bytes at `buf`, and the files behind `fds`. */
  sendmsg(p: HostProcess, fd: number, buf: number, len: number, fds: number[]): number {
    this.enter(p, 'sendmsg', fd, len, fds.length);
    const s = p.file(fd);
    if (!(s instanceof UnixSocket) || !s.peer) return this.leave(p, 'sendmsg', -ERRNO.EBADF);
    const files: HostFile[] = [];
    for (const f of fds) { const file = p.file(f); if (!file) return this.leave(p, 'sendmsg', -ERRNO.EBADF); files.push(file); }
    s.deliver(p.mm.slice(buf, len), files);
    return this.leave(p, 'sendmsg', len);
  }

  /** recvmsg (non-blocking): one message into `buf`; its passed files are installed, their fds written at `fdsOut`. */
  recvmsg(p: HostProcess, fd: number, buf: number, maxlen: number, fdsOut: number, maxFds: number): number {
    this.enter(p, 'recvmsg', fd, maxlen);
    const s = p.file(fd);
    if (!(s instanceof UnixSocket)) return this.leave(p, 'recvmsg', -ERRNO.EBADF);
    const m = s.queue.shift();
    if (!m) return this.leave(p, 'recvmsg', -ERRNO.EAGAIN);
    const n = Math.min(maxlen, m.bytes.length);
    p.mm.slice(buf, n).set(m.bytes.subarray(0, n));
    m.files.slice(0, maxFds).forEach((f, i) => p.mm.setI32(fdsOut + 4 * i, p.install(f)));
    p.mm.setI32(fdsOut + 4 * Math.min(maxFds, m.files.length), -1);
    return this.leave(p, 'recvmsg', n);
  }

  /** io_uring_setup: a ring of `entries` (rounded up to a power of two) SQEs and twice as many CQEs. */
  io_uring_setup(p: HostProcess, entries: number, params: number): number {
    this.enter(p, 'io_uring_setup', entries);
    if (entries < 1 || entries > 32768) return this.leave(p, 'io_uring_setup', -ERRNO.EINVAL);
    const sq = 2 ** Math.ceil(Math.log2(entries));
    const ring = new IoUring(sq, 2 * sq);
    ring.faults = this.ioUringFaults;
    ring.fillParams(p, params);
    return this.leave(p, 'io_uring_setup', p.install(ring));
  }

  /** io_uring_enter: submit up to `toSubmit` SQEs (min_complete = 0: no waiting). */
  io_uring_enter(p: HostProcess, fd: number, toSubmit: number, minComplete: number): number {
    this.enter(p, 'io_uring_enter', fd, toSubmit, minComplete);
    const f = p.file(fd);
    if (!(f instanceof IoUring)) return this.leave(p, 'io_uring_enter', -ERRNO.EBADF);
    return this.leave(p, 'io_uring_enter', f.submit(p, toSubmit, this.sched, this.profile.diskLatencyNs));
  }

  /** io_uring_register(IORING_REGISTER_EVENTFD): signal this eventfd on every completion. */
  io_uring_register(p: HostProcess, fd: number, opcode: number, arg: number, nr: number): number {
    this.enter(p, 'io_uring_register', fd, opcode, nr);
    const f = p.file(fd);
    if (!(f instanceof IoUring)) return this.leave(p, 'io_uring_register', -ERRNO.EBADF);
    if (opcode !== IORING_REGISTER_EVENTFD || nr !== 1) return this.leave(p, 'io_uring_register', -ERRNO.EINVAL);
    const e = p.file(p.mm.i32(arg));
    if (!(e instanceof EventFd)) return this.leave(p, 'io_uring_register', -ERRNO.EBADF);
    f.eventfd = e;
    return this.leave(p, 'io_uring_register', 0);
  }

  eventfd2(p: HostProcess, initval: number, flags: number): number {
    this.enter(p, 'eventfd2', initval, flags);
    const e = new EventFd(this.sched, (flags & EFD_NONBLOCK) !== 0);
    e.count = initval;
    return this.leave(p, 'eventfd2', p.install(e));
  }

  /** read on a file opened non-blocking (qemu's eventfds): never sleeps. */
  readNow(p: HostProcess, fd: number, buf: number, count: number): number { return runNow(this.read(p, fd, buf, count), 'read'); }

  /** ioctl that cannot block (anything but KVM_RUN), called from non-sleeping code. */
  ioctlNow(p: HostProcess, fd: number, req: number, arg: number): number { return runNow(this.ioctl(p, fd, req, arg), 'ioctl'); }

  *read(p: HostProcess, fd: number, buf: number, count: number): SysGen {
    this.enter(p, 'read', fd, count);
    const f = p.file(fd);
    if (!f?.read) return this.leave(p, 'read', -ERRNO.EBADF);
    return this.leave(p, 'read', yield* f.read(p, buf, count));
  }

  write(p: HostProcess, fd: number, buf: number, count: number): number {
    this.enter(p, 'write', fd, count);
    const f = p.file(fd);
    if (!f?.write) return this.leave(p, 'write', -ERRNO.EBADF);
    return this.leave(p, 'write', runNow(f.write(p, buf, count), 'write'));
  }

  /** ppoll over `struct pollfd` entries {int fd; short events; short revents} (8 bytes each), no timeout. */
  *ppoll(p: HostProcess, fds: number, nfds: number): SysGen {
    this.enter(p, 'ppoll', nfds);
    const mm = p.mm;
    const q = new WaitQueue(this.sched, 'poll');
    const files: HostFile[] = [];
    for (let i = 0; i < nfds; i++) {
      const f = p.file(mm.i32(fds + 8 * i));
      if (!f?.poll) return this.leave(p, 'ppoll', -ERRNO.EBADF);
      files.push(f);
    }
    for (;;) {
      let ready = 0;
      files.forEach((f, i) => {
        const revents = f.poll!() & mm.u16(fds + 8 * i + 4);
        mm.setU16(fds + 8 * i + 6, revents);
        if (revents) ready++;
      });
      if (ready > 0) {
        for (const f of files) f.pollers?.delete(q);
        return this.leave(p, 'ppoll', ready);
      }
      for (const f of files) f.pollers?.add(q);
      yield q;
    }
  }

  /**
   * select(nfds, readfds, NULL, NULL, NULL) (fs/select.c core_sys_select): the fd_set bitmap at
   * `readfds` (1024 bits, 64-bit words) is replaced by the descriptors that are readable; sleeps
   * until one is. (Simplification: the write and exception sets and the timeout are not modelled.)
   */
  *select(p: HostProcess, nfds: number, readfds: number): SysGen {
    this.enter(p, 'select', nfds);
    const mm = p.mm;
    const bit = (fd: number) => (mm.u8(readfds + (fd >> 3)) >> (fd & 7)) & 1;
    const watched: [number, HostFile][] = [];
    for (let fd = 0; fd < nfds; fd++) {
      if (!bit(fd)) continue;
      const f = p.file(fd);
      if (!f?.poll) return this.leave(p, 'select', -ERRNO.EBADF);
      watched.push([fd, f]);
    }
    const q = new WaitQueue(this.sched, 'select');
    for (;;) {
      const ready = watched.filter(([, f]) => f.poll!() & POLLIN);
      if (ready.length > 0) {
        for (const [, f] of watched) f.pollers?.delete(q);
        mm.fill(readfds, Math.ceil(nfds / 64) * 8, 0);
        for (const [fd] of ready) mm.setU8(readfds + (fd >> 3), mm.u8(readfds + (fd >> 3)) | (1 << (fd & 7)));
        return this.leave(p, 'select', ready.length);
      }
      for (const [, f] of watched) f.pollers?.add(q);
      yield q;
    }
  }

  io_setup(p: HostProcess, nr: number, ctxp: number): number {
    this.enter(p, 'io_setup', nr);
    return this.leave(p, 'io_setup', this.aio.setup(p, nr, ctxp));
  }

  io_submit(p: HostProcess, ctx: number, nr: number, iocbpp: number): number {
    this.enter(p, 'io_submit', ctx, nr);
    return this.leave(p, 'io_submit', this.aio.submit(p, ctx, nr, iocbpp));
  }

  io_getevents(p: HostProcess, ctx: number, minNr: number, nr: number, events: number): number {
    this.enter(p, 'io_getevents', ctx, minNr, nr);
    return this.leave(p, 'io_getevents', this.aio.getevents(p, ctx, nr, events));
  }

  /**
   * pwritev/preadv on an O_DIRECT file: the calling thread sleeps until the device completes the
   * request (its latency), as a qemu thread-pool worker does.
   */
  *pwritev(p: HostProcess, fd: number, iov: number, iovcnt: number, offset: number): SysGen {
    this.enter(p, 'pwritev', fd, iovcnt, offset);
    yield* this.deviceWait();
    const f = this.injected('pwritev');
    return this.leave(p, 'pwritev', f ?? this.rw(p, fd, iov, iovcnt, offset, true));
  }
  *preadv(p: HostProcess, fd: number, iov: number, iovcnt: number, offset: number): SysGen {
    this.enter(p, 'preadv', fd, iovcnt, offset);
    yield* this.deviceWait();
    const f = this.injected('preadv');
    return this.leave(p, 'preadv', f ?? this.rw(p, fd, iov, iovcnt, offset, false));
  }

  /**
   * Faults a scenario injects into the blocking I/O syscalls (a thread pool's pwritev/preadv and
   * fdatasync): the next `count` calls fail with -errno after the device's latency, doing nothing.
   */
  readonly faults: { pwritev?: HostFault; preadv?: HostFault; fdatasync?: HostFault } = {};
  /** The same for io_uring completions (every ring of this kernel). */
  readonly ioUringFaults: { complete?: HostFault } = {};
  private injected(name: 'pwritev' | 'preadv' | 'fdatasync'): number | undefined {
    const f = this.faults[name];
    if (!f || f.count <= 0) return undefined;
    f.count--;
    return -f.errno;
  }
  /** Sleep for one device request's latency. */
  private *deviceWait(): Generator<Block, void, void> {
    const q = new WaitQueue(this.sched, 'blk');
    this.sched.at(this.clock.now + this.profile.diskLatencyNs, () => q.wakeAll());
    yield q;
  }
  private rw(p: HostProcess, fd: number, iov: number, iovcnt: number, offset: number, write: boolean): number {
    const f = p.file(fd);
    if (!(f instanceof RegularFile)) return -ERRNO.EBADF;
    let pos = offset;
    for (let k = 0; k < iovcnt; k++) {
      const base = p.mm.u64(iov + k * iovec.sizeof);
      const len = p.mm.u64(iov + k * iovec.sizeof + iovec.iov_len);
      if (pos + len > f.image.size) return -ERRNO.ENOSPC;
      const img = f.image;
      // O_DIRECT goes to the device, after writing back and dropping cached pages of the range
      // (generic_file_direct_write); buffered I/O goes through the page cache.
      if (f.direct) {
        img.writebackRange(pos, len);
        if (write) { img.pwrite(pos, p.mm.slice(base, len)); img.invalidateRange(pos, len); }
        else p.mm.slice(base, len).set(img.pread(pos, len));
      } else if (write) img.bufferedWrite(pos, p.mm.slice(base, len));
      else p.mm.slice(base, len).set(img.bufferedRead(pos, len));
      pos += len;
    }
    return pos - offset;
  }

  /** fdatasync: the file's dirty pages are written back and the device's write cache flushed; the caller sleeps for it. */
  *fdatasync(p: HostProcess, fd: number): SysGen {
    this.enter(p, 'fdatasync', fd);
    const f = p.file(fd);
    if (!(f instanceof RegularFile)) return this.leave(p, 'fdatasync', -ERRNO.EBADF);
    yield* this.deviceWait();
    const fault = this.injected('fdatasync');
    if (fault !== undefined) return this.leave(p, 'fdatasync', fault);
    f.image.fdatasync();
    return this.leave(p, 'fdatasync', 0);
  }

  /**
   * futex(FUTEX_WAIT / FUTEX_WAKE) on a 32-bit word of the caller's memory: how qemu's semaphores
   * and events sleep and wake (qemu_futex_wait / qemu_futex_wake).
   */
  *futex_wait(p: HostProcess, uaddr: number, val: number): SysGen {
    this.enter(p, 'futex', uaddr, FUTEX_WAIT, val);
    if (p.mm.u32(uaddr) !== val) return this.leave(p, 'futex', -ERRNO.EAGAIN);
    yield this.futexQueue(p, uaddr);
    return this.leave(p, 'futex', 0);
  }
  futex_wake(p: HostProcess, uaddr: number, n: number): number {
    this.enter(p, 'futex', uaddr, FUTEX_WAKE, n);
    const q = this.futexes.get(`${p.pid}:${uaddr}`);
    return this.leave(p, 'futex', q ? Math.min(n, q.wakeAll()) : 0);
  }
  private readonly futexes = new Map<string, WaitQueue>();
  private futexQueue(p: HostProcess, uaddr: number): WaitQueue {
    const k = `${p.pid}:${uaddr}`;
    let q = this.futexes.get(k);
    if (!q) { q = new WaitQueue(this.sched, 'futex'); this.futexes.set(k, q); }
    return q;
  }

  /** clone(CLONE_VM | CLONE_THREAD ...): a new thread of the process, scheduled like the others. */
  clone(p: HostProcess, name: string, body: Generator<Block, void, void>): number {
    this.enter(p, 'clone');
    this.sched.spawn(`${p.comm}: ${name}`, body);
    return this.leave(p, 'clone', this.nextPid++);
  }
}
