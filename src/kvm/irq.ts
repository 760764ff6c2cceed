// arch/x86/kvm/irq_comm.c: MSI delivery. An MSI is a write of `data` to `address`, decoded into a
// kvm_lapic_irq and handed to the local APICs it names (lapic.ts).

import { defineEvent } from '../trace/events';
import type { KvmVm } from './vm';
import { APIC_DEST_LOGICAL, APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL, APIC_MODE_MASK, kvm_irq_delivery_to_apic } from './lapic';

/** MSI address bit 2: the destination ID is a logical one (arch/x86/include/asm/msidef.h). */
const MSI_ADDR_DEST_MODE_LOGICAL = 1 << 2;

const EV_MSI = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_msi_set_irq', ['address:hex', 'data:hex']);

/**
 * kvm_set_msi → kvm_set_msi_irq → kvm_irq_delivery_to_apic. The message's address holds the
 * destination APIC ID (bits 19:12) and the destination mode (bit 2, logical); its data the vector
 * (7:0), the delivery mode (10:8) and the trigger mode (bit 15). Returns 1 if delivered.
 */
export function kvm_set_msi(vm: KvmVm, addressLo: number, data: number): number {
  const t = vm.env.t;
  if (t.on) t.rec(EV_MSI, -1, addressLo, data);
  const r = kvm_irq_delivery_to_apic(vm.vcpus, null, {
    vector: data & 0xff, delivery_mode: data & APIC_MODE_MASK, dest_mode: addressLo & MSI_ADDR_DEST_MODE_LOGICAL ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL,
    level: true, trig_mode: (data & 0x8000) !== 0, shorthand: APIC_DEST_NOSHORT, dest_id: (addressLo >>> 12) & 0xff,
  });
  return r > 0 ? 1 : 0;
}
