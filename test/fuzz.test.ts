import { test } from 'node:test';
import { expect } from 'chai';
import { OUTCOME_CLASSES, RAM, runCase, runFuzz, report, unreached, type FuzzCase, type FuzzStats } from '../scripts/fuzz';
import { Mm } from '../src/host/mm';
import { MemoryImage } from '../src/host/disk';
import { GuestMemory } from '../src/qemu/dma';

test('6,000 fixed-seed hostile rings: no crash, nothing touched outside guest RAM or the disk, invariants kept, every outcome class reached', () => {
  const s = runFuzz({ runs: 6000, seed: 6 });
  expect(s.cases).to.equal(6000);
  expect({ crashes: s.crashes, dma: s.dmaViolations, image: s.imageViolations, invariants: s.invariantViolations }, report(s))
    .to.deep.equal({ crashes: 0, dma: 0, image: 0, invariants: 0 });
  // The cases reach every check and path they are meant to exercise (a class never reached fails `npm run fuzz` too).
  expect(unreached(s), report(s)).to.deep.equal([]);
  expect(OUTCOME_CLASSES.length).to.be.greaterThan(35);
});

test('the guard rails are not vacuous: an access outside guest RAM or the disk is refused and counted', () => {
  const mm = new Mm();
  const ram = new Uint8Array(0x1000);
  const hva = mm.map(ram, 'ram');
  const mem = new GuestMemory(mm, hva, ram.length);
  mem.stb_hva(hva + 0xfff, 1);                       // the last byte of RAM: fine
  expect(mem.violations).to.equal(0);
  mem.stl_hva(hva + 0xffe, 0x01020304);              // 2 bytes in RAM, 2 beyond: the 2 beyond are refused
  expect(mem.violations).to.equal(2);
  expect([ram[0xffe], ram[0xfff]]).to.deep.equal([4, 3]);
  expect(mem.ldl(0x1000)).to.equal(0);               // a guest-physical load past RAM reads 0, refused
  expect(mem.violations).to.equal(3);
  expect([...mem.violationSites.keys()]).to.deep.equal(['stl_le_p', 'ldl_le_phys']);

  const img = new MemoryImage(4096);
  img.pwrite(4000, new Uint8Array(96));              // ends exactly at the disk's end: fine
  expect(img.violations).to.equal(0);
  img.pwrite(4000, new Uint8Array(97));              // one byte past it: refused
  img.pread(-1, 1);
  expect(img.violations).to.equal(2);
});

test('qemu\'s unchecked store in virtio_blk_handle_scsi is reproduced: 3 bytes past guest RAM, refused and counted apart', () => {
  // A SCSI_CMD request: a split header (two readable descriptors), two device-writable data
  // buffers and the status; the second-to-last writable buffer (the virtio_scsi_inhdr) is moved to
  // the last byte of RAM, where qemu's 4-byte store of errors = 255 overruns by 3 bytes.
  const c: FuzzCase = {
    num: 8, ringPage: 1, rings: null, features: { indirect: false, eventIdx: false, version1: false }, werror: 'report', rerror: 'report',
    steps: [{ kind: 'kick', request: { type: 2, sector: 0n, data: [512, 1], statusLen: 1, splitHeader: true, indirect: false, slots: [0, 1, 2, 3, 4, 5] },
      mutations: [{ target: 'desc', index: 3, field: 0, value: BigInt(RAM - 1) }] }],
  };
  const stats: FuzzStats = { cases: 0, crashes: 0, dmaViolations: 0, imageViolations: 0, invariantViolations: 0, qemuOverruns: 0, outcomes: new Map(), failures: [] };
  expect(runCase(c, stats)).to.equal(undefined);
  expect({ overruns: stats.qemuOverruns, dma: stats.dmaViolations }).to.deep.equal({ overruns: 3, dma: 0 });
  expect(stats.outcomes.get('status VIRTIO_BLK_S_UNSUPP')).to.equal(1);
});

test('the same store into a bounce buffer: the inhdr and the status past the end of RAM, each its own allocation — 3 bytes refused', () => {
  // QEMU 9.1+ address_space_map: every bounce buffer is its own allocation of the mapped length
  // (g_malloc0(l + sizeof(BounceBuffer))). The 1-byte inhdr's buffer is followed by nothing of the
  // device's: the 3 bytes past it are counted, even though the status's buffer was mapped right after.
  const c: FuzzCase = {
    num: 8, ringPage: 1, rings: null, features: { indirect: false, eventIdx: false, version1: false }, werror: 'report', rerror: 'report',
    steps: [{ kind: 'kick', request: { type: 2, sector: 0n, data: [512, 1], statusLen: 1, splitHeader: true, indirect: false, slots: [0, 1, 2, 3, 4, 5] },
      mutations: [{ target: 'desc', index: 3, field: 0, value: BigInt(RAM + 0x100) }, { target: 'desc', index: 4, field: 0, value: BigInt(RAM + 0x200) }] }],
  };
  const stats: FuzzStats = { cases: 0, crashes: 0, dmaViolations: 0, imageViolations: 0, invariantViolations: 0, qemuOverruns: 0, outcomes: new Map(), failures: [] };
  expect(runCase(c, stats)).to.equal(undefined);
  expect({ overruns: stats.qemuOverruns, dma: stats.dmaViolations }).to.deep.equal({ overruns: 3, dma: 0 });
  expect(stats.outcomes.get('status VIRTIO_BLK_S_UNSUPP')).to.equal(1);
});

test('virtio_error: broken either way; NEEDS_RESET and a config interrupt only when VIRTIO_F_VERSION_1 was negotiated', async () => {
  const { VirtIODevice } = await import('../src/qemu/virtio');
  const { NULL_TRACER } = await import('../src/trace/events');
  class Dev extends VirtIODevice { configRead(): number { return 0; } }
  const mm = new Mm();
  const ram = new Uint8Array(0x1000);
  const mem = new GuestMemory(mm, mm.map(ram, 'ram'), ram.length);
  const legacy = new Dev('legacy', mem, NULL_TRACER);
  legacy.status = 7;
  legacy.virtio_error('Looped descriptor');
  expect({ broken: legacy.broken, status: legacy.status, isr: legacy.isr }).to.deep.equal({ broken: true, status: 7, isr: 0 });
  const modern = new Dev('modern', mem, NULL_TRACER);
  let configInterrupts = 0;
  modern.notifyConfigTransport = () => { configInterrupts++; };
  modern.status = 0xf;
  modern.guestFeaturesHi = 1;                        // VIRTIO_F_VERSION_1 is bit 32
  modern.virtio_error('Looped descriptor');
  expect({ broken: modern.broken, status: modern.status, isr: modern.isr, configInterrupts }).to.deep.equal({ broken: true, status: 0x4f, isr: 3, configInterrupts: 1 });
});
