// hw/intc/ioapic.c (QEMU 8.x): the IOAPIC in userspace, at 0xfec00000 in qemu's memory address space,
// for `irqchip: split` and `irqchip: userspace`. A redirection entry turns a pin into an MSI
// (ioapic_entry_parse). With a split irqchip the MSIs are kvm's GSI routes (ioapic_update_kvm_routes
// → KVM_SET_GSI_ROUTING) and a pin is raised with KVM_IRQ_LINE; with no irqchip in kvm the MSI is
// a write to the APIC's MSI window (stl_le_phys → apic_send_msi). A level-triggered pin stays in
// service (Remote IRR) until its EOI comes back (ioapic_eoi_broadcast).

import { defineEvent, type Tracer } from '../trace/events';
import type { MemoryRegion } from './memory';

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_NUM_PINS = 24;
const IOAPIC_LVT_REMOTE_IRR = 1 << 14;
const IOAPIC_LVT_TRIGGER_MODE = 1 << 15;
const IOAPIC_LVT_MASKED = 1 << 16;

const EV_SET_IRQ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'ioapic_set_irq', ['vector', 'level']);
const EV_SERVICE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'ioapic_service', ['pin', 'vector:hex']);

/** What the IOAPIC delivers to: kvm's routes and KVM_IRQ_LINE (split), or the userspace APIC. */
export interface IoapicSink {
  /** split: kvm_irqchip_update_msi_route for every unmasked pin, then kvm_irqchip_commit_routes. */
  updateRoutes?(routes: { pin: number; addressLo: number; data: number }[]): void;
  /** split: kvm_set_irq(kvm_state, pin, level). */
  kvmSetIrq?(pin: number, level: number): void;
  /** userspace: the MSI write. */
  sendMsi?(addressLo: number, data: number): void;
}

export class QemuIoapic {
  private ioregsel = 0;
  readonly ioredtbl: number[] = Array.from({ length: IOAPIC_NUM_PINS }, () => IOAPIC_LVT_MASKED);
  readonly ioredtblHi: number[] = Array.from({ length: IOAPIC_NUM_PINS }, () => 0);
  irr = 0;
  constructor(private readonly sink: IoapicSink, private readonly t: Tracer) {}

  region(): MemoryRegion {
    return { name: 'ioapic', owner: 'ioapic', base: IOAPIC_BASE, size: 0x1000, ops: { read: (a) => this.read(a), write: (a, v) => this.write(a, v) } };
  }

  /** ioapic_entry_parse: the MSI address (destination APIC ID in bits 19:12) and data (vector, level trigger in bit 15). */
  private msiOf(pin: number): { addressLo: number; data: number } {
    const lo = this.ioredtbl[pin]!;
    return { addressLo: (0xfee00000 | ((this.ioredtblHi[pin]! >>> 24) << 12)) >>> 0, data: (lo & 0xff) | (lo & IOAPIC_LVT_TRIGGER_MODE) };
  }

  private read(addr: number): number {
    if (addr === 0) return this.ioregsel;
    if (addr !== 0x10) return 0;
    const r = this.ioregsel;
    if (r === 0x01) return ((IOAPIC_NUM_PINS - 1) << 16) | 0x20; // IOAPIC_VER_DEF
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_NUM_PINS) {
      const pin = (r - 0x10) >> 1;
      return r & 1 ? this.ioredtblHi[pin]! : this.ioredtbl[pin]!;
    }
    return 0;
  }

  /** ioapic_mem_write: IOREGSEL, then IOWIN; a redirection entry change updates kvm's routes (split). */
  private write(addr: number, val: number): void {
    if (addr === 0) { this.ioregsel = val & 0xff; return; }
    if (addr !== 0x10) return;
    const r = this.ioregsel;
    if (r < 0x10 || r >= 0x10 + 2 * IOAPIC_NUM_PINS) return;
    const pin = (r - 0x10) >> 1;
    if (r & 1) this.ioredtblHi[pin] = val >>> 0;
    else this.ioredtbl[pin] = ((val & ~IOAPIC_LVT_REMOTE_IRR) | (this.ioredtbl[pin]! & IOAPIC_LVT_REMOTE_IRR)) >>> 0;
    this.updateKvmRoutes();
    this.service();
  }

  /** ioapic_update_kvm_routes */
  private updateKvmRoutes(): void {
    if (!this.sink.updateRoutes) return;
    const routes = [];
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) if (!(this.ioredtbl[pin]! & IOAPIC_LVT_MASKED)) routes.push({ pin, ...this.msiOf(pin) });
    this.sink.updateRoutes(routes);
  }

  /** ioapic_set_irq */
  setIrq(pin: number, level: number): void {
    if (this.t.on) this.t.rec(EV_SET_IRQ, -1, pin, level);
    const mask = 1 << pin;
    const lo = this.ioredtbl[pin]!;
    if (lo & IOAPIC_LVT_TRIGGER_MODE) { if (level) this.irr |= mask; else this.irr &= ~mask; }
    else if (level) this.irr |= mask;
    this.service();
  }

  /** ioapic_service: deliver every pending, unmasked pin that is not still in service. */
  private service(): void {
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const mask = 1 << pin;
      const lo = this.ioredtbl[pin]!;
      if (!(this.irr & mask) || lo & IOAPIC_LVT_MASKED) continue;
      const level = (lo & IOAPIC_LVT_TRIGGER_MODE) !== 0;
      if (level) { if (lo & IOAPIC_LVT_REMOTE_IRR) continue; this.ioredtbl[pin] = (lo | IOAPIC_LVT_REMOTE_IRR) >>> 0; }
      else this.irr &= ~mask;
      if (this.t.on) this.t.rec(EV_SERVICE, -1, pin, lo & 0xff);
      if (this.sink.kvmSetIrq) {
        // kvm_irqchip_is_split: the pin's GSI, through the MSI route kvm holds for it.
        this.sink.kvmSetIrq(pin, 1);
        if (!level) this.sink.kvmSetIrq(pin, 0);
      } else {
        const m = this.msiOf(pin);
        this.sink.sendMsi?.(m.addressLo, m.data);
      }
    }
  }

  /** ioapic_eoi_broadcast: the EOI of a level-triggered vector clears Remote IRR; a line still high is delivered again. */
  eoiBroadcast(vector: number): void {
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const lo = this.ioredtbl[pin]!;
      if ((lo & 0xff) !== vector || !(lo & IOAPIC_LVT_REMOTE_IRR)) continue;
      this.ioredtbl[pin] = (lo & ~IOAPIC_LVT_REMOTE_IRR) >>> 0;
    }
    this.service();
  }
}
