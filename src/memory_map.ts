// The guest-physical memory map of the modelled machine above RAM: where the devices' MMIO regions
// sit (hw/i386/pc.c, hw/intc/apic_common.c, hw/i386/kvm/ioapic.c, the virtio-pci BARs). Guest RAM is
// one block from address 0 (pc.ram); it must end below the lowest of them. (Simplification: QEMU's pc
// machine leaves a PCI hole below 4 GiB and puts the RAM beyond 3.5 GiB above 4 GiB instead; that
// relocation is not modelled, so the configuration refuses RAM that would reach a device.)

import type { VmConfig } from './config';

/** Where the virtio-blk function's memory BAR puts its MSI-X table (below the IOAPIC, as PCI BARs are). */
export const MSIX_TABLE_BASE = 0xfebf1000;
/** The virtio-pci function's modern memory BAR (common, ISR, device and notify regions, 4 KiB each). */
export const MODERN_BAR = 0xfe000000;
/** IO_APIC_DEFAULT_ADDRESS */
export const IOAPIC_BASE = 0xfec00000;
/** APIC_DEFAULT_ADDRESS: the local APIC (and kvm's APIC-access page). */
export const APIC_BASE = 0xfee00000;

/** The lowest device region above RAM in this configuration, and what it is. */
export function lowestMmio(c: Pick<VmConfig, 'disk'>): { base: number; what: string } {
  if (c.disk.transport === 'virtio-pci-modern') return { base: MODERN_BAR, what: "virtio-blk's modern memory BAR" };
  if (c.disk.vectors > 0) return { base: MSIX_TABLE_BASE, what: "virtio-blk's MSI-X table" };
  return { base: IOAPIC_BASE, what: 'the IOAPIC' };
}
