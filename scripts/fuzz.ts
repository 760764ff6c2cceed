// The hostile-guest fuzzer: fast-check throws random and mutated descriptor tables, avail rings,
// request headers and indirect tables at qemu's virtio-blk device — the real device model, its
// block backend (Linux AIO), and the host kernel's AIO and image — and checks, for every case:
//   - nothing threw (no simulator crash),
//   - the DMA guard refused nothing (no access outside guest RAM or a bounce buffer),
//   - the image refused nothing (no access outside the disk),
//   - the trace kept its invariants (used ring vs popped heads, AIO completions vs submissions).
// A case is a ring placed somewhere in a small guest RAM, negotiated features, the drive's backend
// (Linux AIO, the thread pool or io_uring), cache mode and error policies, and a sequence of steps:
// the guest writes bytes (an honest request, then mutations of its fields — descriptors, the avail
// and used rings themselves, the header) and kicks, possibly with its buffers past the end of RAM
// (bounce buffers); the host completes I/O, sometimes with a fault (Linux AIO, the thread pool's
// pwritev/preadv/fdatasync, io_uring completions); the VM is resumed; the driver renegotiates its
// features and moves the ring after set-up; the device is reset, with requests in flight or not.
//
// Every run reports how often each outcome class was reached (OUTCOME_CLASSES); a class the run
// never reached is a failure of the fuzzer: it means the cases no longer exercise that check.
//
//   npm run fuzz                       100,000 cases, progress every 10,000
//   npm run fuzz -- --runs 1e6 --seed 7
// Then it cuts power at 10,000 points of random ext2 workloads in the guest (scripts/crash.ts).
// The fixed-seed subset in test/fuzz.test.ts runs 2,000 of them on every `npm test`.

import fc from 'fast-check';
import { crashReport, runCrashConsistency } from './crash';
import { Clock } from '../src/sim/clock';
import { SKYLAKE_SP } from '../src/sim/costs';
import { Scheduler } from '../src/sim/scheduler';
import { eventType, type Tracer } from '../src/trace/events';
import type { TraceEvent } from '../src/trace/recorder';
import { InvariantChecker, type TraceReader } from '../src/trace/invariants';
import { HostKernel, O_DIRECT, O_RDWR } from '../src/host/kernel';
import { MemoryImage } from '../src/host/disk';
import { ERRNO } from '../src/uapi/errno';
import { GuestMemory, U64_MAX } from '../src/qemu/dma';
import { Heap } from '../src/qemu/heap';
import { MainLoop } from '../src/qemu/main_loop';
import { LinuxAioState } from '../src/qemu/block/linux_aio';
import { ThreadPool } from '../src/qemu/block/thread_pool';
import { BlockBackend, bdrv_parse_cache_mode, type BlockdevOnError, type CacheMode } from '../src/qemu/block/block_backend';
import { LuringState } from '../src/qemu/block/io_uring';
import { VirtIOBlock } from '../src/qemu/virtio_blk';
import { VIRTIO_F_VERSION_1 } from '../src/qemu/virtio';
import {
  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
  VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, vring_avail, vring_desc, vring_used, vring_used_elem, vringLayout,
} from '../src/uapi/virtio';

/** Guest RAM of the fuzzed machine: small, so that random addresses land near its edges often. */
export const RAM = 0x20000;
/** Where requests' buffers live (headers, data, statuses, indirect tables). */
const BUF = 0x10000;
const DISK = 1 << 20;
const SECTORS = DISK / 512;
const IMAGE_PATH = '/fuzz/disk.img';

// ------------------------------------------------------------------ a trace store for one case

/** Records events in plain arrays (a case has a few hundred at most) and answers the invariant checker. */
class CaseTrace implements Tracer, TraceReader {
  on = true;
  length = 0;
  private readonly types: number[] = [];
  private readonly vcpus: number[] = [];
  private readonly args: number[] = [];
  readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();
  rec(type: number, vcpu: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
    this.types.push(type); this.vcpus.push(vcpu); this.args.push(a0, a1, a2, a3); this.length++;
  }
  str(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) { id = this.strings.length; this.strings.push(s); this.ids.set(s, id); }
    return id;
  }
  typeAt(seq: number): number { return this.types[seq]!; }
  vcpuAt(seq: number): number { return this.vcpus[seq]!; }
  argAt(seq: number, k: number): number { return this.args[seq * 4 + k]!; }
  get(seq: number): TraceEvent {
    const t = eventType(this.types[seq]!);
    const detail: Record<string, string | number> = {};
    t.args.forEach((a, k) => { const v = this.argAt(seq, k); detail[a.name] = a.fmt === 'str' ? (this.strings[v] ?? '?') : v; });
    return { seq, t_ns: 0, vcpu: this.vcpus[seq]!, from: t.from, to: t.to, kind: t.kind, name: t.name, detail };
  }
  /** Results of a host syscall's returns (syscall-return events of that name). */
  returns(name: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) {
      const t = eventType(this.types[i]!);
      if (t.kind === 'syscall-return' && t.name === name) out.push(this.argAt(i, 0));
    }
    return out;
  }
  names(name: string, arg: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.length; i++) {
      const t = eventType(this.types[i]!);
      if (t.name === name) { const v = this.argAt(i, arg); out.push(t.args[arg]?.fmt === 'str' ? this.strings[v] ?? '?' : String(v)); }
    }
    return out;
  }
}

// ------------------------------------------------------------------ cases

interface Desc { addr: bigint; len: number; flags: number; next: number }
/**
 * A field the guest rewrites after queueing: a descriptor (index; field 0 addr, 1 len, 2 flags, 3
 * next), the avail ring's flags, idx, an entry or used_event (avail->ring[num]), the used ring's
 * flags, idx, an element or avail_event (used->ring[num]), the request header, or any 8 bytes.
 */
interface Mutation {
  target: 'desc' | 'table' | 'avail-idx' | 'avail-ring' | 'avail-flags' | 'used-event' | 'used-idx' | 'used-flags' | 'used-ring'
    | 'avail-event' | 'header-type' | 'header-sector' | 'raw';
  index: number; field: number; value: bigint;
}
type Fault = 'EIO' | 'ENOSPC' | 'EAGAIN' | 'slots' | 'flush-EIO' | 'pool-EIO' | 'uring-EIO';
type Step =
  | { kind: 'kick'; request: Request; mutations: Mutation[] }
  | { kind: 'complete' }
  | { kind: 'fault'; which: Fault }
  | { kind: 'resume' }
  | { kind: 'reset' }
  /** The driver writes the features register again after the ring is set up, and may set the queue's PFN again. */
  | { kind: 'features'; eventIdx: boolean; indirect: boolean; page: number | null };

interface Request {
  type: number;
  sector: bigint;
  /** Sizes of the data buffers (device-readable for a write, device-writable otherwise). */
  data: number[];
  statusLen: number;
  /** Header split across two descriptors (ANY_LAYOUT), status merged into the last data buffer. */
  splitHeader: boolean;
  /** Put the chain in an indirect table. */
  indirect: boolean;
  /** Descriptor indices the chain uses (the first is the head). */
  slots: number[];
  /** Put the data and status buffers past the end of guest RAM: qemu maps them through bounce buffers. */
  bounce?: boolean;
}

export interface FuzzCase {
  num: number;
  ringPage: number;
  /** Ring parts placed one by one, as a modern transport lets the driver (else: the legacy layout from the page). */
  rings: { desc: number; avail: number; used: number } | null;
  features: { indirect: boolean; eventIdx: boolean; version1: boolean };
  werror: BlockdevOnError;
  rerror: BlockdevOnError;
  /** -drive aio= and cache= (absent: linux-aio, none). */
  backend?: 'linux-aio' | 'threads' | 'io_uring';
  cache?: CacheMode;
  steps: Step[];
}

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
/** 64-bit addresses where the edges are: RAM and its end, 4 GiB, the top of the address space. */
const addrArb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: BUF, max: RAM - 1 }).map(BigInt) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: RAM - 1 }).map(BigInt) },
  { weight: 3, arbitrary: fc.integer({ min: -0x2000, max: 0x2000 }).map((d) => BigInt(RAM + d)) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 16 }).map((d) => BigInt(RAM - d)) },
  { weight: 1, arbitrary: fc.integer({ min: -0x10, max: 0x10 }).map((d) => BigInt(2 ** 32 + d)) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 0x3000 }).map((d) => U64_MAX + 1n - BigInt(d)) },
  { weight: 1, arbitrary: u64 },
);
const lenArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 8, 15, 16, 17, 32, 511, 512, 513, 1024, 4096, 0x2000, 0x10000) },
  { weight: 1, arbitrary: fc.constantFrom(0x7fffffff, 0x80000000, 0xffffffff) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const flagsArb = fc.oneof(
  { weight: 8, arbitrary: fc.subarray([VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT]).map((a) => a.reduce((x, y) => x | y, 0)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
const typeArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH) },
  { weight: 3, arbitrary: fc.constantFrom(VIRTIO_BLK_T_GET_ID, 2, 5, 11, 13, 14, 15, 16, 18, 0x80000000, 0x80000001) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const sectorArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: SECTORS - 1 }).map(BigInt) },
  { weight: 3, arbitrary: fc.constantFrom(BigInt(SECTORS - 1), BigInt(SECTORS), BigInt(SECTORS + 1), 1n << 55n, 1n << 63n, U64_MAX) },
  { weight: 1, arbitrary: u64 },
);
const valueFor = (t: Mutation['target']): fc.Arbitrary<bigint> => {
  switch (t) {
    case 'desc': case 'table': return fc.oneof(addrArb, lenArb.map(BigInt), flagsArb.map(BigInt), fc.integer({ min: 0, max: 0xffff }).map(BigInt));
    case 'avail-idx': case 'avail-ring': case 'used-idx': case 'used-event': case 'avail-event':
      return fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }).map(BigInt) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map(BigInt) });
    case 'avail-flags': case 'used-flags': return fc.oneof(fc.constantFrom(0n, 1n), fc.integer({ min: 0, max: 0xffff }).map(BigInt));
    case 'used-ring': return fc.oneof(fc.integer({ min: 0, max: 0xffff }).map(BigInt), u64);
    case 'header-type': return typeArb.map(BigInt);
    case 'header-sector': return sectorArb;
    case 'raw': return u64;
  }
};
const mutationArb: fc.Arbitrary<Mutation> = fc.constantFrom<Mutation['target']>('desc', 'desc', 'desc', 'table', 'avail-idx', 'avail-ring',
  'avail-flags', 'used-event', 'used-idx', 'used-flags', 'used-ring', 'avail-event', 'header-type', 'header-sector', 'raw')
  .chain((target) => fc.record({ target: fc.constant(target), index: fc.integer({ min: 0, max: 63 }), field: fc.integer({ min: 0, max: 3 }), value: valueFor(target) }));

const requestArb = (num: number): fc.Arbitrary<Request> => fc.record({
  type: typeArb,
  sector: sectorArb,
  data: fc.array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(512, 1024, 4096) }, { weight: 1, arbitrary: lenArb.map((l) => Math.min(l, 0x4000)) }), { maxLength: 3 }),
  statusLen: fc.constantFrom(1, 1, 1, 0, 2, 16),
  splitHeader: fc.boolean(),
  indirect: fc.boolean(),
  slots: fc.uniqueArray(fc.integer({ min: 0, max: num - 1 }), { minLength: Math.min(num, 6), maxLength: Math.min(num, 6) }),
  bounce: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/**
 * A SCSI_CMD request shaped as virtio_blk_handle_scsi wants it (two readable buffers, at least three
 * writable ones) with a short inhdr, often past the end of RAM: its unchecked 4-byte store.
 */
const scsiRequestArb = (num: number): fc.Arbitrary<Request> => fc.record({
  type: fc.constant(2),
  sector: fc.constant(0n),
  data: fc.tuple(fc.constantFrom(16, 96, 512), fc.constantFrom(1, 2, 3, 4, 16)).map((d) => [...d]),
  statusLen: fc.constant(1),
  splitHeader: fc.constant(true),
  indirect: fc.boolean(),
  slots: fc.uniqueArray(fc.integer({ min: 0, max: num - 1 }), { minLength: Math.min(num, 6), maxLength: Math.min(num, 6) }),
  bounce: fc.boolean(),
});

const stepArb = (num: number): fc.Arbitrary<Step> => fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('kick' as const), request: requestArb(num), mutations: fc.array(mutationArb, { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('kick' as const), request: scsiRequestArb(num), mutations: fc.array(mutationArb, { maxLength: 1 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'complete' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fault' as const), which: fc.constantFrom<Fault>('EIO', 'ENOSPC', 'EAGAIN', 'slots', 'flush-EIO', 'pool-EIO', 'uring-EIO') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('features' as const), eventIdx: fc.boolean(), indirect: fc.boolean(),
    page: fc.option(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom(RAM / 4096 - 1, RAM / 4096)), { freq: 2 }) }) },
);

export const caseArb: fc.Arbitrary<FuzzCase> = fc.constantFrom(1, 2, 4, 8, 16, 64, 256).chain((num) => fc.record({
  num: fc.constant(num),
  // The ring's page: mostly in RAM below the buffers, sometimes straddling RAM's end or above it.
  ringPage: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(RAM / 4096 - 1, RAM / 4096, 0x100000) }),
  rings: fc.option(fc.record({
    desc: fc.oneof(fc.integer({ min: 0x100, max: 0x800 }).map((x) => x * 16), fc.integer({ min: -0x100, max: 0x10 }).map((x) => RAM + 16 * x)),
    avail: fc.oneof(fc.integer({ min: 0x4000, max: 0x6000 }).map((x) => x * 2), fc.integer({ min: -0x100, max: 0x10 }).map((x) => RAM + 2 * x)),
    used: fc.oneof(fc.integer({ min: 0x1c00, max: 0x3000 }).map((x) => x * 4), fc.integer({ min: -0x400, max: 0x10 }).map((x) => RAM + 4 * x)),
  }), { freq: 4 }),
  features: fc.record({ indirect: fc.boolean(), eventIdx: fc.boolean(), version1: fc.boolean() }),
  werror: fc.constantFrom<BlockdevOnError>('report', 'ignore', 'stop', 'enospc'),
  rerror: fc.constantFrom<BlockdevOnError>('report', 'ignore', 'stop'),
  // Linux AIO needs O_DIRECT (cache none or directsync); the thread pool and io_uring take any mode.
  backend: fc.constantFrom('linux-aio' as const, 'linux-aio' as const, 'threads' as const, 'io_uring' as const),
  cache: fc.constantFrom<CacheMode>('none', 'directsync', 'writeback', 'writethrough', 'unsafe'),
  steps: fc.array(stepArb(num), { minLength: 1, maxLength: 8 }),
}).map((c) => (c.backend === 'linux-aio' && c.cache !== 'none' && c.cache !== 'directsync' ? { ...c, cache: 'none' as const } : c)));

// ------------------------------------------------------------------ the machine a case runs on

interface Machine {
  sched: Scheduler; host: HostKernel; ram: Uint8Array; view: DataView; mem: GuestMemory; image: MemoryImage;
  vblk: VirtIOBlock; blk: BlockBackend; trace: CaseTrace; stopped: boolean; lastAvail: number; bufNext: number;
  ring: { desc: number; avail: number; used: number };
  /** A reset is stuck in blk_drain: requests stay queued that nothing will submit (the VM hangs). */
  hung: boolean;
  /** What the case reached, counted as it ran (see OUTCOME_CLASSES). */
  reached: Map<string, number>;
  /** Where the next bounce-buffered (out of RAM) buffer of a request goes. */
  outsideNext: number;
}

const reach = (m: Machine, k: string, n = 1): void => { if (n) m.reached.set(k, (m.reached.get(k) ?? 0) + n); };

function machine(c: FuzzCase): Machine {
  const clock = new Clock(SKYLAKE_SP.ghz);
  const sched = new Scheduler(clock);
  const trace = new CaseTrace();
  const host = new HostKernel(sched, clock, SKYLAKE_SP, trace);
  const image = new MemoryImage(DISK);
  host.addFile(IMAGE_PATH, image);
  const p = host.spawn('qemu-kvm');
  const ram = new Uint8Array(RAM);
  const ramHva = p.mm.map(ram, 'pc.ram');
  const heap = new Heap(p.mm, p.mm.map(new Uint8Array(1 << 16), '[heap]'), 1 << 16);
  const mem = new GuestMemory(p.mm, ramHva, RAM);
  mem.tracer = trace;
  const loop = new MainLoop(host, p, heap);
  const backend = c.backend ?? 'linux-aio';
  const cache = c.cache ?? 'none';
  const fd = host.openat(p, IMAGE_PATH, O_RDWR | (bdrv_parse_cache_mode(cache).nocache ? O_DIRECT : 0));
  const aio = backend === 'linux-aio' ? new LinuxAioState(host, p, heap, trace, loop, 'qemu-9.0')
    : backend === 'io_uring' ? new LuringState(host, p, heap, trace, loop) : null;
  const pool = new ThreadPool(host, p, heap, loop, trace);
  const m = { stopped: false, hung: false, reached: new Map<string, number>(), outsideNext: 0 } as Machine;
  const blk = new BlockBackend({ fd, aio, pool, host, proc: p, heap }, DISK, trace, {
    cache, werror: c.werror, rerror: c.rerror, vmstopRequest: () => { m.stopped = true; }, bh: (fn) => loop.qemu_bh_schedule(fn),
    // AIO_WAIT_WHILE for a reset (blk_drain): the host runs until the requests in flight complete; a
    // queue nothing will resubmit (after io_submit's EAGAIN with none in flight) waits forever.
    aioWait: (cond, then) => {
      m.sched.run();
      if (cond()) { m.hung = true; return; }
      then();
    },
  });
  const vblk = new VirtIOBlock(mem, trace, p.mm, blk);
  sched.spawn('main loop', loop.run());
  Object.assign(m, { sched, host, ram, view: new DataView(ram.buffer), mem, image, vblk, blk, trace, lastAvail: 0, bufNext: BUF });
  setUp(m, c);
  return m;
}

/** The driver's set-up as a legacy transport does it: features, queue size and PFN, DRIVER_OK. */
function setUp(m: Machine, c: FuzzCase): void {
  const v = m.vblk;
  v.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
  v.guestFeatures = v.hostFeatures & ((c.features.indirect ? 1 << VIRTIO_RING_F_INDIRECT_DESC : 0) | (c.features.eventIdx ? 1 << VIRTIO_RING_F_EVENT_IDX : 0) | (1 << 9));
  v.guestFeaturesHi = c.features.version1 ? 1 << (VIRTIO_F_VERSION_1 - 32) : 0;
  const vq = v.vqs[0]!;
  vq.num = c.num;
  m.ram.fill(0);
  if (c.rings) {
    // virtio_queue_set_rings (a modern transport): the caches are built when the device next looks.
    m.ring = { ...c.rings };
    vq.desc = c.rings.desc; vq.avail = c.rings.avail; vq.used = c.rings.used;
  } else {
    m.ring = vringLayout(c.ringPage * 4096, c.num);
    vq.setAddr(c.ringPage * 4096);
  }
  v.status |= VIRTIO_CONFIG_S_DRIVER_OK;
  m.lastAvail = 0;
}

/** A store of `size` bytes at a guest-physical address, if it is in RAM (the guest cannot store elsewhere). */
function poke(m: Machine, gpa: number, size: number, v: bigint): void {
  if (gpa < 0 || gpa + size > RAM) return;
  for (let i = 0; i < size; i++) m.ram[gpa + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

function writeDesc(m: Machine, base: number, i: number, d: Desc): void {
  const o = base + i * vring_desc.sizeof;
  poke(m, o + vring_desc.addr, 8, d.addr);
  poke(m, o + vring_desc.len, 4, BigInt(d.len >>> 0));
  poke(m, o + vring_desc.flags, 2, BigInt(d.flags & 0xffff));
  poke(m, o + vring_desc.next, 2, BigInt(d.next & 0xffff));
}

function alloc(m: Machine, n: number): number {
  const need = Math.max(16, Math.ceil(n / 16) * 16);
  if (m.bufNext + need > RAM) m.bufNext = BUF;
  const a = m.bufNext;
  m.bufNext += need;
  return a;
}

/** A buffer past the end of guest RAM, where qemu can reach it only through a bounce buffer. */
function outside(m: Machine, n: number): number {
  const a = RAM + 0x100 + m.outsideNext;
  m.outsideNext = (m.outsideNext + Math.max(16, Math.ceil(n / 16) * 16)) % 0x8000;
  return a;
}

/** The guest queues a request the way a driver would, then mutates it, then kicks. */
function kick(m: Machine, c: FuzzCase, r: Request, muts: Mutation[]): void {
  const { desc, avail, used } = m.ring;
  const hdr = alloc(m, 16);
  poke(m, hdr, 4, BigInt(r.type));
  poke(m, hdr + 8, 8, r.sector);
  const chain: Desc[] = [];
  if (r.splitHeader) chain.push({ addr: BigInt(hdr), len: 8, flags: 0, next: 0 }, { addr: BigInt(hdr + 8), len: 8, flags: 0, next: 0 });
  else chain.push({ addr: BigInt(hdr), len: 16, flags: 0, next: 0 });
  const devWrites = r.type !== VIRTIO_BLK_T_OUT;
  const place = (n: number) => (r.bounce ? outside(m, n) : alloc(m, n));
  for (const len of r.data) chain.push({ addr: BigInt(place(Math.min(len, 0x4000))), len, flags: devWrites ? VRING_DESC_F_WRITE : 0, next: 0 });
  const status = place(Math.max(1, r.statusLen));
  chain.push({ addr: BigInt(status), len: r.statusLen, flags: VRING_DESC_F_WRITE, next: 0 });
  const table = alloc(m, 16 * chain.length);
  const slots = r.indirect ? chain.map((_, i) => i) : r.slots;
  const base = r.indirect ? table : desc;
  chain.forEach((d, i) => {
    const last = i === chain.length - 1 || i + 1 >= slots.length;
    writeDesc(m, base, slots[i] ?? 0, { ...d, flags: d.flags | (last ? 0 : VRING_DESC_F_NEXT), next: slots[i + 1] ?? 0 });
  });
  const head = r.slots[0] ?? 0;
  if (r.indirect) writeDesc(m, desc, head, { addr: BigInt(table), len: 16 * chain.length, flags: VRING_DESC_F_INDIRECT, next: 0 });
  poke(m, avail + vring_avail.ring + 2 * (m.lastAvail % c.num), 2, BigInt(head));
  m.lastAvail = (m.lastAvail + 1) & 0xffff;
  poke(m, avail + vring_avail.idx, 2, BigInt(m.lastAvail));
  for (const mu of muts) {
    switch (mu.target) {
      case 'desc': case 'table': {
        const b = mu.target === 'desc' ? desc : table;
        const i = mu.target === 'desc' ? (r.slots[mu.index % Math.max(1, r.slots.length)] ?? 0) : mu.index % Math.max(1, chain.length);
        const field = mu.field;
        const o = b + i * vring_desc.sizeof;
        if (field === 0) poke(m, o + vring_desc.addr, 8, mu.value);
        else if (field === 1) poke(m, o + vring_desc.len, 4, mu.value & 0xffffffffn);
        else if (field === 2) poke(m, o + vring_desc.flags, 2, mu.value & 0xffffn);
        else poke(m, o + vring_desc.next, 2, mu.value & 0xffffn);
        break;
      }
      case 'avail-idx': poke(m, avail + vring_avail.idx, 2, (BigInt(m.lastAvail) + mu.value) & 0xffffn); break;
      case 'avail-ring': poke(m, avail + vring_avail.ring + 2 * (mu.index % c.num), 2, mu.value & 0xffffn); break;
      // The rings themselves: avail's flags and used_event, used's flags, index, elements and avail_event.
      case 'avail-flags': poke(m, avail + vring_avail.flags, 2, mu.value & 0xffffn); break;
      case 'used-event': poke(m, avail + vring_avail.ring + 2 * c.num, 2, mu.value & 0xffffn); break;
      case 'used-flags': poke(m, used + vring_used.flags, 2, mu.value & 0xffffn); break;
      case 'used-idx': poke(m, used + vring_used.idx, 2, mu.value & 0xffffn); break;
      case 'used-ring': poke(m, used + vring_used.ring + (mu.index % c.num) * vring_used_elem.sizeof + (mu.field & 1) * 4, 4, mu.value & 0xffffffffn); break;
      case 'avail-event': poke(m, used + vring_used.ring + vring_used_elem.sizeof * c.num, 2, mu.value & 0xffffn); break;
      case 'header-type': poke(m, hdr, 4, mu.value & 0xffffffffn); break;
      case 'header-sector': poke(m, hdr + 8, 8, mu.value); break;
      case 'raw': poke(m, BUF + (Number(mu.value % BigInt(RAM - BUF - 8))), 8, mu.value); break;
    }
  }
  if (muts.some((x) => x.target.startsWith('avail-') || x.target === 'used-event')) reach(m, 'avail ring corrupted (flags, idx, entries, used_event)');
  if (muts.some((x) => x.target.startsWith('used-') && x.target !== 'used-event' || x.target === 'avail-event')) reach(m, 'used ring corrupted (flags, idx, elements, avail_event)');
  const bounced = m.mem.bounceMaps;
  const scsi = ((m.view.getUint32(hdr, true) & ~(VIRTIO_BLK_T_OUT | 0x80000000)) >>> 0) === 2;
  // virtio_ioport_write(VIRTIO_PCI_QUEUE_NOTIFY) → virtio_queue_notify
  m.vblk.virtio_queue_notify(0);
  if (m.mem.bounceMaps > bounced) reach(m, scsi ? 'SCSI_CMD request through bounce buffers' : 'request through bounce buffers');
}

/**
 * The driver writes the features register again once the ring is set up (virtio_set_features, as
 * the legacy transport's VIRTIO_PCI_GUEST_FEATURES write does), and may set the queue's PFN again
 * (virtio_queue_set_addr: the ring moves; the guest's own view of it follows).
 */
function renegotiate(m: Machine, c: FuzzCase, s: { eventIdx: boolean; indirect: boolean; page: number | null }): void {
  const v = m.vblk;
  const vq = v.vqs[0]!;
  const lo = v.hostFeatures & ((s.eventIdx ? 1 << VIRTIO_RING_F_EVENT_IDX : 0) | (s.indirect ? 1 << VIRTIO_RING_F_INDIRECT_DESC : 0) | (1 << 9));
  const had = v.virtio_vdev_has_feature(VIRTIO_RING_F_EVENT_IDX);
  if (vq.desc) reach(m, 'features renegotiated after ring set-up');
  v.virtio_set_features(lo, v.guestFeaturesHi);
  if (vq.desc && !had && s.eventIdx) reach(m, 'EVENT_IDX turned on after ring set-up (region caches rebuilt)');
  if (s.page !== null) {
    v.vqs[0]!.setAddr(s.page * 4096);
    m.ring = vringLayout(s.page * 4096, c.num);
    reach(m, 'ring moved after set-up (QUEUE_PFN again)');
  }
}

/** Faults the host injects: Linux AIO, the thread pool's syscalls, io_uring completions. */
function fault(m: Machine, which: Fault): void {
  const h = m.host;
  switch (which) {
    case 'EAGAIN': h.aio.faults.submit = { errno: ERRNO.EAGAIN, count: 1 }; break;
    case 'slots': for (const x of h.aio.contexts()) x.slots = 1; break;
    case 'EIO': case 'ENOSPC': h.aio.faults.complete = { errno: ERRNO[which], count: 1 }; break;
    case 'flush-EIO': h.faults.fdatasync = { errno: ERRNO.EIO, count: 2 }; break;
    case 'pool-EIO': h.faults.pwritev = { errno: ERRNO.EIO, count: 1 }; h.faults.preadv = { errno: ERRNO.EIO, count: 1 }; break;
    case 'uring-EIO': h.ioUringFaults.complete = { errno: ERRNO.EIO, count: 1 }; break;
  }
}

// ------------------------------------------------------------------ running

export interface FuzzStats {
  cases: number;
  crashes: number;
  dmaViolations: number;
  imageViolations: number;
  invariantViolations: number;
  /** Bytes qemu itself stores past guest RAM or its bounce buffer (QEMU_OVERRUN_SITES), reproduced and refused: a finding about qemu, not a failure. */
  qemuOverruns: number;
  /** What the device did and what the cases reached, counted over all cases (see OUTCOME_CLASSES). */
  outcomes: Map<string, number>;
  /** The first failing cases, for reproduction. */
  failures: { case: FuzzCase; problem: string }[];
}

/**
 * The outcome classes every run must reach at least once: the checks and paths the cases are meant
 * to exercise. A class reached 0 times fails the run — the generator no longer gets there.
 */
export const OUTCOME_CLASSES: readonly string[] = [
  // what the device answered
  'status VIRTIO_BLK_S_OK', 'status VIRTIO_BLK_S_IOERR', 'status VIRTIO_BLK_S_UNSUPP',
  // virtio_error: the ring could not be trusted
  'virtio_error: Looped descriptor', 'virtio_error: Desc next is N', 'virtio_error: Guest says index N is available',
  'virtio_error: virtio: bogus descriptor or out of resources', 'virtio_error: virtio: zero sized buffers are not allowed',
  'virtio_error: Invalid size for indirect buffer table', 'virtio_error: Incorrect order for descriptors',
  'virtio_error: virtio-blk missing headers', 'virtio_error: virtio-blk request outhdr too short',
  'virtio_error: Cannot map desc', 'virtio_error: Cannot map used', 'virtio_error: Cannot map avail',
  'virtio_error: Cannot map indirect buffer', 'virtio_error: Virtqueue size exceeded',
  // the drive's error policies
  'rw error → report', 'rw error → stop', 'rw error → ignore', 'requests restarted after vm stop (virtio_blk_dma_restart_bh)',
  'requests merged (virtio_blk_submit_multireq)', 'indirect table without VIRTIO_RING_F_INDIRECT_DESC (logged)', 'io_submit queued by EAGAIN',
  // the rings themselves, features after set-up
  'avail ring corrupted (flags, idx, entries, used_event)', 'used ring corrupted (flags, idx, elements, avail_event)',
  'features renegotiated after ring set-up', 'EVENT_IDX turned on after ring set-up (region caches rebuilt)', 'ring moved after set-up (QUEUE_PFN again)',
  // host faults on every path
  'Linux AIO completion failed (io_getevents res < 0)', 'flush failed on the thread pool (fdatasync < 0)',
  'read or write failed on the thread pool (pwritev/preadv < 0)', 'io_uring completion failed (cqe res < 0)',
  // bounce buffers, the SCSI store, resets
  'request through bounce buffers', 'SCSI_CMD request through bounce buffers', 'qemu stores past guest RAM or its bounce buffer (virtio_blk_handle_scsi), refused',
  'reset with requests in flight (drained)', 'reset with nothing in flight',
];

const stringify = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

/** Run one case; returns what went wrong (nothing, when it held). */
export function runCase(c: FuzzCase, stats?: FuzzStats): string | undefined {
  let m: Machine | undefined;
  const checker = new InvariantChecker();
  try {
    m = machine(c);
    const mm = m;
    for (const s of c.steps) {
      switch (s.kind) {
        case 'kick': if (!mm.stopped) kick(mm, c, s.request, s.mutations); break;
        case 'complete': mm.sched.run(); break;
        case 'fault': fault(mm, s.which); break;
        case 'resume': if (mm.stopped) { mm.stopped = false; mm.vblk.virtio_blk_dma_restart_cb(true); } break;
        case 'reset': {
          // virtio_pci_reset → virtio_reset → virtio_blk_reset: blk_drain first.
          reach(mm, mm.blk.inFlight > 0 ? 'reset with requests in flight (drained)' : 'reset with nothing in flight');
          mm.vblk.reset();
          if (!mm.hung) setUp(mm, c);
          break;
        }
        case 'features': renegotiate(mm, c, s); break;
      }
      checker.check(mm.trace);
      if (mm.hung) break;
    }
    if (!m.hung) {
      m.sched.run();
      // A VM an I/O error stopped is resumed at the end, so its kept requests are parsed again.
      if (m.stopped) { m.stopped = false; m.vblk.virtio_blk_dma_restart_cb(true); m.sched.run(); }
    } else reach(m, 'reset waits forever in blk_drain (requests queued after EAGAIN, none in flight)');
    checker.check(m.trace);
  } catch (e) {
    if (stats) stats.crashes++;
    return `crash: ${(e as Error).stack ?? String(e)}`;
  }
  const problems: string[] = [];
  if (m.mem.violations) problems.push(`dma guard: ${[...m.mem.violationSites].map(([k, v]) => `${k}×${v}`).join(', ')}`);
  if (m.image.violations) problems.push(`image guard: ${m.image.violations}`);
  if (checker.violations.length) problems.push(`invariants: ${checker.violations.map((v) => `${v.rule}: ${v.message}`).join('; ')}`);
  if (stats) {
    stats.dmaViolations += m.mem.violations;
    stats.imageViolations += m.image.violations;
    stats.invariantViolations += checker.violations.length;
    stats.qemuOverruns += m.mem.qemuOverruns;
    const count = (k: string, n: number): void => { if (n) stats.outcomes.set(k, (stats.outcomes.get(k) ?? 0) + n); };
    for (const [k, n] of m.reached) count(k, n);
    if (m.mem.qemuOverruns) count('qemu stores past guest RAM or its bounce buffer (virtio_blk_handle_scsi), refused', 1);
    for (const r of m.trace.names('virtio_error', 0)) count(`virtio_error: ${r.replace(/\d+/g, 'N')}`, 1);
    for (const a of m.trace.names('virtio_blk_handle_rw_error', 1)) count(`rw error → ${a}`, 1);
    count('requests merged (virtio_blk_submit_multireq)', m.trace.names('virtio_blk_submit_multireq', 0).length);
    count('requests restarted after vm stop (virtio_blk_dma_restart_bh)', m.trace.names('virtio_blk_dma_restart_bh', 0).reduce((x, n) => x + Number(n), 0));
    count('indirect table without VIRTIO_RING_F_INDIRECT_DESC (logged)', m.trace.names('qemu_log_mask', 0).length);
    count('io_submit queued by EAGAIN', m.trace.names('ioq_submit', 0).length - m.trace.names('io_submit_one', 0).length > 0 ? 1 : 0);
    count('Linux AIO completion failed (io_getevents res < 0)', m.trace.names('aio_complete', 2).filter((r) => Number(r) < 0).length);
    count('flush failed on the thread pool (fdatasync < 0)', m.trace.returns('fdatasync').filter((r) => r < 0).length);
    count('read or write failed on the thread pool (pwritev/preadv < 0)', [...m.trace.returns('pwritev'), ...m.trace.returns('preadv')].filter((r) => r < 0).length);
    count('io_uring completion failed (cqe res < 0)', m.host.ioUringFaults.complete?.count === 0 ? 1 : 0);
    for (const st of m.trace.names('virtio_blk_req_complete', 0)) {
      count(`status ${['VIRTIO_BLK_S_OK', 'VIRTIO_BLK_S_IOERR', 'VIRTIO_BLK_S_UNSUPP'][Number(st)] ?? st}`, 1);
    }
  }
  return problems.length ? problems.join(' | ') : undefined;
}

export function runFuzz(opts: { runs: number; seed: number; onProgress?: (s: FuzzStats) => void; progressEvery?: number }): FuzzStats {
  const stats: FuzzStats = { cases: 0, crashes: 0, dmaViolations: 0, imageViolations: 0, invariantViolations: 0, qemuOverruns: 0, outcomes: new Map(), failures: [] };
  const every = opts.progressEvery ?? 10_000;
  // Every case runs and is counted; the property never fails, so fast-check does not stop or shrink.
  fc.assert(fc.property(caseArb, (c) => {
    const problem = runCase(c, stats);
    if (problem && stats.failures.length < 5) stats.failures.push({ case: c, problem });
    stats.cases++;
    if (opts.onProgress && stats.cases % every === 0) opts.onProgress(stats);
    return true;
  }), { numRuns: opts.runs, seed: opts.seed });
  return stats;
}

/** The outcome classes of OUTCOME_CLASSES the run never reached. */
export function unreached(s: FuzzStats): string[] { return OUTCOME_CLASSES.filter((k) => !(s.outcomes.get(k) ?? 0)); }

export function report(s: FuzzStats): string {
  const required = new Set(OUTCOME_CLASSES);
  const width = Math.max(...[...OUTCOME_CLASSES, ...s.outcomes.keys()].map((k) => k.length));
  const lines = [
    `cases: ${s.cases}`,
    `crashes: ${s.crashes}`,
    `accesses refused by the DMA guard (outside guest RAM): ${s.dmaViolations}`,
    `accesses refused by the image guard (outside the disk): ${s.imageViolations}`,
    `invariant violations: ${s.invariantViolations}`,
    `bytes qemu itself stores past guest RAM or a bounce buffer (virtio_blk_handle_scsi's unchecked 4-byte scsi->errors store), reproduced and refused: ${s.qemuOverruns}`,
    'outcome classes (each must be reached):',
    ...OUTCOME_CLASSES.map((k) => `  ${k.padEnd(width)}  ${String(s.outcomes.get(k) ?? 0).padStart(8)}${(s.outcomes.get(k) ?? 0) === 0 ? '  NOT REACHED' : ''}`),
    'also seen:',
    ...[...s.outcomes].filter(([k]) => !required.has(k)).sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${k.padEnd(width)}  ${String(v).padStart(8)}`),
  ];
  const missing = unreached(s);
  if (missing.length) lines.push(`FAILED: ${missing.length} outcome class(es) never reached: ${missing.join('; ')}`);
  for (const f of s.failures) lines.push(`FAILED: ${f.problem}\n  case: ${stringify(f.case)}`);
  return lines.join('\n');
}

function main(argv: string[]): number {
  let runs = 100_000;
  let seed = 6;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    if ((a === '--runs' || a === '--seed') && v !== undefined && Number.isSafeInteger(Number(v)) && Number(v) >= 0) {
      if (a === '--runs') runs = Number(v); else seed = Number(v);
      i++;
    } else {
      process.stderr.write(`fuzz: ${a}: expected --runs N or --seed N\n`);
      return 2;
    }
  }
  const t0 = Date.now();
  process.stdout.write(`fuzzing qemu's virtio-blk with ${runs} cases (seed ${seed})\n`);
  const s = runFuzz({
    runs, seed,
    onProgress: (x) => process.stdout.write(`  ${x.cases} cases, ${x.crashes} crashes, ${x.dmaViolations + x.imageViolations} out-of-bounds, ${x.invariantViolations} invariant violations (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`),
  });
  process.stdout.write(report(s) + `\ntime: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  // Then the guest's ext2 under power loss (scripts/crash.ts): at least 10,000 cut points.
  const t1 = Date.now();
  const c = runCrashConsistency({ cutPoints: 10_000, seed, onProgress: (x) => process.stdout.write(`  ${x.cutPoints} cut points, ${x.bytesLost} promised bytes lost (${((Date.now() - t1) / 1000).toFixed(1)} s)\n`) });
  process.stdout.write(crashReport(c) + `\ntime: ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
  return s.crashes + s.dmaViolations + s.imageViolations + s.invariantViolations + c.bytesLost + c.crashes === 0 && unreached(s).length === 0 ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
