// struct kvm: one virtual machine — its memslots, the EPT that maps them, the io buses with the
// in-kernel devices, the irqchip and the vcpus.

import type { Clock } from '../sim/clock';
import type { CpuProfile } from '../sim/costs';
import type { Scheduler } from '../sim/scheduler';
import type { Tracer } from '../trace/events';
import { Ept } from '../vmx/ept';
import { KvmIoBus } from './io_bus';
import type { KvmIoapic } from './ioapic';
import type { KvmEra } from './profile';
import type { KvmVcpu } from './vcpu';
import type { KvmX86Ops } from './x86_ops';
import type { EventFd } from '../host/eventfd';
import type { Ioeventfd } from './eventfd';

export interface Memslot { slot: number; gpa: number; size: number; hva: number; bytes: Uint8Array; view: DataView }

export interface KvmEnv {
  readonly sched: Scheduler;
  readonly clock: Clock;
  readonly profile: CpuProfile;
  readonly t: Tracer;
  readonly era: KvmEra;
}

export class KvmVm {
  readonly memslots: Memslot[] = [];
  readonly ept = new Ept();
  readonly pioBus = new KvmIoBus('KVM_PIO_BUS');
  readonly mmioBus = new KvmIoBus('KVM_MMIO_BUS');
  readonly fastMmioBus = new KvmIoBus('KVM_FAST_MMIO_BUS');
  ioapic: KvmIoapic | undefined;
  /** KVM_CREATE_IRQCHIP was called: PIC, IOAPIC and local APICs are in the kernel. */
  irqchipInKernel = false;
  readonly vcpus: KvmVcpu[] = [];
  /** KVM_IOEVENTFD registrations (kvm->ioeventfds). */
  readonly ioeventfds: Ioeventfd[] = [];
  /** KVM_IRQFD bindings: eventfd → its wake function. */
  readonly irqfds = new Map<EventFd, (e: EventFd) => void>();
  /** KVM_SET_GSI_ROUTING: MSI routes by GSI. */
  readonly gsiRoutes = new Map<number, { addressLo: number; data: number }>();
  constructor(readonly env: KvmEnv, readonly ops: KvmX86Ops) {}

  /** gfn_to_memslot */
  memslotFor(gpa: number): Memslot | undefined {
    for (const s of this.memslots) if (gpa >= s.gpa && gpa < s.gpa + s.size) return s;
    return undefined;
  }
}
