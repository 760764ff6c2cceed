// hw/intc/i8259.c and i8259_common.c (QEMU 8.x): the 8259A pair in userspace, for `irqchip: split`
// and `irqchip: userspace` (pc_i8259_create: kvm_pic_in_kernel() is false). Master at 0x20-0x21,
// slave at 0xa0-0xa1, and each chip's edge/level control register at its elcr_addr (0x4d0,
// 0x4d1): a guest access to any of them is a KVM_EXIT_IO that kvm_handle_io dispatches here.
//
// Simplified: the PIC's INTR output is not wired to the CPU (the guest routes its interrupts
// through the IOAPIC); special mask mode, rotation and poll mode are not modelled.

import type { MemoryRegion } from './memory';

/** PICCommonState: one 8259A. */
class PicState {
  irr = 0;
  imr = 0;
  isr = 0;
  lastIrr = 0;
  irqBase = 0;
  readRegSelect = 0;
  initState = 0;
  init4 = 0;
  elcr = 0;
  constructor(readonly elcrMask: number) {}

  /** pic_ioport_write */
  write(addr: number, val: number): void {
    if ((addr & 1) === 0) {
      if (val & 0x10) { this.init4 = val & 1; this.imr = 0; this.isr = 0; this.irr &= this.elcr; this.lastIrr = 0; this.initState = 1; }
      else if (val & 0x08) { if (val & 0x02) this.readRegSelect = val & 1; }
      else if ((val >> 5) === 1) {
        for (let i = 0; i < 8; i++) if (this.isr & (1 << i)) { this.isr &= ~(1 << i); break; }
      } else if ((val >> 5) === 3) this.isr &= ~(1 << (val & 7));
      return;
    }
    if (this.initState === 0) this.imr = val;
    else if (this.initState === 1) { this.irqBase = val & 0xf8; this.initState = 2; }
    else if (this.initState === 2) this.initState = this.init4 ? 3 : 0;
    else this.initState = 0;
  }

  /** pic_ioport_read */
  read(addr: number): number { return (addr & 1) === 0 ? (this.readRegSelect ? this.isr : this.irr) : this.imr; }

  /** pic_set_irq: edge-triggered lines latch a rising edge, level-triggered (ELCR) follow the line. */
  setIrq(irq: number, level: number): void {
    const mask = 1 << irq;
    if (this.elcr & mask) { if (level) this.irr |= mask; else this.irr &= ~mask; }
    else if (level) { if (!(this.lastIrr & mask)) this.irr |= mask; this.lastIrr |= mask; } else this.lastIrr &= ~mask;
  }
}

export class QemuPic {
  readonly pics = [new PicState(0xf8), new PicState(0xde)];

  /** The I/O regions of both chips and their ELCRs (owner "i8259"). */
  regions(): MemoryRegion[] {
    const chip = (i: number, base: number): MemoryRegion => ({
      name: i === 0 ? 'pic' : 'pic-slave', owner: 'i8259', base, size: 2,
      ops: { read: (a) => this.pics[i]!.read(a), write: (a, v) => this.pics[i]!.write(a, v & 0xff) },
    });
    // pic_elcr_ioport_write: only the bits elcr_mask allows (not IRQs 0-2, 8, 13).
    const elcr = (i: number): MemoryRegion => ({
      name: i === 0 ? 'elcr' : 'elcr-slave', owner: 'i8259', base: 0x4d0 + i, size: 1,
      ops: { read: () => this.pics[i]!.elcr, write: (_a, v) => { this.pics[i]!.elcr = v & this.pics[i]!.elcrMask; } },
    });
    return [chip(0, 0x20), chip(1, 0xa0), elcr(0), elcr(1)];
  }

  /** GSIs 0-15 (gsi_handler: ISA lines go to the PIC and the IOAPIC). */
  setIrq(irq: number, level: number): void {
    if (irq < 16) this.pics[irq >> 3]!.setIrq(irq & 7, level);
  }
}
