// The VMCS: the structure through which kvm programs VT-x and VT-x reports a VM exit.
// Field encodings: Intel SDM Vol. 3D Appendix B, as named in arch/x86/include/asm/vmx.h.
// Control bits: same header (Linux 6.1).

export const VMCS = {
  VIRTUAL_PROCESSOR_ID: 0x0000,
  POSTED_INTR_NV: 0x0002,
  GUEST_INTR_STATUS: 0x0810,
  IO_BITMAP_A: 0x2000,
  IO_BITMAP_B: 0x2002,
  MSR_BITMAP: 0x2004,
  VIRTUAL_APIC_PAGE_ADDR: 0x2012,
  APIC_ACCESS_ADDR: 0x2014,
  POSTED_INTR_DESC_ADDR: 0x2016,
  EPT_POINTER: 0x201a,
  EOI_EXIT_BITMAP0: 0x201c,
  EOI_EXIT_BITMAP1: 0x201e,
  EOI_EXIT_BITMAP2: 0x2020,
  EOI_EXIT_BITMAP3: 0x2022,
  XSS_EXIT_BITMAP: 0x202c,
  ENCLS_EXITING_BITMAP: 0x202e,
  PML_ADDRESS: 0x200e,
  GUEST_PHYSICAL_ADDRESS: 0x2400,
  PIN_BASED_VM_EXEC_CONTROL: 0x4000,
  CPU_BASED_VM_EXEC_CONTROL: 0x4002,
  EXCEPTION_BITMAP: 0x4004,
  VM_EXIT_CONTROLS: 0x400c,
  VM_ENTRY_CONTROLS: 0x4012,
  VM_ENTRY_INTR_INFO_FIELD: 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x4018,
  VM_ENTRY_INSTRUCTION_LEN: 0x401a,
  TPR_THRESHOLD: 0x401c,
  SECONDARY_VM_EXEC_CONTROL: 0x401e,
  PLE_GAP: 0x4020,
  PLE_WINDOW: 0x4022,
  NOTIFY_WINDOW: 0x4024,
  VM_INSTRUCTION_ERROR: 0x4400,
  VM_EXIT_REASON: 0x4402,
  VM_EXIT_INTR_INFO: 0x4404,
  VM_EXIT_INTR_ERROR_CODE: 0x4406,
  IDT_VECTORING_INFO_FIELD: 0x4408,
  IDT_VECTORING_ERROR_CODE: 0x440a,
  VM_EXIT_INSTRUCTION_LEN: 0x440c,
  VMX_INSTRUCTION_INFO: 0x440e,
  GUEST_GDTR_LIMIT: 0x4810,
  GUEST_IDTR_LIMIT: 0x4812,
  GUEST_INTERRUPTIBILITY_INFO: 0x4824,
  GUEST_ACTIVITY_STATE: 0x4826,
  VMX_PREEMPTION_TIMER_VALUE: 0x482e,
  GUEST_PML_INDEX: 0x0812,
  CR0_GUEST_HOST_MASK: 0x6000,
  CR4_GUEST_HOST_MASK: 0x6002,
  CR0_READ_SHADOW: 0x6004,
  CR4_READ_SHADOW: 0x6006,
  EXIT_QUALIFICATION: 0x6400,
  GUEST_LINEAR_ADDRESS: 0x640a,
  GUEST_CR0: 0x6800,
  GUEST_CR3: 0x6802,
  GUEST_CR4: 0x6804,
  GUEST_GDTR_BASE: 0x6816,
  GUEST_IDTR_BASE: 0x6818,
  GUEST_DR7: 0x681a,
  GUEST_RSP: 0x681c,
  GUEST_RIP: 0x681e,
  GUEST_RFLAGS: 0x6820,
  GUEST_PENDING_DBG_EXCEPTIONS: 0x6822,
} as const;
export type VmcsFieldName = keyof typeof VMCS;

// Pin-based VM-execution controls.
export const PIN_BASED_EXT_INTR_MASK = 0x00000001;
export const PIN_BASED_NMI_EXITING = 0x00000008;
export const PIN_BASED_VIRTUAL_NMIS = 0x00000020;
export const PIN_BASED_VMX_PREEMPTION_TIMER = 0x00000040;
export const PIN_BASED_POSTED_INTR = 0x00000080;

// Primary processor-based VM-execution controls.
export const CPU_BASED_INTR_WINDOW_EXITING = 0x00000004;
export const CPU_BASED_USE_TSC_OFFSETTING = 0x00000008;
export const CPU_BASED_HLT_EXITING = 0x00000080;
export const CPU_BASED_INVLPG_EXITING = 0x00000200;
export const CPU_BASED_MWAIT_EXITING = 0x00000400;
export const CPU_BASED_RDPMC_EXITING = 0x00000800;
export const CPU_BASED_RDTSC_EXITING = 0x00001000;
export const CPU_BASED_CR3_LOAD_EXITING = 0x00008000;
export const CPU_BASED_CR3_STORE_EXITING = 0x00010000;
export const CPU_BASED_CR8_LOAD_EXITING = 0x00080000;
export const CPU_BASED_CR8_STORE_EXITING = 0x00100000;
export const CPU_BASED_TPR_SHADOW = 0x00200000;
export const CPU_BASED_NMI_WINDOW_EXITING = 0x00400000;
export const CPU_BASED_MOV_DR_EXITING = 0x00800000;
export const CPU_BASED_UNCOND_IO_EXITING = 0x01000000;
export const CPU_BASED_USE_IO_BITMAPS = 0x02000000;
export const CPU_BASED_MONITOR_TRAP_FLAG = 0x08000000;
export const CPU_BASED_USE_MSR_BITMAPS = 0x10000000;
export const CPU_BASED_MONITOR_EXITING = 0x20000000;
export const CPU_BASED_PAUSE_EXITING = 0x40000000;
export const CPU_BASED_ACTIVATE_SECONDARY_CONTROLS = 0x80000000;

// Secondary processor-based VM-execution controls.
export const SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES = 0x00000001;
export const SECONDARY_EXEC_ENABLE_EPT = 0x00000002;
export const SECONDARY_EXEC_DESC = 0x00000004;
export const SECONDARY_EXEC_ENABLE_RDTSCP = 0x00000008;
export const SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE = 0x00000010;
export const SECONDARY_EXEC_ENABLE_VPID = 0x00000020;
export const SECONDARY_EXEC_WBINVD_EXITING = 0x00000040;
export const SECONDARY_EXEC_UNRESTRICTED_GUEST = 0x00000080;
export const SECONDARY_EXEC_APIC_REGISTER_VIRT = 0x00000100;
export const SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY = 0x00000200;
export const SECONDARY_EXEC_PAUSE_LOOP_EXITING = 0x00000400;
export const SECONDARY_EXEC_RDRAND_EXITING = 0x00000800;
export const SECONDARY_EXEC_ENABLE_INVPCID = 0x00001000;
export const SECONDARY_EXEC_ENABLE_VMFUNC = 0x00002000;
export const SECONDARY_EXEC_RDSEED_EXITING = 0x00010000;
export const SECONDARY_EXEC_ENABLE_PML = 0x00020000;
export const SECONDARY_EXEC_SHADOW_VMCS = 0x00004000;
export const SECONDARY_EXEC_ENCLS_EXITING = 0x00008000;
export const SECONDARY_EXEC_XSAVES = 0x00100000;
export const SECONDARY_EXEC_TSC_SCALING = 0x02000000;
export const SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE = 0x04000000;
export const SECONDARY_EXEC_BUS_LOCK_DETECTION = 0x40000000;
export const SECONDARY_EXEC_NOTIFY_VM_EXITING = 0x80000000;

// VM-exit controls.
export const VM_EXIT_HOST_ADDR_SPACE_SIZE = 0x00000200;
export const VM_EXIT_ACK_INTR_ON_EXIT = 0x00008000;
export const VM_EXIT_SAVE_VMX_PREEMPTION_TIMER = 0x00400000;
// VM-entry controls.
export const VM_ENTRY_IA32E_MODE = 0x00000200;

// Guest interruptibility state (SDM 24.4.2).
export const GUEST_INTR_STATE_STI = 0x1;
export const GUEST_INTR_STATE_MOV_SS = 0x2;
export const GUEST_INTR_STATE_SMI = 0x4;
export const GUEST_INTR_STATE_NMI = 0x8;

// VM-entry / VM-exit interruption information (SDM 24.8.3, 24.9.2).
export const INTR_INFO_VECTOR_MASK = 0xff;
export const INTR_INFO_INTR_TYPE_MASK = 0x700;
export const INTR_INFO_DELIVER_CODE_MASK = 0x800;
export const INTR_INFO_UNBLOCK_NMI = 0x1000;
export const INTR_INFO_VALID_MASK = 0x80000000;
export const INTR_TYPE_EXT_INTR = 0 << 8;
export const INTR_TYPE_NMI_INTR = 2 << 8;
export const INTR_TYPE_HARD_EXCEPTION = 3 << 8;
export const INTR_TYPE_SOFT_INTR = 4 << 8;
export const INTR_TYPE_SOFT_EXCEPTION = 6 << 8;

// VM-instruction error numbers (SDM 30.4).
export const VMXERR_VMLAUNCH_NONCLEAR_VMCS = 4;
export const VMXERR_VMRESUME_NONLAUNCHED_VMCS = 5;
export const VMXERR_ENTRY_INVALID_CONTROL_FIELD = 7;

export const X86_EFLAGS_IF = 0x200;

// Field values live in a dense array indexed by the encoding itself (SDM B.1: bits 14:13 width, 11:10
// type, 9:1 index, 0 access type; bits 15 and 12 are reserved and 0), with the two reserved bits
// squeezed out: 2^14 slots, so a read or write on the exit path is one array access. Every field is
// named in VMCS above; that none has a reserved bit set or shares a slot is checked when this loads.
const slotOf = (field: number): number => (field & 0xfff) | ((field & 0x6000) >> 1);
{
  const taken = new Map<number, string>();
  for (const [name, field] of Object.entries(VMCS)) {
    const other = taken.get(slotOf(field));
    if (field & ~0x6fff || other !== undefined) throw new Error(`VMCS: ${name} (0x${field.toString(16)}) is not a field encoding of its own${other ? ` (${other})` : ''}`);
    taken.set(slotOf(field), name);
  }
}

/** One VMCS region. Launch state is the hardware's: "clear" until a VMLAUNCH succeeds. */
export class Vmcs {
  private readonly f = new Float64Array(1 << 14);
  launched = false;
  read(field: number): number { return this.f[(field & 0xfff) | ((field & 0x6000) >> 1)]!; }
  write(field: number, value: number): void { this.f[(field & 0xfff) | ((field & 0x6000) >> 1)] = value; }
  setBits(field: number, bits: number): void { this.write(field, (this.read(field) | bits) >>> 0); }
  clearBits(field: number, bits: number): void { this.write(field, (this.read(field) & ~bits) >>> 0); }
}
