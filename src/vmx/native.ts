// What the CPU does for an instruction that does not exit: its architectural effect on the
// registers, guest RAM and the MSRs the bitmap passes through; accesses to the APIC-access page and
// the x2APIC MSRs under "virtualize x2APIC mode" go to the virtual-APIC page (apicv.ts).

import { EXIT_REASON } from '../uapi/vmx';
import type { VmxCpu } from './cpu';
import { OP, opcode, operand, rax64, setRax64 } from './insn';
import { APIC_TASKPRI, X2APIC_MSR_EOI, X2APIC_MSR_SELF_IPI, X2APIC_MSR_TPR, apicPage, apicWrite } from './apicv';
import {
  CPU_BASED_TPR_SHADOW, SECONDARY_EXEC_BUS_LOCK_DETECTION, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY,
  SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE, VMCS, X86_EFLAGS_IF,
} from './vmcs';

/** Where the second RAM memslot starts (pc_memory_init's ram-above-4g). */
const FOUR_GIB = 2 ** 32;

/** Split-lock: a locked access that crosses a 64-byte cache line takes a bus lock. */
const crossesCacheLine = (gpa: number, size: number): boolean => Math.floor(gpa / 64) !== Math.floor((gpa + size - 1) / 64);

/**
 * Run the instruction natively. Returns a trap-like exit reason the instruction's completion
 * causes (TPR below threshold, APIC write, EOI induced, bus lock), or -1.
 */
export function executeNative(lp: VmxCpu, op: number, cpu: number, sec: number): number {
  const r = lp.regs;
  const v = lp.vmcs!;
  switch (opcode(op)) {
    case OP.STI: r.rflags |= X86_EFLAGS_IF; return -1;
    case OP.CLI: r.rflags &= ~X86_EFLAGS_IF; return -1;
    case OP.RDTSC: case OP.RDTSCP: { const tsc = lp.clock.cycles; r.rax = tsc % 0x100000000; r.rdx = Math.floor(tsc / 0x100000000); return -1; }
    case OP.MEM_READ: {
      const n = operand(op);
      const apic = apicPage(lp, r.rdi, sec);
      if (apic) { r.rax = apic.getUint32(r.rdi & 0xfff, true); return -1; }
      const high = r.rdi >= FOUR_GIB;
      const ram = high ? lp.ramHigh! : lp.ram!;
      const a = high ? r.rdi - FOUR_GIB : r.rdi;
      if (n === 8) setRax64(r, ram.getBigUint64(a, true));
      else r.rax = readRam(ram, a, n);
      return -1;
    }
    case OP.MEM_WRITE: case OP.LOCK_ADD: {
      const n = operand(op);
      const apic = apicPage(lp, r.rdi, sec);
      if (apic) return apicWrite(lp, apic, r.rdi & 0xfff, r.rax >>> 0, cpu, sec);
      const high = r.rdi >= FOUR_GIB;
      const ram = high ? lp.ramHigh! : lp.ram!;
      const a = high ? r.rdi - FOUR_GIB : r.rdi;
      if (n === 8) {
        // All 64 bits of RAX, exactly; a locked add wraps modulo 2^64.
        const v = rax64(r);
        ram.setBigUint64(a, BigInt.asUintN(64, opcode(op) === OP.LOCK_ADD ? ram.getBigUint64(a, true) + v : v), true);
      } else {
        const val = opcode(op) === OP.LOCK_ADD ? readRam(ram, a, n) + r.rax : r.rax;
        writeRam(ram, a, n, val);
      }
      if (opcode(op) === OP.LOCK_ADD && sec & SECONDARY_EXEC_BUS_LOCK_DETECTION && crossesCacheLine(r.rdi, n)) return EXIT_REASON.BUS_LOCK;
      return -1;
    }
    case OP.WRMSR: case OP.RDMSR: {
      // An MSR the bitmap passes through. x2APIC MSRs under "virtualize x2APIC mode" go to the
      // virtual-APIC page (SDM 29.5); IA32_TSC reads the TSC; the rest are the CPU's own.
      const msr = r.rcx >>> 0;
      const apic = lp.virtualApic;
      if (!apic || !(sec & SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE) || msr < 0x800 || msr > 0x8ff) {
        if (opcode(op) === OP.WRMSR) { lp.nativeMsrs.set(msr, (r.rdx >>> 0) * 2 ** 32 + (r.rax >>> 0)); return -1; }
        const val = msr === 0x10 ? lp.clock.cycles : lp.nativeMsrs.get(msr) ?? 0;
        r.rax = val % 2 ** 32; r.rdx = Math.floor(val / 2 ** 32);
        return -1;
      }
      const off = (msr - 0x800) << 4;
      if (opcode(op) === OP.RDMSR) { r.rax = apic.getUint32(off, true); r.rdx = 0; return -1; }
      if (msr === X2APIC_MSR_TPR || msr === X2APIC_MSR_EOI) return apicWrite(lp, apic, off, r.rax >>> 0, cpu, sec);
      if (msr === X2APIC_MSR_SELF_IPI && sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) {
        // Self-IPI virtualization (SDM 29.5): VIRR takes the vector, RVI rises to it.
        const vec = r.rax & 0xff;
        const a = 0x200 + ((vec >> 5) << 4);
        apic.setUint32(a, (apic.getUint32(a, true) | (1 << (vec & 31))) >>> 0, true);
        const status = v.read(VMCS.GUEST_INTR_STATUS);
        if (vec > (status & 0xff)) v.write(VMCS.GUEST_INTR_STATUS, (status & 0xff00) | vec);
      }
      return -1;
    }
    case OP.MOV_TO_CR: {
      const n = operand(op);
      if (n === 0) r.cr0 = r.rax; else if (n === 3) r.cr3 = r.rax; else if (n === 4) r.cr4 = r.rax;
      else if (n === 8) {
        r.cr8 = r.rax & 0xf;
        if (lp.virtualApic && cpu & CPU_BASED_TPR_SHADOW) return apicWrite(lp, lp.virtualApic, APIC_TASKPRI, (r.rax & 0xf) << 4, cpu, sec);
      }
      return -1;
    }
    case OP.MOV_FROM_CR: {
      const n = operand(op);
      // CR0/CR4: host-owned bits read from the read shadow (SDM 25.3).
      if (n === 0) r.rax = (r.cr0 & ~v.read(VMCS.CR0_GUEST_HOST_MASK)) | (v.read(VMCS.CR0_READ_SHADOW) & v.read(VMCS.CR0_GUEST_HOST_MASK));
      else if (n === 4) r.rax = (r.cr4 & ~v.read(VMCS.CR4_GUEST_HOST_MASK)) | (v.read(VMCS.CR4_READ_SHADOW) & v.read(VMCS.CR4_GUEST_HOST_MASK));
      else if (n === 3) r.rax = r.cr3;
      else if (n === 8) r.rax = lp.virtualApic && cpu & CPU_BASED_TPR_SHADOW ? lp.virtualApic.getUint8(APIC_TASKPRI) >> 4 : r.cr8;
      r.rax >>>= 0;
      return -1;
    }
    case OP.MOV_TO_DR: if (operand(op) === 7) r.dr7 = r.rax; return -1;
    case OP.MOV_FROM_DR: r.rax = operand(op) === 7 ? r.dr7 : 0; return -1;
    case OP.SGDT: case OP.SIDT: {
      const sidt = opcode(op) === OP.SIDT;
      lp.ram!.setUint16(r.rdi, sidt ? r.idtrLimit : r.gdtrLimit, true);
      lp.ram!.setBigUint64(r.rdi + 2, BigInt.asUintN(64, BigInt(sidt ? r.idtrBase : r.gdtrBase)), true);
      return -1;
    }
    case OP.LGDT: case OP.LIDT: {
      const limit = lp.ram!.getUint16(r.rdi, true);
      const base = Number(BigInt.asIntN(64, lp.ram!.getBigUint64(r.rdi + 2, true)));
      if (opcode(op) === OP.LIDT) { r.idtrLimit = limit; r.idtrBase = base; } else { r.gdtrLimit = limit; r.gdtrBase = base; }
      return -1;
    }
    case OP.SLDT: r.rax = r.ldtr; return -1;
    case OP.STR: r.rax = r.tr; return -1;
    case OP.LLDT: r.ldtr = r.rax & 0xffff; return -1;
    case OP.LTR: r.tr = r.rax & 0xffff; return -1;
    default: return -1; // nop, pause, mwait/monitor hints, wbinvd, rdpmc, xsaves, ... with no architectural effect modelled
  }
}

function readRam(ram: DataView, a: number, n: number): number {
  return n === 1 ? ram.getUint8(a) : n === 2 ? ram.getUint16(a, true) : n === 4 ? ram.getUint32(a, true) : Number(ram.getBigUint64(a, true));
}
function writeRam(ram: DataView, a: number, n: number, v: number): void {
  if (n === 1) ram.setUint8(a, v); else if (n === 2) ram.setUint16(a, v, true);
  else if (n === 4) ram.setUint32(a, v >>> 0, true); else ram.setBigUint64(a, BigInt.asUintN(64, BigInt(v)), true);
}
