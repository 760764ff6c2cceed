// arch/x86/kvm/i8259.c (Linux 6.1): the in-kernel 8259A pair of `irqchip: kernel`, created by
// KVM_CREATE_IRQCHIP. kvm_pic_init registers three devices on KVM_PIO_BUS: the master at
// 0x20-0x21, the slave at 0xa0-0xa1, and the edge/level control registers (ELCR) at 0x4d0-0x4d1.
// A guest access to any of them is handled in kvm; it never reaches userspace.
//
// Simplified: the PIC's output (kvm_cpu_has_extint) reaches the vCPU only through a LAPIC whose
// LVT0 is in ExtINT mode, which this guest never sets up (it uses the IOAPIC): the output is
// computed but not wired to interrupt injection. Special mask mode and rotation are not modelled.

import { defineEvent, type Tracer } from '../trace/events';
import type { KvmIoDevice } from './io_bus';

export const PIC_MASTER_BASE = 0x20;
export const PIC_SLAVE_BASE = 0xa0;
export const PIC_ELCR_BASE = 0x4d0;

// trace_kvm_pic_set_irq(irq >> 3, irq & 7, elcr, imr, ret == 0): recorded with the irq (chip and pin).
const EV_PIC_SET_IRQ = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_pic_set_irq', ['irq', 'elcr:hex', 'imr:hex', 'coalesced']);
const EV_PIC_IO = defineEvent('call', 'kvm', 'kvm', 'picdev_write', ['addr:hex', 'val:hex']);
const EV_ELCR = defineEvent('call', 'kvm', 'kvm', 'elcr_ioport_write', ['addr:hex', 'val:hex']);

/** struct kvm_kpic_state: one 8259A. */
export class KvmKpicState {
  lastIrr = 0;
  irr = 0;
  imr = 0;
  isr = 0;
  priorityAdd = 0;
  irqBase = 0;
  readRegSelect = 0;
  poll = 0;
  specialMask = 0;
  initState = 0;
  autoEoi = 0;
  rotateOnAutoEoi = 0;
  specialFullyNestedMode = 0;
  init4 = 0;
  elcr = 0;
  constructor(readonly elcrMask: number) {}

  /** pic_reset */
  reset(): void {
    this.lastIrr = 0; this.irr &= this.elcr; this.imr = 0; this.priorityAdd = 0; this.specialMask = 0;
    this.readRegSelect = 0; this.poll = 0; this.initState = 0; this.autoEoi = 0; this.rotateOnAutoEoi = 0;
    this.specialFullyNestedMode = 0; this.init4 = 0; this.isr = 0;
  }

  /**
   * pic_set_irq1: edge (ELCR bit clear) latches a rising edge; level follows the line. Returns 1,
   * 0 when an edge or level was already latched in IRR (coalesced), -1 while IMR masks the line.
   */
  setIrq1(irq: number, level: number): number {
    const mask = 1 << irq;
    let ret = 1;
    if (this.elcr & mask) {
      if (level) { ret = this.irr & mask ? 0 : 1; this.irr |= mask; this.lastIrr |= mask; } else { this.irr &= ~mask; this.lastIrr &= ~mask; }
    } else if (level) {
      if (!(this.lastIrr & mask)) { ret = this.irr & mask ? 0 : 1; this.irr |= mask; }
      this.lastIrr |= mask;
    } else this.lastIrr &= ~mask;
    return this.imr & mask ? -1 : ret;
  }

  /** get_priority / pic_get_irq: the highest-priority pending, unmasked, not-in-service line, or -1. */
  getIrq(): number {
    const pending = this.irr & ~this.imr;
    const pri = (mask: number): number => {
      if (mask === 0) return 8;
      let p = 0;
      while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
      return p;
    };
    const p = pri(pending);
    if (p === 8) return -1;
    const cur = pri(this.isr);
    return p < cur ? (p + this.priorityAdd) & 7 : -1;
  }

  /** pic_ioport_write: ICW1 (bit 4) starts initialization; OCW3 (bit 3); OCW2 (EOIs); then ICW2-4 or the IMR. */
  write(addr: number, val: number): void {
    val &= 0xff;
    if ((addr & 1) === 0) {
      if (val & 0x10) {
        this.init4 = val & 1;
        this.lastIrr = 0;
        this.irr &= this.elcr;
        this.imr = 0; this.priorityAdd = 0; this.specialMask = 0; this.readRegSelect = 0; this.isr = 0;
        this.initState = 1;
      } else if (val & 0x08) {
        if (val & 0x04) this.poll = 1;
        if (val & 0x02) this.readRegSelect = val & 1;
        if (val & 0x40) this.specialMask = (val >> 5) & 1;
      } else {
        const cmd = val >> 5;
        if (cmd === 1 || cmd === 5) {
          // non-specific EOI (and rotate): retire the highest-priority in-service line
          for (let p = 0; p < 8; p++) {
            const irq = (p + this.priorityAdd) & 7;
            if (this.isr & (1 << irq)) { this.isr &= ~(1 << irq); if (cmd === 5) this.priorityAdd = (irq + 1) & 7; break; }
          }
        } else if (cmd === 3 || cmd === 7) {
          const irq = val & 7;
          this.isr &= ~(1 << irq);
          if (cmd === 7) this.priorityAdd = (irq + 1) & 7;
        } else if (cmd === 6) this.priorityAdd = (val + 1) & 7;
      }
      return;
    }
    switch (this.initState) {
      case 0: this.imr = val; break;
      case 1: this.irqBase = val & 0xf8; this.initState = 2; break;
      case 2: this.initState = this.init4 ? 3 : 0; break;
      case 3: this.specialFullyNestedMode = (val >> 4) & 1; this.autoEoi = (val >> 1) & 1; this.initState = 0; break;
      default: break;
    }
  }

  /** pic_ioport_read: poll, IRR/ISR (OCW3's selection) or the IMR. */
  read(addr: number): number {
    if (this.poll) { this.poll = 0; const irq = this.getIrq(); return irq >= 0 ? 0x80 | irq : 0; }
    if ((addr & 1) === 0) return this.readRegSelect ? this.isr : this.irr;
    return this.imr;
  }
}

/** struct kvm_pic: master and slave, cascaded on the master's line 2. */
export class KvmPic {
  readonly pics = [new KvmKpicState(0xf8), new KvmKpicState(0xde)];
  /** The INTR output to the vCPU (pic_update_irq → pic_irq_request), not wired to injection here. */
  output = false;
  readonly devices: { addr: number; len: number; dev: KvmIoDevice }[];

  constructor(private readonly t: Tracer) {
    const chip = (i: number, base: number): KvmIoDevice => ({
      name: i === 0 ? 'pic-master' : 'pic-slave',
      write: (addr, len, val) => {
        if (len !== 1) return -95;
        if (this.t.on) this.t.rec(EV_PIC_IO, -1, addr, val);
        this.pics[i]!.write(addr - base, val);
        this.update();
        return 0;
      },
      read: (addr, len) => (len === 1 ? this.pics[i]!.read(addr - base) : undefined),
    });
    const elcr: KvmIoDevice = {
      name: 'pic-elcr',
      // elcr_ioport_write: only the lines that may be level-triggered (not 0, 1, 2 on the master; 8, 13 on the slave).
      write: (addr, len, val) => {
        if (len !== 1) return -95;
        if (this.t.on) this.t.rec(EV_ELCR, -1, addr, val);
        const s = this.pics[addr - PIC_ELCR_BASE]!;
        s.elcr = val & s.elcrMask;
        return 0;
      },
      read: (addr, len) => (len === 1 ? this.pics[addr - PIC_ELCR_BASE]!.elcr : undefined),
    };
    this.devices = [
      { addr: PIC_MASTER_BASE, len: 2, dev: chip(0, PIC_MASTER_BASE) },
      { addr: PIC_SLAVE_BASE, len: 2, dev: chip(1, PIC_SLAVE_BASE) },
      { addr: PIC_ELCR_BASE, len: 2, dev: elcr },
    ];
  }

  /** pic_update_irq: the slave's output is the master's line 2. */
  private update(): void {
    this.pics[0]!.setIrq1(2, this.pics[1]!.getIrq() >= 0 ? 1 : 0);
    this.output = this.pics[0]!.getIrq() >= 0;
  }

  /** kvm_pic_set_irq: GSIs 0-7 on the master, 8-15 on the slave; returns pic_set_irq1's result, traced after the update. */
  setIrq(irq: number, level: number): number {
    if (irq < 0 || irq >= 16) return -1;
    const s = this.pics[irq >> 3]!;
    const ret = s.setIrq1(irq & 7, level);
    this.update();
    if (this.t.on) this.t.rec(EV_PIC_SET_IRQ, -1, irq, s.elcr, s.imr, ret === 0 ? 1 : 0);
    return ret;
  }
}
