// Guest instructions in text, as users write them (qtest syntax for I/O and memory):
// `outb|outw|outl PORT VALUE`, `inb|inw|inl PORT`, `writeb|w|l|q GPA VALUE`, `readb|w|l|q GPA`, and x86
// mnemonics: `cpuid LEAF`, `rdmsr MSR`, `wrmsr MSR VALUE`, `hlt`, `vmcall`, `mov crN VALUE`,
// `mov rax crN` (a read), `sgdt GPA`, `lidt GPA`, `lock addl GPA VALUE`, `ud2`, ... Several
// instructions separated by `;` run one after the other (parseProgram).

import { OP, setRax64, withReg, withSize, type Regs } from '../vmx/insn';
import { editDistance } from '../edit_distance';

export class AsmError extends Error {}

export interface Insn {
  /** The opcode the guest yields. */
  op: number;
  /** Loads the operands into the register file before the instruction executes. */
  load(r: Regs): void;
  /** The instruction's result as the guest sees it. */
  result(r: Regs): number;
  text: string;
}

const SIZES: Record<string, number> = { b: 1, w: 2, l: 4, q: 8 };
const NO_OPERAND: Record<string, number> = {
  hlt: OP.HLT, vmcall: OP.VMCALL, pause: OP.PAUSE, wbinvd: OP.WBINVD, invd: OP.INVD, rdtsc: OP.RDTSC, rdtscp: OP.RDTSCP,
  monitor: OP.MONITOR, mwait: OP.MWAIT, nop: OP.NOP, rdrand: OP.RDRAND, rdseed: OP.RDSEED, ud2: OP.UD2, int3: OP.INT3,
  sldt: OP.SLDT, str: OP.STR, sti: OP.STI, cli: OP.CLI, encls: OP.ENCLS,
  vmxon: OP.VMXON, vmclear: OP.VMCLEAR, vmlaunch: OP.VMLAUNCH, vmresume: OP.VMRESUME, vmptrld: OP.VMPTRLD,
  vmptrst: OP.VMPTRST, vmread: OP.VMREAD, vmwrite: OP.VMWRITE, vmxoff: OP.VMXOFF, invept: OP.INVEPT,
  invvpid: OP.INVVPID, vmfunc: OP.VMFUNC,
};
const USAGE = 'expected e.g. "outw 0xc050 0x0", "inl 0x1234", "writel 0xfec00000 0x1", "readq 0x1000", "cpuid 0x1", '
  + '"rdmsr 0x1b", "wrmsr 0x80b 0x0", "mov cr0 0x80050033", "mov rax cr8", "mov dr7 0x400", "rdpmc 0x0", "invlpg 0x1000", '
  + '"xsetbv 0 0x7", "sgdt 0x2000", "lock addl 0x2003e 0x1", "ud2", "hlt", "vmcall" (several: "cpuid 0x0; hlt")';

/** The forms the parser accepts, for the step vocabulary's documentation; every example parses. */
export const INSTRUCTION_FORMS: readonly { form: string; example: string; note: string }[] = [
  { form: 'outb|outw|outl PORT VALUE', example: 'outw 0xc050 0x0', note: 'port output (qtest syntax)' },
  { form: 'inb|inw|inl PORT', example: 'inl 0x1234', note: 'port input; the result is the value read' },
  { form: 'writeb|writew|writel|writeq GPA VALUE', example: 'writel 0xfec00000 0x1', note: 'a store to a guest-physical address' },
  { form: 'readb|readw|readl|readq GPA', example: 'readq 0x1000', note: 'a load from a guest-physical address' },
  { form: 'lock addb|addw|addl|addq GPA VALUE', example: 'lock addl 0x2003e 0x1', note: 'a locked read-modify-write (a split lock if it crosses a cache line)' },
  { form: 'cpuid LEAF [SUBLEAF]', example: 'cpuid 0x1', note: 'the result is EAX' },
  { form: 'rdmsr MSR', example: 'rdmsr 0x1b', note: 'the result is EDX:EAX' },
  { form: 'wrmsr MSR VALUE', example: 'wrmsr 0x80b 0x0', note: '' },
  { form: 'rdpmc COUNTER', example: 'rdpmc 0x0', note: '' },
  { form: 'invlpg ADDR', example: 'invlpg 0x1000', note: '' },
  { form: 'xsetbv XCR VALUE', example: 'xsetbv 0 0x7', note: '' },
  { form: 'sgdt|sidt|lgdt|lidt|xsaves|xrstors GPA', example: 'sgdt 0x2000', note: 'the memory operand at a guest-physical address' },
  { form: 'lldt|ltr SELECTOR', example: 'ltr 0x28', note: '' },
  { form: 'invpcid TYPE', example: 'invpcid 2', note: '' },
  { form: 'mov crN VALUE, mov drN VALUE', example: 'mov cr0 0x80050033', note: 'a write of CR0, CR3, CR4, CR8 or DR0–DR7' },
  { form: 'mov rax crN, mov rax drN', example: 'mov rax cr8', note: 'a read; the result is the register\'s value' },
  { form: Object.keys(NO_OPERAND).join('|'), example: 'hlt', note: 'no operand' },
  { form: 'INSN; INSN; …', example: 'cpuid 0x0; hlt', note: 'several instructions, run one after the other' },
];

const U64_MAX = (1n << 64n) - 1n;
/** The largest guest-physical address x86-64 can form (MAXPHYADDR is at most 52 bits). */
const MAX_GPA = 2 ** 52 - 1;

/** An operand as the 64-bit value it is (BigInt: exact above 2^53). */
function big(s: string | undefined, what: string, text: string): bigint {
  if (s === undefined) throw new AsmError(`"${text}": missing ${what}; ${USAGE}`);
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) throw new AsmError(`"${text}": ${what} '${s}' is not a number (hex 0x… or decimal)`);
  const v = BigInt(s);
  if (v > U64_MAX) throw new AsmError(`"${text}": ${what} '${s}' does not fit in 64 bits`);
  return v;
}

/** An operand that is a register index, a port, an MSR, a leaf or an address: a plain number. */
function num(s: string | undefined, what: string, text: string): number {
  const v = big(s, what, text);
  if (what === 'guest-physical address' || what === 'address') {
    if (v > BigInt(MAX_GPA)) throw new AsmError(`"${text}": ${what} '${s}' is above the largest guest-physical address (2^52 - 1)`);
  } else if (v > 0xffffffffn) throw new AsmError(`"${text}": ${what} '${s}' does not fit in 32 bits`);
  return Number(v);
}

/** Split a 64-bit value into EDX:EAX, exactly. */
const edxEax = (r: Regs, v: bigint): void => { r.rax = Number(v & 0xffffffffn); r.rdx = Number(v >> 32n); };

/** A value for an operand of `size` bytes: it must fit in them. */
function sized(v: bigint, size: number, text: string): bigint {
  if (v >> BigInt(8 * size) !== 0n) throw new AsmError(`"${text}": value 0x${v.toString(16)} does not fit in ${size} byte${size === 1 ? '' : 's'}`);
  return v;
}

/** Every mnemonic parseInsn reads, for naming the closest to an unknown one. */
export const MNEMONICS = [
  'outb', 'outw', 'outl', 'inb', 'inw', 'inl', 'lock', 'writeb', 'writew', 'writel', 'writeq', 'readb', 'readw', 'readl', 'readq',
  'cpuid', 'rdmsr', 'wrmsr', 'rdpmc', 'invlpg', 'xsetbv', 'sgdt', 'sidt', 'lgdt', 'lidt', 'xsaves', 'xrstors', 'lldt', 'ltr', 'invpcid', 'mov',
  ...Object.keys(NO_OPERAND),
];

export function parseInsn(text: string): Insn {
  const words = text.trim().split(/\s+/);
  const m = (words[0] ?? '').toLowerCase();
  const arg = (i: number, what: string) => num(words[i], what, text);
  const expectArgs = (n: number) => {
    if (words.length - 1 !== n) throw new AsmError(`"${text}": '${m}' takes ${n} operand${n === 1 ? '' : 's'}; ${USAGE}`);
  };
  const rax = (r: Regs) => r.rax;
  let io = /^(out|in)([bwl])$/.exec(m);
  if (io) {
    const size = SIZES[io[2]!]!;
    const out = io[1] === 'out';
    expectArgs(out ? 2 : 1);
    const port = arg(1, 'port');
    if (port > 0xffff) throw new AsmError(`"${text}": port 0x${port.toString(16)} is above 0xffff`);
    const value = out ? arg(2, 'value') : 0;
    const op = out ? [OP.OUTB, OP.OUTW, 0, OP.OUTL][size - 1]! : [OP.INB, OP.INW, 0, OP.INL][size - 1]!;
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    return { op, text, load: (r) => { r.rdx = port; if (out) r.rax = value & mask; }, result: (r) => (out ? 0 : r.rax & mask) >>> 0 };
  }
  if (m === 'lock') {
    // lock addl GPA VALUE: a locked read-modify-write of guest memory (a split lock if it crosses a line).
    const add = /^add([bwlq])$/.exec((words[1] ?? '').toLowerCase());
    if (!add || words.length !== 4) throw new AsmError(`"${text}": expected 'lock addb|addw|addl|addq GPA VALUE'`);
    const size = SIZES[add[1]!]!;
    const gpa = arg(2, 'guest-physical address');
    const value = sized(big(words[3], 'value', text), size, text);
    return { op: withSize(OP.LOCK_ADD, size), text, load: (r) => { r.rdi = gpa; setRax64(r, value); }, result: () => 0 };
  }
  io = /^(write|read)([bwlq])$/.exec(m);
  if (io) {
    const size = SIZES[io[2]!]!;
    const write = io[1] === 'write';
    expectArgs(write ? 2 : 1);
    const gpa = arg(1, 'guest-physical address');
    const value = write ? sized(big(words[2], 'value', text), size, text) : 0n;
    return { op: withSize(write ? OP.MEM_WRITE : OP.MEM_READ, size), text, load: (r) => { r.rdi = gpa; if (write) setRax64(r, value); }, result: write ? () => 0 : rax };
  }
  switch (m) {
    case 'cpuid': {
      if (words.length < 2 || words.length > 3) expectArgs(1);
      const leaf = arg(1, 'leaf');
      const sub = words[2] !== undefined ? arg(2, 'subleaf') : 0;
      return { op: OP.CPUID, text, load: (r) => { r.rax = leaf; r.rcx = sub; }, result: rax };
    }
    case 'rdmsr': { expectArgs(1); const msr = arg(1, 'MSR'); return { op: OP.RDMSR, text, load: (r) => { r.rcx = msr; }, result: (r) => (r.rdx >>> 0) * 2 ** 32 + (r.rax >>> 0) }; }
    case 'wrmsr': {
      expectArgs(2);
      const msr = arg(1, 'MSR');
      const v = big(words[2], 'value', text);
      return { op: OP.WRMSR, text, load: (r) => { r.rcx = msr; edxEax(r, v); }, result: () => 0 };
    }
    case 'rdpmc': { expectArgs(1); const c = arg(1, 'counter'); return { op: OP.RDPMC, text, load: (r) => { r.rcx = c; }, result: rax }; }
    case 'invlpg': { expectArgs(1); const a = arg(1, 'address'); return { op: OP.INVLPG, text, load: (r) => { r.rax = a; }, result: () => 0 }; }
    case 'xsetbv': {
      expectArgs(2);
      const xcr = arg(1, 'XCR'); const v = big(words[2], 'value', text);
      return { op: OP.XSETBV, text, load: (r) => { r.rcx = xcr; edxEax(r, v); }, result: () => 0 };
    }
    case 'sgdt': case 'sidt': case 'lgdt': case 'lidt': case 'xsaves': case 'xrstors': {
      // The memory operand (a 10-byte pseudo-descriptor, an XSAVE area) at a guest-physical address.
      expectArgs(1);
      const a = arg(1, 'guest-physical address');
      const op = { sgdt: OP.SGDT, sidt: OP.SIDT, lgdt: OP.LGDT, lidt: OP.LIDT, xsaves: OP.XSAVES, xrstors: OP.XRSTORS }[m];
      return { op, text, load: (r) => { r.rdi = a; r.rax = 0xffffffff; r.rdx = 0xffffffff; }, result: () => 0 };
    }
    case 'lldt': case 'ltr': {
      expectArgs(1);
      const sel = arg(1, 'selector');
      if (sel > 0xffff) throw new AsmError(`"${text}": selector 0x${sel.toString(16)} is above 0xffff`);
      return { op: m === 'lldt' ? OP.LLDT : OP.LTR, text, load: (r) => { r.rax = sel; }, result: () => 0 };
    }
    case 'invpcid': {
      expectArgs(1);
      const type = arg(1, 'INVPCID type');
      return { op: OP.INVPCID, text, load: (r) => { r.rax = type; r.rdi = 0; }, result: () => 0 };
    }
    case 'mov': {
      const read = /^(cr|dr)(\d)$/.exec((words[2] ?? '').toLowerCase());
      if ((words[1] ?? '').toLowerCase() === 'rax' && read && words.length === 3) {
        const n = Number(read[2]);
        if (read[1] === 'cr' && ![0, 2, 3, 4, 8].includes(n)) throw new AsmError(`"${text}": CR${n} is not a control register (0, 2, 3, 4, 8)`);
        if (read[1] === 'dr' && n > 7) throw new AsmError(`"${text}": there is no DR${n}`);
        return { op: withReg(read[1] === 'cr' ? OP.MOV_FROM_CR : OP.MOV_FROM_DR, n), text, load: () => {}, result: (r) => r.rax };
      }
      const reg = /^(cr|dr)(\d)$/.exec((words[1] ?? '').toLowerCase());
      if (!reg || words.length !== 3) throw new AsmError(`"${text}": expected 'mov crN VALUE', 'mov drN VALUE' or 'mov rax crN'`);
      const n = Number(reg[2]);
      const isCr = reg[1] === 'cr';
      if (isCr && ![0, 3, 4, 8].includes(n)) throw new AsmError(`"${text}": CR${n} is not a writable control register (0, 3, 4, 8)`);
      if (!isCr && n > 7) throw new AsmError(`"${text}": there is no DR${n}`);
      // A control or debug register is 64 bits; kvm refuses the reserved high bits (#GP) all the same.
      const v = big(words[2], 'value', text);
      return { op: withReg(isCr ? OP.MOV_TO_CR : OP.MOV_TO_DR, n), text, load: (r) => { setRax64(r, v); }, result: () => 0 };
    }
    default: {
      const op = NO_OPERAND[m];
      if (op === undefined) {
        const near = MNEMONICS.filter((x) => editDistance(m, x) <= (m.length > 4 ? 2 : 1));
        throw new AsmError(`"${text}": unknown instruction '${words[0] ?? ''}'${near.length ? ` (closest: ${near.join(', ')})` : ''}; ${USAGE}`);
      }
      expectArgs(0);
      return { op, text, load: () => {}, result: rax };
    }
  }
}

/** Instructions separated by `;`, run in order by the guest kernel. */
export function parseProgram(text: string): Insn[] {
  const parts = text.split(';').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new AsmError(`"${text}": an empty instruction between ';'; ${USAGE}`);
  return parts.map(parseInsn);
}
