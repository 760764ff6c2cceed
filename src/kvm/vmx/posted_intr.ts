// arch/x86/kvm/vmx/posted_intr.{h,c} and the APICv paths of vmx.c (Linux 6.1): the posted-interrupt
// descriptor, delivering a fixed interrupt to a vCPU (vmx_deliver_interrupt), and syncing the PIR
// into the local APIC's IRR with RVI and the EOI-exit bitmap before VM entry (vmx_sync_pir_to_irr).

import { defineEvent } from '../../trace/events';
import { VMCS } from '../../vmx/vmcs';
import { kvm_send_ipi_to_guest_mode, kvm_vcpu_wake_up } from '../kick';
import { kvm_lapic_deliver_to_irr } from '../lapic';
import type { KvmVcpu } from '../vcpu';
import { kvm_vcpu_apicv_active } from '../x86';
import { to_vmx } from './vcpu_vmx';

/** arch/x86/include/asm/irq_vectors.h: the notification vector of posted interrupts. */
export const POSTED_INTR_VECTOR = 0xf2;

/** pi_desc: the control word's byte offset, and its ON bit. */
const PI_CONTROL = 32;
const POSTED_INTR_ON = 1;

/** pi_test_and_set_pir */
function pi_test_and_set_pir(pi: DataView, vector: number): boolean {
  const a = (vector >> 5) << 2;
  const w = pi.getUint32(a, true);
  const bit = 1 << (vector & 31);
  pi.setUint32(a, (w | bit) >>> 0, true);
  return (w & bit) !== 0;
}
/** pi_test_and_set_on */
function pi_test_and_set_on(pi: DataView): boolean {
  const c = pi.getUint8(PI_CONTROL);
  pi.setUint8(PI_CONTROL, c | POSTED_INTR_ON);
  return (c & POSTED_INTR_ON) !== 0;
}

const EV_APICV_ACCEPT = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_apicv_accept_irq', ['apicid', 'dm:hex', 'tm', 'vec:hex']);

/**
 * vmx_deliver_interrupt → vmx_deliver_posted_interrupt: with APICv the vector goes to the PIR and,
 * unless a notification is already outstanding (ON), kvm_vcpu_trigger_posted_interrupt: a vCPU in
 * guest mode gets POSTED_INTR_VECTOR at its physical CPU (no VM exit: the CPU moves PIR to its
 * virtual IRR), any other is woken (the PIR is synced to IRR before its next entry). Without
 * APICv: IRR, KVM_REQ_EVENT and kvm_vcpu_kick.
 */
export function vmx_deliver_interrupt(vcpu: KvmVcpu, vector: number, level: boolean, context: number): void {
  const apic = vcpu.apic!;
  apic.setTmr(vector, level);
  if (!kvm_vcpu_apicv_active(vcpu)) { kvm_lapic_deliver_to_irr(vcpu, vector, level); return; }
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_APICV_ACCEPT, context, vcpu.id, 0, level ? 1 : 0, vector);
  const pi = to_vmx(vcpu).pi_desc;
  if (pi_test_and_set_pir(pi, vector)) return;
  if (pi_test_and_set_on(pi)) return;
  if (!kvm_send_ipi_to_guest_mode(vcpu, POSTED_INTR_VECTOR)) kvm_vcpu_wake_up(vcpu);
}

/**
 * vmx_sync_pir_to_irr → vmx_set_rvi: a posted notification still outstanding (ON) moves the PIR
 * into IRR (kvm_apic_update_irr); RVI is the LAPIC's highest IRR vector. vcpu_load_eoi_exitmap:
 * the EOI of a vector the IOAPIC routes level-triggered (or, with a split irqchip, a level
 * MSI route) must exit (kvm_ioapic_scan_entry / kvm_scan_ioapic_routes).
 */
export function vmx_sync_pir_to_irr(vcpu: KvmVcpu): void {
  const v = vcpu.vmcs;
  const apic = vcpu.apic!;
  const pi = to_vmx(vcpu).pi_desc;
  if (pi.getUint8(PI_CONTROL) & POSTED_INTR_ON) {
    pi.setUint8(PI_CONTROL, pi.getUint8(PI_CONTROL) & ~POSTED_INTR_ON);
    for (let i = 0; i < 8; i++) {
      const w = pi.getUint32(i << 2, true);
      pi.setUint32(i << 2, 0, true);
      for (let b = w; b !== 0; b &= b - 1) {
        const vector = (i << 5) + 31 - Math.clz32(b & -b);
        apic.acceptIrq(vector, apic.isLevel(vector));
      }
    }
  }
  const irr = apic.highestIrr();
  v.write(VMCS.GUEST_INTR_STATUS, (v.read(VMCS.GUEST_INTR_STATUS) & 0xff00) | (irr < 0 ? 0 : irr));
  const bits = [0, 0, 0, 0];
  const level = (vec: number) => { bits[vec >> 6] = bits[vec >> 6]! + 2 ** (vec & 63); };
  const seen = new Set<number>();
  const mark = (vec: number) => { if (!seen.has(vec)) { seen.add(vec); level(vec); } };
  const io = vcpu.vm.ioapic;
  if (io) for (let pin = 0; pin < 24; pin++) { const lo = io.redtbl[2 * pin]!; if (lo & (1 << 15)) mark(lo & 0xff); }
  if (vcpu.vm.irqchipSplit) for (const r of vcpu.vm.gsiRoutes.values()) if (r.data & 0x8000) mark(r.data & 0xff);
  [VMCS.EOI_EXIT_BITMAP0, VMCS.EOI_EXIT_BITMAP1, VMCS.EOI_EXIT_BITMAP2, VMCS.EOI_EXIT_BITMAP3].forEach((f, i) => v.write(f, bits[i]!));
}
