// block/io_uring.c: aio=io_uring. io_uring_queue_init sets the ring up and maps it; a request is an
// SQE written into the mapped SQE array (io_uring_prep_writev) and published on the SQ ring, and
// io_uring_submit makes one io_uring_enter syscall. The main loop polls the ring fd; completions
// are read straight from the mapped CQ ring (luring_process_completions) — no syscall to collect.

import { defineEvent, type Tracer } from '../../trace/events';
import { ERRNO } from '../../uapi/errno';
import {
  IORING_FSYNC_DATASYNC, IORING_OFF_SQES, IORING_OFF_SQ_RING, IORING_OP_FSYNC, IORING_OP_READV, IORING_OP_WRITEV,
  io_cqring_offsets, io_sqring_offsets, io_uring_cqe, io_uring_params, io_uring_sqe,
} from '../../uapi/io_uring';
import type { HostKernel } from '../../host/kernel';
import type { HostProcess } from '../../host/process';
import type { Heap } from '../heap';
import type { MainLoop } from '../main_loop';
import type { IoVec } from '../virtio';
import type { Completion } from './linux_aio';
import { iovecArray } from './iov';

export const MAX_ENTRIES = 128;

const EV_SUBMIT = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'luring_co_submit', ['offset:hex', 'bytes', 'opcode']);
const EV_COMPLETION = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_luring_completion_cb', ['cqes']);

interface LuringCb { iov: number; nbytes: number; cb: Completion }

export class LuringState {
  readonly ringFd: number;
  private readonly rings: number;
  private readonly sqes: number;
  private readonly sq: Record<keyof typeof io_sqring_offsets, number>;
  private readonly cq: Record<keyof typeof io_cqring_offsets, number>;
  private readonly inflight = new Map<number, LuringCb>();
  private nextId = 1;

  /** luring_init → io_uring_queue_init: setup, then mmap the rings and the SQE array. */
  constructor(private readonly host: HostKernel, private readonly proc: HostProcess, private readonly heap: Heap,
    private readonly t: Tracer, loop: MainLoop) {
    const mm = proc.mm;
    const params = heap.alloc(io_uring_params.sizeof);
    this.ringFd = host.io_uring_setup(proc, MAX_ENTRIES, params);
    if (this.ringFd < 0) throw new Error(`qemu: io_uring_setup failed: ${this.ringFd}`);
    const read = <T extends Record<string, number>>(base: number, o: T) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, mm.u32(base + v)])) as Record<keyof T, number>;
    this.sq = read(params + io_uring_params.sq_off, io_sqring_offsets);
    this.cq = read(params + io_uring_params.cq_off, io_cqring_offsets);
    const sqEntries = mm.u32(params + io_uring_params.sq_entries);
    const ringBytes = this.sq.array + 4 * sqEntries;
    heap.release(params);
    this.rings = host.mmap(proc, ringBytes, this.ringFd, 'io_uring rings', IORING_OFF_SQ_RING);
    this.sqes = host.mmap(proc, sqEntries * io_uring_sqe.sizeof, this.ringFd, 'io_uring sqes', IORING_OFF_SQES);
    loop.aio_set_event_notifier(this.ringFd, () => this.qemu_luring_completion_cb());
  }

  /** luring_co_submit → luring_do_submit (io_uring_prep_*) → ioq_submit → io_uring_submit. */
  submit(fd: number, offset: number, qiov: IoVec[], type: 'write' | 'read' | 'flush', cb: Completion): number {
    const mm = this.proc.mm;
    const { iov, nbytes } = iovecArray(this.heap, qiov);
    const opcode = type === 'write' ? IORING_OP_WRITEV : type === 'read' ? IORING_OP_READV : IORING_OP_FSYNC;
    if (this.t.on) this.t.rec(EV_SUBMIT, -1, offset, nbytes, opcode);
    const mask = mm.u32(this.rings + this.sq.ring_mask);
    const tail = mm.u32(this.rings + this.sq.tail);
    if (((tail - mm.u32(this.rings + this.sq.head)) >>> 0) > mask) { if (iov) this.heap.release(iov); return -ERRNO.EAGAIN; }
    const idx = tail & mask;
    const s = this.sqes + idx * io_uring_sqe.sizeof;
    mm.fill(s, io_uring_sqe.sizeof, 0);
    mm.setU8(s + io_uring_sqe.opcode, opcode);
    mm.setI32(s + io_uring_sqe.fd, fd);
    mm.setU64(s + io_uring_sqe.off, offset);
    mm.setU64(s + io_uring_sqe.addr, iov);
    mm.setU32(s + io_uring_sqe.len, qiov.length);
    if (type === 'flush') mm.setU32(s + io_uring_sqe.rw_flags, IORING_FSYNC_DATASYNC);
    const id = this.nextId++;
    mm.setU64(s + io_uring_sqe.user_data, id);
    mm.setU32(this.rings + this.sq.array + 4 * idx, idx);
    mm.setU32(this.rings + this.sq.tail, (tail + 1) >>> 0);
    const r = this.host.io_uring_enter(this.proc, this.ringFd, 1, 0);
    if (r < 0) { if (iov) this.heap.release(iov); return r; }
    this.inflight.set(id, { iov, nbytes, cb });
    return 0;
  }

  /** qemu_luring_completion_cb → luring_process_completions: reap CQEs from the mapped ring. */
  private qemu_luring_completion_cb(): void {
    const mm = this.proc.mm;
    const mask = mm.u32(this.rings + this.cq.ring_mask);
    let head = mm.u32(this.rings + this.cq.head);
    const tail = mm.u32(this.rings + this.cq.tail);
    if (this.t.on) this.t.rec(EV_COMPLETION, -1, (tail - head) >>> 0);
    while (head !== tail) {
      const c = this.rings + this.cq.cqes + (head & mask) * io_uring_cqe.sizeof;
      const id = mm.u64(c + io_uring_cqe.user_data);
      const res = mm.i32(c + io_uring_cqe.res);
      head = (head + 1) >>> 0;
      mm.setU32(this.rings + this.cq.head, head); // io_uring_cqe_seen
      const l = this.inflight.get(id);
      if (!l) throw new Error(`qemu: CQE for unknown request ${id}`);
      this.inflight.delete(id);
      if (l.iov) this.heap.release(l.iov);
      l.cb(res === l.nbytes ? 0 : res < 0 ? res : -ERRNO.ENOSPC);
    }
  }
}
