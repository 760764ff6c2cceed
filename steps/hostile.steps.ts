// A hostile guest: its driver queues an ordinary request, and before the kick the guest rewrites
// bytes of the ring in its own RAM — descriptors, the avail ring, the request header, an indirect
// table — one store instruction at a time (writeb/writew/writel, a 64-bit field as two writel).
// Then it kicks (outw to the notify port) and waits for the device, as the driver would. Then
// steps read what qemu made of it from the trace.

import { type DataTable } from '@cucumber/cucumber';
import { stepsAbout } from './support/define';
import { expect } from 'chai';
import type { GuestKernel, ActionResult } from '../src/guest/kernel';
import { queueWrite } from './support/guest_requests';
import { iowrite32, iowrite8, type KCode } from '../src/guest/io';
import type { BlkRequest } from '../src/guest/virtio_blk';
import { VringVirtqueue } from '../src/guest/virtio_ring';
import { OP, withSize } from '../src/vmx/insn';
import {
  VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_PCI_GUEST_FEATURES, VIRTIO_PCI_QUEUE_ADDR_SHIFT, VIRTIO_PCI_QUEUE_PFN, VIRTIO_PCI_STATUS,
  VIRTIO_PCI_VRING_ALIGN, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, virtio_blk_outhdr, vring_avail, vring_desc,
  vring_size,
} from '../src/uapi/virtio';
import type { ExitpathWorld } from './support/world';

const { When, Then } = stepsAbout('a hostile guest');

/** The guest's buffers for the request, and a spare page for an indirect table. */
interface Layout { header: number; status: number; data: number; table: number; desc: number; avail: number; used: number; ramEnd: number }

const FLAGS: Record<string, number> = { NEXT: VRING_DESC_F_NEXT, WRITE: VRING_DESC_F_WRITE, INDIRECT: VRING_DESC_F_INDIRECT };
const U64 = (1n << 64n) - 1n;

/** A cell: a number (hex or decimal, up to 64 bits), flag names (NEXT|WRITE), or a buffer name ± offset. */
function value(cell: string, l: Layout): bigint {
  const c = cell.trim();
  const sym = /^(header|status|data|table|desc|avail|used|ram-end)\s*(?:([+-])\s*(0x[0-9a-fA-F]+|\d+))?$/.exec(c);
  if (sym) {
    const base = { header: l.header, status: l.status, data: l.data, table: l.table, desc: l.desc, avail: l.avail, used: l.used, 'ram-end': l.ramEnd }[sym[1] as 'header'];
    const off = sym[3] ? BigInt(sym[3]) : 0n;
    return BigInt.asUintN(64, BigInt(base) + (sym[2] === '-' ? -off : off));
  }
  if (/^[A-Z|+ ]+$/.test(c)) {
    let f = 0;
    for (const name of c.split(/[|+]/).map((x) => x.trim()).filter(Boolean)) {
      const bit = FLAGS[name];
      if (bit === undefined) throw new Error(`'${name}' is not a descriptor flag (NEXT, WRITE, INDIRECT)`);
      f |= bit;
    }
    return BigInt(f);
  }
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(c)) throw new Error(`'${c}': expected a number (0x… or decimal), flags (NEXT|WRITE|INDIRECT) or a buffer (header, data, status, table, desc, avail, used, ram-end, ± an offset)`);
  const v = BigInt(c);
  if (v > U64) throw new Error(`'${c}' does not fit in 64 bits`);
  return v;
}

/** A field of the ring or the request: its guest-physical address and width in bytes. */
function field(name: string, l: Layout): { gpa: number; size: number } {
  const f = name.trim();
  let m = /^(desc|table)\[(\d+)\]\.(addr|len|flags|next)$/.exec(f);
  if (m) {
    const base = (m[1] === 'desc' ? l.desc : l.table) + Number(m[2]) * vring_desc.sizeof;
    const k = m[3] as 'addr' | 'len' | 'flags' | 'next';
    return { gpa: base + vring_desc[k], size: k === 'addr' ? 8 : k === 'len' ? 4 : 2 };
  }
  m = /^header\.(type|ioprio|sector)$/.exec(f);
  if (m) {
    const k = m[1] as 'type' | 'ioprio' | 'sector';
    return { gpa: l.header + virtio_blk_outhdr[k], size: k === 'sector' ? 8 : 4 };
  }
  m = /^avail\.(flags|idx|ring\[(\d+)\])$/.exec(f);
  if (m) {
    if (m[1] === 'flags') return { gpa: l.avail + vring_avail.flags, size: 2 };
    if (m[1] === 'idx') return { gpa: l.avail + vring_avail.idx, size: 2 };
    return { gpa: l.avail + vring_avail.ring + 2 * Number(m[2]), size: 2 };
  }
  throw new Error(`'${f}' is not a field the guest can rewrite: desc[N].addr|len|flags|next, table[N].…, header.type|ioprio|sector, avail.flags|idx|ring[N]`);
}

/** One store instruction of `size` bytes (a 64-bit field: two writel, low half first). */
function* store(k: GuestKernel, gpa: number, size: number, v: bigint): KCode {
  if (size === 8) {
    yield* store(k, gpa, 4, v & 0xffffffffn);
    yield* store(k, gpa + 4, 4, v >> 32n);
    return;
  }
  k.r.rdi = gpa;
  k.r.rax = Number(v);
  yield withSize(OP.MEM_WRITE, size);
}

/**
 * The driver queues a one-sector write (virtblk_add_req: header, data, status — descriptors 0, 1
 * and 2 of a fresh queue, whose free list starts at 0), the guest rewrites `rows` with store
 * instructions, kicks, and waits for the completion interrupt.
 */
function hostileWrite(text: string, sector: number, rows: { field: string; value: string }[], w: ExitpathWorld) {
  return (k: GuestKernel): KCode<ActionResult> => (function* () {
    const q = queueWrite(k, text, sector);
    const vq = k.blk.vq!;
    const l: Layout = { header: q.header, status: q.status, data: q.data, table: k.userBuffer(4096), desc: vq.desc, avail: vq.avail, used: vq.used, ramEnd: k.ram.size };
    w.hostileLayout = { ...l };
    for (const r of rows) {
      const f = field(r.field, l);
      const v = value(r.value, l);
      if (f.size < 8 && v >= 1n << BigInt(8 * f.size)) throw new Error(`${r.field} is ${f.size} bytes wide: ${r.value} does not fit`);
      yield* store(k, f.gpa, f.size, v);
    }
    yield* k.blk.vp_notify();
    yield* k.wait_for_completion(q.req);
    return { value: q.req.status, errno: q.req.status < 0 ? -q.req.status : null };
  })();
}

function rowsOf(table: DataTable): { field: string; value: string }[] {
  const rows = table.hashes();
  for (const r of rows) if (!('field' in r) || !('value' in r)) throw new Error('the table needs the columns field | value');
  return rows as { field: string; value: string }[];
}

When('the guest queues a write of {string} to sector {int} and, before the kick, rewrites:', { doc: 'the same, but first the guest stores each value with store instructions (a 64-bit field as two `writel`). Fields: `desc[N].addr|len|flags|next`, `table[N].…` (an indirect table in a spare page), `header.type|ioprio|sector`, `avail.flags|idx|ring[N]`. Values: numbers up to 64 bits, flags `NEXT+WRITE+INDIRECT`, or a buffer `header`, `data`, `status`, `table`, `desc`, `avail`, `used`, `ram-end`, ± an offset' }, function (this: ExitpathWorld, text: string, sector: number, table: DataTable) {
  this.rawDiskWrites = true;
  this.run(hostileWrite(text, sector, rowsOf(table), this));
});

When('the guest queues a write of {string} to sector {int} and kicks', { doc: 'the driver queues a one-sector write (descriptors header, data, status), kicks, and waits for the device; may end with the guest still waiting' }, function (this: ExitpathWorld, text: string, sector: number) {
  this.rawDiskWrites = true;
  this.run(hostileWrite(text, sector, [], this));
});

// ---------------------------------------------------------------- what qemu made of it

const STATUS: Record<string, number> = { VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP };

Then('the device reports virtio_error {string}', { doc: 'qemu\'s virtio_error() reports in the walk' }, function (this: ExitpathWorld, reason: string) {
  const errors = this.last.events.filter((e) => e.name === 'virtio_error').map((e) => String(e.detail.reason));
  expect(errors, 'virtio_error reports').to.deep.equal([reason]);
});

Then('the device reports no virtio_error', { doc: 'no virtio_error() report in the walk' }, function (this: ExitpathWorld) {
  const errors = this.last.events.filter((e) => e.name === 'virtio_error').map((e) => String(e.detail.reason));
  expect(errors, 'virtio_error reports').to.deep.equal([]);
});

Then('the device completes the request with {word}', { doc: 'the status byte qemu wrote: `VIRTIO_BLK_S_OK`, `_IOERR`, `_UNSUPP`' }, function (this: ExitpathWorld, status: string) {
  const want = STATUS[status];
  if (want === undefined) throw new Error(`'${status}' is not a virtio-blk status (${Object.keys(STATUS).join(', ')})`);
  const got = this.last.events.filter((e) => e.name === 'virtio_blk_req_complete').map((e) => Number(e.detail.status));
  expect(got, 'statuses the device wrote').to.deep.equal([want]);
});

Then('the device writes no used element', { doc: 'no virtqueue_fill in the walk' }, function (this: ExitpathWorld) {
  const fills = this.last.events.filter((e) => e.name === 'virtqueue_fill');
  expect(fills.map((e) => e.detail), 'used elements').to.deep.equal([]);
});

Then('qemu logs the guest error {string}', { doc: 'a `-d guest_errors` message (qemu_log_mask)' }, function (this: ExitpathWorld, text: string) {
  const logs = this.last.events.filter((e) => e.name === 'qemu_log_mask').map((e) => String(e.detail.reason));
  expect(logs).to.include(text);
});

Then('the guest is still waiting for the disk', { doc: 'the action has not returned and nothing will wake the guest' }, function (this: ExitpathWorld) {
  this.stateStated = true;
  expect(this.last.state, `the action ended ${this.last.state}: ${this.last.why ?? ''}`).to.equal('waiting');
});

Then('nothing outside guest RAM or the disk image was touched', { doc: 'the DMA and image guard rails refused nothing and the invariants hold (also checked after every action)' }, function (this: ExitpathWorld) {
  const v = this.stack.violations();
  expect({ dma: v.dma, image: v.image, invariants: v.invariants.length }).to.deep.equal({ dma: 0, image: 0, invariants: 0 });
});

Then(/^qemu's own store runs (\d+) bytes? past (?:guest RAM|its bounce buffer), which the model refuses$/, { doc: 'qemu\'s unchecked 4-byte store in virtio_blk_handle_scsi (past guest RAM, or past the bounce buffer it mapped), reproduced and counted apart', example: 'qemu\'s own store runs 3 bytes past its bounce buffer, which the model refuses' }, function (this: ExitpathWorld, ns: string) {
  const n = Number(ns);
  expect(this.stack.qemuOverruns(), 'bytes of qemu\'s unchecked store outside guest RAM').to.equal(n);
  expect(this.stack.violations().dma, 'the model\'s own guard violations').to.equal(0);
});

// ---------------------------------------------------------------- a reset with a request in flight

/**
 * The driver queues a write to sector 2048 whose data descriptor points 4 KiB past the end of guest
 * RAM, 4096 bytes long (qemu maps it through a bounce buffer: its whole 4 KiB budget), and kicks;
 * without waiting for it, the guest resets the device (status 0, as virtio_pci_legacy's vp_reset),
 * sets it up again with a fresh ring (features, QUEUE_PFN, DRIVER_OK) and queues a one-sector write
 * to sector 2056 whose data is past the end of RAM too, and waits for that one.
 */
function resetWithRequestInFlight(w: ExitpathWorld) {
  const sector = 2048;
  return (k: GuestKernel): KCode<ActionResult> => (function* () {
    const blk = k.blk;
    const io = blk.ioaddr;
    const outside = (q: { req: { sgs: { gpa: number; len: number }[] } }, vqDesc: number, at: number, len: number) => function* () {
      // desc[1] is the data buffer of a fresh one-sector write (descriptors 0, 1, 2 of the free list).
      yield* store(k, vqDesc + vring_desc.sizeof + vring_desc.addr, 8, BigInt(k.ram.size + at));
      yield* store(k, vqDesc + vring_desc.sizeof + vring_desc.len, 4, BigInt(len));
      q.req.sgs[0]!.len = len;
    };
    const first = queueWrite(k, 'first', sector);
    w.hostileLayout = { ramEnd: k.ram.size };
    yield* outside(first, blk.vq!.desc, 0x1000, 4096)();
    yield* blk.vp_notify();
    // vp_reset, then the set-up of virtio_pci_legacy_probe + setup_vq on a fresh ring.
    yield* iowrite8(k.r, 0, io + VIRTIO_PCI_STATUS);
    yield* iowrite8(k.r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, io + VIRTIO_PCI_STATUS);
    yield* iowrite32(k.r, blk.hostFeatures & (1 << VIRTIO_BLK_F_FLUSH), io + VIRTIO_PCI_GUEST_FEATURES);
    const num = blk.vq!.num;
    const pages = Math.ceil(vring_size(num, VIRTIO_PCI_VRING_ALIGN) / 4096);
    const base = k.userBuffer(pages * 4096);
    k.ram.bytes.fill(0, base, base + pages * 4096);
    yield* iowrite32(k.r, base / 2 ** VIRTIO_PCI_QUEUE_ADDR_SHIFT, io + VIRTIO_PCI_QUEUE_PFN);
    blk.vq = new VringVirtqueue<BlkRequest>(k.ram, 0, num, base, () => blk.vp_notify());
    yield* iowrite8(k.r, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, io + VIRTIO_PCI_STATUS);
    const second = queueWrite(k, 'second', sector + 8);
    yield* outside(second, blk.vq.desc, 0x3000, 512)();
    yield* blk.vp_notify();
    yield* k.wait_for_completion(second.req);
    return { value: second.req.status, errno: second.req.status < 0 ? -second.req.status : null };
  })();
}

When('the guest resets the device while a write with its data outside guest RAM is in flight, then sets the queue up again and queues another such write',
  { doc: 'a one-sector write whose data descriptor points outside guest RAM (a bounce buffer), a device reset while it is in flight, the driver\'s set-up again, and a second such write' },
  function (this: ExitpathWorld) {
    this.rawDiskWrites = true;
    this.run(resetWithRequestInFlight(this));
  });

Then('the request in flight completes before the reset does', { doc: 'virtio_blk_reset drained the request (blk_drain): its completion comes before the guest\'s reset write completes' }, function (this: ExitpathWorld) {
  const ev = this.last.events;
  const firstDone = ev.findIndex((e) => e.name === 'virtio_blk_req_complete');
  // The reset is the outb of 0 to the status register (port io_base + 18) completing in the guest.
  const reset = ev.findIndex((e) => e.kind === 'instruction' && e.name === 'outb' && e.detail.value === '0x0' && e.detail.port === hexPort(this.config.disk.io_base + VIRTIO_PCI_STATUS));
  const resetDone = ev.findIndex((e, i) => i > reset && e.kind === 'emulation-complete' && e.name === 'outb');
  expect(reset, 'the reset').to.be.greaterThan(-1);
  expect(firstDone, 'the first request completes').to.be.greaterThan(-1);
  expect(firstDone, 'virtio_blk_req_complete of the request in flight, before the reset\'s outb completes').to.be.lessThan(resetDone);
});

Then('qemu holds no bounce buffer', { doc: 'every bounce buffer qemu mapped for the device has been unmapped' }, function (this: ExitpathWorld) {
  expect(this.stack.qemu.mem.bounceBufferSize, 'bytes of bounce buffers mapped').to.equal(0);
});

const hexPort = (p: number) => `0x${p.toString(16)}`;
