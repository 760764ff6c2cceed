// hw/virtio/virtio-pci.c, legacy I/O BAR: virtio_pci_config_read/write → virtio_ioport_read/write;
// hw/pci/msix.c for the MSI-X table. Interrupts go out as INTx (pci_set_irq follows ISR bit 0 and
// only a change of level reaches the interrupt controller) or, with MSI-X vectors, as MSI messages:
// KVM_SIGNAL_MSI, or with irqfd a write to the vector's eventfd. With ioeventfd, qemu registers the
// queue-notify port with kvm at DRIVER_OK (virtio_pci_start_ioeventfd) and serves kicks from the
// main loop (virtio_queue_host_notifier_read).

import { defineEvent, type Tracer } from '../trace/events';
import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_MSI_CONFIG_VECTOR, VIRTIO_MSI_NO_VECTOR, VIRTIO_MSI_QUEUE_VECTOR,
  VIRTIO_PCI_CONFIG_OFF_MSIX, VIRTIO_PCI_CONFIG_OFF_NO_MSIX, VIRTIO_PCI_GUEST_FEATURES, VIRTIO_PCI_HOST_FEATURES,
  VIRTIO_PCI_ISR, VIRTIO_PCI_QUEUE_ADDR_SHIFT, VIRTIO_PCI_QUEUE_NOTIFY, VIRTIO_PCI_QUEUE_NUM, VIRTIO_PCI_QUEUE_PFN,
  VIRTIO_PCI_QUEUE_SEL, VIRTIO_PCI_STATUS,
} from '../uapi/virtio';
import type { MemoryRegion } from './memory';
import { VIRTIO_QUEUE_MAX, type VirtIODevice, type VirtQueue } from './virtio';

const EV_QUEUE_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_queue_notify', ['queue']);
const EV_PCI_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_notify', ['vector']);
const EV_HOST_NOTIFIER = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_queue_host_notifier_read', ['queue']);
const EV_MSIX_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'msix_notify', ['vector']);

/** PCI_MSIX_ENTRY_SIZE and the fields of one MSI-X table entry (include/hw/pci/msix.h). */
export const PCI_MSIX_ENTRY_SIZE = 16;
const PCI_MSIX_ENTRY_LOWER_ADDR = 0;
const PCI_MSIX_ENTRY_DATA = 8;
const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
const PCI_MSIX_ENTRY_CTRL_MASKBIT = 1;

/** What the transport needs from the rest of qemu: kvm's irqchip and eventfd plumbing, the main loop. */
export interface PciPlatform {
  /** pci_set_irq on the INTx line → kvm_set_irq (KVM_IRQ_LINE). */
  setIrq(level: number): void;
  /** msi_send_message → kvm_send_msi (KVM_SIGNAL_MSI). */
  sendMsi(addressLo: number, data: number): void;
  /** A new non-blocking eventfd (event_notifier_init). */
  eventfd(): number;
  /** event_notifier_set: write(2) to it. */
  eventfdSet(fd: number): void;
  /** event_notifier_test_and_clear: read(2) from it; true if it was set. */
  eventfdTestAndClear(fd: number): boolean;
  /** memory_region_add_eventfd on the I/O BAR → kvm_set_ioeventfd_pio (KVM_IOEVENTFD). */
  addIoeventfd(addr: number, len: number, datamatch: number, fd: number): void;
  /** kvm_irqchip_add_msi_route + kvm_irqchip_add_irqfd_notifier_gsi (KVM_SET_GSI_ROUTING, KVM_IRQFD); returns the GSI. */
  addIrqfd(addressLo: number, data: number, fd: number): number;
  /** aio_set_event_notifier on the main loop. */
  watch(fd: number, handler: () => void): void;
}

export interface ProxyOptions { vectors: number; ioeventfd: boolean; irqfd: boolean; msixTableBase: number }

export class VirtIOPCIProxy {
  private irqLevel = 0;
  readonly bar: MemoryRegion;
  readonly msixTable: MemoryRegion | undefined;
  private readonly msix: Uint32Array;
  private configVector = VIRTIO_MSI_NO_VECTOR;
  private readonly queueVector: number[] = [];
  /** With irqfd: the eventfd that signals each vector (the guest notifier). */
  private readonly vectorIrqfd = new Map<number, number>();
  private ioeventfdStarted = false;

  constructor(readonly vdev: VirtIODevice, readonly typeName: string, ioBase: number, private readonly t: Tracer,
    private readonly pf: PciPlatform, private readonly opts: ProxyOptions) {
    this.bar = {
      name: 'virtio-pci', owner: typeName, base: ioBase, size: 0x40,
      ops: { read: (a, s) => this.config_read(a, s), write: (a, v, s) => this.config_write(a, v, s) },
    };
    this.msix = new Uint32Array(Math.max(1, opts.vectors) * PCI_MSIX_ENTRY_SIZE / 4);
    for (let v = 0; v < opts.vectors; v++) this.msix[(v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL) / 4] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    if (opts.vectors > 0) {
      this.msixTable = {
        name: 'msix-table', owner: typeName, base: opts.msixTableBase, size: opts.vectors * PCI_MSIX_ENTRY_SIZE,
        ops: { read: (a) => this.msix[a >> 2] ?? 0, write: (a, v) => { this.msix[a >> 2] = v >>> 0; } },
      };
    }
    vdev.notifyTransport = (vq) => this.virtio_pci_notify(vq);
  }

  private get msixEnabled(): boolean { return this.opts.vectors > 0; }

  /** virtio_pci_notify: with MSI-X, the queue's vector; without, INTx level = ISR bit 0. */
  private virtio_pci_notify(vq: VirtQueue): void {
    if (this.msixEnabled) {
      const vector = this.queueVector[vq.index] ?? VIRTIO_MSI_NO_VECTOR;
      if (this.t.on) this.t.rec(EV_PCI_NOTIFY, -1, vector);
      if (vector !== VIRTIO_MSI_NO_VECTOR) this.msix_notify(vector);
      return;
    }
    const level = this.vdev.isr & 1;
    if (this.t.on) this.t.rec(EV_PCI_NOTIFY, -1, level);
    this.pci_set_irq(level);
  }

  /** msix_notify: a masked vector stays pending (not modelled further); else send its message. */
  private msix_notify(vector: number): void {
    if (vector >= this.opts.vectors) return;
    const e = vector * PCI_MSIX_ENTRY_SIZE / 4;
    if (this.msix[e + PCI_MSIX_ENTRY_VECTOR_CTRL / 4]! & PCI_MSIX_ENTRY_CTRL_MASKBIT) return;
    if (this.t.on) this.t.rec(EV_MSIX_NOTIFY, -1, vector);
    const irqfd = this.vectorIrqfd.get(vector);
    if (irqfd !== undefined) { this.pf.eventfdSet(irqfd); return; }
    this.pf.sendMsi(this.msix[e + PCI_MSIX_ENTRY_LOWER_ADDR / 4]!, this.msix[e + PCI_MSIX_ENTRY_DATA / 4]!);
  }

  private pci_set_irq(level: number): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.pf.setIrq(level);
  }

  /**
   * virtio_pci_start_ioeventfd (at DRIVER_OK): each ready queue gets an eventfd that kvm signals on
   * a 2-byte write of the queue index to the notify port; the main loop serves it.
   */
  private virtio_pci_start_ioeventfd(): void {
    if (this.ioeventfdStarted) return;
    this.ioeventfdStarted = true;
    for (const vq of this.vdev.vqs) {
      if (!vq.ready) continue;
      const fd = this.pf.eventfd();
      this.pf.addIoeventfd(this.bar.base + VIRTIO_PCI_QUEUE_NOTIFY, 2, vq.index, fd);
      this.pf.watch(fd, () => {
        // virtio_queue_host_notifier_read
        if (!this.pf.eventfdTestAndClear(fd)) return;
        if (this.t.on) this.t.rec(EV_HOST_NOTIFIER, -1, vq.index);
        this.vdev.virtio_queue_notify(vq.index);
      });
    }
  }

  /** virtio_pci_set_guest_notifiers with irqfd: one eventfd per vector in use, routed to its MSI message. */
  private virtio_pci_set_guest_notifiers(): void {
    for (const vector of new Set(this.queueVector)) {
      if (vector === VIRTIO_MSI_NO_VECTOR || vector >= this.opts.vectors || this.vectorIrqfd.has(vector)) continue;
      const e = vector * PCI_MSIX_ENTRY_SIZE / 4;
      const fd = this.pf.eventfd();
      this.pf.addIrqfd(this.msix[e + PCI_MSIX_ENTRY_LOWER_ADDR / 4]!, this.msix[e + PCI_MSIX_ENTRY_DATA / 4]!, fd);
      this.vectorIrqfd.set(vector, fd);
    }
  }

  /** virtio_ioport_write */
  private config_write(addr: number, val: number, size: number): void {
    const vdev = this.vdev;
    const cfgOff = this.msixEnabled ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
    if (addr >= cfgOff) return; // device config is read-only for virtio-blk here
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
        if (val & VIRTIO_CONFIG_S_DRIVER_OK) {
          if (this.opts.irqfd) this.virtio_pci_set_guest_notifiers();
          if (this.opts.ioeventfd) this.virtio_pci_start_ioeventfd();
        }
        break;
      case VIRTIO_MSI_CONFIG_VECTOR:
        if (this.msixEnabled) this.configVector = val < this.opts.vectors ? val : VIRTIO_MSI_NO_VECTOR;
        break;
      case VIRTIO_MSI_QUEUE_VECTOR:
        if (this.msixEnabled) this.queueVector[vdev.queueSel] = val < this.opts.vectors ? val : VIRTIO_MSI_NO_VECTOR;
        break;
      default: break;
    }
  }

  /** virtio_ioport_read */
  private config_read(addr: number, size: number): number {
    const vdev = this.vdev;
    const cfgOff = this.msixEnabled ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
    if (addr >= cfgOff) return vdev.configRead(addr - cfgOff, size);
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
      case VIRTIO_MSI_CONFIG_VECTOR: return this.msixEnabled ? this.configVector : 0;
      case VIRTIO_MSI_QUEUE_VECTOR: return this.msixEnabled ? (this.queueVector[vdev.queueSel] ?? VIRTIO_MSI_NO_VECTOR) : 0;
      default: return 0;
    }
  }
}
