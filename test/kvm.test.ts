import { test } from 'node:test';
import { expect } from 'chai';
import { KvmRunPage } from '../src/kvm/run_page';
import { KVM_EXIT, KVM_EXIT_IO_OUT, kvm_run } from '../src/uapi/kvm';

test('kvm_run is bytes at the offsets of struct kvm_run: an OUT to 0xc050 as qemu reads it', () => {
  const run = new KvmRunPage();
  run.exit_reason = KVM_EXIT.IO;
  run.setIo(KVM_EXIT_IO_OUT, 2, 0xc050, 1);
  const b = run.bytes;
  const d = new DataView(b.buffer);
  expect(d.getUint32(8, true)).to.equal(2);                 // exit_reason @8 = KVM_EXIT_IO
  expect(b[32]).to.equal(1);                                 // io.direction @32 = KVM_EXIT_IO_OUT
  expect(b[33]).to.equal(2);                                 // io.size @33
  expect(d.getUint16(34, true)).to.equal(0xc050);            // io.port @34
  expect(d.getUint32(36, true)).to.equal(1);                 // io.count @36
  expect(Number(d.getBigUint64(40, true))).to.equal(0x1000); // io.data_offset @40 = KVM_PIO_PAGE_OFFSET * PAGE_SIZE
  expect(kvm_run['io.port']).to.equal(34);
});

test('KVM_EXIT_MMIO fills phys_addr, data, len and is_write', () => {
  const run = new KvmRunPage();
  run.setMmio(0xfebf0000, 4, true, 0xdeadbeef);
  const d = run.view;
  expect(Number(d.getBigUint64(32, true))).to.equal(0xfebf0000);
  expect(d.getUint32(40, true)).to.equal(0xdeadbeef);
  expect(d.getUint32(48, true)).to.equal(4);
  expect(d.getUint8(52)).to.equal(1);
});
