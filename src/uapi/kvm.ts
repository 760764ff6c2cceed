// The KVM userspace ABI: include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h (Linux 6.1).
// Struct offsets are x86-64; every number here is checked against the real headers by test/abi.

export const KVM_API_VERSION = 12;
export const KVMIO = 0xae;

const _IOC_WRITE = 1;
const _IO = (nr: number): number => (KVMIO << 8) | nr;
const _IOC_READ = 2;
const _IOW = (nr: number, size: number): number => ((_IOC_WRITE << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
const _IOWR = (nr: number, size: number): number => (((_IOC_READ | _IOC_WRITE) << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;

export const KVM_GET_API_VERSION = _IO(0x00);
export const KVM_CREATE_VM = _IO(0x01);
export const KVM_CHECK_EXTENSION = _IO(0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(0x04);
export const KVM_CREATE_VCPU = _IO(0x41);
export const KVM_SET_USER_MEMORY_REGION = _IOW(0x46, 32);
export const KVM_GET_DIRTY_LOG = _IOW(0x42, 16);
export const KVM_CREATE_IRQCHIP = _IO(0x60);
export const KVM_IRQ_LINE = _IOW(0x61, 8);
/** KVM_IRQ_LINE that copies kvm_set_irq's result back into kvm_irq_level.status (KVM_CAP_IRQ_INJECT_STATUS). */
export const KVM_IRQ_LINE_STATUS = _IOWR(0x67, 8);
export const KVM_REGISTER_COALESCED_MMIO = _IOW(0x67, 16);
export const KVM_IRQFD = _IOW(0x76, 32);
export const KVM_IOEVENTFD = _IOW(0x79, 64);
export const KVM_RUN = _IO(0x80);
export const KVM_SET_GSI_ROUTING = _IOW(0x6a, 8);
export const KVM_SIGNAL_MSI = _IOW(0xa5, 32);
export const KVM_INTERRUPT = _IOW(0x86, 4);
export const KVM_SET_REGS = _IOW(0x82, 144);
export const KVM_SET_MP_STATE = _IOW(0x99, 4);
export const KVM_NMI = _IO(0x9a);
export const KVM_ENABLE_CAP = _IOW(0xa3, 104);
export const KVM_CREATE_PIT2 = _IOW(0x77, 64);
export const KVM_SET_CPUID2 = _IOW(0x90, 8);
export const KVM_X86_SET_MSR_FILTER = _IOW(0xc6, 392);

/** ioctl request numbers by name, for traces and `exitpath constants`. */
export const KVM_IOCTLS = {
  KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION,
  KVM_CREATE_IRQCHIP, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_REGISTER_COALESCED_MMIO, KVM_IRQFD, KVM_IOEVENTFD, KVM_RUN, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI,
  KVM_INTERRUPT, KVM_SET_REGS, KVM_SET_MP_STATE, KVM_NMI, KVM_ENABLE_CAP, KVM_CREATE_PIT2, KVM_SET_CPUID2, KVM_X86_SET_MSR_FILTER,
  KVM_GET_DIRTY_LOG,
} as const;
export type KvmIoctlName = keyof typeof KVM_IOCTLS;
export const KVM_IOCTL_NAMES: ReadonlyMap<number, KvmIoctlName> = new Map(
  (Object.entries(KVM_IOCTLS) as [KvmIoctlName, number][]).map(([k, v]) => [v, k]),
);

/** `KVM_EXIT_<name>` = number (`kvm_run->exit_reason`). */
export const KVM_EXIT = {
  UNKNOWN: 0, EXCEPTION: 1, IO: 2, HYPERCALL: 3, DEBUG: 4, HLT: 5, MMIO: 6, IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8, FAIL_ENTRY: 9, INTR: 10, SET_TPR: 11, TPR_ACCESS: 12, S390_SIEIC: 13, S390_RESET: 14,
  DCR: 15, NMI: 16, INTERNAL_ERROR: 17, OSI: 18, PAPR_HCALL: 19, S390_UCONTROL: 20, WATCHDOG: 21,
  S390_TSCH: 22, EPR: 23, SYSTEM_EVENT: 24, S390_STSI: 25, IOAPIC_EOI: 26, HYPERV: 27, ARM_NISV: 28,
  X86_RDMSR: 29, X86_WRMSR: 30, DIRTY_RING_FULL: 31, AP_RESET_HOLD: 32, X86_BUS_LOCK: 33, XEN: 34,
  RISCV_SBI: 35, RISCV_CSR: 36, NOTIFY: 37,
} as const;
export type KvmExitName = keyof typeof KVM_EXIT;
export const KVM_EXIT_NAMES: ReadonlyMap<number, KvmExitName> = new Map(
  (Object.entries(KVM_EXIT) as [KvmExitName, number][]).map(([k, v]) => [v, k]),
);
export function kvmExitName(n: number): string {
  const s = KVM_EXIT_NAMES.get(n);
  return s === undefined ? `KVM_EXIT_${n}` : `KVM_EXIT_${s}`;
}

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;

/** Capabilities userspace asks about with KVM_CHECK_EXTENSION. */
export const KVM_CAP_COALESCED_MMIO = 15;
export const KVM_CAP_IRQ_INJECT_STATUS = 26;
export const KVM_CAP_COALESCED_PIO = 162;
/** Capabilities userspace enables with KVM_ENABLE_CAP, and their arguments. */
export const KVM_CAP_SPLIT_IRQCHIP = 121;
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
export const KVM_CAP_X86_BUS_LOCK_EXIT = 193;
export const KVM_CAP_X86_NOTIFY_VMEXIT = 219;
export const KVM_MSR_EXIT_REASON_INVAL = 1 << 0;
export const KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;
export const KVM_MSR_FILTER_READ = 1 << 0;
export const KVM_MSR_FILTER_WRITE = 1 << 1;
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
export const KVM_MSR_FILTER_DEFAULT_DENY = 1;
export const KVM_BUS_LOCK_DETECTION_OFF = 1 << 0;
export const KVM_BUS_LOCK_DETECTION_EXIT = 1 << 1;
export const KVM_X86_NOTIFY_VMEXIT_ENABLED = 1 << 0;
export const KVM_X86_NOTIFY_VMEXIT_USER = 1 << 1;
export const KVM_NOTIFY_CONTEXT_INVALID = 1 << 0;
/** kvm_run->flags (arch/x86/include/uapi/asm/kvm.h). */
export const KVM_RUN_X86_SMM = 1 << 0;
export const KVM_RUN_X86_BUS_LOCK = 1 << 1;
export const KVM_PIT_SPEAKER_DUMMY = 1;
/** KVM_IRQ_ROUTING_IRQCHIP chips (asm/kvm.h). */
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;

export const PAGE_SIZE = 4096;
/** arch/x86/include/uapi/asm/kvm.h: the PIO data page is the 2nd page of the vcpu mmap. */
export const KVM_PIO_PAGE_OFFSET = 1;
/** The coalesced MMIO/PIO ring (struct kvm_coalesced_mmio_ring) is the 3rd page of the vcpu mmap. */
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 2;
/** kvm_run, the PIO data page and the coalesced MMIO ring (kvm_vcpu_mmap; KVM_GET_VCPU_MMAP_SIZE). */
export const KVM_VCPU_MMAP_SIZE = 3 * PAGE_SIZE;

/** `struct kvm_run` field offsets (x86-64). */
export const kvm_run = {
  request_interrupt_window: 0,
  immediate_exit: 1,
  exit_reason: 8,
  ready_for_interrupt_injection: 12,
  if_flag: 13,
  flags: 14,
  cr8: 16,
  apic_base: 24,
  // union, starts at 32
  'hw.hardware_exit_reason': 32,
  'fail_entry.hardware_entry_failure_reason': 32,
  'fail_entry.cpu': 40,
  'ex.exception': 32,
  'ex.error_code': 36,
  'io.direction': 32,
  'io.size': 33,
  'io.port': 34,
  'io.count': 36,
  'io.data_offset': 40,
  'mmio.phys_addr': 32,
  'mmio.data': 40,
  'mmio.len': 48,
  'mmio.is_write': 52,
  'internal.suberror': 32,
  'internal.ndata': 36,
  'internal.data': 40,
  'eoi.vector': 32,
  'msr.error': 32,
  'msr.reason': 40,
  'msr.index': 44,
  'msr.data': 48,
  'notify.flags': 32,
  kvm_valid_regs: 288,
  kvm_dirty_regs: 296,
} as const;

/** struct kvm_userspace_memory_region (32 bytes). */
export const kvm_userspace_memory_region = {
  slot: 0, flags: 4, guest_phys_addr: 8, memory_size: 16, userspace_addr: 24, sizeof: 32,
} as const;

/** kvm_userspace_memory_region.flags: log writes to the slot's pages in its dirty bitmap. */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;

/** struct kvm_dirty_log (16 bytes): the slot, and (in a union) the user address of the bitmap to fill. */
export const kvm_dirty_log = { slot: 0, dirty_bitmap: 8, sizeof: 16 } as const;

/** struct kvm_irq_level (8 bytes): union { irq; status; } and level. */
export const kvm_irq_level = { irq: 0, level: 4, sizeof: 8 } as const;

/** struct kvm_coalesced_mmio_zone (16 bytes): KVM_REGISTER_COALESCED_MMIO; pio = 1 puts it on KVM_PIO_BUS. */
export const kvm_coalesced_mmio_zone = { addr: 0, size: 8, pio: 12, sizeof: 16 } as const;
/** struct kvm_coalesced_mmio (24 bytes), an entry of struct kvm_coalesced_mmio_ring {u32 first, last; entries}. */
export const kvm_coalesced_mmio = { phys_addr: 0, len: 8, pio: 12, data: 16, sizeof: 24 } as const;
export const kvm_coalesced_mmio_ring = { first: 0, last: 4, coalesced_mmio: 8, sizeof: 8 } as const;

/** struct kvm_msi (32 bytes), for KVM_SIGNAL_MSI. */
export const kvm_msi = { address_lo: 0, address_hi: 4, data: 8, flags: 12, devid: 16, sizeof: 32 } as const;

/** struct kvm_ioeventfd (64 bytes). */
export const kvm_ioeventfd = { datamatch: 0, addr: 8, len: 16, fd: 20, flags: 24, sizeof: 64 } as const;
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
export const KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;

/** struct kvm_irqfd (32 bytes). */
export const kvm_irqfd = { fd: 0, gsi: 4, flags: 8, resamplefd: 12, sizeof: 32 } as const;
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;

/** struct kvm_irq_routing (header, 8 bytes) and struct kvm_irq_routing_entry (48 bytes) with its MSI member. */
export const kvm_irq_routing = { nr: 0, flags: 4, entries: 8 } as const;
export const kvm_irq_routing_entry = { gsi: 0, type: 4, flags: 8, 'u.msi.address_lo': 16, 'u.msi.address_hi': 20, 'u.msi.data': 24, sizeof: 48 } as const;
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQ_ROUTING_MSI = 2;

/** struct kvm_regs (arch/x86/include/uapi/asm/kvm.h, 144 bytes): KVM_SET_REGS. */
export const kvm_regs = { rax: 0, rbx: 8, rcx: 16, rdx: 24, rsi: 32, rdi: 40, rsp: 48, rbp: 56, rip: 128, rflags: 136, sizeof: 144 } as const;
/** struct kvm_mp_state: KVM_SET_MP_STATE. */
export const kvm_mp_state = { mp_state: 0, sizeof: 4 } as const;

/** struct kvm_interrupt: KVM_INTERRUPT's vector, with a userspace irqchip. */
export const kvm_interrupt = { irq: 0, sizeof: 4 } as const;

/** struct kvm_enable_cap (104 bytes). */
export const kvm_enable_cap = { cap: 0, flags: 4, args: 8, sizeof: 104 } as const;

/** struct kvm_pit_config (64 bytes): KVM_CREATE_PIT2. */
export const kvm_pit_config = { flags: 0, sizeof: 64 } as const;

/** struct kvm_cpuid2 and struct kvm_cpuid_entry2 (40 bytes each): KVM_SET_CPUID2. */
export const kvm_cpuid2 = { nent: 0, padding: 4, entries: 8, sizeof: 8 } as const;
export const kvm_cpuid_entry2 = { function: 0, index: 4, flags: 8, eax: 12, ebx: 16, ecx: 20, edx: 24, sizeof: 40 } as const;
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0;

/** struct kvm_msr_filter (16 ranges) and struct kvm_msr_filter_range: KVM_X86_SET_MSR_FILTER. */
export const kvm_msr_filter = { flags: 0, ranges: 8, sizeof: 392 } as const;
export const kvm_msr_filter_range = { flags: 0, nmsrs: 4, base: 8, bitmap: 16, sizeof: 24 } as const;

/** struct kvm_mp_state's values (KVM_GET_MP_STATE): how a vCPU stands — running, waiting for INIT/SIPI, halted. */
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
