import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { writeAction, readAction } from '../src/guest/actions';
import type { Action } from '../src/guest/kernel';
import { Stack } from '../src/stack';
import { pcRamSplit } from '../src/qemu/qemu';
import { explain } from '../src/walk';
import { VIRTIO_BLK_T_OUT, virtio_blk_outhdr, vring_desc } from '../src/uapi/virtio';

test('determinism: the same configuration and actions give byte-identical traces', () => {
  const a = JSON.stringify(explain(DEFAULT_CONFIG, 'write hello /hello.txt'));
  const b = JSON.stringify(explain(DEFAULT_CONFIG, 'write hello /hello.txt'));
  expect(a).to.equal(b);
  expect(a.length).to.be.greaterThan(1000);
});

/**
 * A driver that builds the request in guest RAM, lets the test tamper with it, then kicks. The
 * sectors are in the free part of the disk's ext2 (block 5000 and on), zero until written.
 */
const SECTOR = 40000;
function tamperedWrite(tamper: (ram: Stack['guest']['ram'], hdr: number, descTable: number) => void, wait = true): Action {
  return (k) => (function* () {
    const data = k.userBuffer(4096);
    k.ram.bytes.fill(0x41, data, data + 4096);
    const hdr = k.userBuffer(4096);
    k.ram.setU32(hdr + virtio_blk_outhdr.type, VIRTIO_BLK_T_OUT);
    k.ram.setU64(hdr + virtio_blk_outhdr.sector, SECTOR);
    const vq = k.blk.vq!;
    const req = { op: 'write' as const, sector: SECTOR, sgs: [], hdrGpa: hdr, statusGpa: hdr + 16, status: -1, done: false };
    vq.add_sgs([{ gpa: hdr, len: 16 }, { gpa: data, len: 4096 }], [{ gpa: hdr + 16, len: 1 }], req);
    tamper(k.ram, hdr, vq.desc);
    yield* k.blk.vp_notify();
    if (wait) yield* k.wait_for_completion(req);
    return { value: req.status, errno: null };
  })();
}

test('the device reads the request from guest RAM: changing the bytes changes what qemu does', () => {
  const honest = new Stack(DEFAULT_CONFIG);
  honest.run(tamperedWrite(() => {}));
  expect(honest.image.pread(SECTOR * 512, 1)[0]).to.equal(0x41);

  // Rewrite the sector in the header after queueing: qemu writes where the bytes now say.
  const moved = new Stack(DEFAULT_CONFIG);
  moved.run(tamperedWrite((ram, hdr) => ram.setU64(hdr + virtio_blk_outhdr.sector, SECTOR + 64)));
  expect(moved.image.pread(SECTOR * 512, 1)[0]).to.equal(0);
  expect(moved.image.pread((SECTOR + 64) * 512, 1)[0]).to.equal(0x41);

  // Point the first descriptor outside guest RAM with more than the 4 KiB a bounce buffer can give:
  // qemu cannot map it and marks the device broken; nothing outside guest RAM was touched.
  const broken = new Stack(DEFAULT_CONFIG);
  const o = broken.run(tamperedWrite((ram, _hdr, desc) => {
    ram.setU64(desc + vring_desc.addr, 2 ** 45);
    ram.setU32(desc + vring_desc.len, 0x10000);
  }, false));
  const names = broken.trace.slice(o.from, o.to).map((e) => e.name);
  expect(names).to.include('virtio_error');
  expect(broken.qemu.vblk.broken).to.equal(true);
  expect(broken.qemu.mem.violations).to.equal(0);
  expect(broken.image.pread(SECTOR * 512, 1)[0]).to.equal(0);
});

test('reads return what was written', () => {
  const s = new Stack(DEFAULT_CONFIG);
  s.run(writeAction(new TextEncoder().encode('hello, disk'), '/f'));
  const r = s.run(readAction(100, '/f'));
  expect(r.result.value).to.equal(11);
  expect(new TextDecoder().decode(r.result.data)).to.equal('hello, disk');
});

test('pc_init1: RAM below 4 GiB stops at the PCI hole; from 3.5 GiB it is cut at 3 GiB and the rest goes above 4 GiB', () => {
  expect(pcRamSplit(512 * 2 ** 20)).to.deep.equal({ below: 512 * 2 ** 20, above: 0 });
  expect(pcRamSplit(3583 * 2 ** 20)).to.deep.equal({ below: 3583 * 2 ** 20, above: 0 });
  expect(pcRamSplit(3584 * 2 ** 20)).to.deep.equal({ below: 3072 * 2 ** 20, above: 512 * 2 ** 20 });
  expect(pcRamSplit(4096 * 2 ** 20)).to.deep.equal({ below: 3072 * 2 ** 20, above: 1024 * 2 ** 20 });
  // qemu-kvm 0.14 cut at 3.5 GiB, without the gigabyte alignment.
  expect(pcRamSplit(4096 * 2 ** 20, 'qemu-kvm-2013')).to.deep.equal({ below: 3584 * 2 ** 20, above: 512 * 2 ** 20 });
  const s = new Stack({ ...DEFAULT_CONFIG, memory_mib: 4096 });
  const slots = s.kvm.vms[0]!.memslots.filter((m) => m.slot < 2).map((m) => [m.slot, m.gpa, m.size]);
  expect(slots).to.deep.equal([[0, 0, 3072 * 2 ** 20], [1, 2 ** 32, 1024 * 2 ** 20]]);
  // The IOAPIC (0xfec00000) and the local APIC (0xfee00000) are no longer covered by RAM: the guest booted.
  expect(s.run(writeAction(new TextEncoder().encode('hello'), '/hello.txt')).result.value).to.equal(5);
});
