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
