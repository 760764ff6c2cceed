// arch/x86/kvm/lapic.c, reduced to what interrupt delivery needs: IRR/ISR/TMR, priority, EOI,
// x2APIC MSR access, the xAPIC MMIO registers. The in-kernel local APIC of `irqchip: kernel | split`.
// Its register page (apic->regs) is also the virtual-APIC page VT-x reads TPR from (TPR shadow).

import { defineEvent } from '../trace/events';
import { kvm_inject_nmi, kvm_vcpu_kick } from './kick';
import { KVM_REQ_EVENT } from './kvm_host';
import type { KvmVcpu } from './vcpu';

export const APIC_DEFAULT_PHYS_BASE = 0xfee00000;
export const MSR_IA32_APICBASE = 0x1b;
export const MSR_IA32_APICBASE_BSP = 1 << 8;
export const MSR_IA32_APICBASE_ENABLE = 1 << 11;
export const X2APIC_ENABLE = 1 << 10;
export const APIC_BASE_MSR = 0x800;
export const APIC_ID = 0x20;
export const APIC_LVR = 0x30;
export const APIC_TASKPRI = 0x80;
export const APIC_PROCPRI = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SPIV = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_ICR = 0x300;
export const APIC_ICR2 = 0x310;
export const APIC_LVTT = 0x320;
export const APIC_TMCCT = 0x390;
export const APIC_SELF_IPI = 0x3f0;
// ICR fields (arch/x86/include/asm/apicdef.h).
export const APIC_DEST_PHYSICAL = 0x00000;
export const APIC_DEST_LOGICAL = 0x00800;
export const APIC_DEST_MASK = 0x00800;
export const APIC_MODE_MASK = 0x00700;
export const APIC_DM_FIXED = 0x00000;
export const APIC_DM_LOWEST = 0x00100;
export const APIC_DM_SMI = 0x00200;
export const APIC_DM_NMI = 0x00400;
export const APIC_DM_INIT = 0x00500;
export const APIC_DM_STARTUP = 0x00600;
export const APIC_DM_EXTINT = 0x00700;
export const APIC_ICR_BUSY = 0x01000;
export const APIC_INT_ASSERT = 0x04000;
export const APIC_INT_LEVELTRIG = 0x08000;
export const APIC_SHORT_MASK = 0xc0000;
export const APIC_DEST_NOSHORT = 0x00000;
export const APIC_DEST_SELF = 0x40000;
export const APIC_DEST_ALLINC = 0x80000;
export const APIC_DEST_ALLBUT = 0xc0000;
export const APIC_BROADCAST = 0xff;
export const X2APIC_BROADCAST = 0xffffffff;
/** apic->pending_events bits (lapic.h): an INIT, a SIPI, waiting for kvm_apic_accept_events. */
export const KVM_APIC_INIT = 0;
export const KVM_APIC_SIPI = 1;

/** Version 0x14 with six LVT entries (KVM_APIC_LVT_NUM), as kvm_apic_set_version reports. */
export const APIC_VERSION = 0x14 | ((6 - 1) << 16);

/** The local APIC modes of kvm_get_apic_mode (lapic.h). */
export const LAPIC_MODE_DISABLED = 0;
export const LAPIC_MODE_INVALID = X2APIC_ENABLE;
export const LAPIC_MODE_XAPIC = MSR_IA32_APICBASE_ENABLE;
export const LAPIC_MODE_X2APIC = MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE;
export const apicMode = (base: number): number => base & (MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE);

export class KvmLapic {
  /** kvm_lapic_reset: enabled at the default base; the BSP flag only on the boot vCPU (kvm_vcpu_is_reset_bsp: id 0). */
  apicBase: number;
  /** apic->pending_events: INIT and SIPI received, not yet accepted (KVM_APIC_INIT / KVM_APIC_SIPI bits). */
  pending_events = 0;
  /** apic->sipi_vector: the start-up IPI's vector (the AP starts at vector << 12). */
  sipi_vector = 0;
  /**
   * apic->regs: the 4 KiB register page. IRR, ISR and TMR live in it as 8 × 32-bit registers
   * (kvm_lapic_set_vector / apic_find_highest_vector), so with APICv the CPU's virtual-interrupt
   * delivery and EOI virtualization update the same bits kvm reads; it is VT-x's virtual-APIC page.
   */
  readonly regs = new DataView(new ArrayBuffer(4096));
  constructor(readonly id: number) {
    this.apicBase = (APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE | (id === 0 ? MSR_IA32_APICBASE_BSP : 0)) >>> 0;
    this.regs.setUint32(APIC_ID, id << 24, true);
    this.regs.setUint32(APIC_LVR, APIC_VERSION, true);
    this.regs.setUint32(APIC_DFR, 0xffffffff, true);
    this.regs.setUint32(APIC_SPIV, 0xff, true);
  }

  /** The task-priority register, kept in the register page where the CPU's TPR shadow reads and writes it. */
  get tpr(): number { return this.regs.getUint8(APIC_TASKPRI); }
  set tpr(v: number) { this.regs.setUint32(APIC_TASKPRI, v & 0xff, true); }

  get x2apic(): boolean { return (this.apicBase & X2APIC_ENABLE) !== 0; }

  private bit(base: number, v: number): boolean { return ((this.regs.getUint32(base + ((v >> 5) << 4), true) >>> (v & 31)) & 1) === 1; }
  private setBit(base: number, v: number, on: boolean): void {
    const a = base + ((v >> 5) << 4);
    const w = this.regs.getUint32(a, true);
    this.regs.setUint32(a, (on ? w | (1 << (v & 31)) : w & ~(1 << (v & 31))) >>> 0, true);
  }
  /** apic_find_highest_vector: -1 when the register is empty. */
  private highest(base: number): number {
    for (let i = 7; i >= 0; i--) {
      const w = this.regs.getUint32(base + (i << 4), true);
      if (w !== 0) return (i << 5) + 31 - Math.clz32(w);
    }
    return -1;
  }

  isInService(vector: number): boolean { return this.bit(APIC_ISR, vector); }

  /** kvm_lapic_reset: IRR, ISR and TMR cleared (8 × 32-bit registers each). */
  clearVectors(): void {
    for (const base of [APIC_IRR, APIC_ISR, APIC_TMR]) for (let i = 0; i < 8; i++) this.regs.setUint32(base + (i << 4), 0, true);
  }

  /** __apic_accept_irq's TMR bookkeeping: the vector's trigger mode, before it is delivered. */
  setTmr(vector: number, level: boolean): void { this.setBit(APIC_TMR, vector, level); }

  /** __apic_accept_irq for a fixed interrupt: set IRR (and TMR for level-triggered). */
  acceptIrq(vector: number, level: boolean): void {
    this.setBit(APIC_IRR, vector, true);
    this.setBit(APIC_TMR, vector, level);
  }

  /** apic_update_ppr + apic_has_interrupt_for_ppr: the vector to deliver, or -1. */
  hasInterrupt(): number {
    const irr = this.highest(APIC_IRR);
    if (irr < 0) return -1;
    return (irr & 0xf0) > (this.ppr() & 0xf0) ? irr : -1;
  }

  /** kvm_get_apic_interrupt: move the vector from IRR to ISR. */
  ack(vector: number): void {
    this.setBit(APIC_IRR, vector, false);
    this.setBit(APIC_ISR, vector, true);
  }

  /** apic_find_highest_irr, for update_cr8_intercept, the TPR threshold and RVI. */
  highestIrr(): number { return this.highest(APIC_IRR); }
  /** apic_find_highest_isr: SVI with APICv. */
  highestIsr(): number { return this.highest(APIC_ISR); }

  /** __apic_update_ppr: PPR from TPR and the highest in-service vector. */
  ppr(): number {
    const isr = this.highest(APIC_ISR);
    const tpr = this.tpr;
    const isrv = isr < 0 ? 0 : isr & 0xf0;
    return (tpr & 0xf0) >= isrv ? tpr : isrv;
  }

  /** kvm_lapic_reg_read: a register as the xAPIC page or an x2APIC MSR shows it. */
  readReg(offset: number): number {
    if (offset === APIC_PROCPRI) return this.ppr();
    if (offset === APIC_ID && this.x2apic) return this.id;
    if (offset === APIC_TMCCT) return 0;
    return this.regs.getUint32(offset & 0xff0, true);
  }

  /** Retire one in-service vector (an EOI the CPU virtualized). */
  eoiVector(vector: number): void { this.setBit(APIC_ISR, vector, false); }

  /** apic_set_eoi: retire the highest in-service vector; returns it and whether it was level-triggered. */
  eoi(): { vector: number; level: boolean } {
    const v = this.highest(APIC_ISR);
    if (v < 0) return { vector: -1, level: false };
    this.setBit(APIC_ISR, v, false);
    return { vector: v, level: this.bit(APIC_TMR, v) };
  }

  /** Whether a vector is level-triggered (TMR): its EOI goes to the IOAPIC. */
  isLevel(vector: number): boolean { return this.bit(APIC_TMR, vector); }
}

// ---------------------------------------------------------------- lapic.c: register writes, EOI, base

const EV_EOI = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_eoi', ['vector:hex']);
const EV_APIC = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_apic', ['rw', 'reg:hex', 'val:hex']);

/** apic_update_ppr / kvm_apic_update_ppr: a lower priority may let a pending interrupt through. */
export function kvm_apic_update_ppr(vcpu: KvmVcpu): void {
  const apic = vcpu.apic;
  if (apic && apic.hasInterrupt() >= 0) vcpu.arch.requests |= KVM_REQ_EVENT;
}

/** kvm_lapic_set_tpr */
export function kvm_lapic_set_tpr(vcpu: KvmVcpu, cr8: number): void {
  vcpu.apic!.tpr = (cr8 & 0x0f) << 4;
  kvm_apic_update_ppr(vcpu);
}

/** apic_set_eoi: retire the highest in-service vector; a level-triggered one goes to the IOAPIC (kvm_ioapic_send_eoi). */
export function apic_set_eoi(vcpu: KvmVcpu): number {
  const { vector, level } = vcpu.apic!.eoi();
  const t = vcpu.vm.env.t;
  if (vector >= 0 && t.on && vcpu.vm.env.era.features.eoiTrace) t.rec(EV_EOI, vcpu.id, vector);
  if (vector >= 0 && level) kvm_ioapic_send_eoi(vcpu, vector);
  vcpu.arch.requests |= KVM_REQ_EVENT;
  return vector;
}

/** kvm_ioapic_send_eoi: the in-kernel IOAPIC clears Remote IRR; with a split irqchip, userspace's IOAPIC is told. */
export function kvm_ioapic_send_eoi(vcpu: KvmVcpu, vector: number): void {
  if (vcpu.vm.ioapic) { vcpu.vm.ioapic.eoi(vector); return; }
  if (vcpu.vm.irqchipSplit) {
    // KVM_REQ_IOAPIC_EOI_EXIT: the next vcpu_enter_guest exits with KVM_EXIT_IOAPIC_EOI.
    vcpu.arch.pending_ioapic_eoi = vector;
  }
}

/** kvm_apic_set_eoi_accelerated: the EOI-induced exit of APICv (the CPU already retired the vector). */
export function kvm_apic_set_eoi_accelerated(vcpu: KvmVcpu, vector: number): void {
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_EOI, vcpu.id, vector);
  const apic = vcpu.apic!;
  if (apic.isInService(vector)) apic.eoiVector(vector);
  kvm_ioapic_send_eoi(vcpu, vector);
  vcpu.arch.requests |= KVM_REQ_EVENT;
}

/** kvm_lapic_reg_write: a write to a register, from an x2APIC MSR or the xAPIC page. */
export function kvm_lapic_reg_write(vcpu: KvmVcpu, reg: number, val: number): number {
  const apic = vcpu.apic!;
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_APIC, vcpu.id, 1, reg, val);
  switch (reg) {
    case APIC_ID: if (!apic.x2apic) apic.regs.setUint32(APIC_ID, val, true); return 0;
    case APIC_TASKPRI: kvm_lapic_set_tpr(vcpu, (val & 0xff) >> 4); apic.tpr = val & 0xff; return 0;
    case APIC_EOI: apic_set_eoi(vcpu); return 0;
    case APIC_LDR: case APIC_DFR: case APIC_SPIV: case APIC_ESR: case APIC_ICR2:
      apic.regs.setUint32(reg, val >>> 0, true); return 0;
    case APIC_ICR:
      // xAPIC: the write of the low half sends the IPI, to the destination ICR2 holds (bits 31:24).
      apic.regs.setUint32(reg, (val & ~APIC_ICR_BUSY) >>> 0, true);
      kvm_apic_send_ipi(vcpu, (val & ~APIC_ICR_BUSY) >>> 0, apic.regs.getUint32(APIC_ICR2, true));
      return 0;
    case APIC_SELF_IPI:
      // kvm_lapic_reg_write: APIC_SELF_IPI → kvm_apic_send_ipi with APIC_DEST_SELF.
      if (!apic.x2apic) return 1;
      kvm_apic_send_ipi(vcpu, APIC_DEST_SELF | (val & 0xff), 0);
      return 0;
    default:
      if (reg >= APIC_LVTT && reg <= 0x3e0) { apic.regs.setUint32(reg, val >>> 0, true); return 0; }
      return 1;
  }
}

/** kvm_apic_write_nodecode: the APIC-write exit of APICv; the CPU already put the value in the page. */
export function kvm_apic_write_nodecode(vcpu: KvmVcpu, offset: number): void {
  kvm_lapic_reg_write(vcpu, offset & 0xff0, vcpu.apic!.regs.getUint32(offset & 0xff0, true));
}

/** The xAPIC MMIO window, apic_mmio_in_range. */
export function apic_mmio_in_range(apic: KvmLapic, addr: number): boolean {
  const base = apic.apicBase - (apic.apicBase % 4096);
  return addr >= base && addr < base + 4096;
}

/**
 * apic_mmio_write: with the local APIC disabled or in x2APIC mode the page is a hole
 * (KVM_X86_QUIRK_LAPIC_MMIO_HOLE): writes are dropped. Returns 0 when the LAPIC took it.
 */
export function apic_mmio_write(vcpu: KvmVcpu, addr: number, len: number, val: number): number {
  const apic = vcpu.apic;
  if (!apic || !apic_mmio_in_range(apic, addr)) return -1;
  if (!(apic.apicBase & MSR_IA32_APICBASE_ENABLE) || apic.x2apic) return 0;
  const offset = addr % 4096;
  if (len !== 4 || offset & 0xf) return 0;
  kvm_lapic_reg_write(vcpu, offset & 0xff0, val);
  return 0;
}

/** apic_mmio_read: all ones through the hole (disabled or x2APIC mode). */
export function apic_mmio_read(vcpu: KvmVcpu, addr: number, len: number): number | undefined {
  const apic = vcpu.apic;
  if (!apic || !apic_mmio_in_range(apic, addr)) return undefined;
  if (!(apic.apicBase & MSR_IA32_APICBASE_ENABLE) || apic.x2apic) return len === 4 ? 0xffffffff : len === 2 ? 0xffff : len === 1 ? 0xff : 2 ** 53 - 1;
  const val = apic.readReg((addr % 4096) & 0xff0);
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_APIC, vcpu.id, 0, (addr % 4096) & 0xff0, val);
  return val;
}

/**
 * kvm_set_apic_base (x86.c) → kvm_lapic_set_base: reserved bits and the x2APIC transitions the
 * SDM forbids are #GP; a mode change reprograms VT-x's APIC virtualization (vmx_set_virtual_apic_mode).
 * Returns 1 for #GP.
 */
export function kvm_set_apic_base(vcpu: KvmVcpu, data: number, x2apicInCpuid: boolean): number {
  const apic = vcpu.apic;
  const oldBase = apic ? apic.apicBase : vcpu.arch.apic_base;
  const oldMode = apicMode(oldBase);
  const newMode = apicMode(data);
  const reserved = 0x2ff | (x2apicInCpuid ? 0 : X2APIC_ENABLE);
  if ((data % 4096) & reserved || newMode === LAPIC_MODE_INVALID) return 1;
  if (oldMode === LAPIC_MODE_X2APIC && newMode === LAPIC_MODE_XAPIC) return 1;
  if (oldMode === LAPIC_MODE_DISABLED && newMode === LAPIC_MODE_X2APIC) return 1;
  vcpu.arch.apic_base = data;
  if (!apic) return 0;
  apic.apicBase = data;
  // kvm_apic_set_x2apic_id: in x2APIC mode the logical ID is derived from the APIC ID (cluster, bit).
  if (newMode === LAPIC_MODE_X2APIC && oldMode !== LAPIC_MODE_X2APIC) {
    apic.regs.setUint32(APIC_LDR, (((apic.id >> 4) << 16) | (1 << (apic.id & 0xf))) >>> 0, true);
  }
  if (newMode !== oldMode) vcpu.vm.ops.set_virtual_apic_mode(vcpu);
  return 0;
}

// ---------------------------------------------------------------- lapic.c: IPIs and interrupt acceptance

const EV_APIC_IPI = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_apic_ipi', ['icr_low:hex', 'dest_id:hex']);
const EV_ACCEPT_IRQ = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_apic_accept_irq', ['apicid', 'dm:hex', 'tm', 'vec:hex']);

/** struct kvm_lapic_irq: an interrupt on its way to local APICs (an IPI, an MSI, an IOAPIC entry). */
export interface KvmLapicIrq {
  vector: number;
  delivery_mode: number;
  /** APIC_DEST_PHYSICAL or APIC_DEST_LOGICAL. */
  dest_mode: number;
  /** Assert (true) or de-assert; a level-triggered INIT de-assert is ignored. */
  level: boolean;
  /** Level-triggered (true) or edge. */
  trig_mode: boolean;
  shorthand: number;
  dest_id: number;
}

/**
 * kvm_x2apic_icr_write: in x2APIC mode the ICR is one 64-bit MSR (0x830), the destination in the
 * upper half; the write sends the IPI, then keeps the value in the register page (kvm_apic_write).
 */
export function kvm_x2apic_icr_write(vcpu: KvmVcpu, data: number): number {
  const lo = data % 2 ** 32;
  const hi = Math.floor(data / 2 ** 32) >>> 0;
  const apic = vcpu.apic!;
  const t = vcpu.vm.env.t;
  kvm_apic_send_ipi(vcpu, (lo & ~APIC_ICR_BUSY) >>> 0, hi);
  apic.regs.setUint32(APIC_ICR, (lo & ~APIC_ICR_BUSY) >>> 0, true);
  apic.regs.setUint32(APIC_ICR2, hi, true);
  if (t.on) t.rec(EV_APIC, vcpu.id, 1, APIC_ICR, data);
  return 0;
}

/** kvm_apic_send_ipi: decode the ICR into a kvm_lapic_irq and deliver it (kvm_irq_delivery_to_apic). */
export function kvm_apic_send_ipi(vcpu: KvmVcpu, icr_low: number, icr_high: number): void {
  const apic = vcpu.apic!;
  const irq: KvmLapicIrq = {
    vector: icr_low & 0xff,
    delivery_mode: icr_low & APIC_MODE_MASK,
    dest_mode: icr_low & APIC_DEST_MASK,
    level: (icr_low & APIC_INT_ASSERT) !== 0,
    trig_mode: (icr_low & APIC_INT_LEVELTRIG) !== 0,
    shorthand: icr_low & APIC_SHORT_MASK,
    // GET_XAPIC_DEST_FIELD in xAPIC mode; the whole upper half in x2APIC mode.
    dest_id: apic.x2apic ? icr_high >>> 0 : (icr_high >>> 24) & 0xff,
  };
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_APIC_IPI, vcpu.id, icr_low >>> 0, irq.dest_id);
  kvm_irq_delivery_to_apic(vcpu.vm.vcpus, vcpu, irq);
}

/**
 * kvm_apic_match_dest: the shorthand, or the destination in physical mode (the APIC ID, or the
 * broadcast ID) or logical mode (x2APIC: cluster in LDR[31:16] and a bit of LDR[15:0]; xAPIC flat
 * model: a bit of LDR[31:24]).
 */
export function kvm_apic_match_dest(target: KvmVcpu, source: KvmVcpu | null, irq: KvmLapicIrq): boolean {
  const apic = target.apic;
  if (!apic) return false;
  switch (irq.shorthand) {
    case APIC_DEST_SELF: return target === source;
    case APIC_DEST_ALLINC: return true;
    case APIC_DEST_ALLBUT: return target !== source;
    default: break;
  }
  const x2 = apic.x2apic;
  if (irq.dest_mode === APIC_DEST_PHYSICAL) {
    const id = x2 ? apic.id : (apic.regs.getUint32(APIC_ID, true) >>> 24);
    return irq.dest_id === (x2 ? X2APIC_BROADCAST : APIC_BROADCAST) || irq.dest_id === id;
  }
  const ldr = apic.regs.getUint32(APIC_LDR, true);
  if (x2) return irq.dest_id === X2APIC_BROADCAST || ((irq.dest_id >>> 16) === (ldr >>> 16) && (irq.dest_id & ldr & 0xffff) !== 0);
  return irq.dest_id === APIC_BROADCAST || ((ldr >>> 24) & irq.dest_id & 0xff) !== 0;
}

/**
 * kvm_irq_delivery_to_apic (irq_comm.c): every local APIC the interrupt is addressed to accepts it.
 * (Simplification: lowest-priority delivery goes to the first matching APIC, as kvm's
 * kvm_apic_map_get_dest_lapic picks one by the vector-hashing or round robin.)
 */
export function kvm_irq_delivery_to_apic(vcpus: readonly KvmVcpu[], source: KvmVcpu | null, irq: KvmLapicIrq): number {
  let r = -1;
  for (const v of vcpus) {
    if (!v || !kvm_apic_match_dest(v, source, irq)) continue;
    r = Math.max(r, 0) + __apic_accept_irq(v, irq, source ? source.id : -1);
    if (irq.delivery_mode === APIC_DM_LOWEST) break;
  }
  return r;
}

/**
 * __apic_accept_irq: what the target local APIC does with it (`context`: the vCPU whose thread
 * sends it, -1 for a host thread). A fixed interrupt goes to IRR
 * (through the posted-interrupt descriptor with APICv: kvm_x86_ops.deliver_interrupt); an NMI is
 * queued; INIT and SIPI become pending events that kvm_apic_accept_events takes on the target's
 * thread. SMI and ExtINT by IPI are not modelled: they are refused (0 = not delivered).
 * (Simplification: kvm drops a fixed interrupt while the target APIC is software-disabled,
 * apic_enabled(); the model's guest never writes SPIV, so every APIC counts as enabled.)
 */
export function __apic_accept_irq(vcpu: KvmVcpu, irq: KvmLapicIrq, context = -1): number {
  const apic = vcpu.apic!;
  const t = vcpu.vm.env.t;
  // The tracepoint fires in the sender's context: the sending vCPU's thread, or (-1) the host thread raising an MSI or IOAPIC line.
  if (t.on) t.rec(EV_ACCEPT_IRQ, context, apic.id, irq.delivery_mode >> 8, irq.trig_mode ? 1 : 0, irq.vector);
  switch (irq.delivery_mode) {
    case APIC_DM_LOWEST: case APIC_DM_FIXED:
      if (irq.trig_mode && !irq.level) return 0;
      vcpu.vm.ops.deliver_interrupt(vcpu, irq.vector, irq.trig_mode, context);
      return 1;
    case APIC_DM_NMI:
      kvm_inject_nmi(vcpu);
      return 1;
    case APIC_DM_INIT:
      // A level-triggered de-assert (the "INIT level de-assert" of old SMP bring-up) does nothing.
      if (irq.trig_mode && !irq.level) return 0;
      apic.pending_events = 1 << KVM_APIC_INIT;
      kvm_vcpu_kick(vcpu);
      return 1;
    case APIC_DM_STARTUP:
      apic.sipi_vector = irq.vector;
      apic.pending_events |= 1 << KVM_APIC_SIPI;
      kvm_vcpu_kick(vcpu);
      return 1;
    default:
      return 0;
  }
}

/**
 * The fixed-interrupt half of vmx_deliver_interrupt without APICv: the vector goes to IRR
 * (kvm_lapic_set_irr, TMR for level-triggered), KVM_REQ_EVENT, and a kick.
 */
export function kvm_lapic_deliver_to_irr(vcpu: KvmVcpu, vector: number, level: boolean): void {
  vcpu.apic!.acceptIrq(vector, level);
  vcpu.arch.requests |= KVM_REQ_EVENT;
  kvm_vcpu_kick(vcpu);
}

// ---------------------------------------------------------------- lapic.c: PV EOI (KVM_FEATURE_PV_EOI)

/** MSR_KVM_PV_EOI_EN (arch/x86/include/uapi/asm/kvm_para.h), KVM_MSR_ENABLED, and the area's bit. */
export const MSR_KVM_PV_EOI_EN = 0x4b564d04;
export const KVM_MSR_ENABLED = 1;
export const KVM_PV_EOI_ENABLED = 1;
/** vcpu->arch.apic_attention bit (lapic.h KVM_APIC_PV_EOI_PENDING), as a mask. */
export const KVM_APIC_PV_EOI_PENDING = 1 << 1;

const EV_PV_EOI = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_pv_eoi', ['apicid', 'vector']);

/** kvm_lapic_set_pv_eoi: the guest's area (4-byte aligned); returns 1 for #GP. */
export function kvm_lapic_set_pv_eoi(vcpu: KvmVcpu, data: number): number {
  const addr = data - (data % 2);
  if (addr % 4 !== 0) return 1;
  vcpu.arch.pv_eoi_msr_val = data;
  return 0;
}

const pvEoiGpa = (vcpu: KvmVcpu): number => vcpu.arch.pv_eoi_msr_val - (vcpu.arch.pv_eoi_msr_val % 2);

/** pv_eoi_get_user / pv_eoi_put_user: the area's first byte in guest RAM (kvm_read_guest_cached). */
function pv_eoi_byte(vcpu: KvmVcpu, set?: number): number {
  const gpa = pvEoiGpa(vcpu);
  const slot = vcpu.vm.memslotFor(gpa);
  if (!slot) return 0;
  if (set !== undefined) slot.view.setUint8(gpa - slot.gpa, set);
  return slot.view.getUint8(gpa - slot.gpa);
}

/**
 * kvm_ioapic_handles_vector: the vector's EOI must reach an IOAPIC — a level-triggered entry of the
 * in-kernel IOAPIC (kvm_ioapic_scan_entry), or a level-triggered MSI route of a userspace one
 * (kvm_scan_ioapic_routes). (Simplification: the entry's destination is not matched against the
 * vCPU; the model's device interrupts all go to vCPU 0.)
 */
export function kvm_ioapic_handles_vector(vcpu: KvmVcpu, vector: number): boolean {
  const io = vcpu.vm.ioapic;
  if (io) for (let pin = 0; pin < 24; pin++) { const lo = io.redtbl[2 * pin]!; if ((lo & 0xff) === vector && lo & (1 << 15)) return true; }
  if (vcpu.vm.irqchipSplit) for (const r of vcpu.vm.gsiRoutes.values()) if ((r.data & 0xff) === vector && r.data & 0x8000) return true;
  return false;
}

/**
 * kvm_lapic_sync_to_vapic → apic_sync_pv_eoi_to_guest (before VM entry, after event injection):
 * with PV EOI enabled, nothing else pending in IRR, one vector in service and no IOAPIC waiting for
 * its EOI, tell the guest it may skip the EOI write (pv_eoi_set_pending). With APICv the CPU
 * virtualizes the EOI and kvm keeps no ISR cache: never.
 */
export function apic_sync_pv_eoi_to_guest(vcpu: KvmVcpu): void {
  const apic = vcpu.apic!;
  if (!(vcpu.arch.pv_eoi_msr_val & KVM_MSR_ENABLED) || vcpu.vm.apicvInhibitReasons === 0) return;
  const isr = apic.highestIsr();
  if (apic.highestIrr() >= 0 || isr < 0 || kvm_ioapic_handles_vector(vcpu, isr)) return;
  pv_eoi_byte(vcpu, KVM_PV_EOI_ENABLED);
  vcpu.arch.apic_attention |= KVM_APIC_PV_EOI_PENDING;
}

/**
 * kvm_lapic_sync_from_vapic → apic_sync_pv_eoi_from_guest (after a VM exit): if the guest cleared
 * the bit it did the EOI without an exit — kvm retires the vector now (apic_set_eoi, kvm_pv_eoi);
 * if not, kvm takes the offer back (pv_eoi_test_and_clr_pending) until the next injection.
 */
export function kvm_lapic_sync_from_vapic(vcpu: KvmVcpu): void {
  if (!(vcpu.arch.apic_attention & KVM_APIC_PV_EOI_PENDING)) return;
  vcpu.arch.apic_attention &= ~KVM_APIC_PV_EOI_PENDING;
  const pending = pv_eoi_byte(vcpu) & KVM_PV_EOI_ENABLED;
  if (pending) { pv_eoi_byte(vcpu, 0); return; }
  const vector = apic_set_eoi(vcpu);
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_PV_EOI, vcpu.id, vcpu.apic!.id, vector);
}
