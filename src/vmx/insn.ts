// Guest instructions as the VMX CPU sees them. Guest code yields an opcode (a small number) after
// loading its operands into the register file, as compiled code would: `outw %ax,(%dx)` takes the
// port in DX and the value in AX; `wrmsr` takes ECX and EDX:EAX; a memory access takes its address
// in RDI. Some opcodes carry one operand in bits 8..15 (the CR/DR number, the access size).

export const OP = {
  NOP: 1, STI: 2, CLI: 3,
  OUTB: 10, OUTW: 11, OUTL: 12, INB: 13, INW: 14, INL: 15,
  CPUID: 20, HLT: 21, RDMSR: 22, WRMSR: 23, VMCALL: 24, INVLPG: 25, PAUSE: 26, WBINVD: 27, INVD: 28,
  XSETBV: 29, RDTSC: 30, RDPMC: 31, MONITOR: 32, MWAIT: 33, RDTSCP: 34, RDRAND: 35, RDSEED: 36,
  MOV_TO_CR: 40, MOV_FROM_CR: 41, MOV_TO_DR: 42, MOV_FROM_DR: 43,
  VMXON: 50, VMCLEAR: 51, VMLAUNCH: 52, VMRESUME: 53, VMPTRLD: 54, VMPTRST: 55, VMREAD: 56, VMWRITE: 57,
  VMXOFF: 58, INVEPT: 59, INVVPID: 60, VMFUNC: 61,
  MEM_READ: 70, MEM_WRITE: 71, LOCK_ADD: 72,
  UD2: 80, INT3: 81, SGDT: 82, SIDT: 83, LGDT: 84, LIDT: 85, SLDT: 86, STR: 87, LLDT: 88, LTR: 89,
  XSAVES: 90, XRSTORS: 91, INVPCID: 92, ENCLS: 93,
  /**
   * Not an instruction: the guest keeps the CPU from reaching an instruction boundary for RCX
   * cycles (an event-delivery livelock, e.g. a fault that recurs while it is being delivered).
   */
  STALL: 253,
  /**
   * Not one instruction: a stretch of non-sensitive code the CPU runs natively, RCX cycles long
   * (the guest computing). It takes no exit of its own, but time passes inside it.
   */
  WORK: 254,
  /** Not an instruction: the simulator's breakpoint. The CPU stops the world without a VM exit. */
  BREAK: 255,
} as const;

export const opcode = (op: number): number => op & 0xff;
export const operand = (op: number): number => (op >>> 8) & 0xff;
/** MOV to/from CRn and DRn: the register number. */
export const withReg = (op: number, n: number): number => op | (n << 8);
/** MEM_READ / MEM_WRITE of 1, 2, 4 or 8 bytes. */
export const withSize = (op: number, size: number): number => op | (size << 8);

const MNEMONIC: Record<number, string> = {};
for (const [k, v] of Object.entries(OP)) MNEMONIC[v] = k.toLowerCase();

/**
 * The mnemonic shown in traces: `outw`, `cpuid`, `mov cr3`, `writel`. A move to a control or debug
 * register and a move from it are two instructions with different operands (`mov cr3` takes a value,
 * `mov rax cr3` reads one), so they have different names, as in the instruction syntax; kvm's own
 * kvm_cr tracepoint tells them apart with its rw field (arch/x86/kvm/trace.h: kvm_cr, "cr_%s").
 */
export function mnemonic(op: number): string {
  const c = opcode(op);
  const n = operand(op);
  if (c === OP.MOV_TO_CR) return `mov cr${n}`;
  if (c === OP.MOV_FROM_CR) return `mov rax cr${n}`;
  if (c === OP.MOV_TO_DR) return `mov dr${n}`;
  if (c === OP.MOV_FROM_DR) return `mov rax dr${n}`;
  if (c === OP.MEM_READ) return `read${SIZE_SUFFIX[n] ?? n}`;
  if (c === OP.MEM_WRITE) return `write${SIZE_SUFFIX[n] ?? n}`;
  if (c === OP.LOCK_ADD) return `lock add${SIZE_SUFFIX[n] ?? n}`;
  return MNEMONIC[c] ?? `op${c}`;
}
const SIZE_SUFFIX: Record<number, string> = { 1: 'b', 2: 'w', 4: 'l', 8: 'q' };

/** Encoded length in bytes of the x86-64 form the guest uses (DX-form port I/O, `mov %rax,(%rdi)`). */
export function insnLength(op: number): number {
  switch (opcode(op)) {
    case OP.OUTB: case OP.OUTL: case OP.INB: case OP.INL: case OP.HLT: case OP.STI: case OP.CLI: case OP.NOP: return 1;
    case OP.OUTW: case OP.INW: case OP.CPUID: case OP.RDMSR: case OP.WRMSR: case OP.PAUSE: case OP.WBINVD:
    case OP.INVD: case OP.RDTSC: case OP.RDPMC: return 2;
    case OP.VMCALL: case OP.INVLPG: case OP.XSETBV: case OP.MONITOR: case OP.MWAIT: case OP.RDTSCP:
    case OP.VMLAUNCH: case OP.VMRESUME: case OP.VMPTRLD: case OP.VMPTRST: case OP.VMREAD: case OP.VMWRITE:
    case OP.VMXOFF: case OP.VMFUNC: case OP.MOV_TO_DR: case OP.MOV_FROM_DR: return 3;
    case OP.RDRAND: case OP.RDSEED: return 3;
    case OP.MOV_TO_CR: case OP.MOV_FROM_CR: return operand(op) === 8 ? 4 : 3;
    case OP.VMXON: case OP.VMCLEAR: return 4;
    case OP.INVEPT: case OP.INVVPID: return 5;
    case OP.MEM_READ: case OP.MEM_WRITE: return operand(op) === 1 || operand(op) === 4 ? 2 : 3;
    case OP.INT3: return 1;
    case OP.UD2: return 2;
    case OP.SGDT: case OP.SIDT: case OP.LGDT: case OP.LIDT: case OP.SLDT: case OP.STR: case OP.LLDT: case OP.LTR: return 3;
    case OP.LOCK_ADD: return operand(op) === 8 ? 4 : 3;
    case OP.XSAVES: case OP.XRSTORS: return 4;
    case OP.INVPCID: return 5;
    case OP.ENCLS: return 3;
    case OP.STALL: return 0;
    case OP.BREAK: case OP.WORK: return 0;
    default: throw new Error(`insnLength: unknown opcode ${op}`);
  }
}

/**
 * The bytes of that form, as kvm's emulator fetches them at RIP (kvm_emulate_insn prints them):
 * `mov %eax,(%rdi)` is 89 07, `mov (%rdi),%al` 8a 07, a 16-bit access takes the 66 prefix, a 64-bit one
 * REX.W; `sgdt (%rdi)` 0f 01 07, `sldt %eax` 0f 00 c0. Null for the opcodes the emulator never sees.
 */
export function insnBytes(op: number): string | null {
  const n = operand(op);
  const sized = (b8: string, b: string) => (n === 1 ? b8 : n === 2 ? `66 ${b}` : n === 8 ? `48 ${b}` : b);
  switch (opcode(op)) {
    case OP.MEM_READ: return sized('8a 07', '8b 07');
    case OP.MEM_WRITE: return sized('88 07', '89 07');
    case OP.LOCK_ADD: return `f0 ${sized('00 07', '01 07')}`;
    case OP.SGDT: return '0f 01 07';
    case OP.SIDT: return '0f 01 0f';
    case OP.LGDT: return '0f 01 17';
    case OP.LIDT: return '0f 01 1f';
    case OP.SLDT: return '0f 00 c0';
    case OP.STR: return '0f 00 c8';
    case OP.LLDT: return '0f 00 d0';
    case OP.LTR: return '0f 00 d8';
    case OP.UD2: return '0f 0b';
    case OP.OUTB: return 'ee';
    case OP.OUTW: return '66 ef';
    case OP.OUTL: return 'ef';
    case OP.INB: return 'ec';
    case OP.INW: return '66 ed';
    case OP.INL: return 'ed';
    default: return null;
  }
}

/** Port I/O: access size in bytes and direction. */
export function pioSize(op: number): 1 | 2 | 4 {
  const c = opcode(op);
  return c === OP.OUTB || c === OP.INB ? 1 : c === OP.OUTW || c === OP.INW ? 2 : 4;
}
export function isPio(op: number): boolean { const c = opcode(op); return c >= OP.OUTB && c <= OP.INL; }
export function isPioIn(op: number): boolean { const c = opcode(op); return c >= OP.INB && c <= OP.INL; }
/** Instructions whose memory operand (address in RDI) the CPU reads or writes through the EPT. */
export function memAccess(op: number): { size: number; write: boolean } | null {
  switch (opcode(op)) {
    case OP.MEM_READ: return { size: operand(op), write: false };
    case OP.MEM_WRITE: return { size: operand(op), write: true };
    case OP.LOCK_ADD: return { size: operand(op), write: true };
    case OP.LGDT: case OP.LIDT: return { size: 10, write: false };
    case OP.SGDT: case OP.SIDT: return { size: 10, write: true };
    default: return null;
  }
}

/** The x86 general-purpose registers and the control state guest code runs with. */
export class Regs {
  rax = 0; rbx = 0; rcx = 0; rdx = 0; rsi = 0; rdi = 0; rsp = 0; rbp = 0;
  /**
   * The registers are doubles, exact below 2^53. RAX's full 64-bit value when it is larger (a
   * `writeq` of 0xffffffffffffffff): set by the code that loads RAX with it, and read (rax64) by the
   * instructions that store all 8 bytes of RAX, as long as RAX still holds its rounding.
   */
  raxWide: bigint | null = null;
  rip = 0; rflags = 0x2;
  cr0 = 0x80050033; cr2 = 0; cr3 = 0x1000; cr4 = 0x3706f0; cr8 = 0;
  dr7 = 0x400;
  /**
   * Descriptor-table registers as a running x86-64 Linux has them: the read-only IDT and the GDT in
   * the CPU entry area (0xfffffe0000000000, +0x1000), 256 gates and 16 descriptors; TR = GDT entry 8.
   */
  gdtrBase = -0x20000000000 + 0x1000; gdtrLimit = 0x7f; idtrBase = -0x20000000000; idtrLimit = 0xfff; ldtr = 0; tr = 0x40;
}

/** RAX as the 64-bit value an 8-byte store writes: exact when it was loaded wide (Regs.raxWide). */
export function rax64(r: Regs): bigint {
  const w = r.raxWide;
  if (w !== null && Number(w) === r.rax) return w;
  return BigInt.asUintN(64, BigInt(Math.trunc(r.rax)));
}

/** Load RAX with a 64-bit value, exactly (Regs.raxWide) when a double cannot hold it. */
export function setRax64(r: Regs, v: bigint): void {
  r.rax = Number(v);
  r.raxWide = v > BigInt(Number.MAX_SAFE_INTEGER) ? v : null;
}

/** A 64-bit value as traces print hex: 0x followed by its digits. */
export const hex64 = (v: bigint): string => `0x${v.toString(16)}`;
