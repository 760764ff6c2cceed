// virt/kvm/eventfd.c: ioeventfd (a guest write to an address signals an eventfd, in the kernel, with
// no exit to userspace) and irqfd (an eventfd signal becomes a guest interrupt, with no ioctl).

import { defineEvent } from '../trace/events';
import { ERRNO } from '../uapi/errno';
import { EventFd } from '../host/eventfd';
import type { HostProcess } from '../host/process';
import {
  KVM_IOEVENTFD_FLAG_DATAMATCH, KVM_IOEVENTFD_FLAG_DEASSIGN, KVM_IOEVENTFD_FLAG_PIO, KVM_IRQFD_FLAG_DEASSIGN,
  kvm_ioeventfd as KVM_IOEVENTFD_S, kvm_irqfd as KVM_IRQFD_S,
} from '../uapi/kvm';
import type { KvmIoDevice } from './io_bus';
import { kvm_set_msi } from './irq';
import type { KvmVm } from './vm';

const EV_IOEVENTFD_WRITE = defineEvent('call', 'kvm', 'kvm', 'ioeventfd_write', ['addr:hex', 'val:hex']);
const EV_EVENTFD_SIGNAL = defineEvent('call', 'kvm', 'kvm', 'eventfd_signal', []);
const EV_IRQFD_WAKEUP = defineEvent('call', 'kvm', 'kvm', 'irqfd_wakeup', ['gsi']);

/** struct _ioeventfd: a device on the PIO or MMIO bus that signals its eventfd. */
export class Ioeventfd implements KvmIoDevice {
  readonly name = 'ioeventfd';
  constructor(private readonly vm: KvmVm, readonly addr: number, readonly length: number, readonly datamatch: number | null,
    readonly eventfd: EventFd) {}

  /** ioeventfd_write: decline unless the address, length and (with DATAMATCH) the value match. */
  write(addr: number, len: number, val: number): number {
    if (addr !== this.addr || (this.length !== 0 && len !== this.length)) return -ERRNO.EOPNOTSUPP;
    if (this.datamatch !== null && val !== this.datamatch) return -ERRNO.EOPNOTSUPP;
    const t = this.vm.env.t;
    if (t.on) { t.rec(EV_IOEVENTFD_WRITE, -1, addr, val); t.rec(EV_EVENTFD_SIGNAL, -1); }
    this.eventfd.signal(1);
    return 0;
  }
}

/** kvm_ioeventfd: assign or deassign, from struct kvm_ioeventfd in the caller's memory. */
export function kvm_ioeventfd(vm: KvmVm, proc: HostProcess, arg: number): number {
  const mm = proc.mm;
  const flags = mm.u32(arg + KVM_IOEVENTFD_S.flags);
  const len = mm.u32(arg + KVM_IOEVENTFD_S.len);
  if (![0, 1, 2, 4, 8].includes(len)) return -ERRNO.EINVAL;
  if (len === 0 && flags & KVM_IOEVENTFD_FLAG_DATAMATCH) return -ERRNO.EINVAL;
  const f = proc.file(mm.i32(arg + KVM_IOEVENTFD_S.fd));
  if (!(f instanceof EventFd)) return -ERRNO.EBADF;
  const addr = mm.u64(arg + KVM_IOEVENTFD_S.addr);
  // kvm_assign_ioeventfd: an MMIO ioeventfd of length 0 goes on KVM_MMIO_BUS and also on
  // KVM_FAST_MMIO_BUS, which handle_ept_misconfig tries before any instruction decode.
  const buses = flags & KVM_IOEVENTFD_FLAG_PIO ? [vm.pioBus] : len === 0 ? [vm.mmioBus, vm.fastMmioBus] : [vm.mmioBus];
  if (flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
    const dev = vm.ioeventfds.find((d) => d.addr === addr && d.eventfd === f);
    if (!dev) return -ERRNO.ENOENT;
    for (const bus of buses) bus.unregister(dev);
    vm.ioeventfds.splice(vm.ioeventfds.indexOf(dev), 1);
    return 0;
  }
  const dev = new Ioeventfd(vm, addr, len, flags & KVM_IOEVENTFD_FLAG_DATAMATCH ? mm.u64(arg + KVM_IOEVENTFD_S.datamatch) : null, f);
  for (const bus of buses) bus.register(addr, len, dev);
  vm.ioeventfds.push(dev);
  return 0;
}


/** kvm_irqfd: bind an eventfd to a GSI; its signal injects the GSI's route (irqfd_wakeup → kvm_set_msi). */
export function kvm_irqfd(vm: KvmVm, proc: HostProcess, arg: number): number {
  const mm = proc.mm;
  const f = proc.file(mm.u32(arg + KVM_IRQFD_S.fd));
  if (!(f instanceof EventFd)) return -ERRNO.EBADF;
  const gsi = mm.u32(arg + KVM_IRQFD_S.gsi);
  const flags = mm.u32(arg + KVM_IRQFD_S.flags);
  const existing = vm.irqfds.get(f);
  if (flags & KVM_IRQFD_FLAG_DEASSIGN) {
    if (!existing) return -ERRNO.ENOENT;
    f.wakeFuncs.delete(existing);
    vm.irqfds.delete(f);
    return 0;
  }
  if (existing) return -ERRNO.EBUSY;
  const wake = (e: EventFd) => {
    // irqfd_wakeup: consume the count, then inject through the GSI's routing entry.
    e.take();
    const t = vm.env.t;
    if (t.on) t.rec(EV_IRQFD_WAKEUP, -1, gsi);
    const route = vm.gsiRoutes.get(gsi);
    if (route) kvm_set_msi(vm, route.addressLo, route.data);
    else vm.ioapic?.setIrq(gsi, 1);
  };
  f.wakeFuncs.add(wake);
  vm.irqfds.set(f, wake);
  return 0;
}
