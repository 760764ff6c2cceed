// virt/kvm/kvm_main.c: /dev/kvm and the files it hands out (VM fd, vcpu fd) with their ioctls.
// Arguments are read from the caller's memory (copy_from_user), results written back the same way.

import { ERRNO } from '../uapi/errno';
import {
  KVM_API_VERSION, KVM_CREATE_IRQCHIP, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_API_VERSION, KVM_GET_VCPU_MMAP_SIZE,
  KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_INJECT_STATUS, KVM_CAP_COALESCED_MMIO, KVM_CAP_COALESCED_PIO,
  KVM_COALESCED_MMIO_PAGE_OFFSET, KVM_REGISTER_COALESCED_MMIO, kvm_coalesced_mmio_zone, PAGE_SIZE, KVM_RUN, KVM_SET_USER_MEMORY_REGION, KVM_VCPU_MMAP_SIZE, kvm_irq_level, kvm_userspace_memory_region,
  KVM_INTERRUPT, KVM_NMI, kvm_interrupt, KVM_SET_REGS, kvm_regs, KVM_SET_MP_STATE, kvm_mp_state, KVM_MP_STATE_HALTED, KVM_MP_STATE_RUNNABLE, KVM_SET_CPUID2, kvm_cpuid2, kvm_cpuid_entry2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, KVM_CREATE_PIT2, kvm_pit_config, KVM_PIT_SPEAKER_DUMMY, KVM_ENABLE_CAP, kvm_enable_cap, KVM_X86_SET_MSR_FILTER, kvm_msr_filter,
  kvm_msr_filter_range, KVM_MSR_FILTER_READ, KVM_CAP_X86_USER_SPACE_MSR, KVM_CAP_X86_BUS_LOCK_EXIT,
  KVM_GET_DIRTY_LOG, kvm_dirty_log, KVM_MEM_LOG_DIRTY_PAGES,
  KVM_BUS_LOCK_DETECTION_EXIT, KVM_CAP_X86_NOTIFY_VMEXIT, KVM_CAP_SPLIT_IRQCHIP, KVM_IOEVENTFD, KVM_IRQFD, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQ_ROUTING_MSI, kvm_msi, kvm_irq_routing, kvm_irq_routing_entry,
} from '../uapi/kvm';
import { kvm_ioeventfd, kvm_irqfd } from './eventfd';
import { kvm_set_msi } from './irq';
import { kvm_get_dirty_log_protect, kvm_mmu_slot_apply_flags } from './mmu';
import { defineEvent } from '../trace/events';
import type { HostFile, SysGen } from '../host/file';
import type { HostProcess } from '../host/process';
import type { VmxCpu } from '../vmx/cpu';
import { KvmIoapic, IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH } from './ioapic';
import { KvmVcpu } from './vcpu';
import { KvmVm, type KvmEnv } from './vm';
import { kvm_arch_vcpu_ioctl_run, kvm_put_guest_fpu } from './x86';
import { kvm_inject_nmi, kvm_vcpu_kick } from './kick';
import { APIC_DEST_NOSHORT, kvm_irq_delivery_to_apic } from './lapic';
import { KVM_REQ_EVENT } from './kvm_host';
import { VMCS } from '../vmx/vmcs';
import { KvmPit, KVM_PIT_BASE_ADDRESS, KVM_PIT_MEM_LENGTH, KVM_SPEAKER_BASE_ADDRESS } from './i8254';
import { KvmPic } from './i8259';
import { cpuidKey, kvm_set_cpuid } from './cpuid';
import type { KvmX86Ops } from './x86_ops';
import { KvmCoalescedMmioDev } from './coalesced_mmio';
import type { KvmEra } from './profile';

const EV_USERSPACE_EXIT = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_userspace_exit', ['reason', 'errno']);
const EV_SET_IRQ = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_set_irq', ['gsi', 'level']);

/** What the host provides kvm: its CPUs (one VmxCpu per vcpu id). */
export interface KvmHardware { cpu(id: number): VmxCpu }

export class KvmModule {
  constructor(readonly env: KvmEnv, readonly ops: KvmX86Ops, private readonly hw: KvmHardware) {}

  readonly vms: KvmVm[] = [];

  /** open("/dev/kvm"): kvm_dev_ioctl. */
  open(): HostFile {
    const mod = this;
    return {
      owner: 'kvm', name: '/dev/kvm',
      *ioctl(req: number, _arg: number, proc: HostProcess): SysGen {
        if (req === KVM_GET_API_VERSION) return KVM_API_VERSION;
        if (req === KVM_GET_VCPU_MMAP_SIZE) return KVM_VCPU_MMAP_SIZE;
        if (req === KVM_CHECK_EXTENSION) return kvm_vm_ioctl_check_extension(_arg, mod.env.era);
        if (req === KVM_CREATE_VM) {
          // kvm_dev_ioctl_create_vm: a new VM and the anon-inode file that refers to it.
          const vm = new KvmVm(mod.env, mod.ops);
          mod.vms.push(vm);
          return proc.install(new KvmVmFile(vm, mod.hw));
        }
        return -ERRNO.EINVAL;
      },
    };
  }
}

/** The VM fd: kvm_vm_ioctl. */
export class KvmVmFile implements HostFile {
  readonly owner = 'kvm';
  readonly name = 'anon_inode:kvm-vm';
  constructor(readonly vm: KvmVm, private readonly hw: KvmHardware) {}

  *ioctl(req: number, arg: number, proc: HostProcess): SysGen {
    const vm = this.vm;
    const mm = proc.mm;
    switch (req) {
      case KVM_SET_USER_MEMORY_REGION: {
        const s = kvm_userspace_memory_region;
        const size = mm.u64(arg + s.memory_size);
        const hva = mm.u64(arg + s.userspace_addr);
        const id = mm.u32(arg + s.slot);
        const flags = mm.u32(arg + s.flags);
        // __kvm_set_memory_region: the same slot at the same place with other flags is KVM_MR_FLAGS_ONLY.
        const old = vm.memslots.find((m) => m.slot === id);
        if (old && old.gpa === mm.u64(arg + s.guest_phys_addr) && old.size === size && old.hva === hva) {
          const oldFlags = old.flags ?? 0;
          old.flags = flags;
          // kvm_alloc_dirty_bitmap when logging starts; the bitmap goes when it stops.
          if (flags & KVM_MEM_LOG_DIRTY_PAGES) old.dirty_bitmap ??= new Uint8Array(Math.ceil(size / 4096 / 8));
          else old.dirty_bitmap = undefined;
          kvm_mmu_slot_apply_flags(vm, old, oldFlags);
          return 0;
        }
        if (!mm.ok(hva, size)) return -ERRNO.EFAULT;
        const bytes = mm.slice(hva, size);
        vm.memslots.push({ slot: mm.u32(arg + s.slot), gpa: mm.u64(arg + s.guest_phys_addr), size, hva, bytes,
          view: new DataView(bytes.buffer, bytes.byteOffset, bytes.length) });
        return 0;
      }
      case KVM_GET_DIRTY_LOG: {
        // kvm_vm_ioctl_get_dirty_log → kvm_get_dirty_log_protect, then copy_to_user of the bitmap.
        const bitmap = kvm_get_dirty_log_protect(vm, mm.u32(arg + kvm_dirty_log.slot) & 0xffff);
        if (!bitmap) return -ERRNO.ENOENT;
        const to = mm.u64(arg + kvm_dirty_log.dirty_bitmap);
        if (!mm.ok(to, bitmap.length)) return -ERRNO.EFAULT;
        mm.slice(to, bitmap.length).set(bitmap);
        return 0;
      }
      case KVM_CREATE_IRQCHIP: {
        if (vm.irqchipInKernel) return -ERRNO.EEXIST;
        vm.irqchipInKernel = true;
        // kvm_ioapic_init: on KVM_MMIO_BUS; ioapic_service → kvm_irq_delivery_to_apic with the entry's destination.
        const ioapic = new KvmIoapic({ deliver: (e) => kvm_irq_delivery_to_apic(vm.vcpus, null, { vector: e.vector,
          delivery_mode: e.deliveryMode, dest_mode: e.destMode, level: true, trig_mode: e.level, shorthand: APIC_DEST_NOSHORT, dest_id: e.destId }) },
          IOAPIC_DEFAULT_BASE_ADDRESS, vm.env.t);
        vm.ioapic = ioapic;
        vm.mmioBus.register(IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH, ioapic);
        // kvm_pic_init: master, slave and ELCR on KVM_PIO_BUS.
        vm.pic = new KvmPic(vm.env.t);
        for (const d of vm.pic.devices) vm.pioBus.register(d.addr, d.len, d.dev);
        return 0;
      }
      case KVM_CREATE_PIT2: {
        // kvm_vm_ioctl_create_pit2 → kvm_create_pit: needs the in-kernel PIC; 0x40-0x43, and 0x61 only for a dummy speaker.
        if (!vm.pic) return -ERRNO.ENOENT;
        if (vm.pit) return -ERRNO.EEXIST;
        vm.pit = new KvmPit(vm.env.clock, vm.env.t);
        vm.pioBus.register(KVM_PIT_BASE_ADDRESS, KVM_PIT_MEM_LENGTH, vm.pit);
        if (mm.u32(arg + kvm_pit_config.flags) & KVM_PIT_SPEAKER_DUMMY) {
          vm.pioBus.register(KVM_SPEAKER_BASE_ADDRESS, 4, { name: 'kvm-speaker', write: () => 0, read: () => 0 });
        }
        return 0;
      }
      case KVM_IRQ_LINE: case KVM_IRQ_LINE_STATUS: {
        // kvm_vm_ioctl_irq_line → kvm_set_irq. Default routing (irqchip kernel): GSIs 0-15 go to
        // both the PIC and the IOAPIC, GSI n is IOAPIC pin n; the result adds up what each took
        // (virt/kvm/irqchip.c kvm_set_irq). A GSI userspace routed to an MSI (KVM_SET_GSI_ROUTING:
        // every route with a split irqchip; qemu-kvm 0.14's MSI-X vectors, kvm_msix_add) is one MSI
        // when raised (kvm_set_msi ignores level 0). KVM_IRQ_LINE_STATUS copies the result back
        // into the struct's status (the union with irq).
        if (!vm.irqchipInKernel) return -ERRNO.ENXIO;
        const gsi = mm.u32(arg + kvm_irq_level.irq);
        const level = mm.u32(arg + kvm_irq_level.level);
        const t = vm.env.t;
        if (t.on) t.rec(EV_SET_IRQ, -1, gsi, level);
        let status = -1;
        const add = (r: number) => { if (r >= 0) status = r + Math.max(status, 0); };
        const route = vm.gsiRoutes.get(gsi);
        if (route) {
          if (level) add(kvm_set_msi(vm, route.addressLo, route.data));
        } else if (!vm.irqchipSplit) {
          if (gsi < 16 && vm.pic) add(vm.pic.setIrq(gsi, level));
          if (vm.ioapic) add(vm.ioapic.setIrq(gsi, level));
        }
        if (req === KVM_IRQ_LINE_STATUS) mm.setU32(arg + kvm_irq_level.irq, status >>> 0);
        return 0;
      }
      case KVM_IOEVENTFD: return kvm_ioeventfd(vm, proc, arg);
      case KVM_IRQFD: return vm.irqchipInKernel ? kvm_irqfd(vm, proc, arg) : -ERRNO.EINVAL;
      case KVM_SIGNAL_MSI:
        // kvm_send_userspace_msi
        if (!vm.irqchipInKernel) return -ERRNO.EINVAL;
        return kvm_set_msi(vm, mm.u32(arg + kvm_msi.address_lo), mm.u32(arg + kvm_msi.data));
      case KVM_CHECK_EXTENSION: return kvm_vm_ioctl_check_extension(arg, vm.env.era);
      case KVM_REGISTER_COALESCED_MMIO: {
        // kvm_vm_ioctl_register_coalesced_mmio: a zone on KVM_PIO_BUS (pio = 1) or KVM_MMIO_BUS.
        const z = kvm_coalesced_mmio_zone;
        const pio = mm.u32(arg + z.pio);
        if (pio > 1 || (pio && !vm.env.era.features.coalescedPio)) return -ERRNO.EINVAL;
        const dev = new KvmCoalescedMmioDev(vm, mm.u64(arg + z.addr), mm.u32(arg + z.size), pio === 1);
        (pio ? vm.pioBus : vm.mmioBus).register(dev.addr, dev.size, dev);
        return 0;
      }
      case KVM_ENABLE_CAP: return kvm_vm_ioctl_enable_cap(vm, mm.u32(arg + kvm_enable_cap.cap), mm.u64(arg + kvm_enable_cap.args));
      case KVM_X86_SET_MSR_FILTER: {
        // kvm_vm_ioctl_set_msr_filter: the MSRs whose ranges clear the READ bit are denied to reads.
        vm.msrFilterDenyRead.clear();
        for (let i = 0; i < 16; i++) {
          const r = arg + kvm_msr_filter.ranges + i * kvm_msr_filter_range.sizeof;
          const n = mm.u32(r + kvm_msr_filter_range.nmsrs);
          if (!(mm.u32(r + kvm_msr_filter_range.flags) & KVM_MSR_FILTER_READ)) continue;
          const base = mm.u32(r + kvm_msr_filter_range.base);
          const bitmap = mm.u64(r + kvm_msr_filter_range.bitmap);
          for (let b = 0; b < n; b++) if (!((mm.u8(bitmap + (b >> 3)) >> (b & 7)) & 1)) vm.msrFilterDenyRead.add(base + b);
        }
        return 0;
      }
      case KVM_SET_GSI_ROUTING: {
        // kvm_set_irq_routing: replace the table; only MSI entries are modelled.
        const nr = mm.u32(arg + kvm_irq_routing.nr);
        vm.gsiRoutes.clear();
        for (let i = 0; i < nr; i++) {
          const e = arg + kvm_irq_routing.entries + i * kvm_irq_routing_entry.sizeof;
          if (mm.u32(e + kvm_irq_routing_entry.type) !== KVM_IRQ_ROUTING_MSI) continue;
          vm.gsiRoutes.set(mm.u32(e + kvm_irq_routing_entry.gsi), {
            addressLo: mm.u32(e + kvm_irq_routing_entry['u.msi.address_lo']), data: mm.u32(e + kvm_irq_routing_entry['u.msi.data']),
          });
        }
        return 0;
      }
      case KVM_CREATE_VCPU: {
        const id = arg;
        if (vm.vcpus[id]) return -ERRNO.EEXIST;
        const vcpu = new KvmVcpu(vm, id, this.hw.cpu(id), vm.env.sched, vm.irqchipInKernel);
        // The CPU reaches guest RAM through the memslots (with EPT: their host pages).
        vcpu.cpu.ram = vm.memslots.find((m) => m.gpa === 0)?.view;
        vcpu.cpu.ramHigh = vm.memslots.find((m) => m.gpa === 2 ** 32)?.view;
        vm.ops.vcpu_create(vcpu);
        vm.vcpus[id] = vcpu;
        return proc.install(new KvmVcpuFile(vcpu));
      }
      default:
        return -ERRNO.EINVAL;
    }
  }
}

/**
 * kvm_vm_ioctl_check_extension_generic (kvm_main.c) and kvm_vm_ioctl_check_extension (x86.c): the
 * capabilities the model's qemu asks about. (Simplification: any other capability answers 0.)
 */
function kvm_vm_ioctl_check_extension(cap: number, era: KvmEra): number {
  switch (cap) {
    case KVM_CAP_IRQ_INJECT_STATUS: return 1;
    case KVM_CAP_COALESCED_MMIO: return KVM_COALESCED_MMIO_PAGE_OFFSET;
    case KVM_CAP_COALESCED_PIO: return era.features.coalescedPio ? 1 : 0;
    default: return 0;
  }
}

/**
 * kvm_vm_ioctl_enable_cap (x86.c kvm_vm_ioctl_enable_cap): userspace MSR exits, bus-lock exits and
 * notify VM exits (recorded for VMCS programming at vcpu creation), the split irqchip.
 */
function kvm_vm_ioctl_enable_cap(vm: KvmVm, cap: number, arg0: number): number {
  switch (cap) {
    case KVM_CAP_X86_USER_SPACE_MSR: vm.userSpaceMsrMask = arg0 & 7; return 0;
    case KVM_CAP_X86_BUS_LOCK_EXIT:
      if (!vm.ops.caps?.busLockDetection) return -ERRNO.EINVAL;
      vm.busLockDetectionEnabled = (arg0 & KVM_BUS_LOCK_DETECTION_EXIT) !== 0;
      return 0;
    case KVM_CAP_X86_NOTIFY_VMEXIT:
      if (!vm.ops.caps?.notifyVmExit) return -ERRNO.EINVAL;
      vm.notifyVmexitFlags = arg0 % 2 ** 32;
      vm.notifyWindow = Math.floor(arg0 / 2 ** 32);
      return 0;
    case KVM_CAP_SPLIT_IRQCHIP:
      // Local APICs in the kernel (irqchip_in_kernel), no PIC or IOAPIC (irqchip_split).
      if (vm.irqchipInKernel || vm.vcpus.length > 0) return -ERRNO.EINVAL;
      vm.irqchipInKernel = true;
      vm.irqchipSplit = true;
      return 0;
    default: return -ERRNO.EINVAL;
  }
}

/** The vcpu fd: kvm_vcpu_ioctl, and mmap of the kvm_run area. */
export class KvmVcpuFile implements HostFile {
  readonly owner = 'kvm';
  readonly name = 'anon_inode:kvm-vcpu';
  constructor(readonly vcpu: KvmVcpu) {}

  *ioctl(req: number, arg: number, proc: HostProcess): SysGen {
    const vcpu = this.vcpu;
    if (req === KVM_RUN) {
      const r = yield* kvm_arch_vcpu_ioctl_run(vcpu);
      // kvm_vcpu_ioctl: trace_kvm_userspace_exit(vcpu->run->exit_reason, r); then vcpu_put, which
      // in 3.x put the guest FPU back (kvm_arch_vcpu_put).
      const t = vcpu.vm.env.t;
      if (t.on) t.rec(EV_USERSPACE_EXIT, vcpu.id, vcpu.run.exit_reason, r);
      if (vcpu.vm.env.era.era === 'qemu-kvm-2013') kvm_put_guest_fpu(vcpu);
      // The kernel's side of leaving KVM_RUN and coming back: vcpu_put/vcpu_load, the FPU swap,
      // post_kvm_run_save (sim/costs.ts kvmRunRoundTrip).
      const env = vcpu.vm.env;
      env.clock.spend(env.profile.cost.kvmRunRoundTrip);
      return r;
    }
    switch (req) {
      // kvm_vcpu_ioctl_nmi → kvm_inject_nmi
      case KVM_NMI: kvm_inject_nmi(vcpu); return 0;
      case KVM_SET_REGS: {
        // kvm_arch_vcpu_ioctl_set_regs → __set_regs: the GPRs, RIP (kvm_rip_write) and RFLAGS
        // (kvm_set_rflags), no pending exception, KVM_REQ_EVENT.
        const mm = proc.mm;
        const s = kvm_regs;
        const r = vcpu.regs;
        r.rax = mm.u64(arg + s.rax); r.rbx = mm.u64(arg + s.rbx); r.rcx = mm.u64(arg + s.rcx); r.rdx = mm.u64(arg + s.rdx);
        r.rsi = mm.u64(arg + s.rsi); r.rdi = mm.u64(arg + s.rdi); r.rsp = mm.u64(arg + s.rsp); r.rbp = mm.u64(arg + s.rbp);
        vcpu.vmcs.write(VMCS.GUEST_RIP, mm.u64(arg + s.rip));
        vcpu.vmcs.write(VMCS.GUEST_RFLAGS, mm.u64(arg + s.rflags));
        vcpu.arch.exception = null;
        vcpu.arch.requests |= KVM_REQ_EVENT;
        return 0;
      }
      case KVM_SET_MP_STATE: {
        // kvm_arch_vcpu_ioctl_set_mpstate: RUNNABLE, UNINITIALIZED (an AP waiting for INIT/SIPI), ...
        const st = proc.mm.u32(arg + kvm_mp_state.mp_state);
        if (st > KVM_MP_STATE_HALTED || (!vcpu.apic && st !== KVM_MP_STATE_RUNNABLE)) return -ERRNO.EINVAL;
        vcpu.arch.mp_state = st;
        if (vcpu.apic) vcpu.apic.pending_events = 0;
        vcpu.arch.requests |= KVM_REQ_EVENT;
        return 0;
      }
      case KVM_SET_CPUID2: {
        // kvm_vcpu_ioctl_set_cpuid2 → kvm_set_cpuid, then vmx_vcpu_after_set_cpuid.
        const mm = proc.mm;
        const nent = mm.u32(arg + kvm_cpuid2.nent);
        if (nent > 256) return -ERRNO.E2BIG;
        const entries = new Map<string, readonly [number, number, number, number]>();
        for (let i = 0; i < nent; i++) {
          const e = arg + kvm_cpuid2.entries + i * kvm_cpuid_entry2.sizeof;
          const regs = [mm.u32(e + kvm_cpuid_entry2.eax), mm.u32(e + kvm_cpuid_entry2.ebx), mm.u32(e + kvm_cpuid_entry2.ecx), mm.u32(e + kvm_cpuid_entry2.edx)] as const;
          const func = mm.u32(e + kvm_cpuid_entry2.function);
          const significant = (mm.u32(e + kvm_cpuid_entry2.flags) & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) !== 0;
          entries.set(cpuidKey(func, mm.u32(e + kvm_cpuid_entry2.index)), regs);
          if (!significant) { entries.set(cpuidKey(func, 0), regs); entries.set(cpuidKey(func, -1), regs); }
        }
        kvm_set_cpuid(vcpu, entries);
        vcpu.vm.ops.vcpu_after_set_cpuid(vcpu);
        return 0;
      }
      // kvm_vcpu_ioctl_interrupt: only without an in-kernel LAPIC, one vector at a time.
      case KVM_INTERRUPT: {
        const irq = proc.mm.u32(arg + kvm_interrupt.irq);
        if (irq >= 256) return -ERRNO.EINVAL;
        if (vcpu.apic) return -ERRNO.ENXIO;
        if (vcpu.arch.interrupt >= 0) return -ERRNO.EEXIST;
        vcpu.arch.interrupt = irq;
        vcpu.arch.requests |= KVM_REQ_EVENT;
        return 0;
      }
      default: return -ERRNO.EINVAL;
    }
  }

  /** A signal for the thread in KVM_RUN: leave the guest (kvm_vcpu_kick); KVM_RUN returns -EINTR. */
  signal(): void {
    this.vcpu.sigpending = true;
    kvm_vcpu_kick(this.vcpu);
  }

  /** kvm_vcpu_mmap / kvm_vcpu_fault: kvm_run, the PIO data page, then the VM's coalesced MMIO ring. */
  mmap(len: number): Uint8Array | Uint8Array[] {
    const own = this.vcpu.run.bytes;
    if (len <= own.length) return own.subarray(0, len);
    return [own, this.vcpu.vm.coalescedRingBytes.subarray(0, Math.min(PAGE_SIZE, len - own.length))];
  }

  /** kvm_run->exit_reason, for the record of KVM_RUN's return. */
  exitReason(): number { return this.vcpu.run.exit_reason; }
}
