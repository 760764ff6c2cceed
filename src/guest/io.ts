// What compiled guest code does at the instruction level: load operands into registers, execute
// one instruction. Port and MMIO accessors as in include/asm-generic/io.h and arch/x86/include/asm/io.h.

import type { GuestCode } from '../vmx/cpu';
import { OP, withSize, type Regs } from '../vmx/insn';

export type KCode<T = void> = Generator<number, T, number>;
export type { GuestCode };

export function* outb(r: Regs, value: number, port: number): KCode { r.rax = value & 0xff; r.rdx = port; yield OP.OUTB; }
export function* outw(r: Regs, value: number, port: number): KCode { r.rax = value & 0xffff; r.rdx = port; yield OP.OUTW; }
export function* outl(r: Regs, value: number, port: number): KCode { r.rax = value >>> 0; r.rdx = port; yield OP.OUTL; }
export function* inb(r: Regs, port: number): KCode<number> { r.rdx = port; yield OP.INB; return r.rax & 0xff; }
export function* inw(r: Regs, port: number): KCode<number> { r.rdx = port; yield OP.INW; return r.rax & 0xffff; }
export function* inl(r: Regs, port: number): KCode<number> { r.rdx = port; yield OP.INL; return r.rax >>> 0; }
/** writel to MMIO: `mov %eax,(%rdi)`. */
export function* writel(r: Regs, value: number, addr: number): KCode { r.rax = value >>> 0; r.rdi = addr; yield withSize(OP.MEM_WRITE, 4); }
export function* writew(r: Regs, value: number, addr: number): KCode { r.rax = value & 0xffff; r.rdi = addr; yield withSize(OP.MEM_WRITE, 2); }
export function* writeb(r: Regs, value: number, addr: number): KCode { r.rax = value & 0xff; r.rdi = addr; yield withSize(OP.MEM_WRITE, 1); }
export function* readw(r: Regs, addr: number): KCode<number> { r.rdi = addr; yield withSize(OP.MEM_READ, 2); return r.rax & 0xffff; }
export function* readb(r: Regs, addr: number): KCode<number> { r.rdi = addr; yield withSize(OP.MEM_READ, 1); return r.rax & 0xff; }
export function* readl(r: Regs, addr: number): KCode<number> { r.rdi = addr; yield withSize(OP.MEM_READ, 4); return r.rax >>> 0; }
export function* writeq(r: Regs, value: number, addr: number): KCode { r.rax = value; r.rdi = addr; yield withSize(OP.MEM_WRITE, 8); }
/** rdmsr: returns the value, or -1 when it faulted (#GP fixed up as rdmsr_safe does). */
export function* rdmsr_safe(r: Regs, msr: number): KCode<number> {
  r.rcx = msr;
  const f = yield OP.RDMSR;
  return f !== 0 ? -1 : (r.rdx >>> 0) * 0x100000000 + (r.rax >>> 0);
}
/** wrmsr: returns 0, or -1 when it faulted. */
export function* wrmsr_safe(r: Regs, msr: number, value: number): KCode<number> {
  r.rcx = msr; r.rax = value % 0x100000000; r.rdx = Math.floor(value / 0x100000000);
  const f = yield OP.WRMSR;
  return f !== 0 ? -1 : 0;
}

// iowrite16/ioread8 on a port cookie (lib/iomap.c): the legacy virtio-pci BAR is an I/O port BAR.
export const iowrite8 = (r: Regs, v: number, port: number) => outb(r, v, port);
export const iowrite16 = (r: Regs, v: number, port: number) => outw(r, v, port);
export const iowrite32 = (r: Regs, v: number, port: number) => outl(r, v, port);
export const ioread8 = (r: Regs, port: number) => inb(r, port);
export const ioread16 = (r: Regs, port: number) => inw(r, port);
export const ioread32 = (r: Regs, port: number) => inl(r, port);
