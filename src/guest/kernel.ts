// The guest kernel: boot (x2APIC, IOAPIC routing, the virtio-blk probe, mounting the ext2 root),
// the syscalls a process makes, the VFS → ext2 → page and buffer cache → blk-mq path to the
// driver, the interrupt entry, and the idle loop. Everything it does to the hardware is an
// instruction the VMX CPU executes.

import { defineEvent, type Tracer } from '../trace/events';
import { ERRNO } from '../uapi/errno';
import { OP, type Regs } from '../vmx/insn';
import type { GuestCode, GuestIdt } from '../vmx/cpu';
import { newBio, type BlockLayer } from './block';
import { BlkMq } from './blk_mq';
import { RequestQueue } from './blk_core';
import { inb, rdmsr_safe, writel, writeq, wrmsr_safe, type KCode } from './io';
import { GuestRam, PageAllocator } from './memory';
import { MSIX_CONFIG_VECTOR, MSIX_QUEUE_VECTOR, VirtioBlkDriver, type BlkRequest } from './virtio_blk';
import { Vfs, type OpenFile } from './vfs';

/** The NMI vector, and the port the kernel reads an NMI's reason from (NMI_REASON_PORT). */
export const NMI_VECTOR = 2;
export const NMI_REASON_PORT = 0x61;
/** The guest's own RESCHEDULE_VECTOR (arch/x86/include/asm/irq_vectors.h). */
export const RESCHEDULE_VECTOR = 0xfd;
export const MSR_IA32_APICBASE = 0x1b;
export const X2APIC_ENABLE = 1 << 10;
export const APIC_BASE_ENABLE = 1 << 11;
export const MSR_X2APIC_EOI = 0x80b;
/** The xAPIC page and its EOI register (APIC_DEFAULT_PHYS_BASE, APIC_EOI). */
export const APIC_DEFAULT_BASE = 0xfee00000;
export const APIC_EOI = 0xb0;
export const IOAPIC_BASE = 0xfec00000;
/** Legacy INTx of the virtio-blk function: PCI INTA# routed to GSI 11, as on qemu's i440FX. */
export const VIRTIO_BLK_GSI = 11;
export const VIRTIO_BLK_VECTOR = 0x31;
const IOAPIC_LEVEL_TRIGGER = 1 << 15;

export { O_APPEND, O_CREAT, O_DIRECT, O_DSYNC, O_EXCL, O_RDONLY, O_RDWR, O_SYNC, O_TRUNC, O_WRONLY } from './vfs';

/** Where the kernel page pool starts, and how much of it boot maps. */
export const POOL_START = 0x100000;
const POOL_PREMAPPED_PAGES = 256;

export interface GuestConfig {
  ioBase: number; diskBytes: number; ramBytes: number; msixTableBase: number | null; modernBar: number | null;
  /** ktime_get_real_seconds: the guest's wall clock (kvmclock, read from the pvclock page without an exit). */
  now: () => number;
  /**
   * The end of RAM below the PCI hole (the e820 map's first RAM range; with 3.5 GiB or more the
   * rest is above 4 GiB). The kernel's page allocator works from the bottom of low RAM and stays
   * below the hole. (Simplification: it never hands out the pages above 4 GiB.)
   */
  ramBelow4g?: number;
  /** The guest kernel's version: Linux 6.1, or the seed's Fedora 15 kernel (2.6.42, i.e. Linux 3.2). */
  kernel?: '6.1' | '3.2';
}

/** The process the harness drives: its pid (ext2's block allocator colours a file's first block by it). */
export const PROCESS_PID = 1;

/** arch/x86/include/uapi/asm/kvm_para.h: the paravirtual CPUID leaves and the PV EOI MSR (Linux 3.6+). */
const KVM_CPUID_SIGNATURE = 0x40000000;
const KVM_CPUID_FEATURES = 0x40000001;
const KVM_FEATURE_PV_EOI = 6;
const MSR_KVM_PV_EOI_EN = 0x4b564d04;
const KVM_MSR_ENABLED = 1;
const KVM_PV_EOI_BIT = 0;
/**
 * Kernel data the hardware must find in guest RAM. The model keeps the kernel image out of guest
 * RAM, so the page after the SIPI trampoline stands for it: the CPUs' kvm_apic_eoi words (one
 * unsigned long each; per-CPU data, whose guest-physical address the PV EOI MSR names) at its
 * start, the GDT and IDT descriptor pointers lgdt and lidt read at +0x800.
 */
const KERNEL_DATA = 0x9b000;
const PV_EOI_AREA = KERNEL_DATA;
const GDT_DESCR = KERNEL_DATA + 0x800;
const IDT_DESCR = KERNEL_DATA + 0x810;
/** The CPU entry area's GDT and IDT (arch/x86/include/asm/cpu_entry_area.h), as a running kernel has them. */
const CPU_ENTRY_AREA = -0x20000000000;

/** What an action returns to the harness: a syscall's value or errno. */
export interface ActionResult { value: number; errno: number | null; data?: Uint8Array; fault?: number }
/** What the harness asks the guest to do, run by the kernel on one CPU (`c`: its registers and id). */
export type Action = (k: GuestKernel, c: PerCpu) => KCode<ActionResult>;

/** Where the real-mode trampoline sits (a page below 1 MiB): the SIPI vector is its page number. */
export const TRAMPOLINE_START = 0x9a000;
/** CALL_FUNCTION_SINGLE_VECTOR (irq_vectors.h): the other IPI Linux sends (smp_call_function_single). */
export const CALL_FUNCTION_SINGLE_VECTOR = 0xfb;
// ICR bits (apicdef.h) the kernel uses.
const APIC_DM_INIT = 0x500;
const APIC_DM_STARTUP = 0x600;
const APIC_INT_ASSERT = 0x4000;
const APIC_INT_LEVELTRIG = 0x8000;
const MSR_X2APIC_ICR = 0x830;
const APIC_ICR = 0x300;
const APIC_ICR2 = 0x310;

interface Mail { action: Action; cpu: number; dispatched?: boolean; result?: ActionResult }

/**
 * One CPU of the guest (the per-CPU area): its registers as its VMX CPU holds them, its IDT, the
 * tasks the scheduler has queued on it, and whether it is online. The IDT is the same for every
 * CPU; the handlers run with the CPU's own registers.
 */
export class PerCpu implements GuestIdt {
  /** Actions queued on this CPU's run queue by another CPU (wake_up_process → ttwu_queue). */
  readonly runqueue: Mail[] = [];
  /** Other runnable tasks: what the scheduler runs here while the harness's process sleeps. */
  readonly runnable: (() => KCode)[] = [];
  /** set_cpu_online: the CPU has come up (cpu_online_mask). */
  online = false;
  /** Whether this CPU's local APIC runs in x2APIC mode (x2apic_mode; each CPU switches its own). */
  x2apic = false;
  constructor(readonly id: number, readonly r: Regs, private readonly k: GuestKernel) {}
  handler(vector: number): GuestCode | undefined { return this.k.idtEntry(this, vector); }
  /** The code at a start-up address: the trampoline an application processor runs after its SIPI. */
  startup(rip: number): GuestCode | undefined { return rip === TRAMPOLINE_START && this.id > 0 ? this.k.start_secondary(this) : undefined; }
}

interface Process { pid: number; fds: (OpenFile | undefined)[] }

const SYSCALL_ARGS: Record<string, string[]> = {
  openat: ['path:str', 'flags:hex'], write: ['fd', 'count'], read: ['fd', 'count'], fsync: ['fd'], close: ['fd'],
  fdatasync: ['fd'], lseek: ['fd', 'offset'], unlink: ['path:str'], mkdir: ['path:str'], rename: ['oldpath:str', 'newpath:str'],
  sync: [], umount2: ['target:str'],
};
export type SyscallName = 'openat' | 'write' | 'read' | 'fsync' | 'close' | 'fdatasync' | 'lseek' | 'unlink' | 'mkdir' | 'rename' | 'sync' | 'umount2';
const sysIn = new Map<string, number>();
const sysOut = new Map<string, number>();
for (const [n, a] of Object.entries(SYSCALL_ARGS)) {
  sysIn.set(n, defineEvent('syscall', 'guest process', 'guest kernel', n, a));
  sysOut.set(n, defineEvent('syscall-return', 'guest kernel', 'guest process', n, ['result']));
}
const EV_VFS_WRITE = defineEvent('call', 'guest kernel', 'guest kernel', 'vfs_write', ['pos', 'count']);
const EV_VFS_READ = defineEvent('call', 'guest kernel', 'guest kernel', 'vfs_read', ['pos', 'count']);
// A kernel worker running a work item of a workqueue (worker_thread → process_one_work): here kblockd's.
const EV_PROCESS_ONE_WORK = defineEvent('call', 'guest kernel', 'guest kernel', 'process_one_work', ['workqueue:str']);
// The C entry of an NMI and of a device interrupt: exc_nmi and common_interrupt (6.1's idtentry
// functions), do_nmi and do_IRQ in 3.2 (behind the entry_64.S stubs).
const EV_NMI_ENTRY = defineEvent('call', 'guest kernel', 'guest kernel', 'exc_nmi', []);
const EV_NMI_ENTRY_3_2 = defineEvent('call', 'guest kernel', 'guest kernel', 'do_nmi', []);
const EV_IRQ_ENTRY_3_2 = defineEvent('call', 'guest kernel', 'guest kernel', 'do_IRQ', ['vector:hex']);
const EV_UNKNOWN_NMI = defineEvent('call', 'guest kernel', 'guest kernel', 'unknown_nmi_error', []);
const EV_IRQ_ENTRY = defineEvent('call', 'guest kernel', 'guest kernel', 'common_interrupt', ['vector:hex']);
const EV_IDLE = defineEvent('call', 'guest kernel', 'guest kernel', 'default_idle', []);
const EV_IPI_ENTRY = new Map([[RESCHEDULE_VECTOR, defineEvent('call', 'guest kernel', 'guest kernel', 'sysvec_reschedule_ipi', ['vector:hex'])],
  [CALL_FUNCTION_SINGLE_VECTOR, defineEvent('call', 'guest kernel', 'guest kernel', 'sysvec_call_function_single', ['vector:hex'])]]);
const EV_NO_HANDLER = defineEvent('call', 'guest kernel', 'guest kernel', 'no_irq_handler', ['vector:hex']);
const EV_SEND_IPI = defineEvent('call', 'guest kernel', 'guest kernel', 'smp_send_reschedule', ['cpu']);
const EV_WAKEUP_SECONDARY = defineEvent('call', 'guest kernel', 'guest kernel', 'wakeup_secondary_cpu_via_init', ['cpu', 'start_eip:hex']);
const EV_SCHEDULE = defineEvent('call', 'guest kernel', 'guest kernel', 'schedule', ['next:str']);
const EV_START_SECONDARY = defineEvent('call', 'guest kernel', 'guest kernel', 'start_secondary', []);

export class GuestKernel {
  readonly ram: GuestRam;
  readonly pages: PageAllocator;
  readonly blk: VirtioBlkDriver;
  /** The block layer over the virtio-blk queue: blk-mq (6.1), or the request queue and its request function (3.2). */
  readonly mq: BlockLayer;
  /** The VFS and the mounted ext2. */
  readonly vfs: Vfs;
  private readonly proc: Process = { pid: PROCESS_PID, fds: [] };
  private readonly mailbox: Mail[] = [];
  /** The CPUs, one per vCPU; CPU 0 boots the system and runs the process the harness drives. */
  readonly cpus: PerCpu[];
  /** CPU 0's registers: the boot CPU runs the process, its syscalls and the block layer. */
  readonly r: Regs;
  /**
   * The per-CPU kvm_apic_eoi words (PV EOI), one page of them, when kvm_guest_init found
   * KVM_FEATURE_PV_EOI: the local APIC's EOI write is then kvm_guest_apic_eoi_write.
   */
  private pvEoiArea = 0;

  private readonly evIrqEntry: number;
  private readonly evNmiEntry: number;

  constructor(regs: readonly Regs[], ramBytes: Uint8Array, private readonly t: Tracer, readonly cfg: GuestConfig) {
    this.evIrqEntry = cfg.kernel === '3.2' ? EV_IRQ_ENTRY_3_2 : EV_IRQ_ENTRY;
    this.evNmiEntry = cfg.kernel === '3.2' ? EV_NMI_ENTRY_3_2 : EV_NMI_ENTRY;
    this.cpus = regs.map((r, i) => new PerCpu(i, r, this));
    const r = this.r = regs[0]!;
    this.ram = new GuestRam(ramBytes);
    this.pages = new PageAllocator(POOL_START, cfg.ramBelow4g ?? cfg.ramBytes);
    this.blk = new VirtioBlkDriver(r, this.ram, t, cfg.ioBase, (n) => this.pages.alloc(n),
      cfg.msixTableBase === null ? undefined : { tableBase: cfg.msixTableBase }, cfg.modernBar, cfg.kernel ?? '6.1');
    const wait = (cond: () => boolean) => this.wait_event(cond);
    this.mq = cfg.kernel === '3.2' ? new RequestQueue(t, this.blk, wait) : new BlkMq(t, this.blk, wait);
    this.vfs = new Vfs(t, this.ram, this.pages, this.mq, cfg.now, () => this.proc.pid, () => (this.blk.hostFeatures & (1 << 9)) !== 0);
  }

  /**
   * The IDT: the virtio-blk INTx vector or its MSI-X vectors, the IPIs, NMIs. The device's
   * interrupts are routed to CPU 0 (the IOAPIC entry and the MSI address name APIC ID 0); one that
   * reaches another CPU finds no handler there (its vector_irq has none).
   */
  idtEntry(c: PerCpu, vector: number): GuestCode | undefined {
    const device = vector === VIRTIO_BLK_VECTOR || vector === MSIX_QUEUE_VECTOR || vector === MSIX_CONFIG_VECTOR;
    if (device && c.id !== 0) return this.no_irq_handler(c, vector);
    if (vector === VIRTIO_BLK_VECTOR) return this.common_interrupt(c, vector);
    if (vector === MSIX_QUEUE_VECTOR || vector === MSIX_CONFIG_VECTOR) return this.msi_interrupt(c, vector);
    if (vector === NMI_VECTOR) return this.exc_nmi(c);
    if (vector === RESCHEDULE_VECTOR || vector === CALL_FUNCTION_SINGLE_VECTOR) return this.sysvec_reschedule_ipi(c, vector);
    return undefined;
  }

  /**
   * ack_APIC_irq → apic_eoi: in x2APIC mode a write to the EOI MSR; in xAPIC mode (the CPUID had no
   * x2APIC: qemu's userspace APIC) a write to the EOI register of the APIC page (native_apic_mem_write).
   * With PV EOI the write is kvm_guest_apic_eoi_write (arch/x86/kernel/kvm.c): if kvm set this CPU's
   * kvm_apic_eoi bit, clearing it is the EOI (__test_and_clear_bit, a plain memory access: no exit).
   */
  private *ack_APIC_irq(c: PerCpu): GuestCode {
    if (this.pvEoiArea !== 0) {
      const a = this.pvEoiArea + 8 * c.id;
      const v = this.ram.u8(a);
      if (v & (1 << KVM_PV_EOI_BIT)) { this.ram.setU8(a, v & ~(1 << KVM_PV_EOI_BIT)); return; }
    }
    if (c.x2apic) yield* wrmsr_safe(c.r, MSR_X2APIC_EOI, 0);
    else yield* writel(c.r, 0, APIC_DEFAULT_BASE + APIC_EOI);
  }

  /**
   * kvm_guest_init (arch/x86/kernel/kvm.c, Linux 6.1), reduced to PV EOI: kvm_para_available (the
   * "KVMKVMKVM" signature at CPUID 0x40000000), then KVM_FEATURE_PV_EOI at 0x40000001 — the per-CPU
   * kvm_apic_eoi words, and apic_set_eoi_write(kvm_guest_apic_eoi_write). The Linux 3.2 guest of
   * the seed's era predates PV EOI. (Simplification: kvmclock, async page faults, steal time and
   * PV spinlocks, which the same function sets up, are not modelled.)
   */
  private *kvm_guest_init(c: PerCpu): KCode {
    if (this.cfg.kernel === '3.2') return;
    const r = c.r;
    r.rax = KVM_CPUID_SIGNATURE; r.rcx = 0;
    yield OP.CPUID;
    if (r.rbx >>> 0 !== 0x4b4d564b || r.rcx >>> 0 !== 0x564b4d56 || r.rdx >>> 0 !== 0x4d) return;
    r.rax = KVM_CPUID_FEATURES; r.rcx = 0;
    yield OP.CPUID;
    if (!((r.rax >>> KVM_FEATURE_PV_EOI) & 1)) return;
    this.pvEoiArea = PV_EOI_AREA;
    this.ram.bytes.fill(0, PV_EOI_AREA, PV_EOI_AREA + 8 * this.cpus.length);
  }

  /** kvm_guest_cpu_init (each CPU, as it comes up): MSR_KVM_PV_EOI_EN with its kvm_apic_eoi word | KVM_MSR_ENABLED. */
  private *kvm_guest_cpu_init(c: PerCpu): KCode {
    if (this.pvEoiArea === 0) return;
    yield* wrmsr_safe(c.r, MSR_KVM_PV_EOI_EN, (this.pvEoiArea + 8 * c.id) | KVM_MSR_ENABLED);
  }

  /**
   * sysvec_reschedule_ipi (scheduler_ipi) / sysvec_call_function_single: another CPU (or this one,
   * with a self-IPI) woke a task here or asks for a reschedule; EOI. The idle loop then finds the task.
   */
  private *sysvec_reschedule_ipi(c: PerCpu, vector: number): GuestCode {
    if (this.t.on) this.t.rec(EV_IPI_ENTRY.get(vector)!, c.id, vector);
    yield* this.ack_APIC_irq(c);
  }

  /** __common_interrupt with no handler for the vector on this CPU: "No irq handler for vector", EOI. */
  private *no_irq_handler(c: PerCpu, vector: number): GuestCode {
    if (this.t.on) { this.t.rec(this.evIrqEntry, c.id, vector); this.t.rec(EV_NO_HANDLER, c.id, vector); }
    yield* this.ack_APIC_irq(c);
  }

  /**
   * exc_nmi → default_do_nmi: no NMI handler claims it, so the kernel reads the NMI reason from
   * the system control port (x86_platform.get_nmi_reason: inb 0x61) and reports it
   * (unknown_nmi_error: "Uhhuh. NMI received for unknown reason ..."). The IRET ends NMI blocking.
   */
  private *exc_nmi(c: PerCpu): GuestCode {
    if (this.t.on) this.t.rec(this.evNmiEntry, c.id);
    yield* inb(c.r, NMI_REASON_PORT);
    if (this.t.on) this.t.rec(EV_UNKNOWN_NMI, c.id);
  }

  /** An MSI-X vector: vring_interrupt for the queue (a config change needs no work here), then EOI. */
  private *msi_interrupt(c: PerCpu, vector: number): GuestCode {
    if (this.t.on) this.t.rec(this.evIrqEntry, c.id, vector);
    if (vector === MSIX_QUEUE_VECTOR) yield* this.blk.vring_interrupt();
    yield* this.ack_APIC_irq(c);
  }

  /** common_interrupt → handle_irq → vp_interrupt, then the local APIC EOI (an x2APIC MSR write). */
  private *common_interrupt(c: PerCpu, vector: number): GuestCode {
    if (this.t.on) this.t.rec(this.evIrqEntry, c.id, vector);
    yield* this.blk.vp_interrupt();
    yield* this.ack_APIC_irq(c);
  }

  /**
   * x2apic_enable (check_x2apic): switch this CPU's local APIC to x2APIC mode when the CPUID offers
   * it. Every CPU does it for itself.
   */
  private *x2apic_setup(c: PerCpu): KCode {
    const r = c.r;
    r.rax = 1; r.rcx = 0;
    yield OP.CPUID;
    if ((r.rcx >>> 21) & 1) {
      const base = yield* rdmsr_safe(r, MSR_IA32_APICBASE);
      yield* wrmsr_safe(r, MSR_IA32_APICBASE, ((base === -1 ? 0xfee00000 : base) | APIC_BASE_ENABLE | X2APIC_ENABLE) >>> 0);
      c.x2apic = true;
    }
  }

  /**
   * apic_icr_write: an IPI to one CPU (physical destination = its APIC ID = its number). x2APIC:
   * one WRMSR of the 64-bit ICR (native_x2apic_icr_write); xAPIC: the destination to ICR2, then
   * the write of ICR's low half that sends it (native_apic_icr_write).
   */
  private *apic_icr_write(from: PerCpu, low: number, dest: number): KCode {
    const r = from.r;
    if (from.x2apic) { yield* wrmsr_safe(r, MSR_X2APIC_ICR, dest * 2 ** 32 + low); return; }
    yield* writel(r, (dest << 24) >>> 0, APIC_DEFAULT_BASE + APIC_ICR2);
    yield* writel(r, low, APIC_DEFAULT_BASE + APIC_ICR);
  }

  /** native_smp_send_reschedule: RESCHEDULE_VECTOR to another CPU, fixed, physical destination. */
  *smp_send_reschedule(from: PerCpu, cpu: number): KCode {
    if (this.t.on) this.t.rec(EV_SEND_IPI, from.id, cpu);
    yield* this.apic_icr_write(from, RESCHEDULE_VECTOR, cpu);
  }

  /**
   * smp_init → bringup_cpu → do_boot_cpu → wakeup_secondary_cpu_via_init: INIT (level, assert),
   * INIT de-assert, then STARTUP twice with the trampoline's page as the vector; then the boot CPU
   * sleeps until the AP says it is up (cpuhp: the AP's complete() wakes it with a reschedule IPI).
   * (Simplification: the udelay()s between the IPIs are not modelled.)
   */
  private *smp_init(): KCode {
    const bsp = this.cpus[0]!;
    for (const ap of this.cpus.slice(1)) {
      if (this.t.on) this.t.rec(EV_WAKEUP_SECONDARY, 0, ap.id, TRAMPOLINE_START);
      yield* this.apic_icr_write(bsp, APIC_INT_LEVELTRIG | APIC_INT_ASSERT | APIC_DM_INIT, ap.id);
      yield* this.apic_icr_write(bsp, APIC_INT_LEVELTRIG | APIC_DM_INIT, ap.id);
      for (let j = 1; j <= 2; j++) yield* this.apic_icr_write(bsp, APIC_DM_STARTUP | (TRAMPOLINE_START >> 12), ap.id);
      while (!ap.online) yield* this.default_idle(bsp);
    }
  }

  /**
   * start_secondary: an application processor's life after the trampoline — its local APIC in
   * x2APIC mode, online (and the boot CPU told: complete() → its idle CPU gets a reschedule IPI),
   * interrupts on, then the idle loop (cpu_startup_entry → do_idle), which runs what the scheduler
   * queues here. (Simplification: the trampoline's climb from real mode to long mode — CR0, CR4,
   * EFER, the far jump — is not modelled: the AP's code runs in the kernel's mode from the SIPI page.)
   */
  *start_secondary(c: PerCpu): GuestCode {
    if (this.t.on) this.t.rec(EV_START_SECONDARY, c.id);
    yield* this.x2apic_setup(c);
    yield* this.kvm_guest_cpu_init(c);
    c.online = true;
    yield* this.smp_send_reschedule(c, 0);
    yield OP.STI;
    for (;;) {
      const m = c.runqueue.shift();
      if (!m) { yield* this.default_idle(c); continue; }
      m.result = yield* m.action(this, c);
    }
  }

  /** start_kernel, reduced: what a running guest has done by the time the talk begins. */
  *start_kernel(): GuestCode {
    const r = this.r;
    // The boot CPU's descriptor tables (load_direct_gdt, idt_setup_early_handler → load_idt).
    yield* this.load_descriptor_tables(this.cpus[0]!);
    // check_x2apic / x2apic_enable: switch the local APIC to x2APIC mode if the CPUID offers it.
    yield* this.x2apic_setup(this.cpus[0]!);
    yield* this.kvm_guest_init(this.cpus[0]!);
    yield* this.kvm_guest_cpu_init(this.cpus[0]!);
    this.cpus[0]!.online = true;
    // Touch the kernel's page pool once so its EPT entries exist (the kernel zeroes memory at boot).
    for (let p = 0; p < POOL_PREMAPPED_PAGES; p++) yield* writeq(r, 0, POOL_START + p * 4096);
    // IOAPIC: route GSI 11 (level-triggered, active high) to our vector, unmasked.
    yield* writel(r, 0x10 + 2 * VIRTIO_BLK_GSI + 1, IOAPIC_BASE);
    yield* writel(r, 0, IOAPIC_BASE + 0x10);
    yield* writel(r, 0x10 + 2 * VIRTIO_BLK_GSI, IOAPIC_BASE);
    yield* writel(r, VIRTIO_BLK_VECTOR | IOAPIC_LEVEL_TRIGGER, IOAPIC_BASE + 0x10);
    yield* this.blk.probe();
    // The queue's requests and their virtblk_req pdus (16-byte out_hdr + status byte, 32 bytes each):
    // blk_mq_alloc_tag_set's tags (6.1), the request pool of blk_init_queue (3.2).
    this.mq.init(() => this.pages.alloc(1));
    yield OP.STI;
    // smp_init: bring the application processors up.
    yield* this.smp_init();
    // The partition scan (blk_add_partitions) reads sector 0: the device has been used once by the
    // time the system is up.
    const buf = this.pages.alloc(1);
    const scan = newBio('read', 0);
    scan.sgs.push({ gpa: buf, len: 512 });
    yield* this.mq.submit_bio_wait(scan);
    this.pages.release(buf);
    // mount_root: the disk's ext2 becomes /. A disk that holds none leaves the system without a
    // root file system; the process's file syscalls then fail (vfs.mountError says why).
    yield* this.vfs.mount();
    // The running system: take the harness's actions one by one; stop the world between them. An
    // action for another CPU is queued on that CPU's run queue, and the idle CPU is woken with a
    // reschedule IPI (wake_up_process → ttwu_queue → smp_send_reschedule).
    const bsp = this.cpus[0]!;
    for (;;) {
      const m = this.mailbox.find((x) => x.result === undefined && !x.dispatched);
      if (!m) { yield OP.BREAK; continue; }
      if (m.cpu !== 0) {
        m.dispatched = true;
        this.cpus[m.cpu]!.runqueue.push(m);
        yield* this.smp_send_reschedule(bsp, m.cpu);
        continue;
      }
      m.result = yield* m.action(this, bsp);
    }
  }

  /**
   * lgdt and lidt of the kernel's GDT (16 descriptors) and IDT (256 gates) in the CPU entry area:
   * plain instructions, which no control kvm sets makes exit. After a reset they replace whatever
   * the dying guest had loaded.
   */
  private *load_descriptor_tables(c: PerCpu): KCode {
    const v = this.ram.view;
    v.setUint16(GDT_DESCR, 16 * 8 - 1, true);
    v.setBigUint64(GDT_DESCR + 2, BigInt.asUintN(64, BigInt(CPU_ENTRY_AREA + 0x1000)), true);
    v.setUint16(IDT_DESCR, 256 * 16 - 1, true);
    v.setBigUint64(IDT_DESCR + 2, BigInt.asUintN(64, BigInt(CPU_ENTRY_AREA)), true);
    c.r.rdi = GDT_DESCR;
    yield OP.LGDT;
    c.r.rdi = IDT_DESCR;
    yield OP.LIDT;
  }

  /** Queue an action for a CPU (CPU 0 by default); the harness runs the machine until it completes. */
  post(action: Action, cpu = 0): { result?: ActionResult } {
    const c = this.cpus[cpu];
    if (!c) throw new RangeError(`there is no vCPU ${cpu} (the VM has ${this.cpus.length})`);
    if (!c.online) throw new RangeError(`vCPU ${cpu} is not online`);
    const m: Mail = { action, cpu };
    this.mailbox.push(m);
    return m;
  }

  // ------------------------------------------------------------ syscalls

  /** The syscall instruction and its return: the crossing guest process ↔ guest kernel. */
  *syscall(name: SyscallName, a0: number, a1 = 0, body: () => KCode<number>): KCode<number> {
    if (this.t.on) this.t.rec(sysIn.get(name)!, 0, a0, a1);
    const r = yield* body();
    if (this.t.on) this.t.rec(sysOut.get(name)!, 0, r);
    return r;
  }

  private str(s: string): number { return this.t.on ? this.t.str(s) : 0; }
  private get mounted(): boolean { return this.vfs.fs !== undefined; }
  private file(fd: number): OpenFile | undefined { return this.proc.fds[fd]; }
  /** The inode number behind a process's file descriptor (what fstat's st_ino says), or -1. */
  inodeOf(fd: number): number { return this.proc.fds[fd]?.inode.ino ?? -1; }

  *sys_openat(path: string, flags: number, mode = 0o644): KCode<number> {
    return yield* this.syscall('openat', this.str(path), flags, function* (this: GuestKernel) {
      if (!this.mounted) return -ERRNO.ENOENT;
      const f = yield* this.vfs.open(path, flags, mode);
      if (typeof f === 'number') return f;
      let fd = 3;
      while (this.proc.fds[fd]) fd++;
      this.proc.fds[fd] = f;
      return fd;
    }.bind(this));
  }

  *sys_close(fd: number): KCode<number> {
    return yield* this.syscall('close', fd, 0, function* (this: GuestKernel) {
      const f = this.file(fd);
      if (!f) return -ERRNO.EBADF;
      this.proc.fds[fd] = undefined;
      yield* this.vfs.close(f);
      return 0;
    }.bind(this));
  }

  /** write(fd, buf, count): ksys_write → vfs_write → ext2_file_write_iter. */
  *sys_write(fd: number, buf: number, count: number): KCode<number> {
    return yield* this.syscall('write', fd, count, function* (this: GuestKernel) {
      const f = this.file(fd);
      if (!f) return -ERRNO.EBADF;
      if (this.t.on) this.t.rec(EV_VFS_WRITE, 0, f.pos, count);
      return yield* this.vfs.write(f, buf, count);
    }.bind(this));
  }

  *sys_read(fd: number, buf: number, count: number): KCode<number> {
    return yield* this.syscall('read', fd, count, function* (this: GuestKernel) {
      const f = this.file(fd);
      if (!f) return -ERRNO.EBADF;
      if (this.t.on) this.t.rec(EV_VFS_READ, 0, f.pos, count);
      return yield* this.vfs.read(f, buf, count);
    }.bind(this));
  }

  /** lseek(fd, offset, SEEK_SET | SEEK_CUR | SEEK_END) (generic_file_llseek). */
  *sys_lseek(fd: number, offset: number, whence: 0 | 1 | 2): KCode<number> {
    return yield* this.syscall('lseek', fd, offset, function* (this: GuestKernel) {
      const f = this.file(fd);
      if (!f) return -ERRNO.EBADF;
      const base = whence === 0 ? 0 : whence === 1 ? f.pos : f.inode.size;
      if (base + offset < 0) return -ERRNO.EINVAL;
      f.pos = base + offset;
      return f.pos;
    }.bind(this));
  }

  /** fsync(fd) and fdatasync(fd): vfs_fsync → ext2_fsync; the device's cache is flushed (blkdev_issue_flush) when it has one. */
  *sys_fsync(fd: number, datasync = false): KCode<number> {
    return yield* this.syscall(datasync ? 'fdatasync' : 'fsync', fd, 0, function* (this: GuestKernel) {
      const f = this.file(fd);
      if (!f) return -ERRNO.EBADF;
      return yield* this.vfs.fsync(f, datasync);
    }.bind(this));
  }

  *sys_unlink(path: string): KCode<number> {
    return yield* this.syscall('unlink', this.str(path), 0, function* (this: GuestKernel) {
      return this.mounted ? yield* this.vfs.unlink(path) : -ERRNO.ENOENT;
    }.bind(this));
  }

  *sys_mkdir(path: string, mode = 0o755): KCode<number> {
    return yield* this.syscall('mkdir', this.str(path), 0, function* (this: GuestKernel) {
      return this.mounted ? yield* this.vfs.mkdir(path, mode) : -ERRNO.ENOENT;
    }.bind(this));
  }

  *sys_rename(from: string, to: string): KCode<number> {
    return yield* this.syscall('rename', this.str(from), this.str(to), function* (this: GuestKernel) {
      return this.mounted ? yield* this.vfs.rename(from, to) : -ERRNO.ENOENT;
    }.bind(this));
  }

  /** sync(2): every dirty inode and buffer written back (ext2 sends no cache flush). Returns 0. */
  *sys_sync(): KCode<number> {
    return yield* this.syscall('sync', 0, 0, function* (this: GuestKernel) {
      if (this.mounted) yield* this.vfs.sync();
      return 0;
    }.bind(this));
  }

  /** umount2("/", 0): sync_filesystem and ext2_put_super — the superblock marked clean again. */
  *sys_umount(): KCode<number> {
    return yield* this.syscall('umount2', this.str('/'), 0, function* (this: GuestKernel) {
      if (!this.mounted) return -ERRNO.EINVAL;
      for (const f of this.proc.fds) if (f) return -ERRNO.EBUSY;
      return yield* this.vfs.umount();
    }.bind(this));
  }

  /** echo 3 > /proc/sys/vm/drop_caches */
  drop_caches(): void { if (this.mounted) this.vfs.dropCaches(); }

  /** The guest kernel's own wait: sleep until `cond` holds, running kblockd's work and other tasks meanwhile. */
  *wait_event(cond: () => boolean): KCode {
    const c = this.cpus[0]!;
    while (!cond()) {
      if (this.mq.runPending) {
        // kblockd runs on this CPU (the queue restarted from the completion interrupt, or a plug
        // flushed as the task went to sleep).
        if (this.t.on) this.t.rec(EV_PROCESS_ONE_WORK, c.id, this.t.str('kblockd'));
        yield* this.mq.run_work();
        continue;
      }
      const other = c.runnable.shift();
      if (other) { if (this.t.on) this.t.rec(EV_SCHEDULE, c.id, this.t.str('another process')); yield* other(); continue; }
      yield* this.default_idle(c);
    }
  }

  /**
   * wait_for_completion: the process sleeps; schedule() runs another runnable task if there is one
   * (the CPU stays in the guest), else the CPU idles until the interrupt completes the request.
   */
  *wait_for_completion(req: BlkRequest): KCode {
    yield* this.wait_event(() => req.done);
  }

  /** A task that computes for `cycles` without an instruction that exits (its loop runs natively). */
  computeTask(cycles: number): () => KCode {
    const r = this.r;
    return function* () { r.rcx = cycles; yield OP.WORK; };
  }

  /** default_idle: `sti; hlt` — an interrupt ends the halt. */
  private *default_idle(c: PerCpu): KCode {
    if (this.t.on) this.t.rec(EV_IDLE, c.id);
    yield OP.CLI;
    yield OP.STI;
    yield OP.HLT;
  }

  /** Process memory for a buffer of `bytes` (contiguous pages of guest RAM). */
  userBuffer(bytes: number): number { return this.pages.alloc(Math.max(1, Math.ceil(bytes / 4096))); }
  freeUserBuffer(gpa: number, bytes: number): void {
    for (let p = 0; p < Math.max(1, Math.ceil(bytes / 4096)); p++) this.pages.release(gpa + p * 4096);
  }
}
