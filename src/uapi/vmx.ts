// Basic VM-exit reasons and the VM-exit qualification layouts of VT-x.
// Numbers: arch/x86/include/uapi/asm/vmx.h (Linux 6.1). Qualification bits: Intel SDM Vol. 3C,
// "Exit Qualification for I/O Instructions" (Table 28-5) and "for Control-Register Accesses".

/** `EXIT_REASON_<name>` = number, for every basic exit reason in asm/vmx.h (Linux 6.1 UAPI). */
export const EXIT_REASON = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INIT_SIGNAL: 3,
  SIPI_SIGNAL: 4,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  VMCALL: 18,
  VMCLEAR: 19,
  VMLAUNCH: 20,
  VMPTRLD: 21,
  VMPTRST: 22,
  VMREAD: 23,
  VMRESUME: 24,
  VMWRITE: 25,
  VMOFF: 26,
  VMON: 27,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  INVALID_STATE: 33,
  MSR_LOAD_FAIL: 34,
  MWAIT_INSTRUCTION: 36,
  MONITOR_TRAP_FLAG: 37,
  MONITOR_INSTRUCTION: 39,
  PAUSE_INSTRUCTION: 40,
  MCE_DURING_VMENTRY: 41,
  TPR_BELOW_THRESHOLD: 43,
  APIC_ACCESS: 44,
  EOI_INDUCED: 45,
  GDTR_IDTR: 46,
  LDTR_TR: 47,
  EPT_VIOLATION: 48,
  EPT_MISCONFIG: 49,
  INVEPT: 50,
  RDTSCP: 51,
  PREEMPTION_TIMER: 52,
  INVVPID: 53,
  WBINVD: 54,
  XSETBV: 55,
  APIC_WRITE: 56,
  RDRAND: 57,
  INVPCID: 58,
  VMFUNC: 59,
  ENCLS: 60,
  RDSEED: 61,
  PML_FULL: 62,
  XSAVES: 63,
  XRSTORS: 64,
  UMWAIT: 67,
  TPAUSE: 68,
  BUS_LOCK: 74,
  NOTIFY: 75,
} as const;
export type ExitReasonName = keyof typeof EXIT_REASON;

export const VMX_EXIT_REASONS_FAILED_VMENTRY = 0x80000000;

/** Every basic exit reason of asm/vmx.h, by number: the name the kvm_exit tracepoint prints. */
export const VMX_EXIT_REASONS: ReadonlyMap<number, ExitReasonName> = new Map(
  (Object.entries(EXIT_REASON) as [ExitReasonName, number][]).map(([k, v]) => [v, k]),
);

export function exitReasonName(basic: number): string {
  return VMX_EXIT_REASONS.get(basic) ?? `UNKNOWN(${basic})`;
}

/** Resolve "IO_INSTRUCTION", "EXIT_REASON_IO_INSTRUCTION" or "30" to the basic exit reason number. */
export function parseExitReason(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) { const n = Number(t); return VMX_EXIT_REASONS.has(n) ? n : undefined; }
  const name = t.replace(/^EXIT_REASON_/, '');
  for (const [n, s] of VMX_EXIT_REASONS) if (s === name) return n;
  return undefined;
}

// Exit qualification for I/O instructions (SDM Table 28-5; kvm-unit-tests x86/vmx.h names).
export const VMX_IO_SIZE_MASK = 0x7;     // 0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes
export const VMX_IO_IN = 1 << 3;
export const VMX_IO_STRING = 1 << 4;
export const VMX_IO_REP = 1 << 5;
export const VMX_IO_OPRAND_IMM = 1 << 6;
export const VMX_IO_PORT_SHIFT = 16;

export function encodeIoQualification(size: 1 | 2 | 4, isIn: boolean, port: number, imm = false): number {
  return ((port & 0xffff) * 0x10000) + (isIn ? VMX_IO_IN : 0) + (imm ? VMX_IO_OPRAND_IMM : 0) + (size - 1);
}

// The decoders of the qualifications kvm's handlers read (handle_io, handle_cr, handle_dr,
// handle_ept_violation, handle_apic_access/handle_apic_write), for readers of traces that print
// the raw value (kvm_exit's info1). Bits: SDM Vol. 3C Tables 28-3 to 28-7; Linux asm/vmx.h names.

export interface IoQualification { port: number; size: 1 | 2 | 4; in: boolean; string: boolean; rep: boolean; imm: boolean }
/** SDM Table 28-5: size in 2:0 (size - 1), IN in bit 3, string 4, REP 5, immediate operand 6, port 31:16. */
export function decodeIoQualification(q: number): IoQualification {
  const lo = q % 0x10000;
  return {
    port: Math.floor(q / 2 ** VMX_IO_PORT_SHIFT) & 0xffff, size: ((lo & VMX_IO_SIZE_MASK) + 1) as 1 | 2 | 4,
    in: (lo & VMX_IO_IN) !== 0, string: (lo & VMX_IO_STRING) !== 0, rep: (lo & VMX_IO_REP) !== 0, imm: (lo & VMX_IO_OPRAND_IMM) !== 0,
  };
}

/** SDM Table 28-3 (asm/vmx.h CONTROL_REG_ACCESS_*): CR in 3:0, type in 5:4, GPR in 11:8, LMSW data in 31:16. */
export function decodeCrQualification(q: number): { cr: number; type: 'mov-to-cr' | 'mov-from-cr' | 'clts' | 'lmsw'; gpr: number; lmswData: number } {
  const types = ['mov-to-cr', 'mov-from-cr', 'clts', 'lmsw'] as const;
  return { cr: q & 15, type: types[(q >> 4) & 3]!, gpr: (q >> 8) & 15, lmswData: Math.floor(q / 0x10000) & 0xffff };
}

/** DEBUG_REG_ACCESS_NUM (2:0), DEBUG_REG_ACCESS_TYPE (bit 4: 1 = MOV from DR), GPR in 11:8. */
export function decodeDrQualification(q: number): { dr: number; type: 'mov-to-dr' | 'mov-from-dr'; gpr: number } {
  return { dr: q & 7, type: q & 0x10 ? 'mov-from-dr' : 'mov-to-dr', gpr: (q >> 8) & 15 };
}

/** SDM Table 28-7 (EPT_VIOLATION_ACC_* 2:0, the entry's R/W/X 5:3, GVA valid 7, translated 8). */
export function decodeEptViolationQualification(q: number): { read: boolean; write: boolean; fetch: boolean; readable: boolean; writable: boolean; executable: boolean; gvaValid: boolean; gvaTranslated: boolean } {
  return {
    read: (q & 1) !== 0, write: (q & 2) !== 0, fetch: (q & 4) !== 0, readable: (q & 8) !== 0, writable: (q & 16) !== 0,
    executable: (q & 32) !== 0, gvaValid: (q & 128) !== 0, gvaTranslated: (q & 256) !== 0,
  };
}

/** SDM Table 28-6: the APIC-page offset in 11:0, the access type in 15:12 (0 linear read, 1 linear write, 2 fetch, 3 event delivery, 10 and 15 guest-physical). */
export function decodeApicAccessQualification(q: number): { offset: number; type: number } {
  return { offset: q & 0xfff, type: (q >> 12) & 0xf };
}

/** VM-exit interruption information (INTR_INFO_*): vector 7:0, type 10:8, error code valid 11, valid 31. */
export function decodeIntrInfo(x: number): { valid: boolean; vector: number; type: number; hasErrorCode: boolean } {
  return { valid: x >= 0x80000000, vector: x & 0xff, type: (x >> 8) & 7, hasErrorCode: (x & 0x800) !== 0 };
}
