// A vhost-user-blk backend: qemu-storage-daemon's block/export/vhost-user-blk-server.c on
// libvhost-user (subprojects/libvhost-user/libvhost-user.c). A separate host process: it learns the
// guest's memory and the virtqueue from qemu over a unix socket (vu_dispatch), maps guest RAM itself,
// and then serves the queue alone — the kick arrives on an eventfd kvm signals (ioeventfd), the
// request is read from guest RAM (vu_queue_pop), the I/O goes through its own Linux AIO context, and
// the completion is a write to the call eventfd, which kvm turns into the guest's interrupt (irqfd).

import { defineEvent, type Tracer } from '../trace/events';
import type { Block } from '../sim/scheduler';
import { IOCB_CMD_PREADV, IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, io_event, iocb, iovec } from '../uapi/aio';
import {
  SECTOR_SHIFT, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
  VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, virtio_blk_outhdr, vring_avail, vring_desc, vring_used, vring_used_elem,
} from '../uapi/virtio';
import * as VU from '../uapi/vhost_user';
import { POLLIN } from '../host/file';
import { EFD_NONBLOCK } from '../host/eventfd';
import { O_DIRECT, O_RDWR, type HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';

const L = 'vhost-user-blk';
const EV_MSG = defineEvent('call', L, L, 'vu_dispatch', ['request']);
const EV_KICK = defineEvent('call', L, L, 'vu_kick_cb', ['queue']);
const EV_POP = defineEvent('call', L, L, 'vu_queue_pop', ['head', 'out_num', 'in_num']);
const EV_REQ = defineEvent('call', L, L, 'vu_blk_process_req', ['type', 'sector']);
const EV_PUSH = defineEvent('call', L, L, 'vu_queue_push', ['head', 'len']);
const EV_NOTIFY = defineEvent('call', L, L, 'vu_queue_notify', ['queue']);
const EV_PANIC = defineEvent('tracepoint', L, L, 'vu_panic', ['reason:str']);
const EV_AIO_CB = defineEvent('call', L, L, 'qemu_laio_completion_cb', ['events']);

interface Region { gpa: number; size: number; uaddr: number; local: number }
interface Vring { num: number; desc: number; avail: number; used: number; lastAvail: number; usedIdx: number; kick: number; call: number }
interface Req { head: number; status: number; inLen: number; iov: number; cbp: number; nbytes: number }

export class VhostUserBlkServer {
  readonly proc: HostProcess;
  private readonly heapBase: number;
  private heapNext: number;
  private readonly regions: Region[] = [];
  private readonly vq: Vring = { num: 0, desc: 0, avail: 0, used: 0, lastAvail: 0, usedIdx: 0, kick: -1, call: -1 };
  private readonly imgfd: number;
  private readonly efd: number;
  private readonly ctx: number;
  private readonly inflight = new Map<number, Req>();
  private readonly free: number[] = [];
  private msgBuf: number | undefined;
  private fdsBuf: number | undefined;

  /** qemu-storage-daemon --blockdev file,filename=IMAGE,aio=native,cache.direct=on --export vhost-user-blk,addr.type=fd */
  constructor(private readonly host: HostKernel, private readonly t: Tracer, imagePath: string, readonly imageBytes: number,
    readonly sockFd: (p: HostProcess) => number) {
    const p = this.proc = host.spawn('qemu-storage-daemon', 'vhost-user-blk');
    this.heapBase = this.heapNext = host.mmap(p, 1 << 20, -1, '[heap]');
    this.imgfd = host.openat(p, imagePath, O_RDWR | O_DIRECT);
    if (this.imgfd < 0) throw new Error(`qemu-storage-daemon: could not open ${imagePath}: ${this.imgfd}`);
    this.efd = host.eventfd2(p, 0, EFD_NONBLOCK);
    const ctxp = this.alloc(8);
    // laio_init: io_setup(MAX_EVENTS = 1024) — the daemon's block layer is QEMU 9.0's block/linux-aio.c.
    if (host.io_setup(p, 1024, ctxp) < 0) throw new Error('qemu-storage-daemon: io_setup failed');
    this.ctx = p.mm.u64(ctxp);
    this.word = this.alloc(8);
    this.sock = sockFd(p);
  }
  private readonly sock: number;
  private readonly word: number;

  /** A fixed-size slab allocator in the daemon's heap (request slots are reused). */
  private alloc(n: number): number {
    const a = this.heapNext;
    this.heapNext += Math.ceil(n / 16) * 16;
    if (this.heapNext > this.heapBase + (1 << 20)) throw new Error('qemu-storage-daemon: heap exhausted');
    return a;
  }

  /** The daemon's event loop (AioContext): ppoll on the socket, the kick eventfd and the AIO eventfd. */
  *run(): Generator<Block, void, void> {
    const host = this.host;
    const p = this.proc;
    const mm = p.mm;
    const fds = this.alloc(8 * 3);
    const buf = this.alloc(8);
    for (;;) {
      const list = [this.sock, this.efd, ...(this.vq.kick >= 0 ? [this.vq.kick] : [])];
      list.forEach((fd, i) => { mm.setI32(fds + 8 * i, fd); mm.setU16(fds + 8 * i + 4, POLLIN); });
      const r = yield* host.ppoll(p, fds, list.length);
      if (r < 0) throw new Error(`qemu-storage-daemon: ppoll failed: ${r}`);
      const ready = list.filter((_, i) => mm.u16(fds + 8 * i + 6) & POLLIN);
      for (const fd of ready) {
        if (fd === this.sock) this.vu_dispatch();
        else if (fd === this.efd) { host.readNow(p, this.efd, buf, 8); this.completion(); }
        else if (fd === this.vq.kick && host.readNow(p, fd, buf, 8) === 8) this.vu_kick_cb();
      }
    }
  }

  /** vu_dispatch: one vhost-user message from qemu. */
  private vu_dispatch(): void {
    const p = this.proc;
    const mm = p.mm;
    const msg = this.msgBuf ??= this.alloc(512);
    const fdsOut = this.fdsBuf ??= this.alloc(4 * 9);
    for (;;) {
      const n = this.host.recvmsg(p, this.sock, msg, 512, fdsOut, 8);
      if (n < 0) return;
      const req = mm.u32(msg + VU.hdr.request);
      const pl = msg + VU.VHOST_USER_HDR_SIZE;
      if (this.t.on) this.t.rec(EV_MSG, -1, req);
      const fd0 = mm.i32(fdsOut);
      switch (req) {
        case VU.VHOST_USER_SET_MEM_TABLE: {
          // vu_set_mem_table_exec: map each region's memfd into this process.
          const nr = mm.u32(pl + VU.memory.nregions);
          for (let i = 0; i < nr; i++) {
            const r = pl + VU.memory.regions + i * VU.memory.regionSize;
            const size = mm.u64(r + VU.memory.size);
            const local = this.host.mmap(p, size, mm.i32(fdsOut + 4 * i), 'guest RAM', mm.u64(r + VU.memory.mmapOffset));
            this.regions.push({ gpa: mm.u64(r + VU.memory.gpa), size, uaddr: mm.u64(r + VU.memory.uaddr), local });
          }
          break;
        }
        case VU.VHOST_USER_SET_VRING_NUM: this.vq.num = mm.u32(pl + VU.vringState.num); break;
        case VU.VHOST_USER_SET_VRING_ADDR:
          // Ring addresses arrive as qemu's own (user) addresses; translate them through the table.
          this.vq.desc = this.qva(mm.u64(pl + VU.vringAddr.desc));
          this.vq.avail = this.qva(mm.u64(pl + VU.vringAddr.avail));
          this.vq.used = this.qva(mm.u64(pl + VU.vringAddr.used));
          break;
        case VU.VHOST_USER_SET_VRING_BASE: this.vq.lastAvail = this.vq.usedIdx = mm.u32(pl + VU.vringState.num); break;
        case VU.VHOST_USER_SET_VRING_KICK: this.vq.kick = fd0; break;
        case VU.VHOST_USER_SET_VRING_CALL: this.vq.call = fd0; break;
        default: break;
      }
    }
  }

  /** qva_to_va: qemu's address of guest RAM → this process's mapping. */
  private qva(a: number): number {
    for (const r of this.regions) if (a >= r.uaddr && a < r.uaddr + r.size) return r.local + (a - r.uaddr);
    throw new Error(`qemu-storage-daemon: address 0x${a.toString(16)} is in no memory region`);
  }

  /** vu_gpa_to_va: a guest-physical range → this process's mapping, or undefined if outside the table. */
  private gpa(a: number, len: number): number | undefined {
    for (const r of this.regions) if (a >= r.gpa && a + len <= r.gpa + r.size) return r.local + (a - r.gpa);
    return undefined;
  }

  /** vu_kick_cb → vu_blk_process_vq: pop every available request and submit its I/O. */
  private vu_kick_cb(): void {
    if (this.t.on) this.t.rec(EV_KICK, -1, 0);
    if (this.broken) return;
    const mm = this.proc.mm;
    const vq = this.vq;
    while (vq.lastAvail !== mm.u16(vq.avail + vring_avail.idx)) {
      const head = mm.u16(vq.avail + vring_avail.ring + 2 * (vq.lastAvail % vq.num));
      vq.lastAvail = (vq.lastAvail + 1) & 0xffff;
      const out: { va: number; len: number }[] = [];
      const inp: { va: number; len: number }[] = [];
      let i = head;
      for (let seen = 0; seen <= vq.num; seen++) {
        if (i >= vq.num) { this.vu_panic(`descriptor index ${i} out of range`); return; }
        const d = vq.desc + i * vring_desc.sizeof;
        const len = mm.u32(d + vring_desc.len);
        const flags = mm.u16(d + vring_desc.flags);
        const va = this.gpa(mm.u64(d + vring_desc.addr), len);
        // vu_panic: a descriptor outside the memory table breaks the device; the guest is never served again.
        if (va === undefined || seen === vq.num) { this.vu_panic('descriptor outside guest memory or chain too long'); return; }
        (flags & VRING_DESC_F_WRITE ? inp : out).push({ va, len });
        if (!(flags & VRING_DESC_F_NEXT)) break;
        i = mm.u16(d + vring_desc.next);
      }
      if (this.t.on) this.t.rec(EV_POP, -1, head, out.length, inp.length);
      if (out.length === 0 || inp.length === 0) { this.vu_panic('request without header or status buffer'); return; }
      this.vu_blk_process_req(head, out, inp);
    }
  }

  /** libvhost-user's vu_panic: log, mark the device broken, stop serving it. */
  private broken = false;
  private vu_panic(why: string): void {
    this.broken = true;
    if (this.t.on) this.t.rec(EV_PANIC, -1, this.t.str(why));
  }

  /** vu_blk_process_req: header, data, status; reads and writes go to Linux AIO. */
  private vu_blk_process_req(head: number, out: { va: number; len: number }[], inp: { va: number; len: number }[]): void {
    const mm = this.proc.mm;
    const h = out[0]!;
    const last = inp[inp.length - 1]!;
    const status = last.va + last.len - 1;
    const inLen = inp.reduce((s, v) => s + v.len, 0);
    const type = mm.u32(h.va + virtio_blk_outhdr.type);
    const sector = mm.u64(h.va + virtio_blk_outhdr.sector);
    if (this.t.on) this.t.rec(EV_REQ, -1, type, sector);
    const isWrite = type === VIRTIO_BLK_T_OUT;
    if (type === VIRTIO_BLK_T_FLUSH) {
      // VIRTIO_BLK_T_FLUSH → blk_co_flush: the daemon's thread-pool worker calls fdatasync (the device offers
      // VIRTIO_BLK_F_FLUSH). Simplification: a worker thread per flush, without the pool's futex hand-off.
      this.host.clone(this.proc, 'worker', (function* (this: VhostUserBlkServer) {
        const r = yield* this.host.fdatasync(this.proc, this.imgfd);
        this.complete(head, status, inLen, r === 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
      }).call(this));
      return;
    }
    if (type !== VIRTIO_BLK_T_IN && !isWrite) { this.complete(head, status, inLen, VIRTIO_BLK_S_UNSUPP); return; }
    const data = isWrite ? out.slice(1) : [...inp.slice(0, -1), ...(last.len > 1 ? [{ va: last.va, len: last.len - 1 }] : [])];
    const slot = this.free.pop() ?? this.alloc(iocb.sizeof + 8 + 16 * 16);
    const cbp = slot;
    const iov = slot + iocb.sizeof + 8;
    let nbytes = 0;
    data.forEach((v, k) => { mm.setU64(iov + k * iovec.sizeof, v.va); mm.setU64(iov + k * iovec.sizeof + iovec.iov_len, v.len); nbytes += v.len; });
    mm.fill(cbp, iocb.sizeof, 0);
    mm.setU16(cbp + iocb.aio_lio_opcode, isWrite ? IOCB_CMD_PWRITEV : IOCB_CMD_PREADV);
    mm.setU32(cbp + iocb.aio_fildes, this.imgfd);
    mm.setU64(cbp + iocb.aio_buf, iov);
    mm.setU64(cbp + iocb.aio_nbytes, data.length);
    mm.setI64(cbp + iocb.aio_offset, sector * 2 ** SECTOR_SHIFT);
    mm.setU32(cbp + iocb.aio_flags, IOCB_FLAG_RESFD);
    mm.setU32(cbp + iocb.aio_resfd, this.efd);
    mm.setU64(slot + iocb.sizeof, cbp);
    const r = this.host.io_submit(this.proc, this.ctx, 1, slot + iocb.sizeof);
    if (r < 0) { this.free.push(slot); this.complete(head, status, inLen, VIRTIO_BLK_S_IOERR); return; }
    this.inflight.set(cbp, { head, status, inLen, iov, cbp, nbytes });
  }

  /**
   * qemu_laio_completion_cb → qemu_laio_process_completions: the events are read from the AIO ring
   * mapped at the context's address (io_getevents_advance_and_peek), head moved past them; no syscall.
   */
  private completion(): void {
    const mm = this.proc.mm;
    const ring = this.ctx;
    const nr = mm.u32(ring + 4);
    let head = mm.u32(ring + 8);
    const tail = mm.u32(ring + 12);
    const n = tail >= head ? tail - head : nr - head + tail;
    if (this.t.on) this.t.rec(EV_AIO_CB, -1, n);
    for (let i = 0; i < n; i++) {
      const e = ring + 32 + head * io_event.sizeof;
      head = head + 1 >= nr ? 0 : head + 1;
      const req = this.inflight.get(mm.u64(e + io_event.obj));
      if (!req) continue;
      this.inflight.delete(req.cbp);
      this.free.push(req.cbp);
      this.complete(req.head, req.status, req.inLen, mm.i64(e + io_event.res) === req.nbytes ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
    }
    mm.setU32(ring + 8, head);
  }

  /** vu_blk_req_complete: status byte, vu_queue_push, vu_queue_notify (a write to the call eventfd). */
  private complete(head: number, statusVa: number, inLen: number, status: number): void {
    const mm = this.proc.mm;
    const vq = this.vq;
    mm.setU8(statusVa, status);
    const slot = vq.used + vring_used.ring + (vq.usedIdx % vq.num) * vring_used_elem.sizeof;
    mm.setU32(slot + vring_used_elem.id, head);
    mm.setU32(slot + vring_used_elem.len, inLen);
    vq.usedIdx = (vq.usedIdx + 1) & 0xffff;
    mm.setU16(vq.used + vring_used.idx, vq.usedIdx);
    if (this.t.on) { this.t.rec(EV_PUSH, -1, head, inLen); this.t.rec(EV_NOTIFY, -1, 0); }
    // vu_queue_notify → eventfd_write(call_fd, 1)
    mm.setU64(this.word, 1);
    this.host.write(this.proc, vq.call, this.word, 8);
  }
}
