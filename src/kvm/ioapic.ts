// arch/x86/kvm/ioapic.c: the in-kernel IOAPIC, an MMIO device at 0xfec00000 on KVM_MMIO_BUS.
// IOREGSEL at +0x00, IOWIN at +0x10; redirection entries 0x10 + 2*pin (low) / +1 (high).

import { defineEvent, NULL_TRACER, type Tracer } from '../trace/events';
import type { KvmIoDevice } from './io_bus';

// trace_kvm_ioapic_set_irq(entry.bits, irq, ret == 0): the 64-bit entry as its low dword and its
// destination byte (bits 63:56, the only high bits the tracepoint prints).
const EV_IOAPIC_SET_IRQ = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_ioapic_set_irq', ['pin', 'entry:hex', 'dest:hex', 'coalesced']);

export const IOAPIC_DEFAULT_BASE_ADDRESS = 0xfec00000;
export const IOAPIC_MEM_LENGTH = 0x100;
export const IOAPIC_NUM_PINS = 24;
const IOREGSEL = 0x00;
const IOWIN = 0x10;
const IOAPIC_REG_VERSION = 0x01;
const IOAPIC_LEVEL_TRIG = 1 << 15;
const IOAPIC_REMOTE_IRR = 1 << 14;
const IOAPIC_MASKED = 1 << 16;

/** What ioapic_service hands to kvm_irq_delivery_to_apic: the entry's vector, trigger, delivery mode and destination. */
/** kvm_irq_delivery_to_apic: how many local APICs took it (-1: none matched). */
export interface IoapicDelivery { deliver(e: { vector: number; level: boolean; deliveryMode: number; destMode: number; destId: number }): number }

export class KvmIoapic implements KvmIoDevice {
  readonly name = 'ioapic';
  private ioregsel = 0;
  /** Redirection table, low and high dwords; masked at reset. */
  readonly redtbl = new Uint32Array(IOAPIC_NUM_PINS * 2);
  /** Pin levels (the irr of a level-triggered pin stays set while the line is asserted). */
  irr = 0;
  constructor(private readonly lapic: IoapicDelivery, readonly base = IOAPIC_DEFAULT_BASE_ADDRESS, private readonly t: Tracer = NULL_TRACER) {
    for (let p = 0; p < IOAPIC_NUM_PINS; p++) this.redtbl[2 * p] = IOAPIC_MASKED;
  }

  /** ioapic_mmio_write */
  write(addr: number, _len: number, val: number): number {
    const off = addr - this.base;
    if (off === IOREGSEL) { this.ioregsel = val & 0xff; return 0; }
    if (off === IOWIN) {
      const r = this.ioregsel;
      if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_NUM_PINS) {
        const i = r - 0x10;
        this.redtbl[i] = (i & 1) === 0 ? ((val & ~IOAPIC_REMOTE_IRR) | (this.redtbl[i]! & IOAPIC_REMOTE_IRR)) >>> 0 : val >>> 0;
        const pin = i >> 1;
        if ((this.irr >> pin) & 1) this.service(pin);
      }
      return 0;
    }
    return 0;
  }

  /** ioapic_mmio_read */
  read(addr: number): number | undefined {
    const off = addr - this.base;
    if (off === IOREGSEL) return this.ioregsel;
    if (off !== IOWIN) return 0;
    const r = this.ioregsel;
    if (r === IOAPIC_REG_VERSION) return ((IOAPIC_NUM_PINS - 1) << 16) | 0x11;
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_NUM_PINS) return this.redtbl[r - 0x10];
    return 0;
  }

  /**
   * kvm_ioapic_set_irq → ioapic_set_irq. Returns what kvm_set_irq adds up: 1 for a lowered line, 0
   * when the interrupt is coalesced (an edge already latched, or a level one awaiting its EOI:
   * Remote IRR), else what ioapic_service returns — -1 when masked, or the number of local APICs
   * that took it. The tracepoint fires on the way out with the entry as it was on the way in,
   * `coalesced` when ret is 0.
   */
  setIrq(pin: number, level: number): number {
    const bit = 1 << pin;
    const lo = this.redtbl[2 * pin]!;
    let ret: number;
    if (!level) { this.irr &= ~bit; ret = 1; }
    else if (lo & IOAPIC_LEVEL_TRIG) { this.irr |= bit; ret = lo & IOAPIC_REMOTE_IRR ? 0 : this.service(pin); }
    else if (this.irr & bit) ret = 0;
    else { this.irr |= bit; ret = this.service(pin); }
    if (this.t.on) this.t.rec(EV_IOAPIC_SET_IRQ, -1, pin, lo, this.redtbl[2 * pin + 1]! >>> 24, ret === 0 ? 1 : 0);
    return ret;
  }

  /**
   * ioapic_service: -1 while masked or while a level-triggered one is still in service (Remote
   * IRR); else the delivery's count (kvm_irq_delivery_to_apic), and a level one sets Remote IRR.
   */
  private service(pin: number): number {
    const lo = this.redtbl[2 * pin]!;
    const level = (lo & IOAPIC_LEVEL_TRIG) !== 0;
    if (lo & IOAPIC_MASKED || (level && lo & IOAPIC_REMOTE_IRR)) return -1;
    if (!level) this.irr &= ~(1 << pin);
    // The entry's destination field is bits 63:56 (the high dword's top byte), its mode bit 11.
    const ret = this.lapic.deliver({ vector: lo & 0xff, level, deliveryMode: lo & 0x700, destMode: lo & 0x800, destId: this.redtbl[2 * pin + 1]! >>> 24 });
    if (ret > 0 && level) this.redtbl[2 * pin] = (this.redtbl[2 * pin]! | IOAPIC_REMOTE_IRR) >>> 0;
    return ret;
  }

  /** kvm_ioapic_update_eoi: clear Remote IRR for pins on this vector; re-deliver a line still asserted. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
      const lo = this.redtbl[2 * pin]!;
      if ((lo & 0xff) !== vector || !(lo & IOAPIC_LEVEL_TRIG)) continue;
      this.redtbl[2 * pin] = (lo & ~IOAPIC_REMOTE_IRR) >>> 0;
      if ((this.irr >> pin) & 1) this.service(pin);
    }
  }
}
