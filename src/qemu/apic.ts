// hw/intc/apic.c (QEMU 8.x), reduced: the local APIC in userspace for `irqchip: userspace`. kvm has
// no LAPIC then; the guest's xAPIC page at 0xfee00000 is an MMIO region of qemu's (every access a
// KVM_EXIT_MMIO), the IOAPIC's MSIs land in it, and an accepted interrupt raises
// CPU_INTERRUPT_HARD on the vCPU, which kvm_arch_pre_run turns into KVM_INTERRUPT.
//
// Simplified: fixed delivery to this APIC only (one vCPU), no timer; an IPI can only be a self-IPI.

import { defineEvent, type Tracer } from '../trace/events';
import type { MemoryRegion } from './memory';

export const APIC_DEFAULT_ADDRESS = 0xfee00000;

const EV_SET_IRQ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'apic_set_irq', ['vector:hex', 'trigger_mode']);
const EV_EOI = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'apic_eoi', ['vector:hex']);
const EV_MEM_WRITE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'apic_mem_write', ['addr:hex', 'val:hex']);
/** qemu-kvm 0.14's hw/apic.c: a write handler per size, the 32-bit one apic_mem_writel. */
const EV_MEM_WRITEL_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'apic_mem_writel', ['addr:hex', 'val:hex']);

export class QemuApic {
  private readonly irr = new Uint8Array(256);
  private readonly isr = new Uint8Array(256);
  private readonly tmr = new Uint8Array(256);
  tpr = 0;
  apicbase = (APIC_DEFAULT_ADDRESS | 0x900) >>> 0;
  private spurious = 0xff;
  /** cpu_interrupt(cs, CPU_INTERRUPT_HARD) / cpu_reset_interrupt. */
  private readonly evMemWrite: number;
  constructor(private readonly t: Tracer, private readonly cpuInterrupt: (pending: boolean) => void,
    private readonly eoiBroadcast: (vector: number) => void, era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1') {
    this.evMemWrite = era === 'qemu-kvm-2013' ? EV_MEM_WRITEL_0_14 : EV_MEM_WRITE;
  }

  private highest(bits: Uint8Array): number { for (let v = 255; v >= 16; v--) if (bits[v]) return v; return -1; }

  /** apic_irq_pending: the highest IRR vector above the processor priority, or -1. */
  private pending(): number {
    const irr = this.highest(this.irr);
    if (irr < 0) return -1;
    const isr = this.highest(this.isr);
    const ppr = Math.max(this.tpr & 0xf0, isr < 0 ? 0 : isr & 0xf0);
    return (irr & 0xf0) > ppr ? irr : -1;
  }

  /** apic_update_irq */
  private update(): void { this.cpuInterrupt(this.pending() >= 0); }

  /** apic_set_irq: accept a fixed interrupt. */
  setIrq(vector: number, level: boolean): void {
    if (this.t.on) this.t.rec(EV_SET_IRQ, -1, vector, level ? 1 : 0);
    this.irr[vector] = 1;
    this.tmr[vector] = level ? 1 : 0;
    this.update();
  }

  /** apic_get_interrupt (cpu_get_pic_interrupt): move the vector to service; the vector KVM_INTERRUPT injects. */
  getInterrupt(): number {
    const v = this.pending();
    if (v < 0) return -1;
    this.irr[v] = 0;
    this.isr[v] = 1;
    this.update();
    return v;
  }

  /** apic_eoi: a level-triggered vector is broadcast to the IOAPIC. */
  private eoi(): void {
    const v = this.highest(this.isr);
    if (v < 0) return;
    this.isr[v] = 0;
    if (this.t.on) this.t.rec(EV_EOI, -1, v);
    if (this.tmr[v]) this.eoiBroadcast(v);
    this.update();
  }

  /** The MSI window: apic_send_msi for a write into 0xfee00000-0xfeefffff. */
  sendMsi(_addressLo: number, data: number): void { this.setIrq(data & 0xff, (data & 0x8000) !== 0); }

  /** The xAPIC registers (apic_mem_read / apic_mem_write), 32-bit accesses at 16-byte steps. */
  region(): MemoryRegion {
    return {
      name: 'apic-msi', owner: 'apic', base: APIC_DEFAULT_ADDRESS, size: 0x100000,
      ops: {
        read: (a) => {
          switch (a & 0xff0) {
            case 0x20: return 0; // ID
            case 0x30: return 0x50014; // version
            case 0x80: return this.tpr;
            case 0xf0: return this.spurious;
            default: return 0;
          }
        },
        write: (a, v) => {
          if (this.t.on) this.t.rec(this.evMemWrite, -1, a, v);
          switch (a & 0xff0) {
            case 0x80: this.tpr = v & 0xff; this.update(); break;
            case 0xb0: this.eoi(); break;
            case 0xf0: this.spurious = v; break;
            // apic_deliver: a fixed IPI to ourselves (shorthand self, or destination 0: the only APIC).
            case 0x300: if (((v >> 8) & 7) === 0 && (v & 0xff) >= 16 && ((v >> 18) & 3) <= 1) this.setIrq(v & 0xff, false); break;
            default: break;
          }
        },
      },
    };
  }
}
