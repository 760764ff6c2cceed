// accel/kvm/kvm-all.c: how qemu drives kvm. kvm_cpu_exec is the vCPU thread's loop: KVM_RUN, then a
// switch on kvm_run->exit_reason read from the mmap'd kvm_run page, with the arguments taken
// literally from its fields.
//
// qemu-kvm 0.14 (the seed's era) ran the same loop in qemu-kvm.c's kvm_run (kvm_main_loop_cpu →
// kvm_cpu_exec → kvm_run): pre_kvm_run drops the global mutex before KVM_RUN, post_kvm_run takes it
// back right after, kvm_flush_coalesced_mmio_buffer, then the switch — KVM_EXIT_IO → kvm_handle_io,
// KVM_EXIT_MMIO → handle_mmio → cpu_physical_memory_rw — and `goto again` to the next KVM_RUN.
// QEMU's kvm_run_exit trace point did not exist yet.

import type { Block, WaitQueue } from '../sim/scheduler';
import { defineEvent, type Tracer } from '../trace/events';
import { ERRNO } from '../uapi/errno';
import { KVM_EXIT, KVM_EXIT_IO_OUT, KVM_IRQ_LINE, KVM_RUN, kvm_irq_level, kvm_run, kvmExitName } from '../uapi/kvm';
import type { HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import type { Heap } from './heap';
import type { AddressSpace } from './memory';
import type { Bql } from './bql';

export type RunState = 'running' | 'shutdown' | 'internal-error' | 'paused' | 'io-error';

/** What a vCPU thread needs from the machine to pause (cpus.c: cpu_can_run, cpu->halt_cond). */
export interface VcpuRunControl { cpu_can_run(): boolean; readonly haltCond: WaitQueue }

const EV_RUN_EXIT = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'kvm_run_exit', ['cpu_index', 'reason']);
const EV_STOP = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'vm_stop', ['reason:str']);

/** The names of the loop's functions in the qemu of the profile. */
export interface QemuNames { handleIo: string; cpuExec: string; mmio: string; runExitTrace: boolean }
export const QEMU_NAMES_9_0: QemuNames = { handleIo: 'kvm_handle_io', cpuExec: 'kvm_cpu_exec', mmio: 'address_space_rw', runExitTrace: true };
export const QEMU_NAMES_0_14: QemuNames = { handleIo: 'kvm_handle_io', cpuExec: 'kvm_run', mmio: 'handle_mmio', runExitTrace: false };
/** The events named by an era's functions; both eras' are declared when the module loads. */
function namedEvents(names: QemuNames): { handleIo: number; dispatch: number; mmio: number } {
  return {
    handleIo: defineEvent('call', 'qemu-kvm', 'qemu-kvm', names.handleIo, ['port:hex', 'direction', 'size', 'count']),
    // Who switches on kvm_run->exit_reason: kvm_cpu_exec (QEMU), kvm_run in qemu-kvm.c (qemu-kvm 0.14).
    dispatch: defineEvent('call', 'qemu-kvm', 'qemu-kvm', names.cpuExec, ['reason']),
    mmio: defineEvent('call', 'qemu-kvm', 'qemu-kvm', names.mmio, ['addr:hex', 'len', 'is_write']),
  };
}
namedEvents(QEMU_NAMES_9_0);
namedEvents(QEMU_NAMES_0_14);
const EV_MAIN_LOOP_WAIT_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'kvm_main_loop_wait', ['thread:str']);

/**
 * The target's side of the loop (target/i386/kvm/kvm.c): work before and after KVM_RUN and the
 * exits kvm_cpu_exec does not handle itself (kvm_arch_handle_exit). `halt` = EXCP_HLT: the thread
 * waits until the vCPU has work; `stop` = the VM stops (the arch code said why).
 */
export interface KvmArchOps {
  kvm_arch_pre_run(cpu: KvmCpu): void;
  kvm_arch_post_run(cpu: KvmCpu): void;
  kvm_arch_handle_exit(cpu: KvmCpu, reason: number): 'continue' | 'halt' | 'stop';
  /** cpu_thread_is_idle: a halted vCPU (KVM_EXIT_HLT) sleeps until it has work. */
  cpu_thread_is_idle(cpu: KvmCpu): boolean;
  readonly haltCond: WaitQueue;
}

/** SIG_IPI (SIGUSR1): how qemu kicks a vCPU thread out of KVM_RUN. */
export const SIG_IPI = 10;

export class KvmCpu {
  /** cpu->exit_request: set by qemu_cpu_kick so that the thread leaves KVM_RUN and looks at cpu->stop. */
  exitRequest = false;
  /** Set by the machine: pause control (vm_stop / vm_start). */
  runControl: VcpuRunControl | undefined;
  /** Set by the machine: the target's hooks (kvm_arch_*). */
  arch: KvmArchOps | undefined;
  /** cpu->halted: the vCPU executed HLT and userspace emulates the wait (no in-kernel LAPIC). */
  halted = false;
  /** cpu->stop: the thread must not enter the guest (a reset or pause is in progress). */
  stop = false;
  /** The BQL, which the thread takes for a device access (prepare_mmio_access). */
  bql: Bql | undefined;
  /** The thread's name, as qemu names vCPU threads ("CPU 0/KVM"). */
  readonly threadName: string;
  /** cpu->work_list: run_on_cpu items the thread runs before its next KVM_RUN. */
  private readonly work: (() => void)[] = [];
  private readonly evHandleIo: number;
  private readonly evDispatch: number;
  private readonly evMmio: number;
  private readonly runExitTrace: boolean;
  constructor(readonly index: number, readonly fd: number, readonly runHva: number, private readonly host: HostKernel,
    private readonly proc: HostProcess, private readonly io: AddressSpace, private readonly memory: AddressSpace,
    private readonly t: Tracer, private readonly qemu: {
      stop(reason: RunState, why: string): void; readonly dispatchCost: () => void;
      /** What a device access left to wait for before the BQL is dropped (blk_drain), if anything. */
      readonly aioWaits?: () => Generator<Block, void, void> | undefined;
      qemu_system_reset_request(cpu: KvmCpu): boolean; kvm_flush_coalesced_mmio_buffer(): void;
    },
    names: QemuNames) {
    this.threadName = `CPU ${index}/KVM`;
    ({ handleIo: this.evHandleIo, dispatch: this.evDispatch, mmio: this.evMmio } = namedEvents(names));
    this.runExitTrace = names.runExitTrace;
  }

  /** qemu-kvm 0.14: the thread holds the global mutex whenever it is outside KVM_RUN. */
  private get holdsOutsideKvmRun(): boolean { return this.bql?.heldOutsideKvmRun ?? false; }

  /** qemu_kvm_cpu_thread_fn → kvm_cpu_exec: run until the machine stops (a thread that ends lets go of the lock). */
  *kvm_cpu_exec(): Generator<Block, void, void> {
    try {
      yield* this.run();
    } finally {
      if (this.bql?.lockedBy(this.threadName)) this.bql.unlock(this.threadName, this.index);
    }
  }

  private *run(): Generator<Block, void, void> {
    const mm = this.proc.mm;
    const run = this.runHva;
    for (;;) {
      if (this.waitsForWork()) yield* this.qemu_wait_io_event();
      // process_queued_cpu_work, then kvm_arch_pre_run (e.g. KVM_INTERRUPT with a userspace irqchip).
      while (this.work.length > 0) this.work.shift()!();
      this.arch?.kvm_arch_pre_run(this);
      // kvm_cpu_kick_self: a pending exit request makes KVM_RUN return at once (run->immediate_exit).
      if (this.exitRequest) mm.setU8(run + kvm_run.immediate_exit, 1);
      const old = this.holdsOutsideKvmRun;
      // qemu-kvm 0.14 pre_kvm_run: pthread_mutex_unlock(&qemu_mutex) before the ioctl.
      if (old && this.bql!.lockedBy(this.threadName)) this.bql!.unlock(this.threadName, this.index);
      const call = this.host.ioctl(this.proc, this.fd, KVM_RUN, 0, this.index);
      const r = typeof call === 'number' ? call : yield* call;
      // post_kvm_run: pthread_mutex_lock(&qemu_mutex) at once, then kvm_flush_coalesced_mmio_buffer.
      if (old) { this.bql!.lock(this.threadName, this.index); this.qemu.kvm_flush_coalesced_mmio_buffer(); }
      this.arch?.kvm_arch_post_run(this);
      if (r < 0) {
        if (r === -ERRNO.EINTR || r === -ERRNO.EAGAIN) {
          // kvm_eat_signals; EXCP_INTERRUPT: back to qemu_kvm_cpu_thread_fn, which waits while the VM is stopped.
          mm.setU8(run + kvm_run.immediate_exit, 0);
          this.exitRequest = false;
          continue;
        }
        this.qemu.stop('internal-error', `error: kvm run failed ${ERRNO_TEXT(r)}`);
        return;
      }
      this.qemu.dispatchCost();
      const reason = mm.u32(run + kvm_run.exit_reason);
      if (this.t.on) { if (this.runExitTrace) this.t.rec(EV_RUN_EXIT, this.index, this.index, reason); this.t.rec(this.evDispatch, this.index, reason); }
      // Called outside the BQL: kvm_cpu_exec runs without it; a device access takes it (prepare_mmio_access).
      switch (reason) {
        case KVM_EXIT.IO: {
          const port = mm.u16(run + kvm_run['io.port']), direction = mm.u8(run + kvm_run['io.direction']);
          const size = mm.u8(run + kvm_run['io.size']), count = mm.u32(run + kvm_run['io.count']);
          // kvm_handle_io: each of `count` accesses goes to the I/O address space (address_space_rw, under the BQL).
          if (this.t.on) this.t.rec(this.evHandleIo, this.index, port, direction, size, count);
          if (this.bql && !this.bql.lockedBy(this.threadName) && !this.bql.free) yield* this.bql.lock_wait(this.threadName, this.index);
          this.prepare_mmio_access();
          let data = run + mm.u64(run + kvm_run['io.data_offset']);
          for (let i = 0; i < count; i++, data += size) {
            if (direction === KVM_EXIT_IO_OUT) this.io.write(port, readN(mm, data, size), size);
            else writeN(mm, data, size, this.io.read(port, size));
            // A device that must wait (blk_drain in a reset) finishes before the next access.
            const w = this.qemu.aioWaits?.();
            if (w) yield* w;
          }
          this.release_lock();
          break;
        }
        case KVM_EXIT.MMIO: {
          const addr = mm.u64(run + kvm_run['mmio.phys_addr']);
          const len = mm.u32(run + kvm_run['mmio.len']);
          const isWrite = mm.u8(run + kvm_run['mmio.is_write']);
          const data = run + kvm_run['mmio.data'];
          if (this.t.on) this.t.rec(this.evMmio, this.index, addr, len, isWrite);
          if (this.bql && !this.bql.lockedBy(this.threadName) && !this.bql.free) yield* this.bql.lock_wait(this.threadName, this.index);
          this.prepare_mmio_access();
          if (isWrite) this.memory.write(addr, readN(mm, data, len), len);
          else writeN(mm, data, len, this.memory.read(addr, len));
          const w = this.qemu.aioWaits?.();
          if (w) yield* w;
          this.release_lock();
          break;
        }
        case KVM_EXIT.SHUTDOWN:
          // qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET), EXCP_INTERRUPT: the thread waits
          // (cpu->stop) while the main loop resets the machine — or, with -no-reboot, qemu exits.
          if (this.qemu.qemu_system_reset_request(this)) continue;
          return;
        case KVM_EXIT.INTERNAL_ERROR:
          this.qemu.stop('internal-error', `KVM internal error. Suberror: ${mm.u32(run + kvm_run['internal.suberror'])}`);
          return;
        case KVM_EXIT.FAIL_ENTRY:
          this.qemu.stop('internal-error', `KVM: entry failed, hardware error 0x${mm.u64(run + kvm_run['fail_entry.hardware_entry_failure_reason']).toString(16)}`);
          return;
        case KVM_EXIT.UNKNOWN:
          this.qemu.stop('internal-error', `KVM: unknown exit, hardware reason ${mm.u64(run + kvm_run['hw.hardware_exit_reason'])}`);
          return;
        case KVM_EXIT.IRQ_WINDOW_OPEN:
          // EXCP_INTERRUPT: kvm_arch_pre_run injects the pending interrupt on the way back in.
          break;
        default: {
          const a = this.arch?.kvm_arch_handle_exit(this, reason);
          if (a === 'continue') break;
          if (a === 'halt') { this.halted = true; break; }
          if (a === undefined) this.qemu.stop('internal-error', `KVM: unhandled exit ${kvmExitName(reason)}`);
          return;
        }
      }
    }
  }

  /**
   * run_on_cpu: queue work for this vCPU's thread and kick it (cpus_kick_thread: pthread_kill with
   * SIG_IPI), so that a thread inside KVM_RUN comes out with -EINTR and runs it.
   */
  run_on_cpu(fn: () => void): void {
    this.work.push(fn);
    this.host.tgkill(this.proc, this.index, SIG_IPI);
  }

  /** kvm_vcpu_ioctl from this vCPU's thread (KVM_NMI, KVM_INTERRUPT, ...). */
  kvm_vcpu_ioctl(req: number, arg = 0): number { return this.host.ioctlNow(this.proc, this.fd, req, arg); }

  /** The vCPU's kvm_run page as this process sees it (mmap'd at runHva). */
  get mm(): HostProcess['mm'] { return this.proc.mm; }

  /**
   * qemu_cpu_kick (kvm_cpu_kick): ask the thread to leave KVM_RUN. A thread in userspace sees it at
   * its next KVM_RUN (immediate_exit). (Simplification: the SIG_IPI that also interrupts a vCPU
   * asleep in kvm_vcpu_block is not modelled; such a vCPU stays in KVM_RUN until an interrupt wakes it.)
   */
  qemu_cpu_kick(): void {
    this.exitRequest = true;
    this.proc.mm.setU8(this.runHva + kvm_run.immediate_exit, 1);
  }

  /**
   * Whether qemu_wait_io_event has anything to do: the VM is stopped (cpu->stop, !cpu_can_run), or the
   * vCPU halted in userspace (cpu->halted: it waits while idle, and the flag is cleared).
   */
  private waitsForWork(): boolean {
    const c = this.runControl;
    return (c !== undefined && (this.stop || !c.cpu_can_run())) || this.halted;
  }

  /** qemu_wait_io_event: while the VM is stopped the thread sleeps on its halt condition. */
  private *qemu_wait_io_event(): Generator<Block, void, void> {
    const c = this.runControl;
    const a = this.arch;
    const waits = (c && (this.stop || !c.cpu_can_run())) || (a && this.halted && a.cpu_thread_is_idle(this));
    // qemu-kvm 0.14's kvm_main_loop_wait drops the mutex around its sigtimedwait. (Simplification:
    // the thread takes it back at its next post_kvm_run, not when it wakes.)
    if (waits && this.bql?.lockedBy(this.threadName)) {
      if (this.t.on) this.t.rec(EV_MAIN_LOOP_WAIT_0_14, this.index, this.t.str(this.threadName));
      this.bql.unlock(this.threadName, this.index);
    }
    while (c && (this.stop || !c.cpu_can_run())) yield c.haltCond;
    // A halted vCPU (KVM_EXIT_HLT) waits for an interrupt (cpu_thread_is_idle) on cpu->halt_cond.
    while (a && this.halted && a.cpu_thread_is_idle(this)) yield a.haltCond;
    this.halted = false;
  }

  /**
   * prepare_mmio_access (softmmu/physmem.c): a device region is accessed under the BQL; a thread
   * that does not hold it takes it, and releases it when the access is done (flatview_write/read's
   * release_lock). (Simplification: every device region of the model needs the lock.)
   */
  private prepare_mmio_access(): void {
    if (this.bql && !this.bql.lockedBy(this.threadName)) { this.bql.lock(this.threadName, this.index); this.releaseLock = true; }
  }
  private releaseLock = false;
  private release_lock(): void {
    if (this.releaseLock) { this.releaseLock = false; this.bql!.unlock(this.threadName, this.index); }
  }
}

/**
 * accel/kvm/kvm-all.c kvm_set_irq: s->irq_set_ioctl with a struct kvm_irq_level in qemu's memory —
 * KVM_IRQ_LINE_STATUS when kvm has KVM_CAP_IRQ_INJECT_STATUS (kvm_init; qemu-kvm 0.14's
 * kvm_create_irqchip chose the same way), whose status says whether the interrupt was delivered
 * (> 0), coalesced (0) or ignored (< 0); with plain KVM_IRQ_LINE qemu assumes 1.
 */
export function kvm_set_irq(host: HostKernel, proc: HostProcess, heap: Heap, vmfd: number, irqSetIoctl: number, irq: number, level: number): number {
  const a = heap.alloc(kvm_irq_level.sizeof);
  proc.mm.setU32(a + kvm_irq_level.irq, irq);
  proc.mm.setU32(a + kvm_irq_level.level, level);
  const r = host.ioctlNow(proc, vmfd, irqSetIoctl, a);
  const status = proc.mm.u32(a + kvm_irq_level.irq) | 0;
  heap.release(a);
  if (r < 0) throw new Error(`qemu: kvm_set_irq: ${r}`);
  return irqSetIoctl === KVM_IRQ_LINE ? 1 : status;
}

export function stopEvent(t: Tracer, why: string): void { if (t.on) t.rec(EV_STOP, -1, t.str(why)); }

const EV_START = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'vm_start', []);
export function startEvent(t: Tracer): void { if (t.on) t.rec(EV_START, -1); }

function readN(mm: HostProcess['mm'], a: number, n: number): number {
  return n === 1 ? mm.u8(a) : n === 2 ? mm.u16(a) : n === 4 ? mm.u32(a) : mm.u64(a);
}
function writeN(mm: HostProcess['mm'], a: number, n: number, v: number): void {
  if (n === 1) mm.setU8(a, v); else if (n === 2) mm.setU16(a, v); else if (n === 4) mm.setU32(a, v); else mm.setU64(a, v);
}
const ERRNO_TEXT = (r: number): string => `(${r})`;
