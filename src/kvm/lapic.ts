// arch/x86/kvm/lapic.c, reduced to what interrupt delivery needs: IRR/ISR/TMR, priority, EOI,
// x2APIC MSR access. The in-kernel local APIC of `irqchip: kernel | split`.

export const APIC_DEFAULT_PHYS_BASE = 0xfee00000;
export const MSR_IA32_APICBASE = 0x1b;
export const MSR_IA32_APICBASE_ENABLE = 1 << 11;
export const X2APIC_ENABLE = 1 << 10;
export const APIC_BASE_MSR = 0x800;
export const APIC_TASKPRI = 0x80;
export const APIC_EOI = 0xb0;
export const APIC_ICR = 0x300;

export class KvmLapic {
  readonly irr = new Uint8Array(256);
  readonly isr = new Uint8Array(256);
  readonly tmr = new Uint8Array(256);
  apicBase = (APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE) >>> 0;
  tpr = 0;
  constructor(readonly id: number) {}

  get x2apic(): boolean { return (this.apicBase & X2APIC_ENABLE) !== 0; }

  /** apic->irr_pending and apic->isr_count: how many vectors are set, so an empty register is not scanned. */
  private irrCount = 0;
  private isrCount = 0;

  private highest(bits: Uint8Array, count: number): number {
    if (count === 0) return -1;
    for (let v = 255; v >= 16; v--) if (bits[v]) return v;
    return -1;
  }

  /** __apic_accept_irq for a fixed interrupt: set IRR (and TMR for level-triggered). */
  acceptIrq(vector: number, level: boolean): void {
    if (!this.irr[vector]) { this.irr[vector] = 1; this.irrCount++; }
    this.tmr[vector] = level ? 1 : 0;
  }

  /** apic_update_ppr + apic_has_interrupt_for_ppr: the vector to deliver, or -1. */
  hasInterrupt(): number {
    const irr = this.highest(this.irr, this.irrCount);
    if (irr < 0) return -1;
    const isr = this.highest(this.isr, this.isrCount);
    const ppr = Math.max(this.tpr & 0xf0, isr < 0 ? 0 : isr & 0xf0);
    return (irr & 0xf0) > ppr ? irr : -1;
  }

  /** kvm_get_apic_interrupt: move the vector from IRR to ISR. */
  ack(vector: number): void {
    if (this.irr[vector]) { this.irr[vector] = 0; this.irrCount--; }
    if (!this.isr[vector]) { this.isr[vector] = 1; this.isrCount++; }
  }

  /** apic_set_eoi: retire the highest in-service vector; returns it and whether it was level-triggered. */
  eoi(): { vector: number; level: boolean } {
    const v = this.highest(this.isr, this.isrCount);
    if (v < 0) return { vector: -1, level: false };
    this.isr[v] = 0;
    this.isrCount--;
    return { vector: v, level: this.tmr[v] === 1 };
  }
}
