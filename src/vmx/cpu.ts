// The VMX CPU: runs guest code in VMX non-root mode and leaves it (a VM exit) exactly when the
// VMCS controls kvm programmed say so, filling the exit fields as the SDM specifies. Guest code is
// a stack of generators (the interrupted context below, an interrupt handler above); each yields
// one instruction and is resumed when that instruction has completed, natively or after kvm
// emulated it and re-entered with RIP past it.

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import { defineEvent, type Tracer } from '../trace/events';
import { EXIT_REASON, VMX_EXIT_REASONS, VMX_EXIT_REASONS_FAILED_VMENTRY, encodeIoQualification } from '../uapi/vmx';
import { Ept, EPT_READ, EPT_WRITE } from './ept';
import { OP, Regs, insnLength, isPio, isPioIn, mnemonic, opcode, operand, pioSize } from './insn';
import {
  CPU_BASED_HLT_EXITING, CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_INVLPG_EXITING, CPU_BASED_MONITOR_EXITING,
  CPU_BASED_MOV_DR_EXITING, CPU_BASED_MWAIT_EXITING, CPU_BASED_PAUSE_EXITING, CPU_BASED_RDPMC_EXITING,
  CPU_BASED_RDTSC_EXITING, CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_CR8_LOAD_EXITING,
  CPU_BASED_CR8_STORE_EXITING, CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_USE_IO_BITMAPS, CPU_BASED_USE_MSR_BITMAPS,
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, SECONDARY_EXEC_WBINVD_EXITING, SECONDARY_EXEC_RDRAND_EXITING,
  SECONDARY_EXEC_RDSEED_EXITING,
  INTR_INFO_VALID_MASK, INTR_INFO_VECTOR_MASK, INTR_INFO_INTR_TYPE_MASK, INTR_TYPE_HARD_EXCEPTION,
  VMCS, Vmcs, VMXERR_VMLAUNCH_NONCLEAR_VMCS, VMXERR_VMRESUME_NONLAUNCHED_VMCS, X86_EFLAGS_IF,
} from './vmcs';

/** Guest code: yields opcodes, is resumed with 0, or with FAULT | vector when the instruction faulted. */
export type GuestCode = Generator<number, void, number>;
export const FAULT = 0x100;

/** The guest's interrupt descriptor table, as loaded with `lidt`: a handler per vector. */
export interface GuestIdt { handler(vector: number): GuestCode | undefined }

/** Result of VMLAUNCH/VMRESUME. */
export const ENTER_EXITED = 0;
export const ENTER_BREAK = 1;
export const ENTER_VMFAIL = 2;

const X86_CR0_PE = 1;
const X86_CR0_PG = 0x80000000;

class Ctx {
  pending = -1;
  insnRip = 0;
  resume = 0;
  constructor(readonly gen: GuestCode, readonly savedRip: number, readonly savedFlags: number, readonly vector: number) {}
}

const EV_ENTRY_LAUNCH = defineEvent('vm-entry', 'kvm', 'VMX CPU', 'VMLAUNCH', ['rip:hex', 'intrInfo:hex']);
const EV_ENTRY_RESUME = defineEvent('vm-entry', 'kvm', 'VMX CPU', 'VMRESUME', ['rip:hex', 'intrInfo:hex']);
const EV_IRQ = defineEvent('irq', 'VMX CPU', 'guest kernel', 'interrupt', ['vector:hex']);
const EV_EXCEPTION = defineEvent('irq', 'VMX CPU', 'guest kernel', 'exception', ['vector:hex']);
const EV_VMFAIL = defineEvent('vm-exit', 'VMX CPU', 'kvm', 'VMfailValid', ['error']);
const exitEvents: number[] = [];
for (const [n, name] of VMX_EXIT_REASONS) {
  exitEvents[n] = defineEvent('vm-exit', 'VMX CPU', 'kvm', name, ['reasonNumber', 'qualification:hex', 'rip:hex', 'instructionLength']);
}
// Event ids by opcode (operand byte included), plus one: 0 until the opcode is first seen.
const insnEvents = new Int32Array(0x10000);
const doneEvents = new Int32Array(0x10000);
function insnArgs(op: number): string[] {
  const c = opcode(op);
  if (isPio(op)) return isPioIn(op) ? ['port:hex', 'rip:hex'] : ['port:hex', 'value:hex', 'rip:hex'];
  if (c === OP.CPUID) return ['leaf:hex', 'subleaf:hex', 'rip:hex'];
  if (c === OP.RDMSR) return ['msr:hex', 'rip:hex'];
  if (c === OP.WRMSR) return ['msr:hex', 'value:hex', 'rip:hex'];
  if (c === OP.MEM_READ) return ['gpa:hex', 'rip:hex'];
  if (c === OP.MEM_WRITE) return ['gpa:hex', 'value:hex', 'rip:hex'];
  if (c === OP.MOV_TO_CR || c === OP.MOV_TO_DR || c === OP.XSETBV) return ['value:hex', 'rip:hex'];
  return ['rip:hex'];
}
function insnEvent(op: number): number {
  let id = insnEvents[op]! - 1;
  if (id < 0) { id = defineEvent('instruction', 'guest kernel', 'VMX CPU', mnemonic(op), insnArgs(op)); insnEvents[op] = id + 1; }
  return id;
}
function doneEvent(op: number): number {
  let id = doneEvents[op]! - 1;
  if (id < 0) { id = defineEvent('emulation-complete', 'VMX CPU', 'guest kernel', mnemonic(op), ['rax:hex', 'rip:hex']); doneEvents[op] = id + 1; }
  return id;
}

export class VmxCpu {
  readonly regs = new Regs();
  /** The VMCS made current with VMPTRLD. */
  vmcs: Vmcs | undefined;
  /** The EPT the current VMCS's EPT_POINTER designates. */
  ept: Ept | undefined;
  /** The MSR bitmap page MSR_BITMAP designates (4 KiB: read-low, read-high, write-low, write-high). */
  msrBitmap: Uint8Array | undefined;
  /** Host memory backing guest RAM (one memslot at GPA 0). */
  ram: DataView | undefined;
  /** Set by the simulator's breakpoint: the next VMRESUME continues where the world stopped. */
  frozen = false;
  private ctxs: Ctx[] = [];
  private idt: GuestIdt | undefined;
  /** Which logical CPU this is (the vcpu id in traces). */
  constructor(readonly id: number, private readonly clock: Clock, private readonly profile: CpuProfile,
    private readonly t: Tracer) {}

  /** Power-on: the guest's first code, and its IDT (`lidt`). */
  reset(code: GuestCode, idt: GuestIdt, rip: number): void {
    this.ctxs = [new Ctx(code, 0, 0, -1)];
    this.idt = idt;
    this.regs.rip = rip;
  }

  /**
   * The instruction the guest is stopped at (after an exit that did not complete it). kvm's emulator
   * reads the instruction bytes at RIP to decode it; the model hands over the decoded instruction.
   */
  pendingInsn(): number { return this.ctxs[this.ctxs.length - 1]?.pending ?? -1; }

  vmlaunch(): number { return this.enter(true); }
  vmresume(): number { return this.frozen ? this.thaw() : this.enter(false); }

  private enter(launch: boolean): number {
    const v = this.vmcs;
    if (!v) throw new Error('VMX CPU: VM entry with no current VMCS');
    if (launch === v.launched) {
      v.write(VMCS.VM_INSTRUCTION_ERROR, launch ? VMXERR_VMLAUNCH_NONCLEAR_VMCS : VMXERR_VMRESUME_NONLAUNCHED_VMCS);
      if (this.t.on) this.t.rec(EV_VMFAIL, this.id, v.read(VMCS.VM_INSTRUCTION_ERROR));
      return ENTER_VMFAIL;
    }
    const r = this.regs;
    const intr = v.read(VMCS.VM_ENTRY_INTR_INFO_FIELD);
    r.rip = v.read(VMCS.GUEST_RIP);
    r.rflags = v.read(VMCS.GUEST_RFLAGS);
    r.cr0 = v.read(VMCS.GUEST_CR0);
    this.clock.spend(this.profile.cost.vmEntry);
    if (this.t.on) this.t.rec(launch ? EV_ENTRY_LAUNCH : EV_ENTRY_RESUME, this.id, r.rip, intr & INTR_INFO_VALID_MASK ? intr : 0);
    // Checks on the guest-state area (SDM 26.3.1): a failure is a VM exit with bit 31 set.
    if ((r.cr0 & X86_CR0_PG) !== 0 && (r.cr0 & X86_CR0_PE) === 0 || (r.rflags & 0x2) === 0) {
      return this.exit(EXIT_REASON.INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY, 0, 0);
    }
    v.launched = true;
    const top = this.ctxs[this.ctxs.length - 1]!;
    if (top.pending >= 0 && r.rip === top.insnRip + insnLength(top.pending)) {
      // The exiting instruction was emulated and skipped: it has completed.
      if (this.t.on) this.t.rec(doneEvent(top.pending), this.id, r.rax, top.insnRip);
      top.pending = -1;
      top.resume = 0;
    }
    if (intr & INTR_INFO_VALID_MASK) {
      v.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, intr & ~INTR_INFO_VALID_MASK);
      this.deliver(intr);
    }
    return this.execute();
  }

  /** Event injection on VM entry (SDM 26.6): an exception faults the pending instruction; an interrupt runs its handler. */
  private deliver(intr: number): void {
    const vector = intr & INTR_INFO_VECTOR_MASK;
    const top = this.ctxs[this.ctxs.length - 1]!;
    this.clock.spend(this.profile.cost.irqInjection);
    if ((intr & INTR_INFO_INTR_TYPE_MASK) === INTR_TYPE_HARD_EXCEPTION) {
      if (this.t.on) this.t.rec(EV_EXCEPTION, this.id, vector);
      // The guest's exception-table fixup (as for rdmsr_safe) resumes after the faulting instruction.
      if (top.pending >= 0) {
        this.regs.rip = top.insnRip + insnLength(top.pending);
        top.pending = -1;
        top.resume = FAULT | vector;
      }
      return;
    }
    if (this.t.on) this.t.rec(EV_IRQ, this.id, vector);
    const h = this.idt?.handler(vector);
    if (!h) throw new Error(`VMX CPU: guest has no handler for vector ${vector}`);
    this.ctxs.push(new Ctx(h, this.regs.rip, this.regs.rflags, vector));
    this.regs.rflags &= ~X86_EFLAGS_IF;
  }

  private thaw(): number {
    this.frozen = false;
    return this.execute();
  }

  /** Run guest code until a VM exit or a breakpoint. */
  private execute(): number {
    const r = this.regs;
    const v = this.vmcs!;
    const native = this.profile.cost.nativeInsn;
    for (;;) {
      const c = this.ctxs[this.ctxs.length - 1]!;
      let op = c.pending;
      if (op < 0) {
        if ((v.read(VMCS.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED_INTR_WINDOW_EXITING) && (r.rflags & X86_EFLAGS_IF)) {
          return this.exit(EXIT_REASON.INTERRUPT_WINDOW, 0, 0);
        }
        const it = c.gen.next(c.resume);
        if (it.done) {
          if (this.ctxs.length === 1) throw new Error('VMX CPU: the guest ran off the end of its code');
          // iret
          this.ctxs.pop();
          r.rip = c.savedRip;
          r.rflags = c.savedFlags;
          continue;
        }
        op = it.value;
        c.pending = op;
        c.insnRip = r.rip;
        if (op === OP.BREAK) { c.pending = -1; c.resume = 0; this.frozen = true; return ENTER_BREAK; }
        if (this.t.on && op > OP.CLI) this.recInsn(op);
      }
      const reason = this.exitReasonFor(op);
      if (reason >= 0) return reason === EXIT_REASON.IO_INSTRUCTION
        ? this.exit(reason, encodeIoQualification(pioSize(op), isPioIn(op), r.rdx), insnLength(op))
        : this.exit(reason, this.qualification, insnLength(op));
      this.executeNative(op);
      this.clock.spend(native);
      r.rip += insnLength(op);
      c.pending = -1;
      c.resume = 0;
    }
  }

  private recInsn(op: number): void {
    const r = this.regs;
    const c = opcode(op);
    const id = insnEvent(op);
    if (isPio(op)) { if (isPioIn(op)) this.t.rec(id, this.id, r.rdx, r.rip); else this.t.rec(id, this.id, r.rdx, r.rax, r.rip); }
    else if (c === OP.CPUID) this.t.rec(id, this.id, r.rax, r.rcx, r.rip);
    else if (c === OP.RDMSR) this.t.rec(id, this.id, r.rcx, r.rip);
    else if (c === OP.WRMSR) this.t.rec(id, this.id, r.rcx, r.rdx * 0x100000000 + (r.rax >>> 0), r.rip);
    else if (c === OP.MEM_READ) this.t.rec(id, this.id, r.rdi, r.rip);
    else if (c === OP.MEM_WRITE || c === OP.MOV_TO_CR || c === OP.MOV_TO_DR || c === OP.XSETBV) {
      if (c === OP.MEM_WRITE) this.t.rec(id, this.id, r.rdi, r.rax, r.rip); else this.t.rec(id, this.id, r.rax, r.rip);
    } else this.t.rec(id, this.id, r.rip);
  }

  /** Exit qualification computed by exitReasonFor for reasons that have one. */
  private qualification = 0;

  /** The basic exit reason this instruction causes under the current controls, or -1 to run it natively. */
  private exitReasonFor(op: number): number {
    const v = this.vmcs!;
    const r = this.regs;
    const cpu = v.read(VMCS.CPU_BASED_VM_EXEC_CONTROL);
    const sec = cpu & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS ? v.read(VMCS.SECONDARY_VM_EXEC_CONTROL) : 0;
    this.qualification = 0;
    switch (opcode(op)) {
      case OP.OUTB: case OP.OUTW: case OP.OUTL: case OP.INB: case OP.INW: case OP.INL:
        // With I/O bitmaps the bitmaps decide; kvm uses unconditional I/O exiting (vmx.c: setup_vmcs_config).
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
      case OP.INVLPG: this.qualification = r.rax; return cpu & CPU_BASED_INVLPG_EXITING ? EXIT_REASON.INVLPG : -1;
      case OP.RDPMC: return cpu & CPU_BASED_RDPMC_EXITING ? EXIT_REASON.RDPMC : -1;
      case OP.RDTSC: return cpu & CPU_BASED_RDTSC_EXITING ? EXIT_REASON.RDTSC : -1;
      case OP.RDTSCP: return cpu & CPU_BASED_RDTSC_EXITING ? EXIT_REASON.RDTSCP : -1;
      case OP.MWAIT: return cpu & CPU_BASED_MWAIT_EXITING ? EXIT_REASON.MWAIT_INSTRUCTION : -1;
      case OP.MONITOR: return cpu & CPU_BASED_MONITOR_EXITING ? EXIT_REASON.MONITOR_INSTRUCTION : -1;
      case OP.PAUSE: return cpu & CPU_BASED_PAUSE_EXITING ? EXIT_REASON.PAUSE_INSTRUCTION : -1;
      case OP.WBINVD: return sec & SECONDARY_EXEC_WBINVD_EXITING ? EXIT_REASON.WBINVD : -1;
      case OP.RDRAND: return sec & SECONDARY_EXEC_RDRAND_EXITING ? EXIT_REASON.RDRAND : -1;
      case OP.RDSEED: return sec & SECONDARY_EXEC_RDSEED_EXITING ? EXIT_REASON.RDSEED : -1;
      case OP.MOV_TO_DR: case OP.MOV_FROM_DR:
        this.qualification = operand(op) | (opcode(op) === OP.MOV_FROM_DR ? 0x10 : 0);
        return cpu & CPU_BASED_MOV_DR_EXITING ? EXIT_REASON.DR_ACCESS : -1;
      case OP.MOV_TO_CR: case OP.MOV_FROM_CR: return this.crExit(op, cpu);
      case OP.RDMSR: case OP.WRMSR: return this.msrExit(op, cpu);
      case OP.MEM_READ: case OP.MEM_WRITE: return this.memExit(op);
      default: return -1;
    }
  }

  /** MOV to/from CR (SDM 25.1.3): CR0/CR4 by guest/host mask vs read shadow, CR3/CR8 by controls. */
  private crExit(op: number, cpu: number): number {
    const v = this.vmcs!;
    const n = operand(op);
    const toCr = opcode(op) === OP.MOV_TO_CR;
    this.qualification = n | (toCr ? 0 : 0x10); // access type 0 = MOV to CR, 1 = MOV from CR; GPR 0 = RAX
    let exits = false;
    if (n === 0 || n === 4) {
      if (toCr) {
        const mask = v.read(n === 0 ? VMCS.CR0_GUEST_HOST_MASK : VMCS.CR4_GUEST_HOST_MASK);
        const shadow = v.read(n === 0 ? VMCS.CR0_READ_SHADOW : VMCS.CR4_READ_SHADOW);
        exits = ((this.regs.rax ^ shadow) & mask) !== 0;
      }
    } else if (n === 3) exits = (cpu & (toCr ? CPU_BASED_CR3_LOAD_EXITING : CPU_BASED_CR3_STORE_EXITING)) !== 0;
    else if (n === 8) exits = (cpu & (toCr ? CPU_BASED_CR8_LOAD_EXITING : CPU_BASED_CR8_STORE_EXITING)) !== 0;
    return exits ? EXIT_REASON.CR_ACCESS : -1;
  }

  /** RDMSR/WRMSR: the MSR bitmap decides (SDM 25.1.3); MSRs outside its two ranges always exit. */
  private msrExit(op: number, cpu: number): number {
    const write = opcode(op) === OP.WRMSR;
    const reason = write ? EXIT_REASON.MSR_WRITE : EXIT_REASON.MSR_READ;
    const bm = this.msrBitmap;
    if (!(cpu & CPU_BASED_USE_MSR_BITMAPS) || !bm) return reason;
    const msr = this.regs.rcx >>> 0;
    let base: number;
    let idx: number;
    if (msr <= 0x1fff) { base = write ? 0x800 : 0; idx = msr; }
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff) { base = write ? 0xc00 : 0x400; idx = msr - 0xc0000000; }
    else return reason;
    return (bm[base + (idx >>> 3)]! >> (idx & 7)) & 1 ? reason : -1;
  }

  /** A guest-physical access walks the EPT (SDM 28.3.3): absent → EPT_VIOLATION, misconfigured → EPT_MISCONFIG. */
  private memExit(op: number): number {
    const ept = this.ept;
    if (!ept) return -1;
    const gpa = this.regs.rdi;
    const write = opcode(op) === OP.MEM_WRITE;
    const perms = ept.lookup(Math.floor(gpa / 4096));
    const v = this.vmcs!;
    if (ept.isMisconfig(perms)) { v.write(VMCS.GUEST_PHYSICAL_ADDRESS, gpa); return EXIT_REASON.EPT_MISCONFIG; }
    if ((perms & (write ? EPT_WRITE : EPT_READ)) === 0) {
      v.write(VMCS.GUEST_PHYSICAL_ADDRESS, gpa);
      // bit 0 read, bit 1 write, bits 3-5 the entry's permissions, bit 7 GVA valid, bit 8 translated.
      this.qualification = (write ? 2 : 1) | ((perms & 7) << 3) | 0x80 | 0x100;
      return EXIT_REASON.EPT_VIOLATION;
    }
    return -1;
  }

  private executeNative(op: number): void {
    const r = this.regs;
    switch (opcode(op)) {
      case OP.STI: r.rflags |= X86_EFLAGS_IF; return;
      case OP.CLI: r.rflags &= ~X86_EFLAGS_IF; return;
      case OP.RDTSC: { const tsc = this.clock.cycles; r.rax = tsc % 0x100000000; r.rdx = Math.floor(tsc / 0x100000000); return; }
      case OP.MEM_READ: {
        const ram = this.ram!;
        const a = r.rdi;
        const n = operand(op);
        r.rax = n === 1 ? ram.getUint8(a) : n === 2 ? ram.getUint16(a, true) : n === 4 ? ram.getUint32(a, true)
          : Number(ram.getBigUint64(a, true));
        return;
      }
      case OP.MEM_WRITE: {
        const ram = this.ram!;
        const a = r.rdi;
        const n = operand(op);
        if (n === 1) ram.setUint8(a, r.rax); else if (n === 2) ram.setUint16(a, r.rax, true);
        else if (n === 4) ram.setUint32(a, r.rax, true); else ram.setBigUint64(a, BigInt(r.rax), true);
        return;
      }
      case OP.MOV_TO_CR: {
        const n = operand(op);
        if (n === 0) r.cr0 = r.rax; else if (n === 3) r.cr3 = r.rax; else if (n === 4) r.cr4 = r.rax; else if (n === 8) r.cr8 = r.rax;
        return;
      }
      case OP.MOV_TO_DR: if (operand(op) === 7) r.dr7 = r.rax; return;
      default: return; // nop, pause, mwait/monitor hints, wbinvd, rdpmc, ... with no architectural effect modelled
    }
  }

  /** Save guest state and fill the exit-information fields (SDM 27.2), then return to the host. */
  private exit(reason: number, qualification: number, len: number): number {
    const v = this.vmcs!;
    const r = this.regs;
    v.write(VMCS.VM_EXIT_REASON, reason >>> 0);
    v.write(VMCS.EXIT_QUALIFICATION, qualification);
    v.write(VMCS.VM_EXIT_INSTRUCTION_LEN, len);
    v.write(VMCS.GUEST_RIP, r.rip);
    v.write(VMCS.GUEST_RFLAGS, r.rflags);
    v.write(VMCS.GUEST_CR0, r.cr0);
    this.clock.spend(this.profile.cost.vmExit);
    const basic = reason & 0xffff;
    if (this.t.on) this.t.rec(exitEvents[basic]!, this.id, basic, qualification, r.rip, len);
    return ENTER_EXITED;
  }
}
