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
import { Ept, EPT_ACCESSED, EPT_DIRTY, EPT_READ, EPT_WRITE, VMX_EPTP_AD_ENABLE_BIT } from './ept';
import { OP, Regs, hex64, insnLength, isPio, isPioIn, memAccess, mnemonic, opcode, operand, pioSize, rax64, setRax64 } from './insn';
import {
  CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_CR8_LOAD_EXITING, CPU_BASED_CR8_STORE_EXITING,
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_HLT_EXITING, CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_INVLPG_EXITING,
  CPU_BASED_MONITOR_EXITING, CPU_BASED_MONITOR_TRAP_FLAG, CPU_BASED_MOV_DR_EXITING, CPU_BASED_MWAIT_EXITING,
  CPU_BASED_NMI_WINDOW_EXITING, CPU_BASED_PAUSE_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_RDTSC_EXITING,
  CPU_BASED_TPR_SHADOW, CPU_BASED_UNCOND_IO_EXITING, CPU_BASED_USE_IO_BITMAPS, CPU_BASED_USE_MSR_BITMAPS,
  GUEST_INTR_STATE_MOV_SS, GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_STI,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_INTR_TYPE_MASK, INTR_INFO_VALID_MASK, INTR_INFO_VECTOR_MASK,
  INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR, INTR_TYPE_SOFT_EXCEPTION, INTR_TYPE_SOFT_INTR,
  PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING, PIN_BASED_POSTED_INTR, PIN_BASED_VMX_PREEMPTION_TIMER,
  SECONDARY_EXEC_APIC_REGISTER_VIRT, SECONDARY_EXEC_BUS_LOCK_DETECTION, SECONDARY_EXEC_DESC, SECONDARY_EXEC_ENCLS_EXITING,
  SECONDARY_EXEC_ENABLE_PML, SECONDARY_EXEC_NOTIFY_VM_EXITING,
  SECONDARY_EXEC_ENABLE_INVPCID, SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_ENABLE_VPID,
  SECONDARY_EXEC_PAUSE_LOOP_EXITING, SECONDARY_EXEC_RDRAND_EXITING, SECONDARY_EXEC_RDSEED_EXITING,
  SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE,
  SECONDARY_EXEC_WBINVD_EXITING, SECONDARY_EXEC_XSAVES,
  VMCS, Vmcs, VMXERR_ENTRY_INVALID_CONTROL_FIELD, VMXERR_VMLAUNCH_NONCLEAR_VMCS, VMXERR_VMRESUME_NONLAUNCHED_VMCS,
  X86_EFLAGS_IF,
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

// Exception vectors (SDM Vol. 3A 6.3.1).
export const DB_VECTOR = 1;
export const NMI_VECTOR = 2;
export const BP_VECTOR = 3;
export const UD_VECTOR = 6;
export const DF_VECTOR = 8;
export const GP_VECTOR = 13;
export const PF_VECTOR = 14;
export const AC_VECTOR = 17;
export const MC_VECTOR = 18;

/** IA32_VMX_MISC[4:0] of the modelled CPU: the preemption timer counts down once every 2^5 TSC cycles. */
export const VMX_PREEMPTION_TIMER_RATE = 5;

const X86_CR0_PE = 1;
const X86_CR0_PG = 0x80000000;
const X86_CR4_DE = 1 << 3;
/** RFLAGS bits that must be 0 (SDM 26.3.1.4): 63:22, 15, 5, 3; bit 1 must be 1. */
const RFLAGS_RESERVED_ZERO = 0xffc08028;
const RFLAGS_FIXED_ONE = 0x2;

// xAPIC register offsets the APIC-access page virtualizes (SDM 29.4).
const APIC_TASKPRI = 0x80;
const APIC_EOI = 0xb0;
/** Offsets whose reads APIC-register virtualization serves from the virtual-APIC page (SDM 29.4.2). */
const APIC_VIRT_READABLE = new Set([0x20, 0x30, 0x80, 0xb0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330,
  0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0, ...Array.from({ length: 24 }, (_, i) => 0x100 + 0x10 * i)]);
/** Offsets whose writes are virtualized and then trapped with an APIC-write exit (SDM 29.4.3.1). */
const APIC_VIRT_WRITE_TRAPPED = new Set([0x20, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350,
  0x360, 0x370, 0x380, 0x3e0]);
/** Every VM exit that is trap-like leaves RIP after the instruction and reports no instruction length. */
const X2APIC_MSR_TPR = 0x808;
const X2APIC_MSR_EOI = 0x80b;
const X2APIC_MSR_SELF_IPI = 0x83f;

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
const EV_IRQ = defineEvent('irq', 'VMX CPU', 'guest kernel', 'interrupt', ['vector:hex']);
const EV_NMI = defineEvent('irq', 'VMX CPU', 'guest kernel', 'nmi', ['vector:hex']);
const EV_EXCEPTION = defineEvent('irq', 'VMX CPU', 'guest kernel', 'exception', ['vector:hex']);
const EV_VMFAIL = defineEvent('vm-exit', 'VMX CPU', 'kvm', 'VMfailValid', ['error']);
/** Events that reach the CPU from outside the guest: the host's interrupts, NMIs, INIT, a machine check. */
const EV_HOST_IRQ = defineEvent('irq', 'host kernel', 'VMX CPU', 'host interrupt', ['vector:hex']);
const EV_HOST_NMI = defineEvent('irq', 'host kernel', 'VMX CPU', 'host NMI', []);
const EV_HOST_INIT = defineEvent('irq', 'host kernel', 'VMX CPU', 'INIT', []);
const EV_HOST_MCE = defineEvent('irq', 'host kernel', 'VMX CPU', 'machine check', []);
/** The posted-interrupt notification (SDM 29.6): taken in non-root mode without a VM exit. */
const EV_POSTED = defineEvent('irq', 'host kernel', 'VMX CPU', 'posted-interrupt notification', ['vector:hex', 'pir:hex']);
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

/** Split-lock: a locked access that crosses a 64-byte cache line takes a bus lock. */
const crossesCacheLine = (gpa: number, size: number): boolean => Math.floor(gpa / 64) !== Math.floor((gpa + size - 1) / 64);

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
  /** Host memory backing guest RAM (one memslot at GPA 0). */
  ram: DataView | undefined;
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
  private stiShadow = false;
  private nmiBlocked = false;
  /** PAUSE-loop exiting: TSC of the last PAUSE and of the first PAUSE of the current loop. */
  private pauseLast = -Infinity;
  private pauseFirst = 0;
  /** The VMX-preemption timer's expiry, in TSC cycles (Infinity when not armed). */
  private timerDeadline = Infinity;
  /** Which logical CPU this is (the vcpu id in traces). */
  constructor(readonly id: number, private readonly clock: Clock, private readonly profile: CpuProfile,
    private readonly t: Tracer) {}

  /** Power-on: the guest's first code, and its IDT (`lidt`). */
  reset(code: GuestCode, idt: GuestIdt, rip: number): void {
    this.ctxs = [new Ctx(code, 0, 0, -1, false)];
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

  private controls(): { pin: number; cpu: number; sec: number } {
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
    const h = this.idt?.handler(vector);
    if (!h) throw new Error(`VMX CPU: guest has no handler for vector ${vector}`);
    this.ctxs.push(new Ctx(h, this.regs.rip, this.regs.rflags, vector, nmi));
    this.regs.rflags &= ~X86_EFLAGS_IF;
    if (nmi) this.nmiBlocked = true;
    if (type === INTR_TYPE_SOFT_INTR) this.regs.rip += this.vmcs!.read(VMCS.VM_ENTRY_INSTRUCTION_LEN);
    return -1;
  }

  /** Whether the IDT's limit covers the 16-byte gate for `vector` (SDM 6.14.1). */
  private idtCovers(vector: number): boolean { return vector * 16 + 15 <= this.regs.idtrLimit; }

  /**
   * An exception raised in the guest: the exception bitmap decides between a VM exit and delivery
   * through the guest's IDT. A fault while delivering escalates (SDM 6.15 Table 6-5): to #DF, and a
   * fault while delivering #DF is a triple fault, which always exits (SDM 25.2).
   * Returns an exit, or -1 once the guest's handler has taken it.
   */
  private deliverException(vector: number, errorCode: number, during = -1, injected = false): number {
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
      this.processPostedInterrupts();
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
    this.virtualInterruptDelivery();
    return -1;
  }

  /**
   * Posted-interrupt processing (SDM 29.6): the notification vector arrived in VMX non-root mode
   * with "process posted interrupts" set. The CPU clears ON, moves the PIR into the virtual IRR of
   * the virtual-APIC page, raises RVI to the highest of them, and evaluates pending virtual
   * interrupts — no VM exit. (The physical local APIC's EOI for the notification is not modelled.)
   */
  private processPostedInterrupts(): void {
    const pi = this.piDesc!;
    const apic = this.virtualApic;
    const v = this.vmcs!;
    pi.setUint8(32, pi.getUint8(32) & ~1);
    let highest = 0;
    for (let i = 0; i < 8; i++) {
      const w = pi.getUint32(i << 2, true);
      if (w === 0) continue;
      pi.setUint32(i << 2, 0, true);
      if (apic) apic.setUint32(0x200 + (i << 4), (apic.getUint32(0x200 + (i << 4), true) | w) >>> 0, true);
      highest = (i << 5) + 31 - Math.clz32(w);
    }
    if (this.t.on) this.t.rec(EV_POSTED, this.id, v.read(VMCS.POSTED_INTR_NV), highest);
    const status = v.read(VMCS.GUEST_INTR_STATUS);
    if (highest > (status & 0xff)) v.write(VMCS.GUEST_INTR_STATUS, (status & 0xff00) | highest);
  }

  /**
   * Virtual-interrupt delivery (SDM 29.2): RVI is recognized when its priority class is above
   * VPPR's, and delivered at an instruction boundary where interrupts are enabled: VISR and SVI take
   * the vector, VIRR and RVI drop it, and the guest's handler runs — with no VM exit.
   */
  private virtualInterruptDelivery(): void {
    const v = this.vmcs!;
    const apic = this.virtualApic;
    const { sec } = this.controls();
    if (!apic || !(sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) || !(this.regs.rflags & X86_EFLAGS_IF) || this.stiShadow) return;
    const status = v.read(VMCS.GUEST_INTR_STATUS);
    const rvi = status & 0xff;
    const svi = (status >> 8) & 0xff;
    const vtpr = apic.getUint8(APIC_TASKPRI);
    const vppr = (vtpr & 0xf0) >= (svi & 0xf0) ? vtpr : svi & 0xf0;
    if (rvi === 0 || (rvi & 0xf0) <= (vppr & 0xf0)) return;
    const setBit = (base: number, vec: number, on: boolean) => {
      const a = base + ((vec >> 5) << 4);
      const w = apic.getUint32(a, true);
      apic.setUint32(a, (on ? w | (1 << (vec & 31)) : w & ~(1 << (vec & 31))) >>> 0, true);
    };
    setBit(0x100, rvi, true);
    setBit(0x200, rvi, false);
    let nextRvi = 0;
    for (let i = 7; i >= 0 && nextRvi === 0; i--) { const w = apic.getUint32(0x200 + (i << 4), true); if (w) nextRvi = (i << 5) + 31 - Math.clz32(w); }
    v.write(VMCS.GUEST_INTR_STATUS, nextRvi | (rvi << 8));
    this.clock.spend(this.profile.cost.irqInjection);
    if (this.t.on) this.t.rec(EV_IRQ, this.id, rvi);
    const h = this.idt?.handler(rvi);
    if (!h) throw new Error(`VMX CPU: guest has no handler for vector ${rvi}`);
    this.ctxs.push(new Ctx(h, this.regs.rip, this.regs.rflags, rvi, false));
    this.regs.rflags &= ~X86_EFLAGS_IF;
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
      const reason = this.exitReasonFor(op, cpu, sec);
      if (reason === EXITED) return ENTER_EXITED;
      if (reason >= 0) {
        return reason === EXIT_REASON.IO_INSTRUCTION
          ? this.exit(reason, encodeIoQualification(pioSize(op), isPioIn(op), r.rdx), insnLength(op))
          : this.exit(reason, this.qualification, insnLength(op));
      }
      if (reason === DELIVERED) continue;
      const after = this.executeNative(op, cpu, sec);
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
  private qualification = 0;
  /** IDT_VECTORING_INFO_FIELD was filled for this exit. */
  private vectoring = false;
  /** MSRs the MSR bitmap passes through (FS_BASE, SYSENTER_*, ...): the CPU reads and writes them itself. */
  private readonly nativeMsrs = new Map<number, number>();

  /**
   * The basic exit reason this instruction causes under the current controls; -1 to run it
   * natively; EXITED when it already exited (an exception the bitmap intercepts); DELIVERED when it
   * raised an exception the guest's own handler took.
   */
  private exitReasonFor(op: number, cpu: number, sec: number): number {
    const r = this.regs;
    const v = this.vmcs!;
    this.qualification = 0;
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
      case OP.INVLPG: this.qualification = r.rax; return cpu & CPU_BASED_INVLPG_EXITING ? EXIT_REASON.INVLPG : -1;
      case OP.INVPCID:
        if (!(sec & SECONDARY_EXEC_ENABLE_INVPCID)) return this.raise(UD_VECTOR);
        return cpu & CPU_BASED_INVLPG_EXITING ? EXIT_REASON.INVPCID : -1;
      case OP.RDPMC: return cpu & CPU_BASED_RDPMC_EXITING ? EXIT_REASON.RDPMC : -1;
      case OP.RDTSC: return cpu & CPU_BASED_RDTSC_EXITING ? EXIT_REASON.RDTSC : -1;
      case OP.RDTSCP:
        if (!(sec & SECONDARY_EXEC_ENABLE_RDTSCP)) return this.raise(UD_VECTOR);
        return cpu & CPU_BASED_RDTSC_EXITING ? EXIT_REASON.RDTSCP : -1;
      case OP.MWAIT: return cpu & CPU_BASED_MWAIT_EXITING ? EXIT_REASON.MWAIT_INSTRUCTION : -1;
      case OP.MONITOR: return cpu & CPU_BASED_MONITOR_EXITING ? EXIT_REASON.MONITOR_INSTRUCTION : -1;
      case OP.PAUSE: return this.pauseExit(cpu, sec);
      case OP.WBINVD: return sec & SECONDARY_EXEC_WBINVD_EXITING ? EXIT_REASON.WBINVD : -1;
      case OP.RDRAND: return sec & SECONDARY_EXEC_RDRAND_EXITING ? EXIT_REASON.RDRAND : -1;
      case OP.RDSEED: return sec & SECONDARY_EXEC_RDSEED_EXITING ? EXIT_REASON.RDSEED : -1;
      // XSAVES/XRSTORS exit only for the state components the XSS-exiting bitmap names (SDM 25.1.3).
      case OP.XSAVES: case OP.XRSTORS:
        if (!(sec & SECONDARY_EXEC_XSAVES)) return this.raise(UD_VECTOR);
        return v.read(VMCS.XSS_EXIT_BITMAP) !== 0 ? (opcode(op) === OP.XSAVES ? EXIT_REASON.XSAVES : EXIT_REASON.XRSTORS) : -1;
      case OP.SGDT: case OP.SIDT: case OP.LGDT: case OP.LIDT:
        if (sec & SECONDARY_EXEC_DESC) { this.descInfo(op); return EXIT_REASON.GDTR_IDTR; }
        return this.memExit(op, sec);
      case OP.SLDT: case OP.STR: case OP.LLDT: case OP.LTR:
        if (sec & SECONDARY_EXEC_DESC) { this.descInfo(op); return EXIT_REASON.LDTR_TR; }
        return -1;
      case OP.MOV_TO_DR: case OP.MOV_FROM_DR: {
        const n = operand(op);
        // DR4/DR5 with CR4.DE are #UD before any VM exit (SDM Vol. 3B 17.2.2).
        if ((n === 4 || n === 5) && r.cr4 & X86_CR4_DE) return this.raise(UD_VECTOR);
        this.qualification = n | (opcode(op) === OP.MOV_FROM_DR ? 0x10 : 0);
        return cpu & CPU_BASED_MOV_DR_EXITING ? EXIT_REASON.DR_ACCESS : -1;
      }
      case OP.MOV_TO_CR: case OP.MOV_FROM_CR: return this.crExit(op, cpu);
      case OP.RDMSR: case OP.WRMSR: return this.msrExit(op, cpu);
      case OP.MEM_READ: case OP.MEM_WRITE: case OP.LOCK_ADD: return this.memExit(op, sec);
      case OP.UD2: return this.raise(UD_VECTOR);
      case OP.ENCLS: {
        // ENCLS exiting with the ENCLS-exiting bitmap (leaf in EAX; bit 63 stands for leaves >= 63); without it, no SGX: #UD.
        if (!(sec & SECONDARY_EXEC_ENCLS_EXITING)) return this.raise(UD_VECTOR);
        const bm = v.read(VMCS.ENCLS_EXITING_BITMAP);
        return bm === -1 || Math.floor(bm / 2 ** Math.min(r.rax >>> 0, 63)) % 2 === 1 ? EXIT_REASON.ENCLS : this.raise(UD_VECTOR);
      }
      case OP.INT3: return this.raise(BP_VECTOR);
      default: return -1;
    }
  }

  /** Raise an exception for the current instruction: EXITED, or DELIVERED to the guest. */
  private raise(vector: number, errorCode = -1): number {
    return this.deliverException(vector, errorCode) >= 0 ? EXITED : DELIVERED;
  }

  /** VMX_INSTRUCTION_INFO for descriptor-table exits: bits 29:28 name the instruction (SDM Table 28-10/11). */
  private descInfo(op: number): void {
    const identity: Record<number, number> = {
      [OP.SGDT]: 0, [OP.SIDT]: 1, [OP.LGDT]: 2, [OP.LIDT]: 3, [OP.SLDT]: 0, [OP.STR]: 1, [OP.LLDT]: 2, [OP.LTR]: 3,
    };
    this.vmcs!.write(VMCS.VMX_INSTRUCTION_INFO, (identity[opcode(op)]! << 28) >>> 0);
  }

  /** PAUSE: PAUSE exiting, else PAUSE-loop exiting with PLE_GAP and PLE_WINDOW (SDM 25.1.3). */
  private pauseExit(cpu: number, sec: number): number {
    if (cpu & CPU_BASED_PAUSE_EXITING) return EXIT_REASON.PAUSE_INSTRUCTION;
    if (!(sec & SECONDARY_EXEC_PAUSE_LOOP_EXITING)) return -1;
    const v = this.vmcs!;
    const now = this.clock.cycles;
    if (now - this.pauseLast > v.read(VMCS.PLE_GAP)) this.pauseFirst = now;
    else if (now - this.pauseFirst > v.read(VMCS.PLE_WINDOW)) return EXIT_REASON.PAUSE_INSTRUCTION;
    this.pauseLast = now;
    return -1;
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
    // Without CR8 exiting, MOV CR8 uses the TPR shadow in the virtual-APIC page (SDM 29.3).
    else if (n === 8) exits = (cpu & (toCr ? CPU_BASED_CR8_LOAD_EXITING : CPU_BASED_CR8_STORE_EXITING)) !== 0;
    return exits ? EXIT_REASON.CR_ACCESS : -1;
  }

  /**
   * RDMSR/WRMSR: the MSR bitmap decides (SDM 25.1.3); MSRs outside its two ranges always exit.
   * With "virtualize x2APIC mode", TPR (and with virtual-interrupt delivery, EOI) are virtualized
   * in the virtual-APIC page when the bitmap lets them through (SDM 29.5).
   */
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

  /**
   * A guest-physical access. The APIC-access page first (SDM 29.4): virtualized or an APIC_ACCESS
   * exit; then the EPT walk (SDM 28.3.3): absent or without the permission → EPT_VIOLATION,
   * misconfigured → EPT_MISCONFIG.
   */
  private memExit(op: number, sec: number): number {
    const ept = this.ept;
    const m = memAccess(op)!;
    const gpa = this.regs.rdi;
    const v = this.vmcs!;
    if (ept) {
      const perms = ept.lookup(Math.floor(gpa / 4096));
      if (ept.isMisconfig(perms)) { v.write(VMCS.GUEST_PHYSICAL_ADDRESS, gpa); return EXIT_REASON.EPT_MISCONFIG; }
      if ((perms & (m.write ? EPT_WRITE : EPT_READ)) === 0) {
        v.write(VMCS.GUEST_PHYSICAL_ADDRESS, gpa);
        // bit 0 read, bit 1 write, bits 5:3 the entry's permissions, bit 7 GLA valid, bit 8 translated.
        this.qualification = (m.write ? 2 : 1) | ((perms & 7) << 3) | 0x80 | 0x100;
        return EXIT_REASON.EPT_VIOLATION;
      }
    }
    if (sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES && Math.floor(gpa / 4096) === Math.floor(v.read(VMCS.APIC_ACCESS_ADDR) / 4096)
      && opcode(op) !== OP.LOCK_ADD) {
      const offset = gpa & 0xfff;
      const virtualized = m.write ? this.apicWriteVirtualized(offset, sec) : this.apicReadVirtualized(offset, sec);
      if (!virtualized) {
        // Exit qualification: offset in bits 11:0, access type in 15:12 (0 linear read, 1 linear write).
        this.qualification = offset | ((m.write ? 1 : 0) << 12);
        return EXIT_REASON.APIC_ACCESS;
      }
      return -1;
    }
    if (ept && m.write) return this.eptDirty(ept, gpa, sec);
    return -1;
  }

  /**
   * A write through an EPT entry whose dirty flag is clear sets it (SDM 28.3.5, with EPTP's A/D
   * bit). With "enable PML" the CPU logs the page's address first (SDM 29.3.6): at PML_INDEX, which
   * then counts down from 511; an index out of range is a log-full event, a VM exit before the write.
   */
  private eptDirty(ept: Ept, gpa: number, sec: number): number {
    const v = this.vmcs!;
    if (!(v.read(VMCS.EPT_POINTER) & VMX_EPTP_AD_ENABLE_BIT)) return -1;
    const gfn = Math.floor(gpa / 4096);
    const perms = ept.lookup(gfn);
    if (perms & EPT_DIRTY) return -1;
    if (sec & SECONDARY_EXEC_ENABLE_PML && this.pml) {
      const index = v.read(VMCS.GUEST_PML_INDEX);
      if (index > 511) { this.qualification = 0; return EXIT_REASON.PML_FULL; }
      this.pml[index] = gfn * 4096;
      v.write(VMCS.GUEST_PML_INDEX, (index - 1) & 0xffff);
    }
    ept.set(gfn, perms | EPT_ACCESSED | EPT_DIRTY);
    return -1;
  }

  /** SDM 29.4.2: with a TPR shadow, a read of TPR (and with APIC-register virtualization, most registers) is virtualized. */
  private apicReadVirtualized(offset: number, sec: number): boolean {
    if (!this.virtualApic) return false;
    if (sec & SECONDARY_EXEC_APIC_REGISTER_VIRT) return APIC_VIRT_READABLE.has(offset);
    return offset === APIC_TASKPRI && (this.vmcs!.read(VMCS.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED_TPR_SHADOW) !== 0;
  }

  /** SDM 29.4.3: TPR writes with a TPR shadow; EOI with virtual-interrupt delivery; the rest with APIC-register virtualization. */
  private apicWriteVirtualized(offset: number, sec: number): boolean {
    if (!this.virtualApic) return false;
    if (offset === APIC_TASKPRI) return (this.vmcs!.read(VMCS.CPU_BASED_VM_EXEC_CONTROL) & CPU_BASED_TPR_SHADOW) !== 0;
    if (offset === APIC_EOI) return (sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) !== 0;
    return (sec & SECONDARY_EXEC_APIC_REGISTER_VIRT) !== 0 && APIC_VIRT_WRITE_TRAPPED.has(offset);
  }

  /**
   * Run the instruction natively. Returns a trap-like exit reason the instruction's completion
   * causes (TPR below threshold, APIC write, EOI induced, bus lock), or -1.
   */
  private executeNative(op: number, cpu: number, sec: number): number {
    const r = this.regs;
    const v = this.vmcs!;
    switch (opcode(op)) {
      case OP.STI: r.rflags |= X86_EFLAGS_IF; return -1;
      case OP.CLI: r.rflags &= ~X86_EFLAGS_IF; return -1;
      case OP.RDTSC: case OP.RDTSCP: { const tsc = this.clock.cycles; r.rax = tsc % 0x100000000; r.rdx = Math.floor(tsc / 0x100000000); return -1; }
      case OP.MEM_READ: {
        const n = operand(op);
        const apic = this.apicPage(r.rdi, sec);
        if (apic) { r.rax = apic.getUint32(r.rdi & 0xfff, true); return -1; }
        if (n === 8) setRax64(r, this.ram!.getBigUint64(r.rdi, true));
        else r.rax = readRam(this.ram!, r.rdi, n);
        return -1;
      }
      case OP.MEM_WRITE: case OP.LOCK_ADD: {
        const n = operand(op);
        const apic = this.apicPage(r.rdi, sec);
        if (apic) return this.apicWrite(apic, r.rdi & 0xfff, r.rax >>> 0, cpu, sec);
        if (n === 8) {
          // All 64 bits of RAX, exactly; a locked add wraps modulo 2^64.
          const v = rax64(r);
          this.ram!.setBigUint64(r.rdi, BigInt.asUintN(64, opcode(op) === OP.LOCK_ADD ? this.ram!.getBigUint64(r.rdi, true) + v : v), true);
        } else {
          const val = opcode(op) === OP.LOCK_ADD ? readRam(this.ram!, r.rdi, n) + r.rax : r.rax;
          writeRam(this.ram!, r.rdi, n, val);
        }
        if (opcode(op) === OP.LOCK_ADD && sec & SECONDARY_EXEC_BUS_LOCK_DETECTION && crossesCacheLine(r.rdi, n)) return EXIT_REASON.BUS_LOCK;
        return -1;
      }
      case OP.WRMSR: case OP.RDMSR: {
        // An MSR the bitmap passes through. x2APIC MSRs under "virtualize x2APIC mode" go to the
        // virtual-APIC page (SDM 29.5); IA32_TSC reads the TSC; the rest are the CPU's own.
        const msr = r.rcx >>> 0;
        const apic = this.virtualApic;
        if (!apic || !(sec & SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE) || msr < 0x800 || msr > 0x8ff) {
          if (opcode(op) === OP.WRMSR) { this.nativeMsrs.set(msr, (r.rdx >>> 0) * 2 ** 32 + (r.rax >>> 0)); return -1; }
          const val = msr === 0x10 ? this.clock.cycles : this.nativeMsrs.get(msr) ?? 0;
          r.rax = val % 2 ** 32; r.rdx = Math.floor(val / 2 ** 32);
          return -1;
        }
        const off = (msr - 0x800) << 4;
        if (opcode(op) === OP.RDMSR) { r.rax = apic.getUint32(off, true); r.rdx = 0; return -1; }
        if (msr === X2APIC_MSR_TPR || msr === X2APIC_MSR_EOI) return this.apicWrite(apic, off, r.rax >>> 0, cpu, sec);
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
          if (this.virtualApic && cpu & CPU_BASED_TPR_SHADOW) return this.apicWrite(this.virtualApic, APIC_TASKPRI, (r.rax & 0xf) << 4, cpu, sec);
        }
        return -1;
      }
      case OP.MOV_FROM_CR: {
        const n = operand(op);
        // CR0/CR4: host-owned bits read from the read shadow (SDM 25.3).
        if (n === 0) r.rax = (r.cr0 & ~v.read(VMCS.CR0_GUEST_HOST_MASK)) | (v.read(VMCS.CR0_READ_SHADOW) & v.read(VMCS.CR0_GUEST_HOST_MASK));
        else if (n === 4) r.rax = (r.cr4 & ~v.read(VMCS.CR4_GUEST_HOST_MASK)) | (v.read(VMCS.CR4_READ_SHADOW) & v.read(VMCS.CR4_GUEST_HOST_MASK));
        else if (n === 3) r.rax = r.cr3;
        else if (n === 8) r.rax = this.virtualApic && cpu & CPU_BASED_TPR_SHADOW ? this.virtualApic.getUint8(APIC_TASKPRI) >> 4 : r.cr8;
        r.rax >>>= 0;
        return -1;
      }
      case OP.MOV_TO_DR: if (operand(op) === 7) r.dr7 = r.rax; return -1;
      case OP.MOV_FROM_DR: r.rax = operand(op) === 7 ? r.dr7 : 0; return -1;
      case OP.SGDT: case OP.SIDT: {
        const sidt = opcode(op) === OP.SIDT;
        this.ram!.setUint16(r.rdi, sidt ? r.idtrLimit : r.gdtrLimit, true);
        this.ram!.setBigUint64(r.rdi + 2, BigInt.asUintN(64, BigInt(sidt ? r.idtrBase : r.gdtrBase)), true);
        return -1;
      }
      case OP.LGDT: case OP.LIDT: {
        const limit = this.ram!.getUint16(r.rdi, true);
        const base = Number(BigInt.asIntN(64, this.ram!.getBigUint64(r.rdi + 2, true)));
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

  /** The virtual-APIC page when a GPA hits the APIC-access page (a virtualized access), else undefined. */
  private apicPage(gpa: number, sec: number): DataView | undefined {
    if (!(sec & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES)) return undefined;
    return Math.floor(gpa / 4096) === Math.floor(this.vmcs!.read(VMCS.APIC_ACCESS_ADDR) / 4096) ? this.virtualApic : undefined;
  }

  /**
   * A virtualized write to the virtual-APIC page (SDM 29.4.3.2, 29.1): TPR virtualization (with a
   * TPR threshold check unless virtual-interrupt delivery is on), EOI virtualization (an EOI-induced
   * exit for a vector in the EOI-exit bitmap), or APIC-write emulation (a trap-like APIC_WRITE exit).
   */
  private apicWrite(apic: DataView, offset: number, val: number, cpu: number, sec: number): number {
    const v = this.vmcs!;
    if (offset === APIC_TASKPRI) {
      apic.setUint32(APIC_TASKPRI, val & 0xff, true);
      if (!(sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) && cpu & CPU_BASED_TPR_SHADOW
        && ((val & 0xff) >> 4) < (v.read(VMCS.TPR_THRESHOLD) & 0xf)) return EXIT_REASON.TPR_BELOW_THRESHOLD;
      return -1;
    }
    if (offset === APIC_EOI && sec & SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY) {
      // EOI virtualization: retire SVI from the virtual ISR; an EOI-exit-bitmap vector exits.
      const status = v.read(VMCS.GUEST_INTR_STATUS);
      const vector = (status >> 8) & 0xff;
      apic.setUint32(0x100 + ((vector >> 5) << 4), apic.getUint32(0x100 + ((vector >> 5) << 4), true) & ~(1 << (vector & 31)), true);
      let svi = 0;
      for (let i = 255; i >= 16; i--) if (apic.getUint32(0x100 + ((i >> 5) << 4), true) & (1 << (i & 31))) { svi = i; break; }
      v.write(VMCS.GUEST_INTR_STATUS, (status & 0xff) | (svi << 8));
      const bitmap = v.read(VMCS.EOI_EXIT_BITMAP0 + 2 * (vector >> 6));
      if (Math.floor(bitmap / 2 ** (vector & 63)) % 2 === 1) { this.qualification = vector; return EXIT_REASON.EOI_INDUCED; }
      return -1;
    }
    apic.setUint32(offset, val, true);
    this.qualification = offset;
    return EXIT_REASON.APIC_WRITE;
  }

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

/** exitReasonFor: the instruction raised an exception that exited, or that the guest took. */
const EXITED = -2;
const DELIVERED = -3;

function readRam(ram: DataView, a: number, n: number): number {
  return n === 1 ? ram.getUint8(a) : n === 2 ? ram.getUint16(a, true) : n === 4 ? ram.getUint32(a, true) : Number(ram.getBigUint64(a, true));
}
function writeRam(ram: DataView, a: number, n: number, v: number): void {
  if (n === 1) ram.setUint8(a, v); else if (n === 2) ram.setUint16(a, v, true);
  else if (n === 4) ram.setUint32(a, v >>> 0, true); else ram.setBigUint64(a, BigInt.asUintN(64, BigInt(v)), true);
}

export { GUEST_INTR_STATE_MOV_SS };
