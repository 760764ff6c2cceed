import { test } from 'node:test';
import { expect } from 'chai';
import { KvmRunPage } from '../src/kvm/run_page';
import { KVM_EXIT, KVM_EXIT_IO_OUT, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, kvm_run } from '../src/uapi/kvm';
import { DEFAULT_CONFIG } from '../src/config';
import { Stack } from '../src/stack';
import { kvm_set_irq } from '../src/qemu/kvm_all';
import { writeAction } from '../src/guest/actions';
import { SKYLAKE_SP } from '../src/sim/costs';

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

test('qemu raises INTx with KVM_IRQ_LINE_STATUS (0xc008ae67), and kvm copies back how many chips took it', () => {
  const s = new Stack(DEFAULT_CONFIG);
  const q = s.qemu;
  // kvm_init: KVM_CHECK_EXTENSION(KVM_CAP_IRQ_INJECT_STATUS) answers 1, so irq_set_ioctl is the status variant.
  expect(KVM_IRQ_LINE_STATUS).to.equal(0xc008ae67);
  expect(q.irqSetIoctl).to.equal(KVM_IRQ_LINE_STATUS);
  // GSI 5: the PIC's edge line (unmasked: 1) and an IOAPIC pin the guest left masked (-1, not counted).
  expect(kvm_set_irq(s.host, q.proc, q.heap, q.vmfd, q.irqSetIoctl, 5, 1)).to.equal(1);
  // Lowering a line counts 1 for each chip (ioapic_set_irq returns 1 for !irq_level).
  expect(kvm_set_irq(s.host, q.proc, q.heap, q.vmfd, q.irqSetIoctl, 5, 0)).to.equal(2);
  // A second edge while the PIC's IRR still holds the first (nobody acknowledged it) is coalesced: 0.
  expect(kvm_set_irq(s.host, q.proc, q.heap, q.vmfd, q.irqSetIoctl, 5, 1)).to.equal(0);
  // Plain KVM_IRQ_LINE copies nothing back: qemu takes 1 for granted.
  expect(kvm_set_irq(s.host, q.proc, q.heap, q.vmfd, KVM_IRQ_LINE, 5, 0)).to.equal(1);
});

test('halt polling: a wake-up inside the window skips the scheduler trip (vcpuWakeup cycles); with halt_poll_ns 0 every wake pays it', () => {
  const write = (name: string) => writeAction(new TextEncoder().encode('hello'), name);
  const polled = new Stack(DEFAULT_CONFIG);
  const blocked = new Stack({ ...DEFAULT_CONFIG, halt_poll_ns: 0 });
  for (const s of [polled, blocked]) s.run(write('/a'));
  const vcpu = polled.kvm.vms[0]!.vcpus[0]!;
  // 0 → 10 → 20 µs at boot (the partition table's and the superblock's reads blocked), → 40 µs at
  // the first write's flush (a worker thread's fdatasync: past the 20 µs window).
  expect(vcpu.halt_poll_ns).to.equal(40000);
  expect(blocked.kvm.vms[0]!.vcpus[0]!.halt_poll_ns).to.equal(0);
  // /b's name and the bitmaps are cached: three requests (data, inode, flush), three halts, each
  // inside the 40 µs window when polling, each a wake-up through the scheduler without.
  const a = polled.run(write('/b'));
  const b = blocked.run(write('/b'));
  expect(b.cycles - a.cycles).to.equal(3 * SKYLAKE_SP.cost.vcpuWakeup);
  const wakes = polled.trace.slice(a.from, a.to).filter((e) => e.name === 'kvm_vcpu_wakeup');
  expect(wakes.map((w) => w.detail.waited)).to.deep.equal([0, 0, 0]);
  for (const w of wakes) expect(Number(w.detail.ns)).to.be.below(40000);
});
