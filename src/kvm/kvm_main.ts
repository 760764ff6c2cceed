// virt/kvm/kvm_main.c: /dev/kvm and the files it hands out (VM fd, vcpu fd) with their ioctls.
// Arguments are read from the caller's memory (copy_from_user), results written back the same way.

import { ERRNO } from '../uapi/errno';
import {
  KVM_API_VERSION, KVM_CREATE_IRQCHIP, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_GET_API_VERSION, KVM_GET_VCPU_MMAP_SIZE,
  KVM_IRQ_LINE, KVM_RUN, KVM_SET_USER_MEMORY_REGION, KVM_VCPU_MMAP_SIZE, kvm_irq_level, kvm_userspace_memory_region,
  KVM_IOEVENTFD, KVM_IRQFD, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQ_ROUTING_MSI, kvm_msi, kvm_irq_routing, kvm_irq_routing_entry,
} from '../uapi/kvm';
import { kvm_ioeventfd, kvm_irqfd } from './eventfd';
import { kvm_set_msi } from './irq';
import { defineEvent } from '../trace/events';
import type { HostFile, SysGen } from '../host/file';
import type { HostProcess } from '../host/process';
import type { VmxCpu } from '../vmx/cpu';
import { KvmIoapic, IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH } from './ioapic';
import { KvmVcpu } from './vcpu';
import { KvmVm, type KvmEnv } from './vm';
import { kvm_arch_vcpu_ioctl_run, kvm_vcpu_kick } from './x86';
import type { KvmX86Ops } from './x86_ops';

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
        if (!mm.ok(hva, size)) return -ERRNO.EFAULT;
        const bytes = mm.slice(hva, size);
        vm.memslots.push({ slot: mm.u32(arg + s.slot), gpa: mm.u64(arg + s.guest_phys_addr), size, hva, bytes,
          view: new DataView(bytes.buffer, bytes.byteOffset, bytes.length) });
        return 0;
      }
      case KVM_CREATE_IRQCHIP: {
        if (vm.irqchipInKernel) return -ERRNO.EEXIST;
        vm.irqchipInKernel = true;
        // kvm_ioapic_init: on KVM_MMIO_BUS; it delivers to the local APIC of vcpu 0 (fixed, physical).
        const ioapic = new KvmIoapic({ deliver: (vector, level) => {
          const v = vm.vcpus[0];
          if (!v?.apic) return;
          v.apic.acceptIrq(vector, level);
          kvm_vcpu_kick(v);
        } });
        vm.ioapic = ioapic;
        vm.mmioBus.register(IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH, ioapic);
        return 0;
      }
      case KVM_IRQ_LINE: {
        // kvm_vm_ioctl_irq_line → kvm_set_irq: GSI n is IOAPIC pin n (default routing).
        if (!vm.ioapic) return -ERRNO.ENXIO;
        const gsi = mm.u32(arg + kvm_irq_level.irq);
        const level = mm.u32(arg + kvm_irq_level.level);
        const t = vm.env.t;
        if (t.on) t.rec(EV_SET_IRQ, -1, gsi, level);
        vm.ioapic.setIrq(gsi, level);
        return 0;
      }
      case KVM_IOEVENTFD: return kvm_ioeventfd(vm, proc, arg);
      case KVM_IRQFD: return vm.irqchipInKernel ? kvm_irqfd(vm, proc, arg) : -ERRNO.EINVAL;
      case KVM_SIGNAL_MSI:
        // kvm_send_userspace_msi
        if (!vm.irqchipInKernel) return -ERRNO.EINVAL;
        return kvm_set_msi(vm, mm.u32(arg + kvm_msi.address_lo), mm.u32(arg + kvm_msi.data));
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
        const slot = vm.memslots[0];
        if (slot) vcpu.cpu.ram = slot.view;
        vm.ops.vcpu_create(vcpu);
        vm.vcpus[id] = vcpu;
        return proc.install(new KvmVcpuFile(vcpu));
      }
      default:
        return -ERRNO.EINVAL;
    }
  }
}

/** The vcpu fd: kvm_vcpu_ioctl, and mmap of the kvm_run area. */
export class KvmVcpuFile implements HostFile {
  readonly owner = 'kvm';
  readonly name = 'anon_inode:kvm-vcpu';
  constructor(readonly vcpu: KvmVcpu) {}

  *ioctl(req: number): SysGen {
    if (req === KVM_RUN) {
      const r = yield* kvm_arch_vcpu_ioctl_run(this.vcpu);
      // The kernel's side of leaving KVM_RUN and coming back: vcpu_put/vcpu_load, the FPU swap,
      // post_kvm_run_save (sim/costs.ts kvmRunRoundTrip).
      const env = this.vcpu.vm.env;
      env.clock.spend(env.profile.cost.kvmRunRoundTrip);
      return r;
    }
    return -ERRNO.EINVAL;
  }

  mmap(len: number): Uint8Array { return this.vcpu.run.bytes.subarray(0, Math.min(len, this.vcpu.run.bytes.length)); }

  /** kvm_run->exit_reason, for the record of KVM_RUN's return. */
  exitReason(): number { return this.vcpu.run.exit_reason; }
}
