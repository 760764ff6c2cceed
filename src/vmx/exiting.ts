// Which instructions cause VM exits under the current VM-execution controls (SDM Vol. 3C 25.1):
// the unconditional exits, the processor-based and secondary controls, unconditional I/O exiting,
// the MSR bitmap, CR masks and read shadows, descriptor-table exiting, PAUSE-loop exiting, the
// APIC-access page and EPT (violations, misconfigurations, dirty flags and the page-modification
// log). An exception the instruction raises goes through the exception bitmap (VmxCpu.deliverException).

import { EXIT_REASON } from '../uapi/vmx';
import type { VmxCpu } from './cpu';
import { Ept, EPT_ACCESSED, EPT_DIRTY, EPT_READ, EPT_WRITE, VMX_EPTP_AD_ENABLE_BIT } from './ept';
import { BP_VECTOR, UD_VECTOR } from './exceptions';
import { OP, memAccess, opcode, operand } from './insn';
import { apicReadVirtualized, apicWriteVirtualized } from './apicv';
import {
  CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_CR8_LOAD_EXITING, CPU_BASED_CR8_STORE_EXITING,
  CPU_BASED_HLT_EXITING, CPU_BASED_INVLPG_EXITING, CPU_BASED_MONITOR_EXITING, CPU_BASED_MOV_DR_EXITING,
  CPU_BASED_MWAIT_EXITING, CPU_BASED_PAUSE_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_RDTSC_EXITING,
  CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_USE_IO_BITMAPS, CPU_BASED_USE_MSR_BITMAPS,
  SECONDARY_EXEC_DESC, SECONDARY_EXEC_ENCLS_EXITING, SECONDARY_EXEC_ENABLE_INVPCID, SECONDARY_EXEC_ENABLE_PML,
  SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_PAUSE_LOOP_EXITING, SECONDARY_EXEC_RDRAND_EXITING,
  SECONDARY_EXEC_RDSEED_EXITING, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES, SECONDARY_EXEC_WBINVD_EXITING,
  SECONDARY_EXEC_XSAVES, VMCS,
} from './vmcs';

const X86_CR4_DE = 1 << 3;

/** exitReasonFor: the instruction raised an exception that exited, or that the guest took. */
export const EXITED = -2;
export const DELIVERED = -3;

/**
 * The basic exit reason this instruction causes under the current controls; -1 to run it
 * natively; EXITED when it already exited (an exception the bitmap intercepts); DELIVERED when it
 * raised an exception the guest's own handler took.
 */
export function exitReasonFor(lp: VmxCpu, op: number, cpu: number, sec: number): number {
  const r = lp.regs;
  const v = lp.vmcs!;
  lp.qualification = 0;
  switch (opcode(op)) {
    case OP.OUTB: case OP.OUTW: case OP.OUTL: case OP.INB: case OP.INW: case OP.INL:
      // kvm uses unconditional I/O exiting (vmx.c: setup_vmcs_config), not the I/O bitmaps.
      if (cpu & CPU_BASED_USE_IO_BITMAPS) return EXIT_REASON.IO_INSTRUCTION;
      return cpu & CPU_BASED_UNCOND_IO_EXITING ? EXIT_REASON.IO_INSTRUCTION : -1;
    // Unconditional exits (SDM 25.1.2).
    case OP.CPUID: return EXIT_REASON.CPUID;
    case OP.INVD: return EXIT_REASON.INVD;
    case OP.VMCALL: return EXIT_REASON.VMCALL;
    case OP.XSETBV: return EXIT_REASON.XSETBV;
    case OP.VMXON: return EXIT_REASON.VMON;
    case OP.VMCLEAR: return EXIT_REASON.VMCLEAR;
    case OP.VMLAUNCH: return EXIT_REASON.VMLAUNCH;
    case OP.VMRESUME: return EXIT_REASON.VMRESUME;
    case OP.VMPTRLD: return EXIT_REASON.VMPTRLD;
    case OP.VMPTRST: return EXIT_REASON.VMPTRST;
    case OP.VMREAD: return EXIT_REASON.VMREAD;
    case OP.VMWRITE: return EXIT_REASON.VMWRITE;
    case OP.VMXOFF: return EXIT_REASON.VMOFF;
    case OP.INVEPT: return EXIT_REASON.INVEPT;
    case OP.INVVPID: return EXIT_REASON.INVVPID;
    case OP.VMFUNC: return EXIT_REASON.VMFUNC;
    // Conditional on processor-based controls (SDM 25.1.3).
    case OP.HLT: return cpu & CPU_BASED_HLT_EXITING ? EXIT_REASON.HLT : -1;
    case OP.INVLPG: lp.qualification = r.rax; return cpu & CPU_BASED_INVLPG_EXITING ? EXIT_REASON.INVLPG : -1;
    case OP.INVPCID:
      if (!(sec & SECONDARY_EXEC_ENABLE_INVPCID)) return raise(lp, UD_VECTOR);
      return cpu & CPU_BASED_INVLPG_EXITING ? EXIT_REASON.INVPCID : -1;
    case OP.RDPMC: return cpu & CPU_BASED_RDPMC_EXITING ? EXIT_REASON.RDPMC : -1;
    case OP.RDTSC: return cpu & CPU_BASED_RDTSC_EXITING ? EXIT_REASON.RDTSC : -1;
    case OP.RDTSCP:
      if (!(sec & SECONDARY_EXEC_ENABLE_RDTSCP)) return raise(lp, UD_VECTOR);
      return cpu & CPU_BASED_RDTSC_EXITING ? EXIT_REASON.RDTSCP : -1;
    case OP.MWAIT: return cpu & CPU_BASED_MWAIT_EXITING ? EXIT_REASON.MWAIT_INSTRUCTION : -1;
    case OP.MONITOR: return cpu & CPU_BASED_MONITOR_EXITING ? EXIT_REASON.MONITOR_INSTRUCTION : -1;
    case OP.PAUSE: return pauseExit(lp, cpu, sec);
    case OP.WBINVD: return sec & SECONDARY_EXEC_WBINVD_EXITING ? EXIT_REASON.WBINVD : -1;
    case OP.RDRAND: return sec & SECONDARY_EXEC_RDRAND_EXITING ? EXIT_REASON.RDRAND : -1;
    case OP.RDSEED: return sec & SECONDARY_EXEC_RDSEED_EXITING ? EXIT_REASON.RDSEED : -1;
    // XSAVES/XRSTORS exit only for the state components the XSS-exiting bitmap names (SDM 25.1.3).
    case OP.XSAVES: case OP.XRSTORS:
      if (!(sec & SECONDARY_EXEC_XSAVES)) return raise(lp, UD_VECTOR);
      return v.read(VMCS.XSS_EXIT_BITMAP) !== 0 ? (opcode(op) === OP.XSAVES ? EXIT_REASON.XSAVES : EXIT_REASON.XRSTORS) : -1;
    case OP.SGDT: case OP.SIDT: case OP.LGDT: case OP.LIDT:
      if (sec & SECONDARY_EXEC_DESC) { descInfo(lp, op); return EXIT_REASON.GDTR_IDTR; }
      return memExit(lp, op, sec);
    case OP.SLDT: case OP.STR: case OP.LLDT: case OP.LTR:
      if (sec & SECONDARY_EXEC_DESC) { descInfo(lp, op); return EXIT_REASON.LDTR_TR; }
      return -1;
    case OP.MOV_TO_DR: case OP.MOV_FROM_DR: {
      const n = operand(op);
      // DR4/DR5 with CR4.DE are #UD before any VM exit (SDM Vol. 3B 17.2.2).
      if ((n === 4 || n === 5) && r.cr4 & X86_CR4_DE) return raise(lp, UD_VECTOR);
      lp.qualification = n | (opcode(op) === OP.MOV_FROM_DR ? 0x10 : 0);
      return cpu & CPU_BASED_MOV_DR_EXITING ? EXIT_REASON.DR_ACCESS : -1;
    }
    case OP.MOV_TO_CR: case OP.MOV_FROM_CR: return crExit(lp, op, cpu);
    case OP.RDMSR: case OP.WRMSR: return msrExit(lp, op, cpu);
    case OP.MEM_READ: case OP.MEM_WRITE: case OP.LOCK_ADD: return memExit(lp, op, sec);
    case OP.UD2: return raise(lp, UD_VECTOR);
    case OP.ENCLS: {
      // ENCLS exiting with the ENCLS-exiting bitmap (leaf in EAX; bit 63 stands for leaves >= 63); without it, no SGX: #UD.
      if (!(sec & SECONDARY_EXEC_ENCLS_EXITING)) return raise(lp, UD_VECTOR);
      const bm = v.read(VMCS.ENCLS_EXITING_BITMAP);
      return bm === -1 || Math.floor(bm / 2 ** Math.min(r.rax >>> 0, 63)) % 2 === 1 ? EXIT_REASON.ENCLS : raise(lp, UD_VECTOR);
    }
    case OP.INT3: return raise(lp, BP_VECTOR);
    default: return -1;
  }
}

/** Raise an exception for the current instruction: EXITED, or DELIVERED to the guest. */
export function raise(lp: VmxCpu, vector: number, errorCode = -1): number {
  return lp.deliverException(vector, errorCode) >= 0 ? EXITED : DELIVERED;
}

/** VMX_INSTRUCTION_INFO for descriptor-table exits: bits 29:28 name the instruction (SDM Table 28-10/11). */
export function descInfo(lp: VmxCpu, op: number): void {
  const identity: Record<number, number> = {
    [OP.SGDT]: 0, [OP.SIDT]: 1, [OP.LGDT]: 2, [OP.LIDT]: 3, [OP.SLDT]: 0, [OP.STR]: 1, [OP.LLDT]: 2, [OP.LTR]: 3,
  };
  lp.vmcs!.write(VMCS.VMX_INSTRUCTION_INFO, (identity[opcode(op)]! << 28) >>> 0);
}

/** PAUSE: PAUSE exiting, else PAUSE-loop exiting with PLE_GAP and PLE_WINDOW (SDM 25.1.3). */
export function pauseExit(lp: VmxCpu, cpu: number, sec: number): number {
  if (cpu & CPU_BASED_PAUSE_EXITING) return EXIT_REASON.PAUSE_INSTRUCTION;
  if (!(sec & SECONDARY_EXEC_PAUSE_LOOP_EXITING)) return -1;
  const v = lp.vmcs!;
  const now = lp.clock.cycles;
  if (now - lp.pauseLast > v.read(VMCS.PLE_GAP)) lp.pauseFirst = now;
  else if (now - lp.pauseFirst > v.read(VMCS.PLE_WINDOW)) return EXIT_REASON.PAUSE_INSTRUCTION;
  lp.pauseLast = now;
  return -1;
}

/** MOV to/from CR (SDM 25.1.3): CR0/CR4 by guest/host mask vs read shadow, CR3/CR8 by controls. */
export function crExit(lp: VmxCpu, op: number, cpu: number): number {
  const v = lp.vmcs!;
  const n = operand(op);
  const toCr = opcode(op) === OP.MOV_TO_CR;
  lp.qualification = n | (toCr ? 0 : 0x10); // access type 0 = MOV to CR, 1 = MOV from CR; GPR 0 = RAX
  let exits = false;
  if (n === 0 || n === 4) {
    if (toCr) {
      const mask = v.read(n === 0 ? VMCS.CR0_GUEST_HOST_MASK : VMCS.CR4_GUEST_HOST_MASK);
      const shadow = v.read(n === 0 ? VMCS.CR0_READ_SHADOW : VMCS.CR4_READ_SHADOW);
      exits = ((lp.regs.rax ^ shadow) & mask) !== 0;
    }
  } else if (n === 3) exits = (cpu & (toCr ? CPU_BASED_CR3_LOAD_EXITING : CPU_BASED_CR3_STORE_EXITING)) !== 0;
  // Without CR8 exiting, MOV CR8 uses the TPR shadow in the virtual-APIC page (SDM 29.3).
  else if (n === 8) exits = (cpu & (toCr ? CPU_BASED_CR8_LOAD_EXITING : CPU_BASED_CR8_STORE_EXITING)) !== 0;
  return exits ? EXIT_REASON.CR_ACCESS : -1;
}

/**
 * RDMSR/WRMSR: the MSR bitmap decides (SDM 25.1.3); MSRs outside its two ranges always exit.
 * With "virtualize x2APIC mode", TPR (and with virtual-interrupt delivery, EOI) are virtualized
 * in the virtual-APIC page when the bitmap lets them through (SDM 29.5).
 */
export function msrExit(lp: VmxCpu, op: number, cpu: number): number {
  const write = opcode(op) === OP.WRMSR;
  const reason = write ? EXIT_REASON.MSR_WRITE : EXIT_REASON.MSR_READ;
  const bm = lp.msrBitmap;
  if (!(cpu & CPU_BASED_USE_MSR_BITMAPS) || !bm) return reason;
  const msr = lp.regs.rcx >>> 0;
  let base: number;
  let idx: number;
  if (msr <= 0x1fff) { base = write ? 0x800 : 0; idx = msr; }
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) { base = write ? 0xc00 : 0x400; idx = msr - 0xc0000000; }
  else return reason;
  return (bm[base + (idx >>> 3)]! >> (idx & 7)) & 1 ? reason : -1;
}

/**
 * A guest-physical access. The APIC-access page first (SDM 29.4): virtualized or an APIC_ACCESS
 * exit; then the EPT walk (SDM 28.3.3): absent or without the permission → EPT_VIOLATION,
 * misconfigured → EPT_MISCONFIG.
 */
export function memExit(lp: VmxCpu, op: number, sec: number): number {
  const ept = lp.ept;
  const m = memAccess(op)!;
  const gpa = lp.regs.rdi;
  const v = lp.vmcs!;
  if (ept) {
    const perms = ept.lookup(Math.floor(gpa / 4096));
    if (ept.isMisconfig(perms)) { v.write(VMCS.GUEST_PHYSICAL_ADDRESS, gpa); return EXIT_REASON.EPT_MISCONFIG; }
    if ((perms & (m.write ? EPT_WRITE : EPT_READ)) === 0) {
      v.write(VMCS.GUEST_PHYSICAL_ADDRESS, gpa);
      // bit 0 read, bit 1 write, bits 5:3 the entry's permissions, bit 7 GLA valid, bit 8 translated.
      lp.qualification = (m.write ? 2 : 1) | ((perms & 7) << 3) | 0x80 | 0x100;
      return EXIT_REASON.EPT_VIOLATION;
    }
  }
  if (sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES && Math.floor(gpa / 4096) === Math.floor(v.read(VMCS.APIC_ACCESS_ADDR) / 4096)
    && opcode(op) !== OP.LOCK_ADD) {
    const offset = gpa & 0xfff;
    const virtualized = m.write ? apicWriteVirtualized(lp, offset, sec) : apicReadVirtualized(lp, offset, sec);
    if (!virtualized) {
      // Exit qualification: offset in bits 11:0, access type in 15:12 (0 linear read, 1 linear write).
      lp.qualification = offset | ((m.write ? 1 : 0) << 12);
      return EXIT_REASON.APIC_ACCESS;
    }
    return -1;
  }
  if (ept && m.write) return eptDirty(lp, ept, gpa, sec);
  return -1;
}

/**
 * A write through an EPT entry whose dirty flag is clear sets it (SDM 28.3.5, with EPTP's A/D
 * bit). With "enable PML" the CPU logs the page's address first (SDM 29.3.6): at PML_INDEX, which
 * then counts down from 511; an index out of range is a log-full event, a VM exit before the write.
 */
export function eptDirty(lp: VmxCpu, ept: Ept, gpa: number, sec: number): number {
  const v = lp.vmcs!;
  if (!(v.read(VMCS.EPT_POINTER) & VMX_EPTP_AD_ENABLE_BIT)) return -1;
  const gfn = Math.floor(gpa / 4096);
  const perms = ept.lookup(gfn);
  if (perms & EPT_DIRTY) return -1;
  if (sec & SECONDARY_EXEC_ENABLE_PML && lp.pml) {
    const index = v.read(VMCS.GUEST_PML_INDEX);
    if (index > 511) { lp.qualification = 0; return EXIT_REASON.PML_FULL; }
    lp.pml[index] = gfn * 4096;
    v.write(VMCS.GUEST_PML_INDEX, (index - 1) & 0xffff);
  }
  ept.set(gfn, perms | EPT_ACCESSED | EPT_DIRTY);
  return -1;
}
