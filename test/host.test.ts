import { test } from 'node:test';
import { expect } from 'chai';
import { Clock } from '../src/sim/clock';
import { SKYLAKE_SP } from '../src/sim/costs';
import { Scheduler } from '../src/sim/scheduler';
import { NULL_TRACER } from '../src/trace/events';
import { MemoryImage } from '../src/host/disk';
import { EFD_NONBLOCK } from '../src/host/eventfd';
import { HostKernel, O_DIRECT, O_RDWR } from '../src/host/kernel';
import { aioRingEvents } from '../src/host/aio';
import { IOCB_CMD_PWRITEV, IOCB_FLAG_RESFD, io_event, iocb, iovec } from '../src/uapi/aio';

test('AIO: io_submit reads the iocb from process memory; the completion writes the disk, queues an event and signals the eventfd', () => {
  const clock = new Clock(2.5);
  const sched = new Scheduler(clock);
  const host = new HostKernel(sched, clock, SKYLAKE_SP, NULL_TRACER);
  const img = new MemoryImage(1 << 20);
  host.addFile('/disk.img', img);
  const p = host.spawn('qemu');
  const mem = host.mmap(p, 1 << 16, -1);
  const fd = host.openat(p, '/disk.img', O_RDWR | O_DIRECT);
  const efd = host.eventfd2(p, 0, EFD_NONBLOCK);
  expect(host.io_setup(p, 8, mem)).to.equal(0);
  const ctx = p.mm.u64(mem);
  const data = mem + 0x1000;
  p.mm.slice(data, 5).set(new TextEncoder().encode('hello'));
  const iov = mem + 0x100;
  p.mm.setU64(iov + iovec.iov_base, data);
  p.mm.setU64(iov + iovec.iov_len, 5);
  const cb = mem + 0x200;
  p.mm.setU16(cb + iocb.aio_lio_opcode, IOCB_CMD_PWRITEV);
  p.mm.setU32(cb + iocb.aio_fildes, fd);
  p.mm.setU64(cb + iocb.aio_buf, iov);
  p.mm.setU64(cb + iocb.aio_nbytes, 1);
  p.mm.setI64(cb + iocb.aio_offset, 4096);
  p.mm.setU32(cb + iocb.aio_flags, IOCB_FLAG_RESFD);
  p.mm.setU32(cb + iocb.aio_resfd, efd);
  const ptrs = mem + 0x300;
  p.mm.setU64(ptrs, cb);
  expect(host.io_submit(p, ctx, 1, ptrs)).to.equal(1);
  // Nothing has happened yet: the device takes its latency.
  expect(new TextDecoder().decode(img.pread(4096, 5))).to.equal('\0\0\0\0\0');
  expect(host.readNow(p, efd, mem + 0x400, 8)).to.equal(-11); // EAGAIN
  expect(sched.run()).to.equal('idle');
  expect(clock.now).to.be.at.least(SKYLAKE_SP.diskLatencyNs);
  expect(new TextDecoder().decode(img.pread(4096, 5))).to.equal('hello');
  expect(host.readNow(p, efd, mem + 0x400, 8)).to.equal(8);
  expect(p.mm.u64(mem + 0x400)).to.equal(1);
  const ev = mem + 0x800;
  expect(host.io_getevents(p, ctx, 1, 8, ev)).to.equal(1);
  expect(p.mm.u64(ev + io_event.obj)).to.equal(cb);
  expect(p.mm.i64(ev + io_event.res)).to.equal(5);
});

test('AIO: the completion ring is mapped at the context id; userspace reaps by moving head, and only then is the slot free', () => {
  const clock = new Clock(2.5);
  const sched = new Scheduler(clock);
  const host = new HostKernel(sched, clock, SKYLAKE_SP, NULL_TRACER);
  host.addFile('/disk.img', new MemoryImage(1 << 20));
  const p = host.spawn('qemu');
  const mem = host.mmap(p, 1 << 16, -1);
  const fd = host.openat(p, '/disk.img', O_RDWR | O_DIRECT);
  // QEMU 9.0's laio_init: io_setup(MAX_EVENTS = 1024).
  expect(host.io_setup(p, 1024, mem)).to.equal(0);
  const ring = p.mm.u64(mem);
  // struct aio_ring: id, nr, head, tail, magic, compat_features, incompat_features, header_length.
  expect(p.mm.u32(ring + 16)).to.equal(0xa10a10a1);
  expect(p.mm.u32(ring + 28)).to.equal(32);
  const nr = p.mm.u32(ring + 4);
  expect(nr).to.equal(aioRingEvents(1024));                // 2 × 1024 + 2, rounded up to whole pages
  expect([p.mm.u32(ring + 8), p.mm.u32(ring + 12)]).to.deep.equal([0, 0]);
  const submit = (off: number): number => {
    const cb = mem + 0x200 + off;
    p.mm.setU16(cb + iocb.aio_lio_opcode, IOCB_CMD_PWRITEV);
    p.mm.setU32(cb + iocb.aio_fildes, fd);
    p.mm.setU64(cb + iocb.aio_buf, 0);
    p.mm.setU64(cb + iocb.aio_nbytes, 0);
    p.mm.setI64(cb + iocb.aio_offset, 0);
    p.mm.setU64(mem + 0x300, cb);
    return host.io_submit(p, ring, 1, mem + 0x300);
  };
  expect(submit(0)).to.equal(1);
  sched.run();
  // aio_complete wrote the event at the tail; nothing was read with a syscall.
  expect(p.mm.u32(ring + 12)).to.equal(1);
  expect(p.mm.u64(ring + 32 + io_event.obj)).to.equal(mem + 0x200);
  const ctx = host.aio.contexts()[0]!;
  expect(ctx.slotsInUse).to.equal(1);                     // the event still holds its slot
  p.mm.setU32(ring + 8, 1);                               // io_getevents_commit: head past it
  expect(ctx.slotsInUse).to.equal(0);
});
