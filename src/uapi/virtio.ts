// virtio constants and layouts: include/uapi/linux/virtio_pci.h, virtio_config.h, virtio_ring.h,
// virtio_blk.h (Linux 6.1). Checked against the real headers by test/abi.

// Legacy virtio-pci I/O BAR (BAR0) register offsets.
export const VIRTIO_PCI_HOST_FEATURES = 0;
export const VIRTIO_PCI_GUEST_FEATURES = 4;
export const VIRTIO_PCI_QUEUE_PFN = 8;
export const VIRTIO_PCI_QUEUE_NUM = 12;
export const VIRTIO_PCI_QUEUE_SEL = 14;
export const VIRTIO_PCI_QUEUE_NOTIFY = 16;
export const VIRTIO_PCI_STATUS = 18;
export const VIRTIO_PCI_ISR = 19;
export const VIRTIO_PCI_QUEUE_ADDR_SHIFT = 12;
export const VIRTIO_PCI_VRING_ALIGN = 4096;
export const VIRTIO_PCI_ABI_VERSION = 0;
/** Device-specific config starts here when MSI-X is off (`VIRTIO_PCI_CONFIG_OFF(false)`). */
export const VIRTIO_PCI_CONFIG_OFF_NO_MSIX = 20;
export const VIRTIO_PCI_ISR_CONFIG = 0x2;
/** With MSI-X enabled the legacy BAR has two more registers and device config moves to 24. */
export const VIRTIO_MSI_CONFIG_VECTOR = 20;
export const VIRTIO_MSI_QUEUE_VECTOR = 22;
export const VIRTIO_MSI_NO_VECTOR = 0xffff;
export const VIRTIO_PCI_CONFIG_OFF_MSIX = 24;

// Modern (virtio 1.0) virtio-pci: the common configuration structure's fields.
export const VIRTIO_PCI_COMMON_DFSELECT = 0;
export const VIRTIO_PCI_COMMON_DF = 4;
export const VIRTIO_PCI_COMMON_GFSELECT = 8;
export const VIRTIO_PCI_COMMON_GF = 12;
export const VIRTIO_PCI_COMMON_MSIX = 16;
export const VIRTIO_PCI_COMMON_NUMQ = 18;
export const VIRTIO_PCI_COMMON_STATUS = 20;
export const VIRTIO_PCI_COMMON_CFGGENERATION = 21;
export const VIRTIO_PCI_COMMON_Q_SELECT = 22;
export const VIRTIO_PCI_COMMON_Q_SIZE = 24;
export const VIRTIO_PCI_COMMON_Q_MSIX = 26;
export const VIRTIO_PCI_COMMON_Q_ENABLE = 28;
export const VIRTIO_PCI_COMMON_Q_NOFF = 30;
export const VIRTIO_PCI_COMMON_Q_DESCLO = 32;
export const VIRTIO_PCI_COMMON_Q_DESCHI = 36;
export const VIRTIO_PCI_COMMON_Q_AVAILLO = 40;
export const VIRTIO_PCI_COMMON_Q_AVAILHI = 44;
export const VIRTIO_PCI_COMMON_Q_USEDLO = 48;
export const VIRTIO_PCI_COMMON_Q_USEDHI = 52;
export const VIRTIO_F_VERSION_1 = 32;

// Device status (virtio_config.h).
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
export const VIRTIO_CONFIG_S_DRIVER = 2;
export const VIRTIO_CONFIG_S_DRIVER_OK = 4;
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
export const VIRTIO_CONFIG_S_FAILED = 0x80;

// Split virtqueue (virtio_ring.h).
export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
export const VRING_USED_F_NO_NOTIFY = 1;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;

export const vring_desc = { addr: 0, len: 8, flags: 12, next: 14, sizeof: 16 } as const;
export const vring_avail = { flags: 0, idx: 2, ring: 4 } as const;
export const vring_used_elem = { id: 0, len: 4, sizeof: 8 } as const;
export const vring_used = { flags: 0, idx: 2, ring: 4 } as const;

/** vring_size(num, align) from virtio_ring.h: desc table, avail ring (+used_event), pad, used ring (+avail_event). */
export function vring_size(num: number, align: number): number {
  return alignUp(vring_desc.sizeof * num + 2 * (3 + num), align) + 2 * 3 + vring_used_elem.sizeof * num;
}
export function alignUp(x: number, align: number): number { return Math.ceil(x / align) * align; }

/** Offsets of the three parts of a legacy split ring laid out at `base` (vring_init). */
export function vringLayout(base: number, num: number, align = VIRTIO_PCI_VRING_ALIGN) {
  const desc = base;
  const avail = base + vring_desc.sizeof * num;
  const used = alignUp(avail + vring_avail.ring + 2 * num + 2, align);
  return { desc, avail, used, num };
}

// virtio-blk (virtio_blk.h).
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_BARRIER = 0x80000000;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24;
/** struct virtio_blk_outhdr (16 bytes). */
export const virtio_blk_outhdr = { type: 0, ioprio: 4, sector: 8, sizeof: 16 } as const;
/** struct virtio_blk_config: capacity (le64, in 512-byte sectors) first. */
export const virtio_blk_config = { capacity: 0 } as const;
export const SECTOR_SIZE = 512;
export const SECTOR_SHIFT = 9;

// PCI identity (QEMU include/hw/pci/pci.h).
export const PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_DEVICE_ID_VIRTIO_BLOCK = 0x1001;
