// The qemu-kvm process (vl.c / hw/i386/pc.c, reduced to this machine): guest RAM, the VM and its
// vCPU, the in-kernel irqchip, a virtio-blk-pci disk on the legacy I/O BAR backed by Linux AIO, and
// the threads — one per vCPU running kvm_cpu_exec, and the main loop.

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import type { Tracer } from '../trace/events';
import { KVM_CREATE_IRQCHIP, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_VCPU_MMAP_SIZE, KVM_SET_USER_MEMORY_REGION, kvm_userspace_memory_region } from '../uapi/kvm';
import { O_DIRECT, O_RDWR, type HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import { BlockBackend } from './block/block_backend';
import { LinuxAioState } from './block/linux_aio';
import { GuestMemory } from './dma';
import { Heap } from './heap';
import { KvmCpu, kvm_set_irq, stopEvent, type RunState } from './kvm_all';
import { MainLoop } from './main_loop';
import { AddressSpace } from './memory';
import { VirtIOBlock } from './virtio_blk';
import { VirtIOPCIProxy } from './virtio_pci';

export interface QemuConfig {
  ramBytes: number;
  vcpus: number;
  ioBase: number;
  /** Host path of the disk image. */
  imagePath: string;
  imageBytes: number;
  /** GSI the virtio-blk INTx line is routed to. */
  irq: number;
  era: 'linux-6.1' | 'qemu-kvm-2013';
}

export interface QemuEnv { clock: Clock; profile: CpuProfile; t: Tracer }

export class QemuKvm {
  readonly proc: HostProcess;
  readonly heap: Heap;
  readonly ioSpace: AddressSpace;
  readonly memSpace: AddressSpace;
  readonly mem: GuestMemory;
  readonly vblk: VirtIOBlock;
  readonly cpus: KvmCpu[] = [];
  readonly mainLoop: MainLoop;
  readonly vmfd: number;
  readonly ramHva: number;
  runstate: RunState = 'running';
  stopReason = '';

  /** `loadGuest` runs once guest RAM exists, before the vCPUs are created (the boot loader's hand-over). */
  constructor(private readonly host: HostKernel, private readonly env: QemuEnv, readonly cfg: QemuConfig, loadGuest: (q: QemuKvm) => void) {
    const { t } = env;
    const p = this.proc = host.spawn('qemu-kvm');
    const heapBase = host.mmap(p, 1 << 20, -1, '[heap]');
    this.heap = new Heap(p.mm, heapBase, 1 << 20);
    // kvm_init: /dev/kvm, KVM_CREATE_VM, memory, in-kernel irqchip.
    const kvmfd = host.openat(p, '/dev/kvm', O_RDWR);
    if (kvmfd < 0) throw new Error(`qemu: could not open /dev/kvm: ${kvmfd}`);
    this.vmfd = host.ioctlNow(p, kvmfd, KVM_CREATE_VM, 0);
    this.ramHva = host.mmap(p, cfg.ramBytes, -1, 'pc.ram');
    const region = this.heap.alloc(kvm_userspace_memory_region.sizeof);
    const s = kvm_userspace_memory_region;
    p.mm.setU32(region + s.slot, 0);
    p.mm.setU64(region + s.guest_phys_addr, 0);
    p.mm.setU64(region + s.memory_size, cfg.ramBytes);
    p.mm.setU64(region + s.userspace_addr, this.ramHva);
    if (host.ioctlNow(p, this.vmfd, KVM_SET_USER_MEMORY_REGION, region) < 0) throw new Error('qemu: KVM_SET_USER_MEMORY_REGION failed');
    this.heap.release(region);
    if (host.ioctlNow(p, this.vmfd, KVM_CREATE_IRQCHIP, 0) < 0) throw new Error('qemu: KVM_CREATE_IRQCHIP failed');
    this.ioSpace = new AddressSpace('I/O', t);
    this.memSpace = new AddressSpace('memory', t);
    this.mem = new GuestMemory(p.mm, this.ramHva, cfg.ramBytes);
    this.mainLoop = new MainLoop(host, p, this.heap);
    // -drive file=IMAGE,format=raw,cache=none,aio=native -device virtio-blk-pci
    const imgfd = host.openat(p, cfg.imagePath, O_RDWR | O_DIRECT);
    if (imgfd < 0) throw new Error(`qemu: could not open disk image ${cfg.imagePath}: ${imgfd}`);
    const laio = new LinuxAioState(host, p, this.heap, t, this.mainLoop, cfg.era === 'qemu-kvm-2013' ? 'laio_submit' : 'laio_co_submit');
    const blk = new BlockBackend(imgfd, cfg.imageBytes, laio, t);
    this.vblk = new VirtIOBlock(this.mem, t, p.mm, blk);
    const proxy = new VirtIOPCIProxy(this.vblk, 'virtio-blk-pci', cfg.ioBase, t,
      (level) => { kvm_set_irq(host, p, this.heap, this.vmfd, cfg.irq, level); });
    this.ioSpace.add(proxy.bar);
    loadGuest(this);
    // kvm_init_vcpu: KVM_CREATE_VCPU and mmap of its kvm_run area.
    const mmapSize = host.ioctlNow(p, kvmfd, KVM_GET_VCPU_MMAP_SIZE, 0);
    for (let i = 0; i < cfg.vcpus; i++) {
      const fd = host.ioctlNow(p, this.vmfd, KVM_CREATE_VCPU, i);
      if (fd < 0) throw new Error(`qemu: KVM_CREATE_VCPU failed: ${fd}`);
      const run = host.mmap(p, mmapSize, fd);
      const names = cfg.era === 'qemu-kvm-2013' ? { handleIo: 'kvm_handle_io', cpuExec: 'kvm_main_loop_cpu' } : { handleIo: 'kvm_handle_io', cpuExec: 'kvm_cpu_exec' };
      this.cpus.push(new KvmCpu(i, fd, run, host, p, this.ioSpace, this.memSpace, t, {
        stop: (state, why) => this.stop(state, why),
        dispatchCost: () => env.clock.spend(env.profile.cost.qemuExitDispatch),
      }, names));
    }
  }

  /** vm_stop: the machine stops running; the reason is what qemu would print. */
  stop(state: RunState, why: string): void {
    this.runstate = state;
    this.stopReason = why;
    stopEvent(this.env.t, why);
  }
}
