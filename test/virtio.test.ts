import { test } from 'node:test';
import { expect } from 'chai';
import { GuestRam } from '../src/guest/memory';
import { VringVirtqueue } from '../src/guest/virtio_ring';
import { Mm } from '../src/host/mm';
import { GuestMemory } from '../src/qemu/dma';
import { VirtIODevice, VirtQueue } from '../src/qemu/virtio';
import { NULL_TRACER } from '../src/trace/events';
import { vring_size, vringLayout } from '../src/uapi/virtio';

test('legacy split-ring layout follows vring_init: desc, avail right after, used on the next 4 KiB', () => {
  const l = vringLayout(0x100000, 256);
  expect(l.avail).to.equal(0x100000 + 16 * 256);
  expect(l.used).to.equal(0x100000 + 0x2000);
  expect(vring_size(256, 4096)).to.equal(0x2000 + 6 + 8 * 256);
});

class Dev extends VirtIODevice { configRead(): number { return 0; } }

test('what the driver writes into guest RAM is what the device pops from it', () => {
  const mm = new Mm();
  const bytes = new Uint8Array(1 << 20);
  const hva = mm.map(bytes, 'ram');
  const ram = new GuestRam(bytes);
  const drv = new VringVirtqueue<string>(ram, 0, 16, 0x10000, function* () {});
  expect(drv.add_sgs([{ gpa: 0x20000, len: 16 }, { gpa: 0x21000, len: 4096 }], [{ gpa: 0x20010, len: 1 }], 'req')).to.equal(0);
  // The descriptor bytes themselves: addr @0, len @8, flags @12 (NEXT), next @14.
  expect(ram.u64(0x10000)).to.equal(0x20000);
  expect(ram.u32(0x10008)).to.equal(16);
  expect(ram.u16(0x1000c)).to.equal(1);
  const dev = new Dev('test', new GuestMemory(mm, hva, bytes.length), NULL_TRACER);
  const vq = new VirtQueue(0, 16, () => {});
  vq.setAddr(0x10000);
  const elem = dev.virtqueue_pop(vq)!;
  expect(elem.index).to.equal(0);
  expect(elem.out.map((v) => [v.hva - hva, v.len])).to.deep.equal([[0x20000, 16], [0x21000, 4096]]);
  expect(elem.in.map((v) => [v.hva - hva, v.len])).to.deep.equal([[0x20010, 1]]);
  dev.virtqueue_push(vq, elem, 1);
  expect(drv.get_buf()).to.deep.equal({ data: 'req', len: 1 });
});

test('a descriptor pointing outside guest RAM breaks the device and is never mapped', () => {
  const mm = new Mm();
  const bytes = new Uint8Array(1 << 20);
  const hva = mm.map(bytes, 'ram');
  const ram = new GuestRam(bytes);
  const drv = new VringVirtqueue<string>(ram, 0, 16, 0x10000, function* () {});
  drv.add_sgs([{ gpa: 0x20000, len: 16 }], [{ gpa: 0x20010, len: 1 }], 'req');
  ram.setU64(0x10000, 2 ** 40);                 // the guest points the first descriptor outside RAM,
  ram.setU32(0x10008, 0x2000);                  // longer than the 4 KiB bounce-buffer budget
  const mem = new GuestMemory(mm, hva, bytes.length);
  const dev = new Dev('test', mem, NULL_TRACER);
  const vq = new VirtQueue(0, 16, () => {});
  vq.setAddr(0x10000);
  expect(dev.virtqueue_pop(vq)).to.equal(undefined);
  expect(dev.broken).to.equal(true);
  expect(mem.violations).to.equal(0);
  expect(mem.bounceBufferSize).to.equal(0);     // the bounce buffer it got for the first 4 KiB was given back
});
