// The composition root: the only place that wires every layer. It builds the host kernel, kvm,
// the VMX CPUs, the qemu-kvm process and the guest from a configuration, boots the guest, and runs
// actions, recording what crosses each boundary.

import type { VmConfig } from './config';
import { Clock } from './sim/clock';
import { markWritten } from './sim/dirty';
import { SKYLAKE_SP, type CpuProfile } from './sim/costs';
import { Scheduler } from './sim/scheduler';
import { TraceRecorder } from './trace/recorder';
import { InvariantChecker, type Violation } from './trace/invariants';
import { HostKernel } from './host/kernel';
import { MemoryImage, RawFileImage, type ImageFile } from './host/disk';
import { KvmModule } from './kvm/kvm_main';
import { KVM_HALT_POLL_NS_DEFAULT, kvmEra } from './kvm/profile';
import { HOST_VMX_CAPS } from './kvm/vmx/capabilities';
import { makeVmxOps } from './kvm/vmx/vmx';
import { NoGuestCode, VmxCpu } from './vmx/cpu';
import { QemuKvm, pcRamSplit } from './qemu/qemu';
import { VhostUserBlkServer } from './vhost/blk_server';
import { GuestKernel, VIRTIO_BLK_GSI, type Action, type ActionResult } from './guest/kernel';
import { runsOnAnyCpu } from './guest/actions';
import { EXT2_EPOCH, mkfsExt2 } from './ext2/mkfs';
import { MODERN_BAR, MSIX_TABLE_BASE } from './memory_map';

/**
 * What the model's mkfs.ext2 writes for a disk of `bytes` and a block size: it is deterministic (its
 * times and UUID are fixed), so each geometry is formatted once and its writes replayed on every
 * fresh disk of that size.
 */
const FORMATTED = new Map<string, readonly { offset: number; data: Uint8Array }[]>();
function formatted(bytes: number, blockSize: 1024 | 4096): readonly { offset: number; data: Uint8Array }[] {
  const key = `${bytes}:${blockSize}`;
  let w = FORMATTED.get(key);
  if (!w) {
    const writes: { offset: number; data: Uint8Array }[] = [];
    mkfsExt2(bytes, (offset, data) => { writes.push({ offset, data: data.slice() }); }, { blockSize });
    FORMATTED.set(key, w = writes);
  }
  return w;
}

/**
 * Where the guest kernel's text starts, 0xffffffff81000000. Addresses are kept sign-extended (as the
 * CPU does for canonical addresses) so that a double holds them exactly; traces print them unsigned.
 */
export const KERNEL_TEXT = -0x7f000000;
export { MODERN_BAR, MSIX_TABLE_BASE } from './memory_map';
/** The path qemu opens when the disk image lives in memory. */
export const MEMORY_IMAGE_PATH = '/var/lib/exitpath/disk.img';

export class StackError extends Error {}

const CLOSED = 'the machine was closed';

/**
 * The simulated run broke one of its invariants or tripped a guard rail: not the user's mistake and
 * not the guest's, but a defect of the model (src/trace/invariants.ts, qemu/dma.ts, host/disk.ts).
 */
export class IntegrityError extends Error {
  constructor(readonly problems: string[]) {
    super(`the run broke its invariants:\n  ${problems.join('\n  ')}`);
  }
}

export interface ActionOutcome {
  /** Events of this action: [from, to) in the recorder. */
  from: number;
  to: number;
  result: ActionResult;
  /** Modelled cycles from the action's start until it completed. */
  cycles: number;
}

/**
 * Where an action stands when the machine stops running: done (the action returned), paused (qemu
 * stopped the VM — an I/O error under rerror/werror=stop — until it is resumed), waiting (the
 * guest sleeps for an interrupt nothing will send: a request the device dropped or never took), or
 * reset (the machine was reset — a triple fault — and the guest booted again without it).
 */
export type ActionState = 'done' | 'paused' | 'waiting' | 'reset';

export interface ActionProgress {
  from: number;
  to: number;
  state: ActionState;
  result?: ActionResult;
  cycles: number;
  /** Why the machine stopped, when the action has not completed. */
  why?: string;
}

export interface StackOptions { traceBoot?: boolean; profile?: CpuProfile }

export class Stack {
  readonly clock: Clock;
  readonly sched: Scheduler;
  readonly trace: TraceRecorder;
  readonly host: HostKernel;
  readonly kvm: KvmModule;
  readonly cpus: VmxCpu[] = [];
  readonly qemu: QemuKvm;
  readonly guest!: GuestKernel;
  readonly image: ImageFile;
  /** The vhost-user-blk backend process, when the disk is served by one. */
  vhost: VhostUserBlkServer | undefined;
  private bootEnd = 0;
  private traceBoot: boolean;
  private actions = 0;
  /** Invariants of every run, checked on the trace after each action (src/trace/invariants.ts). */
  readonly invariants = new InvariantChecker();
  /** The action the guest is still in (paused or waiting), if any. */
  private pending: { m: { result?: ActionResult }; c0: number; cpu: number } | undefined;
  /** Set when the machine was reset while an action ran (qemu_system_reset after a triple fault). */
  private wasReset = false;
  /** Why the machine is gone (a power loss, or a guest that reached code the model does not have). */
  private gone: string | undefined;

  constructor(readonly config: VmConfig, opts: StackOptions = {}) {
    const profile = opts.profile ?? SKYLAKE_SP;
    this.traceBoot = opts.traceBoot ?? false;
    this.clock = new Clock(profile.ghz);
    this.sched = new Scheduler(this.clock);
    const t = this.trace = new TraceRecorder(this.clock);
    this.host = new HostKernel(this.sched, this.clock, profile, t);
    for (let i = 0; i < config.vcpus; i++) {
      const c = new VmxCpu(i, this.clock, profile, t);
      // The host's other threads run on other host CPUs: a guest computing lets them run when they are due.
      c.hostWorkAt = () => this.sched.nextHostWork() * this.clock.ghz;
      this.cpus.push(c);
    }
    this.kvm = new KvmModule({ sched: this.sched, clock: this.clock, profile, t, era: kvmEra(config.profile), haltPollNs: config.halt_poll_ns ?? KVM_HALT_POLL_NS_DEFAULT },
      makeVmxOps({ apicv: config.apicv, hostCaps: HOST_VMX_CAPS[config.host_cpu ?? 'skylake-sp'] }), { cpu: (id) => this.cpus[id]! });
    this.host.registerDevice('/dev/kvm', () => this.kvm.open());

    const diskBytes = config.disk.size_mib * 1024 * 1024;
    if (config.disk.image) {
      try { this.image = new RawFileImage(config.disk.image); } catch (e) {
        throw new StackError(`disk.image: cannot open '${config.disk.image}' (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    } else {
      // A fresh disk, formatted by the model's mkfs.ext2 before the VM starts (and made durable, as mke2fs's fsync does).
      this.image = new MemoryImage(diskBytes);
      let writes: readonly { offset: number; data: Uint8Array }[];
      try { writes = formatted(diskBytes, config.disk.ext2_block_size ?? 4096); } catch (e) {
        if (e instanceof RangeError) throw new StackError(`disk.size_mib: ${e.message}`);
        throw e;
      }
      // mke2fs writes and fsyncs before the VM starts: the writes go straight to the media (the
      // same end as writing through the disk's cache and flushing it).
      this.image.setWriteCache(false);
      for (const w of writes) this.image.pwrite(w.offset, w.data);
      this.image.setWriteCache(true);
    }
    const imagePath = config.disk.image ?? MEMORY_IMAGE_PATH;
    this.host.addFile(imagePath, this.image);

    const ramBytes = config.memory_mib * 1024 * 1024;
    // The guest's code is in place when its vCPU is created (the boot loader's hand-over).
    const cpu0 = this.cpus[0]!;
    t.on = this.traceBoot;
    this.qemu = new QemuKvm(this.host, { clock: this.clock, profile, t, sched: this.sched }, {
      irqchip: config.irqchip, cpuFlagsOff: (config.cpu ?? 'host').split(',').slice(1).map((f) => f.slice(1)),
      accel: { busLockRatelimit: config.accel?.bus_lock_ratelimit ?? 0, notifyVmexit: config.accel?.notify_vmexit ?? 'run',
        notifyWindow: config.accel?.notify_window ?? 0, hostCaps: HOST_VMX_CAPS[config.host_cpu ?? 'skylake-sp'] },
      ramBytes, vcpus: config.vcpus, ioBase: config.disk.io_base, imagePath, imageBytes: this.image.size,
      irq: VIRTIO_BLK_GSI, era: config.profile, vectors: config.disk.vectors, msixTableBase: MSIX_TABLE_BASE,
      ioeventfd: config.ioeventfd, irqfd: config.irqfd, backend: config.disk.backend,
      cache: config.disk.cache, werror: config.disk.werror, rerror: config.disk.rerror,
      modernBar: config.disk.transport === 'virtio-pci-modern' ? MODERN_BAR : null, device: config.disk.device, eventIdx: config.disk.event_idx ?? config.profile !== 'qemu-kvm-2013',
      onTripleFault: config.on_triple_fault ?? 'reset',
    }, (q) => {
      // Called once RAM exists and before KVM_CREATE_VCPU: load the guest. Called again at a system
      // reset (the firmware and boot loader are not modelled: the kernel starts anew, as at
      // power-on); its boot, like the first, is not traced unless asked, and the action it
      // interrupted is gone.
      if (this.guest) {
        this.wasReset = true;
        if (!this.traceBoot) t.on = false;
        this.guestPagesWritten();
      }
      const ram = q.proc.mm.pages(q.ramHva, ramBytes).bytes;
      (this as { guest: GuestKernel }).guest = new GuestKernel(this.cpus.map((c) => c.regs), ram, t, { ioBase: config.disk.io_base, diskBytes: this.image.size, ramBytes,
        msixTableBase: config.disk.vectors > 0 ? MSIX_TABLE_BASE : null,
        modernBar: config.disk.transport === 'virtio-pci-modern' ? MODERN_BAR : null,
        now: () => EXT2_EPOCH + Math.floor(this.clock.now / 1e9),
        kernel: config.profile === 'qemu-kvm-2013' ? '3.2' : '6.1', ramBelow4g: pcRamSplit(ramBytes, config.profile).below });
      // The boot CPU starts in the kernel; the others wait for INIT and SIPI (their code is the trampoline's).
      cpu0.reset(this.guest.start_kernel(), this.guest.cpus[0]!, KERNEL_TEXT);
      for (const c of this.cpus.slice(1)) c.powerOn(this.guest.cpus[c.id]!);
    });
    if (config.disk.device === 'vhost-user-blk') {
      // The management layer starts the backend with the other end of qemu's socket pair.
      const q = this.qemu;
      this.vhost = new VhostUserBlkServer(this.host, t, imagePath, this.image.size, (dp) => this.host.transferFd(q.proc, q.vhostPeerFd, dp));
      this.sched.spawn('qemu-storage-daemon', this.vhost.run());
    }
    this.sched.spawn('qemu main loop', this.qemu.mainLoop.run());
    for (const c of this.qemu.cpus) this.sched.spawn(`CPU ${c.index}/KVM`, c.kvm_cpu_exec());
    // Boot: run until the guest reaches its first breakpoint (the running system).
    const r = this.sched.run();
    t.on = false;
    if (r !== 'frozen') throw new StackError(`the guest did not finish booting: ${this.whyStopped()}`);
    const mountError = this.guest.vfs.mountError;
    if (mountError) throw new StackError(`the guest cannot mount ${config.disk.image ?? 'its disk'} as ext2: ${mountError}`);
    this.bootEnd = this.traceBoot ? 0 : t.length;
    this.invariants.check(t);
  }

  /** Where the next action's events will start in the trace (the boot's, too, for the first with traceBoot). */
  get actionStart(): number { return this.actions === 0 ? this.bootEnd : this.trace.length; }

  /** Run one action to completion in the running guest (on vCPU `cpu`, 0 by default). */
  run(action: Action, cpu = 0): ActionOutcome {
    const p = this.submit(action, cpu);
    if (p.state !== 'done') throw new StackError(`the action did not complete: ${p.why ?? p.state}`);
    return { from: p.from, to: p.to, result: p.result!, cycles: p.cycles };
  }

  /**
   * Start one action and run the machine until it completes, or until nothing more can happen. The
   * action runs on vCPU 0 unless another is named (the guest's boot CPU queues it there and wakes
   * that CPU with a reschedule IPI).
   */
  submit(action: Action, cpu = 0): ActionProgress {
    if (this.gone) throw new StackError(this.gone);
    if (this.pending) throw new StackError('the previous action has not completed (the VM is paused, or the guest waits for the device)');
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.cpus.length) {
      throw new StackError(`there is no vCPU ${cpu}: the VM has ${this.cpus.length} (vCPU 0${this.cpus.length > 1 ? ` to ${this.cpus.length - 1}` : ''})`);
    }
    if (cpu !== 0 && !runsOnAnyCpu(action)) {
      throw new StackError(`only kernel instructions run on vCPU ${cpu}: a process's syscalls and its I/O run on vCPU 0`);
    }
    const from = this.actionStart;
    this.actions++;
    this.pending = { m: this.guest.post(action, cpu), c0: this.clock.cycles, cpu };
    return this.drive(from);
  }

  /** The monitor's `cont`: a VM stopped by an I/O error runs again (vm_start), and the action goes on. */
  resume(): ActionProgress {
    if (this.gone) throw new StackError(this.gone);
    if (this.qemu.runstate !== 'io-error' && this.qemu.runstate !== 'paused') throw new StackError(`the VM is not paused (${this.qemu.runstate})`);
    const t = this.trace;
    const from = t.length;
    t.on = true;
    this.qemu.vm_start();
    t.on = false;
    return this.drive(from);
  }

  /** Whether the machine is gone (the host lost power, or the guest reached code the model does not have). */
  get isGone(): boolean { return this.gone !== undefined; }

  /**
   * The host loses power: the page cache and the disk's write cache are gone, and so is the machine.
   * What the image holds afterwards is what was durable.
   */
  powerLoss(): void {
    this.image.powerLoss();
    this.gone = 'the host has lost power: the machine is gone';
  }

  /**
   * The harness is done with the machine: qemu-kvm (and a vhost-user backend) exit, so the host takes
   * their memory back — guest RAM goes to the next machine's mapping, zeroed — the disk image is
   * closed (one in memory is gone, its memory reused) and the trace's events are dropped (its chunks
   * go to the next store). Nothing runs here afterwards.
   */
  close(): void {
    if (this.gone === CLOSED) return;
    this.gone = CLOSED;
    this.pending = undefined;
    this.guestPagesWritten();
    if (this.vhost) this.host.exit_group(this.vhost.proc);
    this.host.exit_group(this.qemu.proc);
    this.image.close();
    this.trace.clear(true);
  }

  /**
   * The guest kernel stores to its RAM directly (its plain loads and stores, not simulated one by
   * one): what it can have written is its own data below its page pool and the pages the pool has
   * handed out (sim/dirty.ts marks them, for the host to clean when the RAM is reused).
   */
  private guestPagesWritten(): void {
    const { dirty, dirtyOffset } = this.qemu.proc.mm.pages(this.qemu.ramHva, 1);
    markWritten(dirty, dirtyOffset, this.guest.pages.used[1]);
  }

  /** Guard-rail counts and invariant violations so far: all must be zero. */
  violations(): { dma: number; image: number; invariants: Violation[] } {
    return { dma: this.qemu.mem.violations, image: this.image.violations, invariants: this.invariants.violations };
  }

  /**
   * What the run broke so far, one line each: invariant violations and accesses the guard rails
   * refused. Empty for every sound run; whoever runs the machine must fail loudly otherwise.
   */
  problems(): string[] {
    const v = this.violations();
    return [
      ...v.invariants.map((x) => `invariant ${x.rule} (event ${x.seq}): ${x.message}`),
      ...(v.dma ? [`the DMA guard refused ${v.dma} access(es) outside guest RAM (${[...this.qemu.mem.violationSites].map(([k, n]) => `${k}×${n}`).join(', ')})`] : []),
      ...(v.image ? [`the image refused ${v.image} access(es) outside the disk`] : []),
    ];
  }

  /** Throws IntegrityError when the run broke an invariant or tripped a guard rail. */
  assertSound(): void {
    const p = this.problems();
    if (p.length > 0) throw new IntegrityError(p);
  }

  /** Bytes qemu itself would have stored outside guest RAM (a reproduced qemu defect; refused by the model). */
  qemuOverruns(): number { return this.qemu.mem.qemuOverruns; }

  private drive(from: number): ActionProgress {
    const t = this.trace;
    const p = this.pending!;
    t.on = true;
    let r: 'frozen' | 'idle';
    try { r = this.sched.run(); } catch (e) {
      if (!(e instanceof NoGuestCode)) throw e;
      this.gone = `not modelled: ${e.message}; the machine cannot go on`;
      throw new StackError(this.gone);
    } finally { t.on = false; }
    this.invariants.check(t);
    const cycles = this.clock.cycles - p.c0;
    if (this.wasReset) {
      // The guest that ran the action is gone; the new one is up, waiting for the next action.
      this.wasReset = false;
      this.pending = undefined;
      return { from, to: t.length, state: 'reset', cycles, why: 'the guest was reset (qemu_system_reset after a triple fault) and booted again' };
    }
    if (p.m.result !== undefined) {
      this.pending = undefined;
      return { from, to: t.length, state: 'done', result: p.m.result, cycles };
    }
    const why = r === 'idle' ? this.whyStopped() : 'the world stopped';
    return { from, to: t.length, state: this.qemu.runstate === 'running' ? 'waiting' : 'paused', cycles, why };
  }

  private whyStopped(): string {
    if (this.qemu.runstate !== 'running') return `the VM stopped (${this.qemu.runstate}): ${this.qemu.stopReason}`;
    // The vCPU whose action waits (the others idle in hlt as a matter of course).
    const id = this.pending?.cpu ?? 0;
    const v = this.kvm.vms[0]?.vcpus[id];
    if (v && v.arch.mp_state !== 0) return `vCPU ${id} halted in kvm (HLT with the in-kernel LAPIC) and no interrupt will wake it`;
    if (this.qemu.cpus[id]?.halted) return `vCPU ${id} is halted in qemu-kvm (KVM_EXIT_HLT with the irqchip in userspace) and no interrupt will wake it`;
    return `every thread is asleep (${this.sched.describeBlocked().join(', ')}) and no timer is pending`;
  }
}
