// arch/x86/kvm/irq_comm.c and lapic.c: MSI delivery. An MSI is a write of `data` to `address`: the
// destination APIC ID is address bits 19:12, the vector data bits 7:0 (fixed, edge-triggered here).

import { defineEvent } from '../trace/events';
import type { KvmVm } from './vm';
import { kvm_vcpu_kick } from './kick';

const EV_MSI = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_msi_set_irq', ['address:hex', 'data:hex']);

/** kvm_set_msi → kvm_irq_delivery_to_apic → __apic_accept_irq. Returns 1 if delivered. */
export function kvm_set_msi(vm: KvmVm, addressLo: number, data: number): number {
  const t = vm.env.t;
  if (t.on) t.rec(EV_MSI, -1, addressLo, data);
  const dest = (addressLo >>> 12) & 0xff;
  const vcpu = vm.vcpus.find((v) => v.apic?.id === dest);
  if (!vcpu?.apic) return 0;
  // kvm_set_msi_irq: MSI data bit 15 is the trigger mode (a level-triggered IOAPIC pin routed as an MSI).
  vcpu.apic.acceptIrq(data & 0xff, (data & 0x8000) !== 0);
  kvm_vcpu_kick(vcpu);
  return 1;
}
