// The guest-physical memory map of the modelled machine above RAM: where the devices' MMIO regions
// sit (hw/i386/pc.c, hw/intc/apic_common.c, hw/i386/kvm/ioapic.c, the virtio-pci BARs), all in the
// PCI hole below 4 GiB that pc_memory_init leaves free of RAM (RAM beyond it goes above 4 GiB).

/** Where the virtio-blk function's memory BAR puts its MSI-X table (below the IOAPIC, as PCI BARs are). */
export const MSIX_TABLE_BASE = 0xfebf1000;
/** The virtio-pci function's modern memory BAR (common, ISR, device and notify regions, 4 KiB each). */
export const MODERN_BAR = 0xfe000000;
/** IO_APIC_DEFAULT_ADDRESS */
export const IOAPIC_BASE = 0xfec00000;
/** APIC_DEFAULT_ADDRESS: the local APIC (and kvm's APIC-access page). */
export const APIC_BASE = 0xfee00000;
