// hw/virtio/virtio-pci.c, legacy I/O BAR: virtio_pci_config_read/write → virtio_ioport_read/write.
// The interrupt is INTx: pci_set_irq follows ISR bit 0, and only a change of level goes to the
// interrupt controller (pci_irq_handler).

import { defineEvent, type Tracer } from '../trace/events';
import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_PCI_CONFIG_OFF_NO_MSIX, VIRTIO_PCI_GUEST_FEATURES, VIRTIO_PCI_HOST_FEATURES,
  VIRTIO_PCI_ISR, VIRTIO_PCI_QUEUE_ADDR_SHIFT, VIRTIO_PCI_QUEUE_NOTIFY, VIRTIO_PCI_QUEUE_NUM, VIRTIO_PCI_QUEUE_PFN,
  VIRTIO_PCI_QUEUE_SEL, VIRTIO_PCI_STATUS,
} from '../uapi/virtio';
import type { MemoryRegion } from './memory';
import { VIRTIO_QUEUE_MAX, type VirtIODevice } from './virtio';

const EV_QUEUE_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_queue_notify', ['queue']);
const EV_PCI_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_notify', ['level']);

export class VirtIOPCIProxy {
  private irqLevel = 0;
  readonly bar: MemoryRegion;

  /** `setIrq(level)` drives the INTx line (pci_set_irq → the interrupt controller). */
  constructor(readonly vdev: VirtIODevice, readonly typeName: string, ioBase: number, private readonly t: Tracer,
    private readonly setIrq: (level: number) => void) {
    const self = this;
    this.bar = {
      name: 'virtio-pci', owner: typeName, base: ioBase, size: 0x40,
      ops: { read: (a, s) => self.config_read(a, s), write: (a, v, s) => self.config_write(a, v, s) },
    };
    vdev.notifyTransport = () => this.virtio_pci_notify();
  }

  /** virtio_pci_notify (no MSI-X): INTx level = ISR bit 0. */
  private virtio_pci_notify(): void {
    const level = this.vdev.isr & 1;
    if (this.t.on) this.t.rec(EV_PCI_NOTIFY, -1, level);
    this.pci_set_irq(level);
  }

  private pci_set_irq(level: number): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.setIrq(level);
  }

  /** virtio_ioport_write */
  private config_write(addr: number, val: number, size: number): void {
    const vdev = this.vdev;
    if (addr >= VIRTIO_PCI_CONFIG_OFF_NO_MSIX) return; // device config is read-only for virtio-blk here
    switch (addr) {
      case VIRTIO_PCI_GUEST_FEATURES: vdev.guestFeatures = val & vdev.hostFeatures; break;
      case VIRTIO_PCI_QUEUE_PFN: {
        const pa = val * 2 ** VIRTIO_PCI_QUEUE_ADDR_SHIFT;
        if (pa === 0) vdev.reset(); else vdev.vqs[vdev.queueSel]?.setAddr(pa);
        break;
      }
      case VIRTIO_PCI_QUEUE_SEL: if (val < VIRTIO_QUEUE_MAX) vdev.queueSel = val; break;
      case VIRTIO_PCI_QUEUE_NOTIFY:
        if (val < VIRTIO_QUEUE_MAX) {
          if (this.t.on) this.t.rec(EV_QUEUE_NOTIFY, -1, val);
          vdev.virtio_queue_notify(val);
        }
        break;
      case VIRTIO_PCI_STATUS:
        if (size !== 1) break;
        vdev.status = val & 0xff;
        if (val === 0) { vdev.reset(); this.pci_set_irq(0); }
        void VIRTIO_CONFIG_S_DRIVER_OK;
        break;
      default: break;
    }
  }

  /** virtio_ioport_read */
  private config_read(addr: number, size: number): number {
    const vdev = this.vdev;
    if (addr >= VIRTIO_PCI_CONFIG_OFF_NO_MSIX) return vdev.configRead(addr - VIRTIO_PCI_CONFIG_OFF_NO_MSIX, size);
    switch (addr) {
      case VIRTIO_PCI_HOST_FEATURES: return vdev.hostFeatures >>> 0;
      case VIRTIO_PCI_GUEST_FEATURES: return vdev.guestFeatures >>> 0;
      case VIRTIO_PCI_QUEUE_PFN: return (vdev.vqs[vdev.queueSel]?.desc ?? 0) / 2 ** VIRTIO_PCI_QUEUE_ADDR_SHIFT;
      case VIRTIO_PCI_QUEUE_NUM: return vdev.vqs[vdev.queueSel]?.num ?? 0;
      case VIRTIO_PCI_QUEUE_SEL: return vdev.queueSel;
      case VIRTIO_PCI_STATUS: return vdev.status;
      case VIRTIO_PCI_ISR: {
        // Reading the ISR clears it and deasserts INTx (pci_irq_deassert).
        const isr = vdev.isr;
        vdev.isr = 0;
        this.pci_set_irq(0);
        return isr;
      }
      default: return 0;
    }
  }
}
