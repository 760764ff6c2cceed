// The VMX CPU: runs guest code in VMX non-root mode and leaves it (a VM exit) exactly when the
// VMCS controls kvm programmed say so, filling the exit fields as the SDM specifies. Guest code is
// a stack of generators (the interrupted context below, an interrupt handler above); each yields
// one instruction and is resumed when that instruction has completed, natively or after kvm
// emulated it and re-entered with RIP past it.
//
// What decides an exit, in the order the CPU checks it at an instruction boundary (SDM Vol. 3C
// 25.2, 26.7, 6.9): an INIT signal, a host NMI (NMI exiting), the VMX-preemption timer, a host
// external interrupt (external-interrupt exiting), the NMI window, the interrupt window; then the
// instruction itself (25.1: unconditional exits, processor-based controls, I/O, MSR bitmaps, CR
// masks, descriptor-table exiting, PAUSE-loop exiting, the exception bitmap, the APIC-access page,
// EPT); after it, the trap-like exits (TPR below threshold, APIC write, EOI induced, monitor trap
// flag).

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import { defineEvent, type Tracer } from '../trace/events';
import { EXIT_REASON, VMX_EXIT_REASONS, VMX_EXIT_REASONS_FAILED_VMENTRY, encodeIoQualification } from '../uapi/vmx';
import { EV_IRQ, processPostedInterrupts, virtualInterruptDelivery } from './apicv';
import type { Ept } from './ept';
import { BP_VECTOR, DF_VECTOR, GP_VECTOR, NMI_VECTOR } from './exceptions';
import { DELIVERED, EXITED, exitReasonFor } from './exiting';
import { OP, Regs, hex64, insnLength, isPio, isPioIn, mnemonic, opcode, operand, pioSize, rax64 } from './insn';
import { executeNative } from './native';
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_MONITOR_TRAP_FLAG,
  CPU_BASED_NMI_WINDOW_EXITING, GUEST_INTR_STATE_MOV_SS, GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_STI,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_INTR_TYPE_MASK, INTR_INFO_VALID_MASK, INTR_INFO_VECTOR_MASK,
  INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR, INTR_TYPE_SOFT_EXCEPTION, INTR_TYPE_SOFT_INTR,
  PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING, PIN_BASED_POSTED_INTR, PIN_BASED_VMX_PREEMPTION_TIMER,
  SECONDARY_EXEC_ENABLE_VPID, SECONDARY_EXEC_NOTIFY_VM_EXITING, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES,
  SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE, VMCS, Vmcs, VMXERR_ENTRY_INVALID_CONTROL_FIELD, VMXERR_VMLAUNCH_NONCLEAR_VMCS,
  VMXERR_VMRESUME_NONLAUNCHED_VMCS, X86_EFLAGS_IF,
} from './vmcs';

/** Guest code: yields opcodes, is resumed with 0, or with FAULT | vector when the instruction faulted. */
export type GuestCode = Generator<number, void, number>;
export const FAULT = 0x100;

/**
 * The guest's interrupt descriptor table, as loaded with `lidt`: a handler per vector; and the code
 * found at a start-up address (where an application processor begins after its SIPI).
 */
export interface GuestIdt {
  handler(vector: number): GuestCode | undefined;
  startup?(rip: number): GuestCode | undefined;
}

/**
 * The guest reached code the model does not have: a vCPU reset by INIT starts at the reset vector
 * (the firmware), an AP started at a page other than the kernel's trampoline. The machine cannot go
 * on; the harness reports it as not modelled.
 */
export class NoGuestCode extends Error {}

/** Result of VMLAUNCH/VMRESUME. */
export const ENTER_EXITED = 0;
export const ENTER_BREAK = 1;
export const ENTER_VMFAIL = 2;
/** The guest is still computing (a WORK in progress) but the host has work of its own due now. */
export const ENTER_PARK = 3;

/** IA32_VMX_MISC[4:0] of the modelled CPU: the preemption timer counts down once every 2^5 TSC cycles. */
export const VMX_PREEMPTION_TIMER_RATE = 5;

const X86_CR0_PE = 1;
const X86_CR0_PG = 0x80000000;
/** RFLAGS bits that must be 0 (SDM 26.3.1.4): 63:22, 15, 5, 3; bit 1 must be 1. */
const RFLAGS_RESERVED_ZERO = 0xffc08028;
const RFLAGS_FIXED_ONE = 0x2;

/** One guest context: the interrupted code below, a handler above it. */
class Ctx {
  pending = -1;
  insnRip = 0;
  resume = 0;
  /** WORK: cycles of native computation still to run. */
  workLeft = -1;
  constructor(readonly gen: GuestCode, readonly savedRip: number, readonly savedFlags: number, readonly vector: number,
    readonly nmi: boolean) {}
}

const EV_ENTRY_LAUNCH = defineEvent('vm-entry', 'kvm', 'VMX CPU', 'VMLAUNCH', ['rip:hex', 'intrInfo:hex']);
const EV_ENTRY_RESUME = defineEvent('vm-entry', 'kvm', 'VMX CPU', 'VMRESUME', ['rip:hex', 'intrInfo:hex']);
const EV_NMI = defineEvent('irq', 'VMX CPU', 'guest kernel', 'nmi', ['vector:hex']);
const EV_EXCEPTION = defineEvent('irq', 'VMX CPU', 'guest kernel', 'exception', ['vector:hex']);
const EV_VMFAIL = defineEvent('vm-exit', 'VMX CPU', 'kvm', 'VMfailValid', ['error']);
/** Events that reach the CPU from outside the guest: the host's interrupts, NMIs, INIT, a machine check. */
const EV_HOST_IRQ = defineEvent('irq', 'host kernel', 'VMX CPU', 'host interrupt', ['vector:hex']);
const EV_HOST_NMI = defineEvent('irq', 'host kernel', 'VMX CPU', 'host NMI', []);
const EV_HOST_INIT = defineEvent('irq', 'host kernel', 'VMX CPU', 'INIT', []);
const EV_HOST_MCE = defineEvent('irq', 'host kernel', 'VMX CPU', 'machine check', []);
const exitEvents: number[] = [];
for (const [n, name] of VMX_EXIT_REASONS) {
  const last = n === EXIT_REASON.EXCEPTION_NMI || n === EXIT_REASON.EXTERNAL_INTERRUPT ? 'intrInfo:hex'
    : n === EXIT_REASON.EPT_VIOLATION || n === EXIT_REASON.EPT_MISCONFIG ? 'gpa:hex' : 'instructionLength';
  exitEvents[n] = defineEvent('vm-exit', 'VMX CPU', 'kvm', name, ['reasonNumber', 'qualification:hex', 'rip:hex', last]);
}
// Event ids by opcode (operand byte included), plus one: 0 until the opcode is first seen.
const insnEvents = new Int32Array(0x10000);
const doneEvents = new Int32Array(0x10000);
function insnArgs(op: number): string[] {
  const c = opcode(op);
  if (isPio(op)) return isPioIn(op) ? ['port:hex', 'rip:hex'] : ['port:hex', 'value:hex', 'rip:hex'];
  if (c === OP.CPUID) return ['leaf:hex', 'subleaf:hex', 'rip:hex'];
  if (c === OP.RDMSR || c === OP.RDPMC) return [c === OP.RDMSR ? 'msr:hex' : 'counter:hex', 'rip:hex'];
  if (c === OP.WRMSR) return ['msr:hex', 'value:hex', 'rip:hex'];
  if (c === OP.MEM_READ || c === OP.LGDT || c === OP.LIDT || c === OP.SGDT || c === OP.SIDT) return ['gpa:hex', 'rip:hex'];
  // An 8-byte store's value is 64 bits: it is kept as its hex text, exact above 2^53.
  if (c === OP.MEM_WRITE || c === OP.LOCK_ADD) return ['gpa:hex', operand(op) === 8 ? 'value:str' : 'value:hex', 'rip:hex'];
  if (c === OP.MOV_TO_CR || c === OP.MOV_TO_DR || c === OP.XSETBV || c === OP.INVLPG) return ['value:hex', 'rip:hex'];
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
// Every instruction's events are declared when the module loads — each opcode with each register
// number and access size it takes — so that two with one name and different operands are a
// start-up error, not a surprise at the first walk that uses the second.
for (const c of Object.values(OP)) {
  if (c === OP.STALL || c === OP.WORK || c === OP.BREAK) continue;
  const operands = c === OP.MOV_TO_CR || c === OP.MOV_FROM_CR || c === OP.MOV_TO_DR || c === OP.MOV_FROM_DR ? [0, 1, 2, 3, 4, 5, 6, 7, 8]
    : c === OP.MEM_READ || c === OP.MEM_WRITE || c === OP.LOCK_ADD ? [1, 2, 4, 8] : [0];
  for (const n of operands) { insnEvent(c | (n << 8)); doneEvent(c | (n << 8)); }
}

/**
 * One logical processor with VT-x. This file holds VM entry and exit and the instruction loop; the
 * decision whether an instruction exits (exiting.ts), APIC virtualization and posted interrupts
 * (apicv.ts) and native execution (native.ts) read and write its state through the fields below
 * that are not private — they belong to the CPU, not to kvm.
 */
export class VmxCpu {
  readonly regs = new Regs();
  /** The VMCS made current with VMPTRLD. */
  vmcs: Vmcs | undefined;
  /** The EPT the current VMCS's EPT_POINTER designates. */
  ept: Ept | undefined;
  /** The MSR bitmap page MSR_BITMAP designates (4 KiB: read-low, read-high, write-low, write-high). */
  msrBitmap: Uint8Array | undefined;
  /** The virtual-APIC page VIRTUAL_APIC_PAGE_ADDR designates (the vcpu's local APIC registers). */
  virtualApic: DataView | undefined;
  /** The page-modification log PML_ADDRESS designates: 512 guest-physical addresses. */
  pml: Float64Array | undefined;
  /** The posted-interrupt descriptor POSTED_INTR_DESC_ADDR designates (PIR, then the control word). */
  piDesc: DataView | undefined;
  /** Host memory backing guest RAM: the memslot at GPA 0, and the one at 4 GiB when RAM reaches past the PCI hole. */
  ram: DataView | undefined;
  ramHigh: DataView | undefined;
  /**
   * Set by the simulator's breakpoint, or while parked: the next VMRESUME continues in the guest
   * where it stopped (the CPU never left non-root mode).
   */
  frozen = false;
  /**
   * When the host has work of its own due, in cycles (set by the machine: the scheduler's next
   * thread or timer). The model runs one host thread at a time; a guest computing (WORK) parks at
   * that moment so the host's other threads — on other host CPUs in reality — run meanwhile.
   */
  hostWorkAt: (() => number) | undefined;
  /** While parked: the cycle it parked at, and the context whose WORK goes on. */
  private parkedAt = -1;
  private parkedCtx: Ctx | undefined;
  private ctxs: Ctx[] = [];
  private idt: GuestIdt | undefined;
  /** Events raised at this physical CPU from outside the guest, taken at the next instruction boundary. */
  private hostIrq = -1;
  private hostNmi = false;
  private initSignal = false;
  private mceOnEntry = false;
  /** Blocking by STI (one instruction) and virtual-NMI blocking (until IRET): GUEST_INTERRUPTIBILITY_INFO. */
  stiShadow = false;
  private nmiBlocked = false;
  /** PAUSE-loop exiting: TSC of the last PAUSE and of the first PAUSE of the current loop. */
  pauseLast = -Infinity;
  pauseFirst = 0;
  /** The VMX-preemption timer's expiry, in TSC cycles (Infinity when not armed). */
  private timerDeadline = Infinity;
  /** Which logical CPU this is (the vcpu id in traces). */
  constructor(readonly id: number, readonly clock: Clock, readonly profile: CpuProfile, readonly t: Tracer) {}

  /** Power-on: the guest's first code, and its IDT (`lidt`). */
  reset(code: GuestCode, idt: GuestIdt, rip: number): void {
    this.ctxs = [new Ctx(code, 0, 0, -1, false)];
    this.stiShadow = false;
    this.nmiBlocked = false;
    this.idt = idt;
    this.regs.rip = rip;
  }

  /**
   * Power-on of an application processor: no code yet. It runs once a VM entry puts it at a
   * start-up address (the SIPI's page), where it fetches the code there (GuestIdt.startup).
   */
  powerOn(idt: GuestIdt): void {
    this.ctxs = [];
    this.idt = idt;
  }

  /**
   * INIT (as kvm emulates it for the vCPU, kvm_vcpu_reset): nothing of what the processor ran
   * survives; it fetches its code anew where the next entry puts it.
   */
  initSignalReset(): void {
    this.ctxs = [];
    this.stiShadow = false;
    this.nmiBlocked = false;
  }

  /**
   * The instruction the guest is stopped at (after an exit that did not complete it). kvm's emulator
   * reads the instruction bytes at RIP to decode it; the model hands over the decoded instruction.
   */
  pendingInsn(): number { return this.ctxs[this.ctxs.length - 1]?.pending ?? -1; }

  // ---------------------------------------------------------------- events from the host

  /**
   * An interrupt for the host (its timer, an IPI) arrives at this CPU. It is taken at the next
   * instruction boundary in VMX non-root mode, where the trace records it.
   */
  hostInterrupt(vector: number): void { if (this.hostIrq < 0) this.hostIrq = vector; }
  /** An NMI for the host (a perf counter overflow, a watchdog). */
  hostNmiArrives(): void { this.hostNmi = true; }
  /** An INIT signal at this physical CPU. */
  initArrives(): void { this.initSignal = true; }
  /** A machine-check event during the next VM entry. */
  machineCheckOnNextEntry(): void { this.mceOnEntry = true; }
  /**
   * Fault injection: the next VM entry finds a reserved RFLAGS bit (22) set in the VMCS's guest
   * state, as a KVM_SET_REGS that does not mask it would leave it.
   */
  invalidateGuestStateOnNextEntry(): void { this.invalidStateOnEntry = true; }
  private invalidStateOnEntry = false;

  vmlaunch(): number { return this.enter(true); }
  vmresume(): number { return this.frozen ? this.thaw() : this.enter(false); }

  controls(): { pin: number; cpu: number; sec: number } {
    const v = this.vmcs!;
    const cpu = v.read(VMCS.CPU_BASED_VM_EXEC_CONTROL);
    return { pin: v.read(VMCS.PIN_BASED_VM_EXEC_CONTROL), cpu, sec: cpu & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS ? v.read(VMCS.SECONDARY_VM_EXEC_CONTROL) : 0 };
  }

  /** VMfailValid: the error number goes to the current VMCS and the guest is not entered. */
  private vmfail(v: Vmcs, err: number): number {
    v.write(VMCS.VM_INSTRUCTION_ERROR, err);
    if (this.t.on) this.t.rec(EV_VMFAIL, this.id, err);
    return ENTER_VMFAIL;
  }

  private enter(launch: boolean): number {
    const v = this.vmcs;
    if (!v) throw new Error('VMX CPU: VM entry with no current VMCS');
    if (launch === v.launched) return this.vmfail(v, launch ? VMXERR_VMLAUNCH_NONCLEAR_VMCS : VMXERR_VMRESUME_NONLAUNCHED_VMCS);
    const { pin, sec } = this.controls();
    // Checks on the VM-execution control fields (SDM 26.2.1.1): VMfailValid, the guest is not entered.
    if ((sec & SECONDARY_EXEC_ENABLE_VPID && v.read(VMCS.VIRTUAL_PROCESSOR_ID) === 0)
      || (sec & SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE && sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES)) {
      return this.vmfail(v, VMXERR_ENTRY_INVALID_CONTROL_FIELD);
    }
    const r = this.regs;
    if (this.invalidStateOnEntry) { this.invalidStateOnEntry = false; v.setBits(VMCS.GUEST_RFLAGS, 1 << 22); }
    const intr = v.read(VMCS.VM_ENTRY_INTR_INFO_FIELD);
    r.rip = v.read(VMCS.GUEST_RIP);
    r.rflags = v.read(VMCS.GUEST_RFLAGS);
    r.cr0 = v.read(VMCS.GUEST_CR0);
    r.cr4 = v.read(VMCS.GUEST_CR4);
    r.dr7 = v.read(VMCS.GUEST_DR7);
    r.idtrBase = v.read(VMCS.GUEST_IDTR_BASE);
    r.idtrLimit = v.read(VMCS.GUEST_IDTR_LIMIT);
    r.gdtrBase = v.read(VMCS.GUEST_GDTR_BASE);
    r.gdtrLimit = v.read(VMCS.GUEST_GDTR_LIMIT);
    const intrState = v.read(VMCS.GUEST_INTERRUPTIBILITY_INFO);
    this.stiShadow = (intrState & GUEST_INTR_STATE_STI) !== 0;
    this.nmiBlocked = (intrState & GUEST_INTR_STATE_NMI) !== 0;
    this.clock.spend(this.profile.cost.vmEntry);
    if (this.t.on) this.t.rec(launch ? EV_ENTRY_LAUNCH : EV_ENTRY_RESUME, this.id, r.rip, intr & INTR_INFO_VALID_MASK ? intr : 0);
    // Checks on the guest-state area (SDM 26.3.1): a failure is a VM exit with bit 31 set.
    if (((r.cr0 & X86_CR0_PG) !== 0 && (r.cr0 & X86_CR0_PE) === 0)
      || (r.rflags & RFLAGS_FIXED_ONE) === 0 || (r.rflags & RFLAGS_RESERVED_ZERO) !== 0) {
      return this.exit(EXIT_REASON.INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY, 0, 0);
    }
    // A machine check while loading guest state (SDM 26.9).
    if (this.mceOnEntry) {
      this.mceOnEntry = false;
      if (this.t.on) this.t.rec(EV_HOST_MCE, this.id);
      return this.exit(EXIT_REASON.MCE_DURING_VMENTRY | VMX_EXIT_REASONS_FAILED_VMENTRY, 0, 0);
    }
    v.launched = true;
    this.pauseLast = -Infinity;
    if (this.ctxs.length === 0) {
      // The first instruction at a start-up address: the code in guest memory there.
      const code = this.idt?.startup?.(r.rip);
      if (!code) {
        throw new NoGuestCode(r.rip === 0xfff0
          ? `vCPU ${this.id} was reset by INIT and starts at the reset vector (0xffff0000 + 0xfff0): the firmware is not modelled`
          : `vCPU ${this.id} starts at 0x${r.rip.toString(16)}, where the model has no guest code (the kernel's trampoline is at 0x9a000)`);
      }
      this.ctxs.push(new Ctx(code, 0, 0, -1, false));
    }
    const top = this.ctxs[this.ctxs.length - 1]!;
    if (top.pending >= 0 && opcode(top.pending) !== OP.WORK && r.rip === top.insnRip + insnLength(top.pending)) {
      // The exiting instruction was emulated and skipped: it has completed.
      if (this.t.on) this.t.rec(doneEvent(top.pending), this.id, r.rax, top.insnRip);
      top.pending = -1;
      top.resume = 0;
    }
    if (intr & INTR_INFO_VALID_MASK) {
      v.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, intr & ~INTR_INFO_VALID_MASK);
      const ex = this.inject(intr);
      if (ex >= 0) return ex;
    }
    // The VMX-preemption timer starts counting down from its VMCS value (SDM 25.5.1).
    this.timerDeadline = pin & PIN_BASED_VMX_PREEMPTION_TIMER
      ? this.clock.cycles + v.read(VMCS.VMX_PREEMPTION_TIMER_VALUE) * 2 ** VMX_PREEMPTION_TIMER_RATE : Infinity;
    return this.execute();
  }

  /** Event injection on VM entry (SDM 26.6): returns an exit reason if delivering it ends in a VM exit. */
  private inject(intr: number): number {
    const vector = intr & INTR_INFO_VECTOR_MASK;
    const type = intr & INTR_INFO_INTR_TYPE_MASK;
    this.clock.spend(this.profile.cost.irqInjection);
    if (type === INTR_TYPE_HARD_EXCEPTION || type === INTR_TYPE_SOFT_EXCEPTION) {
      // An injected exception is delivered through the guest's IDT; the exception bitmap only
      // applies to faults that arise while delivering it (SDM 26.6.1).
      return this.deliverException(vector, (intr & INTR_INFO_DELIVER_CODE_MASK) !== 0 ? this.vmcs!.read(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE) : -1, -1, true);
    }
    if (!this.idtCovers(vector)) return this.deliverException(GP_VECTOR, vector * 8 + 2, vector);
    const nmi = type === INTR_TYPE_NMI_INTR;
    if (this.t.on) this.t.rec(nmi ? EV_NMI : EV_IRQ, this.id, vector);
    this.pushHandler(vector, nmi);
    if (nmi) this.nmiBlocked = true;
    if (type === INTR_TYPE_SOFT_INTR) this.regs.rip += this.vmcs!.read(VMCS.VM_ENTRY_INSTRUCTION_LEN);
    return -1;
  }

  /** Delivery through the guest's IDT: its handler for `vector` runs above the interrupted context, interrupts off. */
  pushHandler(vector: number, nmi: boolean): void {
    const h = this.idt?.handler(vector);
    if (!h) throw new Error(`VMX CPU: guest has no handler for vector ${vector}`);
    this.ctxs.push(new Ctx(h, this.regs.rip, this.regs.rflags, vector, nmi));
    this.regs.rflags &= ~X86_EFLAGS_IF;
  }

  /** Whether the IDT's limit covers the 16-byte gate for `vector` (SDM 6.14.1). */
  private idtCovers(vector: number): boolean { return vector * 16 + 15 <= this.regs.idtrLimit; }

  /**
   * An exception raised in the guest: the exception bitmap decides between a VM exit and delivery
   * through the guest's IDT. A fault while delivering escalates (SDM 6.15 Table 6-5): to #DF, and a
   * fault while delivering #DF is a triple fault, which always exits (SDM 25.2).
   * Returns an exit, or -1 once the guest's handler has taken it.
   */
  deliverException(vector: number, errorCode: number, during = -1, injected = false): number {
    const v = this.vmcs!;
    const top = this.ctxs[this.ctxs.length - 1]!;
    for (;;) {
      if (!injected && v.read(VMCS.EXCEPTION_BITMAP) & (1 << vector)) {
        const soft = vector === BP_VECTOR;
        v.write(VMCS.VM_EXIT_INTR_INFO, (vector | (soft ? INTR_TYPE_SOFT_EXCEPTION : INTR_TYPE_HARD_EXCEPTION) | INTR_INFO_VALID_MASK
          | (errorCode >= 0 ? INTR_INFO_DELIVER_CODE_MASK : 0)) >>> 0);
        v.write(VMCS.VM_EXIT_INTR_ERROR_CODE, Math.max(errorCode, 0));
        // The event being delivered when this one arose is reported as IDT-vectoring information.
        v.write(VMCS.IDT_VECTORING_INFO_FIELD, during >= 0 ? (during | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_VALID_MASK) >>> 0 : 0);
        this.vectoring = true;
        return this.exit(EXIT_REASON.EXCEPTION_NMI, 0, soft && top.pending >= 0 ? insnLength(top.pending) : 0);
      }
      if (this.idtCovers(vector)) break;
      if (vector === DF_VECTOR) return this.exit(EXIT_REASON.TRIPLE_FAULT, 0, 0);
      // The gate is outside the IDT: #GP with the IDT bit set in the error code; a second
      // contributory fault while delivering #GP is a double fault.
      const next = vector === GP_VECTOR ? DF_VECTOR : GP_VECTOR;
      errorCode = next === DF_VECTOR ? 0 : vector * 8 + 2;
      during = vector;
      vector = next;
      injected = false;
    }
    if (this.t.on) this.t.rec(EV_EXCEPTION, this.id, vector);
    // The guest's exception-table fixup (as for rdmsr_safe) resumes after the faulting instruction.
    if (top.pending >= 0) {
      this.regs.rip = top.insnRip + insnLength(top.pending);
      top.pending = -1;
      top.workLeft = -1;
      top.resume = FAULT | vector;
    }
    return -1;
  }

  private thaw(): number {
    this.frozen = false;
    if (this.parkedCtx) {
      // The guest computed while the host's other threads ran: that time counts toward its WORK.
      this.parkedCtx.workLeft = Math.max(0, this.parkedCtx.workLeft - (this.clock.cycles - this.parkedAt));
      this.parkedCtx = undefined;
      this.parkedAt = -1;
    }
    return this.execute();
  }

  /** The exit, if any, an event pending at this instruction boundary causes (SDM 26.7 priority). */
  private boundaryExit(pin: number, cpu: number): number {
    const r = this.regs;
    const v = this.vmcs!;
    if (this.initSignal) {
      this.initSignal = false;
      if (this.t.on) this.t.rec(EV_HOST_INIT, this.id);
      return this.exit(EXIT_REASON.INIT_SIGNAL, 0, 0);
    }
    if (this.hostNmi && pin & PIN_BASED_NMI_EXITING) {
      this.hostNmi = false;
      if (this.t.on) this.t.rec(EV_HOST_NMI, this.id);
      v.write(VMCS.VM_EXIT_INTR_INFO, (NMI_VECTOR | INTR_TYPE_NMI_INTR | INTR_INFO_VALID_MASK) >>> 0);
      return this.exit(EXIT_REASON.EXCEPTION_NMI, 0, 0);
    }
    if (this.clock.cycles >= this.timerDeadline) { this.timerDeadline = Infinity; return this.exit(EXIT_REASON.PREEMPTION_TIMER, 0, 0); }
    if (this.hostIrq >= 0 && pin & PIN_BASED_POSTED_INTR && this.hostIrq === v.read(VMCS.POSTED_INTR_NV) && this.piDesc) {
      this.hostIrq = -1;
      processPostedInterrupts(this);
    }
    if (this.hostIrq >= 0 && pin & PIN_BASED_EXT_INTR_MASK) {
      if (this.t.on) this.t.rec(EV_HOST_IRQ, this.id, this.hostIrq);
      // kvm sets "acknowledge interrupt on exit": the vector is in the exit interruption information.
      v.write(VMCS.VM_EXIT_INTR_INFO, (this.hostIrq | INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK) >>> 0);
      this.hostIrq = -1;
      return this.exit(EXIT_REASON.EXTERNAL_INTERRUPT, 0, 0);
    }
    if (cpu & CPU_BASED_NMI_WINDOW_EXITING && !this.nmiBlocked && !this.stiShadow) return this.exit(EXIT_REASON.NMI_WINDOW, 0, 0);
    if (cpu & CPU_BASED_INTR_WINDOW_EXITING && r.rflags & X86_EFLAGS_IF && !this.stiShadow) return this.exit(EXIT_REASON.INTERRUPT_WINDOW, 0, 0);
    virtualInterruptDelivery(this);
    return -1;
  }

  /** Run guest code until a VM exit or a breakpoint. */
  private execute(): number {
    const r = this.regs;
    const native = this.profile.cost.nativeInsn;
    for (;;) {
      const { pin, cpu, sec } = this.controls();
      const b = this.boundaryExit(pin, cpu);
      if (b >= 0) return b;
      // Read after the boundary: a virtual interrupt may have started a handler.
      const c = this.ctxs[this.ctxs.length - 1]!;
      let op = c.pending;
      if (op < 0) {
        const it = c.gen.next(c.resume);
        if (it.done) {
          if (this.ctxs.length === 1) throw new Error('VMX CPU: the guest ran off the end of its code');
          // iret: back to the interrupted context; it unblocks NMIs.
          this.ctxs.pop();
          r.rip = c.savedRip;
          r.rflags = c.savedFlags;
          if (c.nmi) this.nmiBlocked = false;
          continue;
        }
        op = it.value;
        c.pending = op;
        c.insnRip = r.rip;
        if (op === OP.BREAK) { c.pending = -1; c.resume = 0; this.frozen = true; return ENTER_BREAK; }
        if (this.t.on && op > OP.CLI && op !== OP.WORK && op !== OP.STALL) this.recInsn(op);
      }
      if (opcode(op) === OP.STALL) {
        // No instruction boundary for RCX cycles: with notify VM exiting, a NOTIFY exit once the
        // notify window has passed (SDM 25.2); the VM context is still valid (qualification bit 0 clear).
        const window = this.vmcs!.read(VMCS.NOTIFY_WINDOW);
        c.pending = -1;
        c.resume = 0;
        if (sec & SECONDARY_EXEC_NOTIFY_VM_EXITING && r.rcx > window) { this.clock.spend(window); return this.exit(EXIT_REASON.NOTIFY, 0, 0); }
        this.clock.spend(r.rcx);
        continue;
      }
      if (opcode(op) === OP.WORK) {
        // Native computation: time passes until it is done or the preemption timer expires.
        if (c.workLeft < 0) c.workLeft = r.rcx;
        const hostAt = this.hostWorkAt ? this.hostWorkAt() : Infinity;
        const run = Math.min(c.workLeft, Math.max(0, this.timerDeadline - this.clock.cycles), Math.max(0, hostAt - this.clock.cycles));
        this.clock.spend(run);
        c.workLeft -= run;
        if (c.workLeft > 0) {
          if (this.clock.cycles >= hostAt && this.clock.cycles < this.timerDeadline) {
            this.frozen = true;
            this.parkedAt = this.clock.cycles;
            this.parkedCtx = c;
            return ENTER_PARK;
          }
          continue;
        }
        c.workLeft = -1;
        c.pending = -1;
        c.resume = 0;
        continue;
      }
      const reason = exitReasonFor(this, op, cpu, sec);
      if (reason === EXITED) return ENTER_EXITED;
      if (reason >= 0) {
        return reason === EXIT_REASON.IO_INSTRUCTION
          ? this.exit(reason, encodeIoQualification(pioSize(op), isPioIn(op), r.rdx), insnLength(op))
          : this.exit(reason, this.qualification, insnLength(op));
      }
      if (reason === DELIVERED) continue;
      const after = executeNative(this, op, cpu, sec);
      this.clock.spend(native);
      r.rip += insnLength(op);
      c.pending = -1;
      c.resume = 0;
      this.stiShadow = opcode(op) === OP.STI;
      // Trap-like exits: the instruction has completed, RIP is past it.
      if (after >= 0) return this.exit(after, this.qualification, 0);
      if (cpu & CPU_BASED_MONITOR_TRAP_FLAG) return this.exit(EXIT_REASON.MONITOR_TRAP_FLAG, 0, 0);
    }
  }

  private recInsn(op: number): void {
    const r = this.regs;
    const c = opcode(op);
    const id = insnEvent(op);
    if (isPio(op)) { if (isPioIn(op)) this.t.rec(id, this.id, r.rdx, r.rip); else this.t.rec(id, this.id, r.rdx, r.rax, r.rip); }
    else if (c === OP.CPUID) this.t.rec(id, this.id, r.rax, r.rcx, r.rip);
    else if (c === OP.RDMSR || c === OP.RDPMC) this.t.rec(id, this.id, r.rcx, r.rip);
    else if (c === OP.WRMSR) this.t.rec(id, this.id, r.rcx, r.rdx * 0x100000000 + (r.rax >>> 0), r.rip);
    else if (c === OP.MEM_READ || c === OP.LGDT || c === OP.LIDT || c === OP.SGDT || c === OP.SIDT) this.t.rec(id, this.id, r.rdi, r.rip);
    else if (c === OP.MEM_WRITE || c === OP.LOCK_ADD) this.t.rec(id, this.id, r.rdi, operand(op) === 8 ? this.t.str(hex64(rax64(r))) : r.rax, r.rip);
    else if (c === OP.MOV_TO_CR || c === OP.MOV_TO_DR || c === OP.XSETBV || c === OP.INVLPG) this.t.rec(id, this.id, r.rax, r.rip);
    else this.t.rec(id, this.id, r.rip);
  }

  /** Exit qualification computed by exitReasonFor for reasons that have one. */
  qualification = 0;
  /** IDT_VECTORING_INFO_FIELD was filled for this exit. */
  private vectoring = false;
  /** MSRs the MSR bitmap passes through (FS_BASE, SYSENTER_*, ...): the CPU reads and writes them itself. */
  readonly nativeMsrs = new Map<number, number>();

  /** Save guest state and fill the exit-information fields (SDM 27.2), then return to the host. */
  private exit(reason: number, qualification: number, len: number): number {
    const v = this.vmcs!;
    const r = this.regs;
    const basic = reason & 0xffff;
    v.write(VMCS.VM_EXIT_REASON, reason >>> 0);
    v.write(VMCS.EXIT_QUALIFICATION, qualification);
    v.write(VMCS.VM_EXIT_INSTRUCTION_LEN, len);
    if (basic !== EXIT_REASON.EXCEPTION_NMI && basic !== EXIT_REASON.EXTERNAL_INTERRUPT) v.write(VMCS.VM_EXIT_INTR_INFO, 0);
    if (!this.vectoring) v.write(VMCS.IDT_VECTORING_INFO_FIELD, 0);
    this.vectoring = false;
    v.write(VMCS.GUEST_RIP, r.rip);
    v.write(VMCS.GUEST_RFLAGS, r.rflags);
    v.write(VMCS.GUEST_CR0, r.cr0);
    v.write(VMCS.GUEST_CR4, r.cr4);
    v.write(VMCS.GUEST_DR7, r.dr7);
    v.write(VMCS.GUEST_IDTR_BASE, r.idtrBase);
    v.write(VMCS.GUEST_IDTR_LIMIT, r.idtrLimit);
    v.write(VMCS.GUEST_GDTR_BASE, r.gdtrBase);
    v.write(VMCS.GUEST_GDTR_LIMIT, r.gdtrLimit);
    v.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, (this.stiShadow ? GUEST_INTR_STATE_STI : 0) | (this.nmiBlocked ? GUEST_INTR_STATE_NMI : 0));
    this.clock.spend(this.profile.cost.vmExit);
    if (this.t.on) {
      const last = basic === EXIT_REASON.EXCEPTION_NMI || basic === EXIT_REASON.EXTERNAL_INTERRUPT ? v.read(VMCS.VM_EXIT_INTR_INFO)
        : basic === EXIT_REASON.EPT_VIOLATION || basic === EXIT_REASON.EPT_MISCONFIG ? v.read(VMCS.GUEST_PHYSICAL_ADDRESS) : len;
      this.t.rec(exitEvents[basic]!, this.id, basic, qualification, r.rip, last);
    }
    return ENTER_EXITED;
  }
}

export { GUEST_INTR_STATE_MOV_SS };
