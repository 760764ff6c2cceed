// VT-x's APIC virtualization and posted interrupts (SDM Vol. 3C ch. 29), as the CPU does them in
// VMX non-root mode: accesses to the APIC-access page that are virtualized against the
// virtual-APIC page or exit (APIC_ACCESS), virtualized writes and their trap-like exits (TPR below
// threshold, APIC write, EOI induced), virtual-interrupt delivery through RVI/SVI, and the
// posted-interrupt notification moving the PIR into the virtual IRR without an exit.

import { defineEvent } from '../trace/events';
import { EXIT_REASON } from '../uapi/vmx';
import type { VmxCpu } from './cpu';
import {
  CPU_BASED_TPR_SHADOW, SECONDARY_EXEC_APIC_REGISTER_VIRT, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY,
  SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES, VMCS, X86_EFLAGS_IF,
} from './vmcs';

// xAPIC register offsets the APIC-access page virtualizes (SDM 29.4).
export const APIC_TASKPRI = 0x80;
const APIC_EOI = 0xb0;
/** Offsets whose reads APIC-register virtualization serves from the virtual-APIC page (SDM 29.4.2). */
const APIC_VIRT_READABLE = new Set([0x20, 0x30, 0x80, 0xb0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330,
  0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0, ...Array.from({ length: 24 }, (_, i) => 0x100 + 0x10 * i)]);
/** Offsets whose writes are virtualized and then trapped with an APIC-write exit (SDM 29.4.3.1). */
const APIC_VIRT_WRITE_TRAPPED = new Set([0x20, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350,
  0x360, 0x370, 0x380, 0x3e0]);
/** x2APIC MSRs "virtualize x2APIC mode" serves from the virtual-APIC page (SDM 29.5). */
export const X2APIC_MSR_TPR = 0x808;
export const X2APIC_MSR_EOI = 0x80b;
export const X2APIC_MSR_SELF_IPI = 0x83f;

/** A virtual interrupt delivered to the guest (an injected one is recorded the same way). */
export const EV_IRQ = defineEvent('irq', 'VMX CPU', 'guest kernel', 'interrupt', ['vector:hex']);
/** The posted-interrupt notification (SDM 29.6): taken in non-root mode without a VM exit. */
const EV_POSTED = defineEvent('irq', 'host kernel', 'VMX CPU', 'posted-interrupt notification', ['vector:hex', 'pir:hex']);

/** SDM 29.4.2: with a TPR shadow, a read of TPR (and with APIC-register virtualization, most registers) is virtualized. */
export function apicReadVirtualized(lp: VmxCpu, offset: number, sec: number): boolean {
  if (!lp.virtualApic) return false;
  if (sec & SECONDARY_EXEC_APIC_REGISTER_VIRT) return APIC_VIRT_READABLE.has(offset);
  return offset === APIC_TASKPRI && (lp.vmcs!.read(VMCS.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED_TPR_SHADOW) !== 0;
}

/** SDM 29.4.3: TPR writes with a TPR shadow; EOI with virtual-interrupt delivery; the rest with APIC-register virtualization. */
export function apicWriteVirtualized(lp: VmxCpu, offset: number, sec: number): boolean {
  if (!lp.virtualApic) return false;
  if (offset === APIC_TASKPRI) return (lp.vmcs!.read(VMCS.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED_TPR_SHADOW) !== 0;
  if (offset === APIC_EOI) return (sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) !== 0;
  return (sec & SECONDARY_EXEC_APIC_REGISTER_VIRT) !== 0 && APIC_VIRT_WRITE_TRAPPED.has(offset);
}

/** The virtual-APIC page when a GPA hits the APIC-access page (a virtualized access), else undefined. */
export function apicPage(lp: VmxCpu, gpa: number, sec: number): DataView | undefined {
  if (!(sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES)) return undefined;
  return Math.floor(gpa / 4096) === Math.floor(lp.vmcs!.read(VMCS.APIC_ACCESS_ADDR) / 4096) ? lp.virtualApic : undefined;
}

/**
 * A virtualized write to the virtual-APIC page (SDM 29.4.3.2, 29.1): TPR virtualization (with a
 * TPR threshold check unless virtual-interrupt delivery is on), EOI virtualization (an EOI-induced
 * exit for a vector in the EOI-exit bitmap), or APIC-write emulation (a trap-like APIC_WRITE exit).
 */
export function apicWrite(lp: VmxCpu, apic: DataView, offset: number, val: number, cpu: number, sec: number): number {
  const v = lp.vmcs!;
  if (offset === APIC_TASKPRI) {
    apic.setUint32(APIC_TASKPRI, val & 0xff, true);
    if (!(sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) && cpu & CPU_BASED_TPR_SHADOW
      && ((val & 0xff) >> 4) < (v.read(VMCS.TPR_THRESHOLD) & 0xf)) return EXIT_REASON.TPR_BELOW_THRESHOLD;
    return -1;
  }
  if (offset === APIC_EOI && sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) {
    // EOI virtualization: retire SVI from the virtual ISR; an EOI-exit-bitmap vector exits.
    const status = v.read(VMCS.GUEST_INTR_STATUS);
    const vector = (status >> 8) & 0xff;
    apic.setUint32(0x100 + ((vector >> 5) << 4), apic.getUint32(0x100 + ((vector >> 5) << 4), true) & ~(1 << (vector & 31)), true);
    let svi = 0;
    for (let i = 255; i >= 16; i--) if (apic.getUint32(0x100 + ((i >> 5) << 4), true) & (1 << (i & 31))) { svi = i; break; }
    v.write(VMCS.GUEST_INTR_STATUS, (status & 0xff) | (svi << 8));
    const bitmap = v.read(VMCS.EOI_EXIT_BITMAP0 + 2 * (vector >> 6));
    if (Math.floor(bitmap / 2 ** (vector & 63)) % 2 === 1) { lp.qualification = vector; return EXIT_REASON.EOI_INDUCED; }
    return -1;
  }
  apic.setUint32(offset, val, true);
  lp.qualification = offset;
  return EXIT_REASON.APIC_WRITE;
}

/**
 * Posted-interrupt processing (SDM 29.6): the notification vector arrived in VMX non-root mode
 * with "process posted interrupts" set. The CPU clears ON, moves the PIR into the virtual IRR of
 * the virtual-APIC page, raises RVI to the highest of them, and evaluates pending virtual
 * interrupts — no VM exit. (The physical local APIC's EOI for the notification is not modelled.)
 */
export function processPostedInterrupts(lp: VmxCpu): void {
  const pi = lp.piDesc!;
  const apic = lp.virtualApic;
  const v = lp.vmcs!;
  pi.setUint8(32, pi.getUint8(32) & ~1);
  let highest = 0;
  for (let i = 0; i < 8; i++) {
    const w = pi.getUint32(i << 2, true);
    if (w === 0) continue;
    pi.setUint32(i << 2, 0, true);
    if (apic) apic.setUint32(0x200 + (i << 4), (apic.getUint32(0x200 + (i << 4), true) | w) >>> 0, true);
    highest = (i << 5) + 31 - Math.clz32(w);
  }
  if (lp.t.on) lp.t.rec(EV_POSTED, lp.id, v.read(VMCS.POSTED_INTR_NV), highest);
  const status = v.read(VMCS.GUEST_INTR_STATUS);
  if (highest > (status & 0xff)) v.write(VMCS.GUEST_INTR_STATUS, (status & 0xff00) | highest);
}

/**
 * Virtual-interrupt delivery (SDM 29.2): RVI is recognized when its priority class is above
 * VPPR's, and delivered at an instruction boundary where interrupts are enabled: VISR and SVI take
 * the vector, VIRR and RVI drop it, and the guest's handler runs — with no VM exit.
 */
export function virtualInterruptDelivery(lp: VmxCpu): void {
  const v = lp.vmcs!;
  const apic = lp.virtualApic;
  const { sec } = lp.controls();
  if (!apic || !(sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) || !(lp.regs.rflags & X86_EFLAGS_IF) || lp.stiShadow) return;
  const status = v.read(VMCS.GUEST_INTR_STATUS);
  const rvi = status & 0xff;
  const svi = (status >> 8) & 0xff;
  const vtpr = apic.getUint8(APIC_TASKPRI);
  const vppr = (vtpr & 0xf0) >= (svi & 0xf0) ? vtpr : svi & 0xf0;
  if (rvi === 0 || (rvi & 0xf0) <= (vppr & 0xf0)) return;
  const setBit = (base: number, vec: number, on: boolean) => {
    const a = base + ((vec >> 5) << 4);
    const w = apic.getUint32(a, true);
    apic.setUint32(a, (on ? w | (1 << (vec & 31)) : w & ~(1 << (vec & 31))) >>> 0, true);
  };
  setBit(0x100, rvi, true);
  setBit(0x200, rvi, false);
  let nextRvi = 0;
  for (let i = 7; i >= 0 && nextRvi === 0; i--) { const w = apic.getUint32(0x200 + (i << 4), true); if (w) nextRvi = (i << 5) + 31 - Math.clz32(w); }
  v.write(VMCS.GUEST_INTR_STATUS, nextRvi | (rvi << 8));
  lp.clock.spend(lp.profile.cost.irqInjection);
  if (lp.t.on) lp.t.rec(EV_IRQ, lp.id, rvi);
  lp.pushHandler(rvi, false);
}
