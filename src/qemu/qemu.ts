// The qemu-kvm process (vl.c / hw/i386/pc.c, reduced to this machine): guest RAM, the VM and its
// vCPU, the in-kernel irqchip, a virtio-blk-pci disk on the legacy I/O BAR backed by Linux AIO, and
// the threads — one per vCPU running kvm_cpu_exec, and the main loop.

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import type { Tracer } from '../trace/events';
import { KVM_CAP_COALESCED_MMIO, KVM_CAP_COALESCED_PIO, KVM_REGISTER_COALESCED_MMIO, PAGE_SIZE, kvm_coalesced_mmio, kvm_coalesced_mmio_ring, kvm_coalesced_mmio_zone } from '../uapi/kvm';
import { defineEvent } from '../trace/events';
import { Mc146818Rtc } from './mc146818rtc';
import { KVM_CAP_IRQ_INJECT_STATUS, KVM_CHECK_EXTENSION, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_GET_DIRTY_LOG, KVM_MEM_LOG_DIRTY_PAGES, kvm_dirty_log, KVM_CAP_SPLIT_IRQCHIP, KVM_CREATE_PIT2, KVM_ENABLE_CAP, kvm_enable_cap, kvm_pit_config, KVM_CREATE_IRQCHIP, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE, KVM_SET_USER_MEMORY_REGION, kvm_run, kvm_userspace_memory_region } from '../uapi/kvm';
import { O_DIRECT, O_RDWR, type HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import { BlockBackend, bdrv_parse_cache_mode, type BlockdevOnError, type CacheMode } from './block/block_backend';
import { LinuxAioState } from './block/linux_aio';
import { ThreadPool } from './block/thread_pool';
import { LuringState } from './block/io_uring';
import { GuestMemory } from './dma';
import { Heap } from './heap';
import { X86KvmArch } from './kvm_x86';
import { QemuApic } from './apic';
import { cpuidEntries, kvm_set_cpuid2 } from './cpu_x86';
import { QemuPic } from './i8259';
import { QemuIoapic } from './ioapic';
import { KvmCpu, QEMU_NAMES_0_14, QEMU_NAMES_9_0, SIG_IPI, kvm_set_irq, startEvent, stopEvent, type RunState } from './kvm_all';
import { PosixAioCompat } from './block/posix_aio_compat';
import { KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED, KVM_SET_MP_STATE, KVM_SET_REGS, kvm_mp_state, kvm_regs } from '../uapi/kvm';
import { WaitQueue, type Block, type Scheduler } from '../sim/scheduler';
import { MainLoop } from './main_loop';
import { Bql } from './bql';
import { AddressSpace } from './memory';
import { VirtIOBlock } from './virtio_blk';
import { VhostUserBlk } from './vhost_user_blk';
import { VIRTIO_RING_F_EVENT_IDX } from '../uapi/virtio';
import { VirtIOPCIProxy, type PciPlatform } from './virtio_pci';
import { EFD_NONBLOCK } from '../host/eventfd';
import {
  KVM_IOEVENTFD, KVM_IOEVENTFD_FLAG_DATAMATCH, KVM_IOEVENTFD_FLAG_PIO, KVM_IRQFD, KVM_IRQ_ROUTING_MSI, KVM_SET_GSI_ROUTING,
  KVM_SIGNAL_MSI, kvm_ioeventfd, kvm_irq_routing, kvm_irq_routing_entry, kvm_irqfd, kvm_msi,
} from '../uapi/kvm';

const EV_RESET_REQUEST = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_system_reset_request', ['reason:str']);
const EV_RESET = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'qemu_system_reset', ['reason:str']);
const EV_FLUSH_COALESCED = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'kvm_flush_coalesced_mmio_buffer', ['entries']);

/**
 * hw/i386/pc_piix.c pc_init1 (QEMU 9.0): RAM below 4 GiB stops at max-ram-below-4g (3.5 GiB by
 * default); a machine with at least that much RAM has it cut at 3 GiB instead (gigabyte_align),
 * and the rest goes above 4 GiB (pc_memory_init: "ram-below-4g" and "ram-above-4g" aliases of
 * pc.ram). The hole below 4 GiB is the PCI window: the IOAPIC, the local APIC, PCI BARs.
 * qemu-kvm 0.14's pc_init1 (hw/pc.c) cut at 3.5 GiB itself (`if (ram_size >= 0xe0000000)`).
 */
export const PC_MAX_RAM_BELOW_4G = 0xe0000000;
export const PC_GIGABYTE_ALIGNED_BELOW_4G = 0xc0000000;
export const ABOVE_4G_MEM_START = 2 ** 32;
export function pcRamSplit(ramBytes: number, era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1'): { below: number; above: number } {
  let lowmem = PC_MAX_RAM_BELOW_4G;
  if (ramBytes >= lowmem && era === 'linux-6.1') lowmem = PC_GIGABYTE_ALIGNED_BELOW_4G;
  return ramBytes >= lowmem ? { below: lowmem, above: ramBytes - lowmem } : { below: ramBytes, above: 0 };
}

/** GSIs 0-23 are the IOAPIC's pins; MSI routes take virqs after them (kvm_irqchip_get_virq). */
const KVM_IRQCHIP_NUM_PINS = 24;

export interface QemuConfig {
  /** -machine kernel_irqchip=on|split|off: where the PIC, IOAPIC and local APIC are. */
  irqchip?: 'kernel' | 'split' | 'userspace';
  /** -cpu host,-flag,...: CPUID features taken away. */
  cpuFlagsOff?: string[];
  /** -accel kvm,bus-lock-ratelimit=,notify-vmexit=,notify-window=; hostCaps stands for KVM_CHECK_EXTENSION's answers. */
  accel?: { busLockRatelimit: number; notifyVmexit: 'run' | 'internal-error' | 'disable'; notifyWindow: number;
    hostCaps: { busLockDetection: boolean; notifyVmExit: boolean } };
  ramBytes: number;
  vcpus: number;
  ioBase: number;
  /** Host path of the disk image. */
  imagePath: string;
  imageBytes: number;
  /** GSI the virtio-blk INTx line is routed to. */
  irq: number;
  era: 'linux-6.1' | 'qemu-kvm-2013';
  /** -device virtio-blk-pci,vectors=N: 0 = INTx only; 2 = MSI-X for config and queue 0. */
  vectors: number;
  /** Guest-physical address of the MSI-X table (in the device's memory BAR). */
  msixTableBase: number;
  /** The modern virtio-pci memory BAR, or null when the guest uses the legacy interface. */
  modernBar: number | null;
  ioeventfd: boolean;
  irqfd: boolean;
  /** -drive aio=native (linux-aio) or aio=threads. */
  backend: 'linux-aio' | 'threads' | 'io_uring';
  /** -drive cache=, werror=, rerror= (absent: cache=none, werror=enospc, rerror=report). */
  cache?: CacheMode;
  werror?: BlockdevOnError;
  rerror?: BlockdevOnError;
  /** -device virtio-blk-pci (qemu serves the queue) or vhost-user-blk-pci (a backend process does). */
  device: 'virtio-blk' | 'vhost-user-blk';
  /** -device …,event_idx=on|off */
  eventIdx: boolean;
  /** What a guest reset (a triple fault) does: reset the machine, or with -no-reboot shut qemu down. */
  onTripleFault?: 'reset' | 'shutdown';
}

export interface QemuEnv { clock: Clock; profile: CpuProfile; t: Tracer; sched?: Scheduler }

export class QemuKvm {
  readonly proc: HostProcess;
  readonly heap: Heap;
  readonly ioSpace: AddressSpace;
  readonly memSpace: AddressSpace;
  readonly mem: GuestMemory;
  readonly vblk: VirtIOBlock | VhostUserBlk;
  /** With vhost-user-blk: the memfd behind guest RAM, and the socket end meant for the backend. */
  readonly ramFd: number = -1;
  readonly vhostPeerFd: number = -1;
  readonly cpus: KvmCpu[] = [];
  readonly mainLoop: MainLoop;
  /** The Big QEMU Lock around device emulation. */
  readonly bql: Bql;
  readonly vmfd: number;
  /** KVMState's irq_set_ioctl: KVM_IRQ_LINE_STATUS, or KVM_IRQ_LINE without KVM_CAP_IRQ_INJECT_STATUS. */
  readonly irqSetIoctl: number;
  /** KVMState's coalesced_mmio (page offset of the ring in a vcpu's mmap, 0 = none) and coalesced_pio. */
  readonly coalescedMmio: number;
  readonly coalescedPio: boolean;
  /** s->coalesced_mmio_ring: where qemu sees kvm's ring (in the first vCPU's mapping), 0 until it exists. */
  private coalescedRing = 0;
  private coalescedFlushInProgress = false;
  readonly ramHva: number;
  runstate: RunState = 'running';
  stopReason = '';
  /** The drive's block backend (none when a vhost-user backend serves the disk). */
  blk: BlockBackend | undefined;
  /** qemu_add_vm_change_state_handler: called with running = false at vm_stop, true at vm_start. */
  private readonly vmChangeStateHandlers: ((running: boolean) => void)[] = [];
  /** cpu->halt_cond of the vCPU threads: where they sleep while the VM is stopped. */
  private readonly haltCond: WaitQueue | undefined;
  /** The x86 side of the kvm accelerator (target/i386/kvm/kvm.c). */
  readonly x86: X86KvmArch | undefined;

  /** The monitor's `nmi` (qmp_inject_nmi): every vCPU's thread injects an NMI with KVM_NMI. */
  qmp_inject_nmi(): void { this.x86?.qmp_inject_nmi(this.cpus); }

  /**
   * memory_global_dirty_log_start (migration, softmmu/memory.c) → kvm_log_start → kvm_slot_update_flags
   * (accel/kvm/kvm-all.c): guest RAM's slot again, now with KVM_MEM_LOG_DIRTY_PAGES. kvm in this
   * model does not offer KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, so qemu takes the path without it.
   */
  memory_global_dirty_log_start(): void {
    this.ramSlots.forEach((sl, slot) => {
      const r = this.kvm_set_user_memory_region(slot, sl.gpa, sl.size, sl.hva, KVM_MEM_LOG_DIRTY_PAGES);
      if (r < 0) throw new Error(`qemu: kvm_log_start: KVM_SET_USER_MEMORY_REGION failed: ${r}`);
    });
  }

  /** kvm_set_user_memory_region: struct kvm_userspace_memory_region in qemu's memory. */
  private kvm_set_user_memory_region(slot: number, gpa: number, size: number, hva: number, flags: number): number {
    const p = this.proc;
    const s = kvm_userspace_memory_region;
    const region = this.heap.alloc(s.sizeof);
    p.mm.setU32(region + s.slot, slot);
    p.mm.setU32(region + s.flags, flags);
    p.mm.setU64(region + s.guest_phys_addr, gpa);
    p.mm.setU64(region + s.memory_size, size);
    p.mm.setU64(region + s.userspace_addr, hva);
    const r = this.host.ioctlNow(p, this.vmfd, KVM_SET_USER_MEMORY_REGION, region);
    this.heap.release(region);
    return r;
  }

  /** The RAM memslots: ram-below-4g (slot 0) and, with 3.5 GiB or more, ram-above-4g (slot 1). */
  readonly ramSlots: { gpa: number; size: number; hva: number }[] = [];

  /**
   * kvm_physical_sync_dirty_bitmap → kvm_slot_get_dirty_log (accel/kvm/kvm-all.c): KVM_GET_DIRTY_LOG
   * into the slot's bitmap buffer; returns how many pages it reports dirty (what
   * cpu_physical_memory_set_dirty_lebitmap then marks for migration).
   */
  kvm_physical_sync_dirty_bitmap(): number {
    const p = this.proc;
    let dirty = 0;
    this.ramSlots.forEach((sl, slot) => {
      const bytes = Math.ceil(sl.size / 4096 / 8);
      const bitmap = this.heap.alloc(bytes);
      const log = this.heap.alloc(kvm_dirty_log.sizeof);
      p.mm.setU32(log + kvm_dirty_log.slot, slot);
      p.mm.setU64(log + kvm_dirty_log.dirty_bitmap, bitmap);
      const r = this.host.ioctlNow(p, this.vmfd, KVM_GET_DIRTY_LOG, log);
      if (r === 0) for (const b of p.mm.slice(bitmap, bytes)) for (let x = b; x; x &= x - 1) dirty++;
      this.heap.release(log);
      this.heap.release(bitmap);
      if (r < 0) throw new Error(`qemu: kvm_slot_get_dirty_log: KVM_GET_DIRTY_LOG failed: ${r}`);
    });
    return dirty;
  }

  /**
   * `loadGuest` runs once guest RAM exists, before the vCPUs are created (the boot loader's
   * hand-over); it runs again at every system reset, when the guest is started anew.
   */
  constructor(private readonly host: HostKernel, private readonly env: QemuEnv, readonly cfg: QemuConfig, private readonly loadGuest: (q: QemuKvm) => void) {
    const { t } = env;
    const p = this.proc = host.spawn('qemu-kvm');
    const heapBase = host.mmap(p, 1 << 20, -1, '[heap]');
    this.heap = new Heap(p.mm, heapBase, 1 << 20);
    // kvm_init: /dev/kvm, KVM_CREATE_VM, memory, in-kernel irqchip.
    const kvmfd = host.openat(p, '/dev/kvm', O_RDWR);
    if (kvmfd < 0) throw new Error(`qemu: could not open /dev/kvm: ${kvmfd}`);
    this.vmfd = host.ioctlNow(p, kvmfd, KVM_CREATE_VM, 0);
    // kvm_init: s->coalesced_mmio (the ring's page offset in the vcpu mmap), s->coalesced_pio (QEMU
    // 3.0+), and s->irq_set_ioctl, KVM_IRQ_LINE_STATUS when kvm reports KVM_CAP_IRQ_INJECT_STATUS.
    this.coalescedMmio = Math.max(0, host.ioctlNow(p, kvmfd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
    this.coalescedPio = cfg.era !== 'qemu-kvm-2013' && this.coalescedMmio > 0 && host.ioctlNow(p, kvmfd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
    this.irqSetIoctl = host.ioctlNow(p, kvmfd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_INJECT_STATUS) > 0 ? KVM_IRQ_LINE_STATUS : KVM_IRQ_LINE;
    // A vhost-user backend must map guest RAM too: memory-backend-memfd,share=on.
    if (cfg.device === 'vhost-user-blk') {
      this.ramFd = host.memfd_create(p, 'pc.ram', cfg.ramBytes);
      this.ramHva = host.mmap(p, cfg.ramBytes, this.ramFd, 'pc.ram');
    } else this.ramHva = host.mmap(p, cfg.ramBytes, -1, 'pc.ram');
    // pc_memory_init: pc.ram as ram-below-4g and ram-above-4g, each a memslot (kvm_set_phys_mem).
    const { below, above } = pcRamSplit(cfg.ramBytes, cfg.era);
    this.ramSlots.push({ gpa: 0, size: below, hva: this.ramHva });
    if (above > 0) this.ramSlots.push({ gpa: ABOVE_4G_MEM_START, size: above, hva: this.ramHva + below });
    this.ramSlots.forEach((sl, slot) => {
      if (this.kvm_set_user_memory_region(slot, sl.gpa, sl.size, sl.hva, 0) < 0) throw new Error('qemu: KVM_SET_USER_MEMORY_REGION failed');
    });
    // kvm_arch_init (target/i386/kvm/kvm.c): userspace MSR filter, bus-lock and notify VM exits.
    if (env.sched) {
      this.x86 = new X86KvmArch(host, p, this.heap, t, env.sched, {
        era: cfg.era, busLockRatelimit: cfg.accel?.busLockRatelimit ?? 0, notifyVmexit: cfg.accel?.notifyVmexit ?? 'run',
        notifyWindow: cfg.accel?.notifyWindow ?? 0, hostHasNotifyVmexit: cfg.accel?.hostCaps.notifyVmExit ?? false,
        hostHasBusLockDetection: cfg.accel?.hostCaps.busLockDetection ?? false, cores: 1, threads: 1,
      }, { stop: (state, why) => this.stop(state, why), ioapicEoi: (v) => this.ioapic?.eoiBroadcast(v) });
      this.x86.kvm_arch_init(this.vmfd);
    }
    // kvm_irqchip_create: kernel_irqchip=on → KVM_CREATE_IRQCHIP; split → KVM_CAP_SPLIT_IRQCHIP with the
    // IOAPIC's 24 pins; off → nothing in kvm (qemu's own PIC, IOAPIC and APIC).
    const irqchip = cfg.irqchip ?? 'kernel';
    if (irqchip === 'kernel') {
      if (host.ioctlNow(p, this.vmfd, KVM_CREATE_IRQCHIP, 0) < 0) throw new Error('qemu: KVM_CREATE_IRQCHIP failed');
    } else if (irqchip === 'split') {
      const a = this.heap.alloc(kvm_enable_cap.sizeof);
      p.mm.slice(a, kvm_enable_cap.sizeof).fill(0);
      p.mm.setU32(a + kvm_enable_cap.cap, KVM_CAP_SPLIT_IRQCHIP);
      p.mm.setU64(a + kvm_enable_cap.args, KVM_IRQCHIP_NUM_PINS);
      if (host.ioctlNow(p, this.vmfd, KVM_ENABLE_CAP, a) < 0) throw new Error('qemu: KVM_CAP_SPLIT_IRQCHIP failed');
      this.heap.release(a);
    }
    this.ioSpace = new AddressSpace('I/O', t, 'ones', cfg.era);
    this.memSpace = new AddressSpace('memory', t, 'zero', cfg.era);
    // The kvm memory listener of the I/O space: coalesced ranges become KVM_PIO_BUS zones.
    this.ioSpace.coalesceAdd = (start, size) => this.kvm_coalesce_pio_add(start, size);
    this.ioSpace.flushCoalesced = this.memSpace.flushCoalesced = () => this.kvm_flush_coalesced_mmio_buffer();
    // pc_basic_device_init → mc146818_rtc_init: the CMOS clock at 0x70-0x71.
    this.ioSpace.add(new Mc146818Rtc(() => env.clock.now).region(cfg.era !== 'qemu-kvm-2013'));
    this.mem = new GuestMemory(p.mm, this.ramHva, cfg.ramBytes, below);
    this.mem.tracer = t;
    if (env.sched) this.haltCond = new WaitQueue(env.sched, 'halt_cond');
    // The BQL's mutex word lives in qemu's memory; a thread that finds it held sleeps on it with futex.
    const bqlWord = this.heap.alloc(4);
    p.mm.setU32(bqlWord, 0);
    this.bql = new Bql(t, cfg.era, {
      set: (v) => p.mm.setU32(bqlWord, v),
      wait: (v) => host.futex_wait(p, bqlWord, v),
      wake: () => { host.futex_wake(p, bqlWord, 1); },
    });
    this.mainLoop = new MainLoop(host, p, this.heap, this.bql, cfg.era);
    this.mainLoop.shouldExit = () => this.main_loop_should_exit();
    if (cfg.device === 'vhost-user-blk') {
      // -chardev socket,id=vub -device vhost-user-blk-pci,chardev=vub: qemu keeps one end of a
      // connected socket pair; the management layer hands the other to the backend.
      const sv = this.heap.alloc(8);
      if (host.socketpair(p, sv) < 0) throw new Error('qemu: socketpair failed');
      const sock = p.mm.i32(sv);
      this.vhostPeerFd = p.mm.i32(sv + 4);
      this.heap.release(sv);
      this.vblk = new VhostUserBlk(this.mem, t, cfg.imageBytes,
        { host, proc: p, heap: this.heap, sock, ramFd: this.ramFd, ramBytes: cfg.ramBytes, ramHva: this.ramHva });
    } else {
      // -drive file=IMAGE,format=raw,cache=none,aio=native -device virtio-blk-pci
      // cache=MODE: O_DIRECT for none and directsync (bdrv_parse_cache_mode → BDRV_O_NOCACHE).
      const cache = cfg.cache ?? 'none';
      const nocache = bdrv_parse_cache_mode(cache).nocache;
      // raw_open_common: Linux does AIO only for files opened with O_DIRECT.
      if (cfg.backend === 'linux-aio' && !nocache) throw new Error('qemu: aio=native was specified, but it requires cache.direct=on, which was not specified.');
      const imgfd = host.openat(p, cfg.imagePath, O_RDWR | (nocache ? O_DIRECT : 0));
      if (imgfd < 0) throw new Error(`qemu: could not open disk image ${cfg.imagePath}: ${imgfd}`);
      const laio = cfg.backend === 'linux-aio'
        ? new LinuxAioState(host, p, this.heap, t, this.mainLoop, cfg.era === 'qemu-kvm-2013' ? 'qemu-kvm-0.14' : 'qemu-9.0')
        : cfg.backend === 'io_uring' ? new LuringState(host, p, this.heap, t, this.mainLoop) : null;
      // Blocking work (aio=threads, flushes): util/thread-pool.c, or qemu-kvm 0.14's posix-aio-compat.c.
      const pool = cfg.era === 'qemu-kvm-2013' ? new PosixAioCompat(host, p, this.heap, this.mainLoop, t) : new ThreadPool(host, p, this.heap, this.mainLoop, t);
      const blk = this.blk = new BlockBackend({ fd: imgfd, aio: laio, pool, host, proc: p, heap: this.heap }, cfg.imageBytes, t, {
        cache, werror: cfg.werror ?? 'enospc', rerror: cfg.rerror ?? 'report',
        vmstopRequest: () => this.vm_stop('io-error'),
        bh: (fn) => this.mainLoop.qemu_bh_schedule(fn),
        aioWait: (cond, then) => this.aio_wait_while(cond, then),
        era: cfg.era,
      });
      const vblk = this.vblk = new VirtIOBlock(this.mem, t, p.mm, blk, cfg.era);
      this.vmChangeStateHandlers.push((running) => vblk.virtio_blk_dma_restart_cb(running));
    }
    // DEFINE_PROP_BIT64("event_idx", VirtIODevice, host_features, VIRTIO_RING_F_EVENT_IDX, true)
    if (!cfg.eventIdx) this.vblk.hostFeatures &= ~(1 << VIRTIO_RING_F_EVENT_IDX);
    const proxy = new VirtIOPCIProxy(this.vblk, cfg.device === 'vhost-user-blk' ? 'vhost-user-blk-pci' : 'virtio-blk-pci', cfg.ioBase, t, this.pciPlatform(cfg),
      { vectors: cfg.vectors, ioeventfd: cfg.ioeventfd, irqfd: cfg.irqfd, msixTableBase: cfg.msixTableBase, modernBar: cfg.modernBar, era: cfg.era });
    this.ioSpace.add(proxy.bar);
    // qemu_devices_reset: the transport resets its device as a guest's status write of 0 would.
    this.resetHandlers.push(() => proxy.reset());
    this.createIrqchip(irqchip);
    if (proxy.msixTable) this.memSpace.add(proxy.msixTable);
    for (const r of proxy.modernRegions) this.memSpace.add(r);
    loadGuest(this);
    // kvm_init_vcpu: KVM_CREATE_VCPU and mmap of its kvm_run area.
    const mmapSize = host.ioctlNow(p, kvmfd, KVM_GET_VCPU_MMAP_SIZE, 0);
    for (let i = 0; i < cfg.vcpus; i++) {
      const fd = host.ioctlNow(p, this.vmfd, KVM_CREATE_VCPU, i);
      if (fd < 0) throw new Error(`qemu: KVM_CREATE_VCPU failed: ${fd}`);
      const run = host.mmap(p, mmapSize, fd);
      // kvm_init_vcpu: s->coalesced_mmio_ring = (void *)cpu->kvm_run + s->coalesced_mmio * PAGE_SIZE.
      if (this.coalescedMmio && !this.coalescedRing) this.coalescedRing = run + this.coalescedMmio * PAGE_SIZE;
      // kvm_arch_init_vcpu: the CPUID of -cpu host, without x2APIC when the APIC is qemu's (an xAPIC).
      kvm_set_cpuid2(host, p, this.heap, fd, cpuidEntries([...(cfg.cpuFlagsOff ?? []), ...(irqchip === 'userspace' ? ['x2apic'] : [])], cfg.era));
      // qemu-kvm 0.14: kvm_main_loop_cpu → kvm_cpu_exec → kvm_run (the ioctl and the exit switch) → kvm_handle_io.
      const names = cfg.era === 'qemu-kvm-2013' ? QEMU_NAMES_0_14 : QEMU_NAMES_9_0;
      this.cpus.push(new KvmCpu(i, fd, run, host, p, this.ioSpace, this.memSpace, t, {
        stop: (state, why) => this.stop(state, why),
        dispatchCost: () => env.clock.spend(env.profile.cost.qemuExitDispatch),
        aioWaits: () => this.aioWaits.length > 0 ? this.aio_wait() : undefined,
        qemu_system_reset_request: (cpu) => this.qemu_system_reset_request(cpu),
        kvm_flush_coalesced_mmio_buffer: () => this.kvm_flush_coalesced_mmio_buffer(),
      }, names));
      if (this.haltCond) this.cpus[i]!.runControl = { cpu_can_run: () => this.runstate === 'running', haltCond: this.haltCond };
      this.cpus[i]!.arch = this.x86;
      this.cpus[i]!.bql = this.bql;
    }
  }

  /**
   * kvm_coalesce_pio_add (accel/kvm/kvm-all.c, the I/O listener's coalesced_io_add): a
   * KVM_PIO_BUS zone for a coalesced range, when kvm offers KVM_CAP_COALESCED_PIO.
   */
  private kvm_coalesce_pio_add(start: number, size: number): void {
    if (!this.coalescedPio) return;
    const z = kvm_coalesced_mmio_zone;
    const a = this.heap.alloc(z.sizeof);
    const mm = this.proc.mm;
    mm.slice(a, z.sizeof).fill(0);
    mm.setU64(a + z.addr, start);
    mm.setU32(a + z.size, size);
    mm.setU32(a + z.pio, 1);
    this.host.ioctlNow(this.proc, this.vmfd, KVM_REGISTER_COALESCED_MMIO, a);
    this.heap.release(a);
  }

  /**
   * kvm_flush_coalesced_mmio_buffer: replay every write kvm kept in the ring since the last flush,
   * to the I/O or memory address space, moving ring->first past each.
   */
  kvm_flush_coalesced_mmio_buffer(): void {
    const ring = this.coalescedRing;
    if (!ring || this.coalescedFlushInProgress) return;
    this.coalescedFlushInProgress = true;
    const mm = this.proc.mm;
    const r = kvm_coalesced_mmio_ring;
    const e = kvm_coalesced_mmio;
    const max = Math.floor((PAGE_SIZE - r.sizeof) / e.sizeof);
    let n = 0;
    for (let first = mm.u32(ring + r.first); first !== mm.u32(ring + r.last); first = mm.u32(ring + r.first)) {
      const ent = ring + r.coalesced_mmio + first * e.sizeof;
      const len = mm.u32(ent + e.len);
      const data = len === 1 ? mm.u8(ent + e.data) : len === 2 ? mm.u16(ent + e.data) : len === 4 ? mm.u32(ent + e.data) : mm.u64(ent + e.data);
      if (n++ === 0 && this.env.t.on) this.env.t.rec(EV_FLUSH_COALESCED, -1, mm.u32(ring + r.last) - first);
      (mm.u32(ent + e.pio) === 1 ? this.ioSpace : this.memSpace).write(mm.u64(ent + e.phys_addr), data, len);
      mm.setU32(ring + r.first, (first + 1) % max);
    }
    this.coalescedFlushInProgress = false;
  }

  /** KVMState's irq_routes: MSI routes by GSI (IOAPIC pins with a split irqchip, then MSI virqs). */
  private readonly irqRoutes: { gsi: number; addressLo: number; data: number }[] = [];
  /** The interrupt controllers qemu emulates itself (split: PIC and IOAPIC; userspace: also the APIC). */
  pic: QemuPic | undefined;
  ioapic: QemuIoapic | undefined;
  apic: QemuApic | undefined;

  /**
   * The devices of the irqchip mode: with kernel_irqchip=on the in-kernel PIT too (kvm_pit_init →
   * KVM_CREATE_PIT2); otherwise qemu's i8259 (with the ELCR at 0x4d0) and IOAPIC, and with no
   * irqchip in kvm at all its local APIC.
   */
  private createIrqchip(irqchip: 'kernel' | 'split' | 'userspace'): void {
    const { host, proc: p, heap } = this;
    const t = this.env.t;
    if (irqchip === 'kernel') {
      const a = heap.alloc(kvm_pit_config.sizeof);
      p.mm.slice(a, kvm_pit_config.sizeof).fill(0);
      host.ioctlNow(p, this.vmfd, KVM_CREATE_PIT2, a);
      heap.release(a);
      return;
    }
    this.pic = new QemuPic();
    for (const r of this.pic.regions()) this.ioSpace.add(r);
    if (irqchip === 'userspace') {
      const x86 = this.x86;
      this.apic = new QemuApic(t, (pending) => x86?.cpu_interrupt(this.cpus, pending), (v) => this.ioapic?.eoiBroadcast(v), this.cfg.era);
      this.ioapic = new QemuIoapic({ sendMsi: (a, d) => this.apic!.sendMsi(a, d) }, t);
      if (x86) x86.apic = this.apic;
      this.memSpace.add(this.apic.region());
    } else {
      this.ioapic = new QemuIoapic({
        kvmSetIrq: (pin, level) => { kvm_set_irq(host, p, heap, this.vmfd, this.irqSetIoctl, pin, level); },
        updateRoutes: (rs) => {
          // kvm_irqchip_update_msi_route for each pin, then kvm_irqchip_commit_routes.
          const keep = this.irqRoutes.filter((r) => r.gsi >= KVM_IRQCHIP_NUM_PINS);
          this.irqRoutes.length = 0;
          this.irqRoutes.push(...rs.map((r) => ({ gsi: r.pin, addressLo: r.addressLo, data: r.data })), ...keep);
          this.kvm_irqchip_commit_routes();
        },
      }, t);
    }
    this.memSpace.add(this.ioapic.region());
  }

  /** kvm_irqchip_commit_routes: KVM_SET_GSI_ROUTING with every route (struct kvm_irq_routing in qemu's memory). */
  private kvm_irqchip_commit_routes(): void {
    const { host, proc: p, heap } = this;
    const e = kvm_irq_routing_entry;
    const size = kvm_irq_routing.entries + this.irqRoutes.length * e.sizeof;
    const a = heap.alloc(size);
    p.mm.slice(a, size).fill(0);
    p.mm.setU32(a + kvm_irq_routing.nr, this.irqRoutes.length);
    this.irqRoutes.forEach((r, i) => {
      const o = a + kvm_irq_routing.entries + i * e.sizeof;
      p.mm.setU32(o + e.gsi, r.gsi); p.mm.setU32(o + e.type, KVM_IRQ_ROUTING_MSI);
      p.mm.setU32(o + e['u.msi.address_lo'], r.addressLo); p.mm.setU32(o + e['u.msi.data'], r.data);
    });
    host.ioctlNow(p, this.vmfd, KVM_SET_GSI_ROUTING, a);
    heap.release(a);
  }

  /** gsi_handler (hw/i386/x86.c) / kvm_pc_gsi_handler: an ISA/PCI line to kvm, or to qemu's PIC and IOAPIC. */
  gsi_handler(gsi: number, level: number): void {
    if (!this.ioapic) { kvm_set_irq(this.host, this.proc, this.heap, this.vmfd, this.irqSetIoctl, gsi, level); return; }
    this.pic?.setIrq(gsi, level);
    this.ioapic.setIrq(gsi, level);
  }

  /** The accel/kvm and util/event_notifier services the virtio-pci transport uses. */
  private pciPlatform(cfg: QemuConfig): PciPlatform {
    const host = this.host;
    const p = this.proc;
    const heap = this.heap;
    const routes = this.irqRoutes;
    let nextVirq = KVM_IRQCHIP_NUM_PINS;
    const withStruct = (size: number, fill: (a: number) => void, call: (a: number) => number): number => {
      const a = heap.alloc(size);
      fill(a);
      const r = call(a);
      heap.release(a);
      return r;
    };
    const check = (what: string, r: number) => { if (r < 0) throw new Error(`qemu: ${what} failed: ${r}`); return r; };
    return {
      setIrq: (level) => { this.gsi_handler(cfg.irq, level); },
      sendMsi: (addressLo, data) => {
        // kvm_send_msi
        withStruct(kvm_msi.sizeof, (a) => { p.mm.setU32(a + kvm_msi.address_lo, addressLo); p.mm.setU32(a + kvm_msi.data, data); },
          (a) => host.ioctlNow(p, this.vmfd, KVM_SIGNAL_MSI, a));
      },
      eventfd: () => check('eventfd', host.eventfd2(p, 0, EFD_NONBLOCK)),
      eventfdSet: (fd) => { withStruct(8, (a) => p.mm.setU64(a, 1), (a) => host.write(p, fd, a, 8)); },
      eventfdTestAndClear: (fd) => withStruct(8, () => {}, (a) => host.readNow(p, fd, a, 8)) === 8,
      addIoeventfd: (addr, len, datamatch, fd) => {
        // kvm_set_ioeventfd_pio (port, datamatch) or kvm_set_ioeventfd_mmio (no datamatch)
        const s = kvm_ioeventfd;
        const flags = datamatch === null ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_PIO;
        check('KVM_IOEVENTFD', withStruct(s.sizeof, (a) => {
          p.mm.setU64(a + s.datamatch, datamatch ?? 0); p.mm.setU64(a + s.addr, addr); p.mm.setU32(a + s.len, len);
          p.mm.setI32(a + s.fd, fd); p.mm.setU32(a + s.flags, flags);
        }, (a) => host.ioctlNow(p, this.vmfd, KVM_IOEVENTFD, a)));
      },
      addIrqfd: (addressLo, data, fd) => {
        // kvm_irqchip_add_msi_route + kvm_irqchip_commit_routes, then kvm_irqchip_add_irqfd_notifier_gsi.
        const gsi = nextVirq++;
        routes.push({ gsi, addressLo, data });
        const e = kvm_irq_routing_entry;
        check('KVM_SET_GSI_ROUTING', withStruct(kvm_irq_routing.entries + routes.length * e.sizeof, (a) => {
          p.mm.setU32(a + kvm_irq_routing.nr, routes.length);
          routes.forEach((r, i) => {
            const o = a + kvm_irq_routing.entries + i * e.sizeof;
            p.mm.setU32(o + e.gsi, r.gsi); p.mm.setU32(o + e.type, KVM_IRQ_ROUTING_MSI);
            p.mm.setU32(o + e['u.msi.address_lo'], r.addressLo); p.mm.setU32(o + e['u.msi.data'], r.data);
          });
        }, (a) => host.ioctlNow(p, this.vmfd, KVM_SET_GSI_ROUTING, a)));
        check('KVM_IRQFD', withStruct(kvm_irqfd.sizeof, (a) => { p.mm.setU32(a + kvm_irqfd.fd, fd); p.mm.setU32(a + kvm_irqfd.gsi, gsi); },
          (a) => host.ioctlNow(p, this.vmfd, KVM_IRQFD, a)));
        return gsi;
      },
      watch: (fd, handler) => this.mainLoop.aio_set_event_notifier(fd, handler),
      // qemu-kvm 0.14 with kvm's irqchip: an MSI-X vector is a routed GSI (kvm_msix_add, kvm_msix_update).
      ...(cfg.era === 'qemu-kvm-2013' && this.cfg.irqchip !== 'userspace' ? {
        msiRoute: (addressLo: number, data: number, gsi?: number) => {
          let route = gsi === undefined ? undefined : routes.find((r) => r.gsi === gsi);
          if (route) { route.addressLo = addressLo; route.data = data; } else { route = { gsi: nextVirq++, addressLo, data }; routes.push(route); }
          this.kvm_irqchip_commit_routes();
          return route.gsi;
        },
        raiseGsi: (gsi: number) => { kvm_set_irq(host, p, heap, this.vmfd, this.irqSetIoctl, gsi, 1); },
      } : {}),
    };
  }

  /**
   * vm_stop (do_vm_stop) for a stop request such as RUN_STATE_IO_ERROR: the run state changes, every
   * vCPU is asked to stop (pause_all_vcpus → qemu_cpu_kick), the vm state change handlers run, and the
   * drive is flushed (bdrv_flush_all). (Simplification: qemu's main loop also waits for the vCPUs to
   * acknowledge and drains the drives; here nothing blocks.)
   */
  vm_stop(state: RunState): void {
    if (this.runstate !== 'running') return;
    this.stop(state, state);
    for (const c of this.cpus) c.qemu_cpu_kick();
    for (const h of this.vmChangeStateHandlers) h(false);
    this.blk?.bdrv_flush(() => {});
  }

  /**
   * vm_start (the monitor's cont): running again. The vCPU threads are woken (resume_all_vcpus) and
   * the vm state change handlers run: virtio-blk retries the requests it kept (its bottom half runs
   * in this same main-loop iteration).
   */
  vm_start(): void {
    if (this.runstate === 'running') return;
    this.runstate = 'running';
    this.stopReason = '';
    startEvent(this.env.t);
    // A stop request a vCPU never saw (it slept in kvm throughout) is void once the VM runs.
    for (const c of this.cpus) { c.exitRequest = false; this.proc.mm.setU8(c.runHva + kvm_run.immediate_exit, 0); }
    this.haltCond?.wakeAll();
    for (const h of this.vmChangeStateHandlers) h(true);
  }

  /** AIO_WAIT_WHILE requests a device access made (blk_drain), run by the vCPU thread before it drops the BQL. */
  private readonly aioWaits: { cond: () => boolean; then: () => void }[] = [];

  /**
   * AIO_WAIT_WHILE(cond) from a device access: the vCPU thread that made the access keeps the BQL
   * and polls the main loop's sources itself (aio_poll) until `cond` is false, then `then` finishes
   * what the access began (virtio_blk_reset after its blk_drain).
   */
  private aio_wait_while(cond: () => boolean, then: () => void): void {
    this.aioWaits.push({ cond, then });
  }

  private *aio_wait(): Generator<Block, void, void> {
    while (this.aioWaits.length > 0) {
      const w = this.aioWaits[0]!;
      while (w.cond()) yield* this.mainLoop.aio_poll();
      this.aioWaits.shift();
      w.then();
    }
  }

  /** Reset handlers of the machine's devices (qemu_register_reset / the qdev reset tree). */
  private readonly resetHandlers: (() => void)[] = [];
  /** reset_requested (system/runstate.c): taken up by the main loop. */
  private resetRequested = false;
  /** How many times the machine was reset. */
  resets = 0;

  /**
   * qemu_system_reset_request (system/runstate.c), for a guest reset (kvm_cpu_exec's
   * KVM_EXIT_SHUTDOWN: a triple fault): with -no-reboot (on_triple_fault: shutdown) a shutdown,
   * and qemu exits; else a reset the main loop performs. The requesting vCPU stops
   * (cpu_stop_current) and the main loop is woken (qemu_notify_event: a bottom half that does
   * nothing but wake it). Returns false when the vCPU thread is done (shutdown).
   */
  qemu_system_reset_request(cpu: KvmCpu): boolean {
    const t = this.env.t;
    if (t.on) t.rec(EV_RESET_REQUEST, cpu.index, t.str('guest-reset'));
    if (this.cfg.onTripleFault === 'shutdown') {
      this.stop('shutdown', 'guest reset with -no-reboot: shutdown requested, qemu exits');
      return false;
    }
    this.resetRequested = true;
    cpu.stop = true;
    this.mainLoop.qemu_bh_schedule(() => {});
    return true;
  }

  /**
   * main_loop_should_exit: a requested reset is done here — pause_all_vcpus, qemu_system_reset,
   * resume_all_vcpus. (Simplification: pause_all_vcpus does not wait for the vCPUs to
   * acknowledge; a vCPU inside KVM_RUN is kicked out with SIG_IPI and finds cpu->stop set.)
   */
  private main_loop_should_exit(): void {
    if (!this.resetRequested) return;
    this.resetRequested = false;
    for (const c of this.cpus) { if (!c.stop) { c.stop = true; this.host.tgkill(this.proc, c.index, SIG_IPI); } }
    this.qemu_system_reset();
    for (const c of this.cpus) c.stop = false;
    this.haltCond?.wakeAll();
  }

  /**
   * qemu_system_reset → pc_machine_reset: every device's reset (qemu_devices_reset), then the CPUs'
   * reset state written into kvm from each vCPU's thread (cpu_synchronize_all_post_reset →
   * kvm_arch_put_registers(KVM_PUT_RESET_STATE)): RIP at the reset vector 0xfff0 (with CS.base
   * 0xffff0000), RFLAGS 0x2, the boot CPU runnable and the others waiting for INIT/SIPI. The
   * firmware and the boot loader are not modelled: the guest's kernel is started anew as at power-on
   * (the loadGuest hand-over). (Simplification: of the reset-state ioctls only KVM_SET_REGS and
   * KVM_SET_MP_STATE are made; kvm's local APIC, IOAPIC and MSRs keep their state.)
   */
  private qemu_system_reset(): void {
    const t = this.env.t;
    if (t.on) t.rec(EV_RESET, -1, t.str('guest-reset'));
    this.resets++;
    for (const h of this.resetHandlers) h();
    this.loadGuest(this);
    for (const c of this.cpus) {
      c.run_on_cpu(() => {
        const mm = this.proc.mm;
        const regs = this.heap.alloc(kvm_regs.sizeof);
        mm.slice(regs, kvm_regs.sizeof).fill(0);
        mm.setU64(regs + kvm_regs.rip, 0xfff0);
        mm.setU64(regs + kvm_regs.rflags, 0x2);
        c.kvm_vcpu_ioctl(KVM_SET_REGS, regs);
        this.heap.release(regs);
        const st = this.heap.alloc(kvm_mp_state.sizeof);
        mm.setU32(st + kvm_mp_state.mp_state, c.index === 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED);
        c.kvm_vcpu_ioctl(KVM_SET_MP_STATE, st);
        this.heap.release(st);
      });
    }
  }

  /** vm_stop: the machine stops running; the reason is what qemu would print. */
  stop(state: RunState, why: string): void {
    this.runstate = state;
    this.stopReason = why;
    stopEvent(this.env.t, why);
  }
}
