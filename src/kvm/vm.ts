// struct kvm: one virtual machine — its memslots, the EPT that maps them, the io buses with the
// in-kernel devices, the irqchip and the vcpus.

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import type { Scheduler } from '../sim/scheduler';
import type { Tracer } from '../trace/events';
import { Ept } from '../vmx/ept';
import { KvmIoBus } from './io_bus';
import type { KvmIoapic } from './ioapic';
import type { KvmPit } from './i8254';
import type { KvmPic } from './i8259';
import type { KvmEra } from './profile';
import type { KvmVcpu } from './vcpu';
import type { KvmX86Ops } from './x86_ops';
import type { EventFd } from '../host/eventfd';
import type { Ioeventfd } from './eventfd';

/** KVM_USER_MEM_SLOTS + 1: the private slot of the APIC-access page (arch/x86/include/asm/kvm_host.h). */
export const APIC_ACCESS_PAGE_PRIVATE_MEMSLOT = 32764 + 1;

export interface Memslot {
  slot: number; gpa: number; size: number; hva: number; bytes: Uint8Array; view: DataView;
  /** KVM_MEM_LOG_DIRTY_PAGES and the bitmap it allocates (kvm_alloc_dirty_bitmap), one bit a page. */
  flags?: number;
  dirty_bitmap?: Uint8Array;
}

export interface KvmEnv {
  readonly sched: Scheduler;
  readonly clock: Clock;
  readonly profile: CpuProfile;
  readonly t: Tracer;
  readonly era: KvmEra;
  /** The kvm module's halt_poll_ns (KVM_HALT_POLL_NS_DEFAULT on x86: 200000 ns); 0 turns polling off. */
  readonly haltPollNs: number;
}

export class KvmVm {
  readonly memslots: Memslot[] = [];
  readonly ept = new Ept();
  readonly pioBus = new KvmIoBus('KVM_PIO_BUS');
  readonly mmioBus = new KvmIoBus('KVM_MMIO_BUS');
  readonly fastMmioBus = new KvmIoBus('KVM_FAST_MMIO_BUS');
  ioapic: KvmIoapic | undefined;
  /** The in-kernel 8259 pair (KVM_CREATE_IRQCHIP) and 8254 (KVM_CREATE_PIT2). */
  pic: KvmPic | undefined;
  pit: KvmPit | undefined;
  /** irqchip_in_kernel: KVM_CREATE_IRQCHIP (PIC, IOAPIC and local APICs) or a split irqchip (local APICs). */
  irqchipInKernel = false;
  /** kvm->arch.apicv_inhibit_reasons: non-zero (APICV_INHIBIT_REASON_DISABLE) when APICv is off. */
  apicvInhibitReasons = 1;
  /** KVM_CAP_SPLIT_IRQCHIP was enabled: local APICs in the kernel, PIC and IOAPIC in userspace. */
  irqchipSplit = false;
  /** kvm->arch: userspace MSR exits (KVM_CAP_X86_USER_SPACE_MSR) and the MSRs KVM_X86_SET_MSR_FILTER denies to reads. */
  userSpaceMsrMask = 0;
  readonly msrFilterDenyRead = new Set<number>();
  /** KVM_CAP_X86_BUS_LOCK_EXIT and KVM_CAP_X86_NOTIFY_VMEXIT, as userspace enabled them. */
  busLockDetectionEnabled = false;
  notifyVmexitFlags = 0;
  notifyWindow = 0;
  /** kvm->arch.cpu_dirty_logging_count: slots logging dirty pages, for which the CPU's PML is on. */
  cpuDirtyLoggingCount = 0;
  readonly vcpus: KvmVcpu[] = [];
  /** KVM_IOEVENTFD registrations (kvm->ioeventfds). */
  readonly ioeventfds: Ioeventfd[] = [];
  /** KVM_IRQFD bindings: eventfd → its wake function. */
  readonly irqfds = new Map<EventFd, (e: EventFd) => void>();
  /** KVM_SET_GSI_ROUTING: MSI routes by GSI. */
  readonly gsiRoutes = new Map<number, { addressLo: number; data: number }>();
  /** kvm->coalesced_mmio_ring: one page, mapped by every vCPU at KVM_COALESCED_MMIO_PAGE_OFFSET. */
  readonly coalescedRingBytes = new Uint8Array(4096);
  readonly coalescedRing = new DataView(this.coalescedRingBytes.buffer);
  constructor(readonly env: KvmEnv, readonly ops: KvmX86Ops) {}

  /**
   * kvm_alloc_apic_access_page: the APIC-access page is a private memslot (one 4 KiB page at the
   * APIC's default base, APIC_ACCESS_PAGE_PRIVATE_MEMSLOT), made once per VM.
   */
  allocApicAccessPage(): Memslot {
    let s = this.memslots.find((m) => m.slot === APIC_ACCESS_PAGE_PRIVATE_MEMSLOT);
    if (!s) {
      const bytes = new Uint8Array(4096);
      s = { slot: APIC_ACCESS_PAGE_PRIVATE_MEMSLOT, gpa: 0xfee00000, size: 4096, hva: 0, bytes, view: new DataView(bytes.buffer) };
      this.memslots.push(s);
    }
    return s;
  }

  /** gfn_to_memslot */
  memslotFor(gpa: number): Memslot | undefined {
    for (const s of this.memslots) if (gpa >= s.gpa && gpa < s.gpa + s.size) return s;
    return undefined;
  }
}
