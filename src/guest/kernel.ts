// The guest kernel: boot (x2APIC, IOAPIC routing, the virtio-blk probe), the syscalls a process
// makes, the VFS → exitfs → block layer path to the driver, the interrupt entry, and the idle loop.
// Everything it does to the hardware is an instruction the VMX CPU executes.

import { defineEvent, type Tracer } from '../trace/events';
import { ERRNO } from '../uapi/errno';
import { OP, type Regs } from '../vmx/insn';
import type { GuestCode, GuestIdt } from '../vmx/cpu';
import { BLOCK_SIZE, ExitFs, type Inode } from './fs';
import { inb, rdmsr_safe, writel, writeq, wrmsr_safe, type KCode } from './io';
import { GuestRam, PageAllocator } from './memory';
import { PageCache } from './page_cache';
import { MSIX_CONFIG_VECTOR, MSIX_QUEUE_VECTOR, VirtioBlkDriver, type BlkRequest } from './virtio_blk';

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

export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_DIRECT = 0o40000;

/** Where the kernel page pool starts, and how much of it boot maps. */
export const POOL_START = 0x100000;
const POOL_PREMAPPED_PAGES = 256;

export interface GuestConfig {
  ioBase: number; diskBytes: number; ramBytes: number; msixTableBase: number | null; modernBar: number | null;
  /**
   * The end of RAM below the PCI hole (the e820 map's first RAM range; with 3.5 GiB or more the
   * rest is above 4 GiB). The kernel's page allocator works from the bottom of low RAM and stays
   * below the hole. (Simplification: it never hands out the pages above 4 GiB.)
   */
  ramBelow4g?: number;
  /** The guest kernel's version: Linux 6.1, or the seed's Fedora 15 kernel (2.6.42, i.e. Linux 3.2). */
  kernel?: '6.1' | '3.2';
}

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

interface OpenFile { ino: Inode; pos: number; flags: number }
interface Process { pid: number; fds: (OpenFile | undefined)[] }

const SYSCALL_ARGS: Record<string, string[]> = {
  openat: ['path:str', 'flags:hex'], write: ['fd', 'count'], read: ['fd', 'count'], fsync: ['fd'], close: ['fd'],
};
const sysIn = new Map<string, number>();
const sysOut = new Map<string, number>();
for (const [n, a] of Object.entries(SYSCALL_ARGS)) {
  sysIn.set(n, defineEvent('syscall', 'guest process', 'guest kernel', n, a));
  sysOut.set(n, defineEvent('syscall-return', 'guest kernel', 'guest process', n, ['result']));
}
const EV_VFS_WRITE = defineEvent('call', 'guest kernel', 'guest kernel', 'vfs_write', ['pos', 'count']);
const EV_VFS_READ = defineEvent('call', 'guest kernel', 'guest kernel', 'vfs_read', ['pos', 'count']);
const EV_SUBMIT_BIO = defineEvent('call', 'guest kernel', 'guest kernel', 'submit_bio', ['sector', 'bytes']);
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

/** The parts of [pos, pos+count) that fall in each 4 KiB file block: block index, offset in it, length. */
function* blockSpans(pos: number, count: number): Generator<{ index: number; off: number; n: number }> {
  for (let done = 0; done < count;) {
    const p = pos + done;
    const off = p % BLOCK_SIZE;
    const n = Math.min(BLOCK_SIZE - off, count - done);
    yield { index: Math.floor(p / BLOCK_SIZE), off, n };
    done += n;
  }
}

export class GuestKernel {
  readonly ram: GuestRam;
  readonly pages: PageAllocator;
  readonly fs: ExitFs;
  readonly blk: VirtioBlkDriver;
  readonly cache = new PageCache();
  private readonly proc: Process = { pid: 1, fds: [] };
  private readonly mailbox: Mail[] = [];
  private reqSlots: number[] = [];
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
    this.fs = new ExitFs(cfg.diskBytes);
    this.blk = new VirtioBlkDriver(r, this.ram, t, cfg.ioBase, (n) => this.pages.alloc(n),
      cfg.msixTableBase === null ? undefined : { tableBase: cfg.msixTableBase }, cfg.modernBar, cfg.kernel ?? '6.1');
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
    if (vector === MSIX_QUEUE_VECTOR) this.blk.vring_interrupt();
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
    // A page of virtblk_req slots: 16-byte out_hdr + status byte, 32 bytes each.
    const reqPage = this.pages.alloc(1);
    for (let i = 0; i < 4096 / 32; i++) this.reqSlots.push(reqPage + 32 * i);
    yield OP.STI;
    // smp_init: bring the application processors up.
    yield* this.smp_init();
    // The partition scan (blk_add_partitions) reads sector 0: the device has been used once by the
    // time the system is up.
    const buf = this.pages.alloc(1);
    yield* this.submit_bio_wait({ op: 'read', sector: 0, sgs: [{ gpa: buf, len: 512 }] });
    this.pages.release(buf);
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
  *syscall(name: 'openat' | 'write' | 'read' | 'fsync' | 'close', a0: number, a1 = 0, body: () => KCode<number>): KCode<number> {
    if (this.t.on) this.t.rec(sysIn.get(name)!, 0, a0, a1);
    const r = yield* body();
    if (this.t.on) this.t.rec(sysOut.get(name)!, 0, r);
    return r;
  }

  *sys_openat(path: string, flags: number): KCode<number> {
    return yield* this.syscall('openat', this.t.on ? this.t.str(path) : 0, flags, function* (this: GuestKernel) {
      if (!path.startsWith('/')) return -ERRNO.ENOENT;
      let ino = this.fs.lookup(path);
      if (!ino) { if (!(flags & O_CREAT)) return -ERRNO.ENOENT; ino = this.fs.create(path); }
      let fd = 3;
      while (this.proc.fds[fd]) fd++;
      this.proc.fds[fd] = { ino, pos: 0, flags };
      return fd;
    }.bind(this));
  }

  *sys_close(fd: number): KCode<number> {
    return yield* this.syscall('close', fd, 0, function* (this: GuestKernel) {
      if (!this.proc.fds[fd]) return -ERRNO.EBADF;
      this.proc.fds[fd] = undefined;
      return 0;
    }.bind(this));
  }

  /** write(fd, buf, count): sys_write → vfs_write → exitfs → the block layer, synchronously (O_DIRECT-like). */
  *sys_write(fd: number, buf: number, count: number): KCode<number> {
    return yield* this.syscall('write', fd, count, function* (this: GuestKernel) {
      const f = this.proc.fds[fd];
      if (!f) return -ERRNO.EBADF;
      if (this.t.on) this.t.rec(EV_VFS_WRITE, 0, f.pos, count);
      const n = f.flags & O_DIRECT ? yield* this.exitfs_rw(f, buf, count, true) : yield* this.cached_rw(f, buf, count, true);
      if (n > 0) { f.pos += n; if (f.pos > f.ino.size) f.ino.size = f.pos; }
      return n;
    }.bind(this));
  }

  *sys_read(fd: number, buf: number, count: number): KCode<number> {
    return yield* this.syscall('read', fd, count, function* (this: GuestKernel) {
      const f = this.proc.fds[fd];
      if (!f) return -ERRNO.EBADF;
      if (this.t.on) this.t.rec(EV_VFS_READ, 0, f.pos, count);
      const len = Math.max(0, Math.min(count, f.ino.size - f.pos));
      const n = f.flags & O_DIRECT ? yield* this.exitfs_rw(f, buf, len, false) : yield* this.cached_rw(f, buf, len, false);
      if (n > 0) f.pos += n;
      return n;
    }.bind(this));
  }

  /**
   * fsync → file_write_and_wait_range: write the file's dirty pages back (all queued, one kick for
   * the batch, as blk-mq's plug does), wait for them, then flush the device's volatile cache
   * (blkdev_issue_flush) when it has one (VIRTIO_BLK_F_FLUSH).
   */
  *sys_fsync(fd: number): KCode<number> {
    return yield* this.syscall('fsync', fd, 0, function* (this: GuestKernel) {
      const f = this.proc.fds[fd];
      if (!f) return -ERRNO.EBADF;
      const err = yield* this.writeback(f.ino);
      if (err < 0) return err;
      if (!(this.blk.hostFeatures & (1 << 9))) return 0;
      return yield* this.submit_bio_wait({ op: 'flush', sector: 0, sgs: [] });
    }.bind(this));
  }

  /** do_writepages for one file: every dirty page becomes a write request; one kick for them all. */
  private *writeback(ino: Inode): KCode<number> {
    const dirty = this.cache.dirty(ino);
    if (dirty.length === 0) return 0;
    const reqs: BlkRequest[] = [];
    for (const [index, page] of dirty) {
      const m = this.fs.bmap(ino, index, true);
      if (!m) return -ERRNO.ENOSPC;
      const slot = this.reqSlots.pop();
      if (slot === undefined) break;
      const req: BlkRequest = { op: 'write', sector: (m.block * BLOCK_SIZE) / 512, sgs: [{ gpa: page.gpa, len: BLOCK_SIZE }],
        hdrGpa: slot, statusGpa: slot + 16, status: -1, done: false };
      if (this.t.on) this.t.rec(EV_SUBMIT_BIO, 0, req.sector, BLOCK_SIZE);
      const q = yield* this.blk.virtio_queue_rq(req, false);
      if (q < 0) { this.reqSlots.push(slot); break; }
      page.dirty = false;
      reqs.push(req);
    }
    // virtio_commit_rqs: the batch's one kick.
    yield* this.blk.kick();
    let err = 0;
    for (const req of reqs) {
      yield* this.wait_for_completion(req);
      this.reqSlots.push(req.hdrGpa);
      if (req.status !== 0 && err === 0) err = req.status;
    }
    return err;
  }

  /**
   * Buffered read/write (no O_DIRECT): through the page cache. A write copies into cached pages
   * (reading a block in first only when it exists on disk and is written in part) and marks them
   * dirty; it does no I/O. A read is served from the cache, filling it from the disk on a miss.
   */
  private *cached_rw(f: OpenFile, buf: number, count: number, write: boolean): KCode<number> {
    let done = 0;
    for (const { index, off, n } of blockSpans(f.pos, count)) {
      let page = this.cache.find(f.ino, index);
      if (!page) {
        const gpa = this.pages.alloc(1);
        this.ram.bytes.fill(0, gpa, gpa + BLOCK_SIZE);
        const m = this.fs.bmap(f.ino, index, false);
        if (m && !(write && off === 0 && n === BLOCK_SIZE)) {
          const err = yield* this.submit_bio_wait({ op: 'read', sector: (m.block * BLOCK_SIZE) / 512, sgs: [{ gpa, len: BLOCK_SIZE }] });
          if (err < 0) { this.pages.release(gpa); return done > 0 ? done : err; }
        }
        page = this.cache.add(f.ino, index, gpa);
      }
      if (write) { this.ram.bytes.copyWithin(page.gpa + off, buf + done, buf + done + n); page.dirty = true; }
      else this.ram.bytes.copyWithin(buf + done, page.gpa + off, page.gpa + off + n);
      done += n;
    }
    return done;
  }

  /**
   * exitfs read/write: block by block. A whole, aligned block goes straight from the user's pages
   * (direct I/O); a partial block goes through a bounce page, read first unless the block is new.
   */
  private *exitfs_rw(f: OpenFile, buf: number, count: number, write: boolean): KCode<number> {
    let done = 0;
    for (const { index: bi, off, n } of blockSpans(f.pos, count)) {
      // Direct I/O and the page cache stay coherent: a cached copy is written back first, then dropped.
      const cached = this.cache.find(f.ino, bi);
      if (cached) {
        if (cached.dirty) { const e = yield* this.writeback(f.ino); if (e < 0) return done > 0 ? done : e; }
        this.pages.release(this.cache.invalidate(f.ino, bi)!.gpa);
      }
      const m = this.fs.bmap(f.ino, bi, write);
      if (!m) { if (!write) { this.ram.bytes.fill(0, buf + done, buf + done + n); done += n; continue; } return done > 0 ? done : -ERRNO.ENOSPC; }
      const sector = (m.block * BLOCK_SIZE) / 512;
      let err: number;
      if (off === 0 && n === BLOCK_SIZE) {
        err = yield* this.submit_bio_wait({ op: write ? 'write' : 'read', sector, sgs: [{ gpa: buf + done, len: n }] });
      } else {
        const bounce = this.pages.alloc(1);
        err = 0;
        if (write && m.fresh) this.ram.bytes.fill(0, bounce, bounce + BLOCK_SIZE);
        else err = yield* this.submit_bio_wait({ op: 'read', sector, sgs: [{ gpa: bounce, len: BLOCK_SIZE }] });
        if (err === 0) {
          if (write) {
            this.ram.bytes.copyWithin(bounce + off, buf + done, buf + done + n);
            err = yield* this.submit_bio_wait({ op: 'write', sector, sgs: [{ gpa: bounce, len: BLOCK_SIZE }] });
          } else this.ram.bytes.copyWithin(buf + done, bounce + off, bounce + off + n);
        }
        this.pages.release(bounce);
      }
      if (err !== 0) return done > 0 ? done : err;
      done += n;
    }
    return done;
  }

  /** submit_bio_wait: blk-mq → virtio_queue_rq, then sleep until the completion interrupt. */
  private *submit_bio_wait(bio: { op: BlkRequest['op']; sector: number; sgs: BlkRequest['sgs'] }): KCode<number> {
    const slot = this.reqSlots.pop();
    if (slot === undefined) return -ERRNO.EAGAIN;
    const req: BlkRequest = { ...bio, hdrGpa: slot, statusGpa: slot + 16, status: -1, done: false };
    if (this.t.on) this.t.rec(EV_SUBMIT_BIO, 0, bio.sector, bio.sgs.reduce((s, g) => s + g.len, 0));
    const q = yield* this.blk.virtio_queue_rq(req);
    if (q < 0) { this.reqSlots.push(slot); return q; }
    yield* this.wait_for_completion(req);
    this.reqSlots.push(slot);
    return req.status;
  }

  /**
   * wait_for_completion: the process sleeps; schedule() runs another runnable task if there is one
   * (the CPU stays in the guest), else the CPU idles until the interrupt completes the request.
   */
  *wait_for_completion(req: BlkRequest): KCode {
    const c = this.cpus[0]!;
    while (!req.done) {
      const other = c.runnable.shift();
      if (other) { if (this.t.on) this.t.rec(EV_SCHEDULE, c.id, this.t.str('another process')); yield* other(); continue; }
      yield* this.default_idle(c);
    }
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
