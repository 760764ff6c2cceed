// hw/virtio/virtio-pci.c, legacy I/O BAR: virtio_pci_config_read/write → virtio_ioport_read/write;
// hw/pci/msix.c for the MSI-X table. Interrupts go out as INTx (pci_set_irq follows ISR bit 0 and
// only a change of level reaches the interrupt controller) or, with MSI-X vectors, as MSI messages:
// KVM_SIGNAL_MSI, or with irqfd a write to the vector's eventfd. With ioeventfd, qemu registers the
// queue-notify port with kvm at DRIVER_OK (virtio_pci_start_ioeventfd) and serves kicks from the
// main loop (virtio_queue_host_notifier_read).
//
// qemu-kvm 0.14 (the seed's era): the I/O BAR's handlers were per size (register_ioport_write:
// virtio_pci_config_writeb/w/l → virtio_ioport_write), the host notifier's handler
// virtio_pci_host_notifier_read, and with kvm's irqchip an MSI-X vector was a GSI routed to its
// message when the driver assigned it (msix_vector_use → kvm_msix_add: KVM_SET_GSI_ROUTING), raised by
// msix_notify with kvm_set_irq (KVM_IRQ_LINE_STATUS) — there was no KVM_SIGNAL_MSI (Linux 3.5).

import { defineEvent, type Tracer } from '../trace/events';
import {
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_MSI_CONFIG_VECTOR, VIRTIO_MSI_NO_VECTOR, VIRTIO_MSI_QUEUE_VECTOR,
  VIRTIO_PCI_CONFIG_OFF_MSIX, VIRTIO_PCI_CONFIG_OFF_NO_MSIX, VIRTIO_PCI_GUEST_FEATURES, VIRTIO_PCI_HOST_FEATURES,
  VIRTIO_PCI_ISR, VIRTIO_PCI_QUEUE_ADDR_SHIFT, VIRTIO_PCI_QUEUE_NOTIFY, VIRTIO_PCI_QUEUE_NUM, VIRTIO_PCI_QUEUE_PFN,
  VIRTIO_PCI_QUEUE_SEL, VIRTIO_PCI_STATUS,
} from '../uapi/virtio';
import type { MemoryRegion } from './memory';
import {
  VIRTIO_F_VERSION_1, VIRTIO_PCI_COMMON_CFGGENERATION, VIRTIO_PCI_COMMON_DF, VIRTIO_PCI_COMMON_DFSELECT, VIRTIO_PCI_COMMON_GF,
  VIRTIO_PCI_COMMON_GFSELECT, VIRTIO_PCI_COMMON_MSIX, VIRTIO_PCI_COMMON_NUMQ, VIRTIO_PCI_COMMON_Q_AVAILHI,
  VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_DESCHI, VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_ENABLE,
  VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_PCI_COMMON_Q_NOFF, VIRTIO_PCI_COMMON_Q_SELECT, VIRTIO_PCI_COMMON_Q_SIZE,
  VIRTIO_PCI_COMMON_Q_USEDHI, VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_STATUS,
} from '../uapi/virtio';
import { VIRTIO_QUEUE_MAX, type VirtIODevice, type VirtQueue } from './virtio';

/** A device whose data path is a vhost backend (vhost_dev_start hands it the eventfds). */
export interface VhostDevice { vhostStart(kick: (vq: VirtQueue) => number, call: (vq: VirtQueue) => number): void }

const EV_QUEUE_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_queue_notify', ['queue']);
const EV_PCI_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_notify', ['vector']);
const EV_HOST_NOTIFIER = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_queue_host_notifier_read', ['queue']);
const EV_MSIX_NOTIFY = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'msix_notify', ['vector']);
const EV_CONFIG_WRITE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_config_write', ['addr:hex', 'val:hex', 'size']);
const EV_CONFIG_READ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_config_read', ['addr:hex', 'size']);
const EV_IOPORT_WRITE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_ioport_write', ['addr:hex', 'val:hex']);
const EV_IOPORT_READ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_ioport_read', ['addr:hex']);
const EV_NOTIFY_WRITE = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_notify_write', ['addr:hex']);
const EV_ISR_READ = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_isr_read', []);
/** qemu-kvm 0.14's per-size I/O BAR handlers, by access size, and its host notifier handler. */
const EV_CONFIG_WRITE_0_14 = new Map([1, 2, 4].map((n) => [n, defineEvent('call', 'qemu-kvm', 'qemu-kvm', `virtio_pci_config_write${'bwl'[n >> 1]}`, ['addr:hex', 'val:hex'])]));
const EV_CONFIG_READ_0_14 = new Map([1, 2, 4].map((n) => [n, defineEvent('call', 'qemu-kvm', 'qemu-kvm', `virtio_pci_config_read${'bwl'[n >> 1]}`, ['addr:hex'])]));
const EV_HOST_NOTIFIER_0_14 = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtio_pci_host_notifier_read', ['queue']);

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
  /**
   * memory_region_add_eventfd → kvm_set_ioeventfd_pio (port, with datamatch) or kvm_set_ioeventfd_mmio
   * (datamatch null, length 0: any write) → KVM_IOEVENTFD.
   */
  addIoeventfd(addr: number, len: number, datamatch: number | null, fd: number): void;
  /** kvm_irqchip_add_msi_route + kvm_irqchip_add_irqfd_notifier_gsi (KVM_SET_GSI_ROUTING, KVM_IRQFD); returns the GSI. */
  addIrqfd(addressLo: number, data: number, fd: number): number;
  /** qemu-kvm 0.14 kvm_msix_add / kvm_msix_update: a GSI routed to the message (KVM_SET_GSI_ROUTING); returns it. */
  msiRoute?(addressLo: number, data: number, gsi?: number): number;
  /** qemu-kvm 0.14 kvm_set_irq(gsi, 1, NULL): KVM_IRQ_LINE_STATUS on an MSI route. */
  raiseGsi?(gsi: number): void;
  /** aio_set_event_notifier on the main loop. */
  watch(fd: number, handler: () => void): void;
}

export interface ProxyOptions {
  vectors: number; ioeventfd: boolean; irqfd: boolean; msixTableBase: number;
  /** The modern interface's memory BAR (virtio 1.0 capabilities), or null for a legacy-only setup. */
  modernBar: number | null;
  /** QEMU 9.0's hw/virtio/virtio-pci.c (absent), or qemu-kvm 0.14's hw/virtio-pci.c. */
  era?: 'linux-6.1' | 'qemu-kvm-2013';
}

/** Where qemu lays out the modern capabilities in the memory BAR (virtio_pci_realize): 4 KiB each. */
export const MODERN_COMMON = 0x0000;
export const MODERN_ISR = 0x1000;
export const MODERN_DEVICE = 0x2000;
export const MODERN_NOTIFY = 0x3000;
/** notify_off_multiplier: QEMU_VIRTIO_PCI_QUEUE_MEM_MULT without page-per-vq is 4. */
export const MODERN_NOTIFY_MULT = 4;

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
  /** qemu-kvm 0.14: each used vector's GSI (dev->msix_irq_entries[vector].gsi). */
  private readonly vectorGsi = new Map<number, number>();
  private readonly old: boolean;

  constructor(readonly vdev: VirtIODevice, readonly typeName: string, ioBase: number, private readonly t: Tracer,
    private readonly pf: PciPlatform, private readonly opts: ProxyOptions) {
    this.old = opts.era === 'qemu-kvm-2013';
    this.bar = {
      name: 'virtio-pci', owner: typeName, base: ioBase, size: 0x40,
      ops: { read: (a, s) => this.config_read(a, s), write: (a, v, s) => this.config_write(a, v, s) },
    };
    this.msix = new Uint32Array(Math.max(1, opts.vectors) * PCI_MSIX_ENTRY_SIZE / 4);
    for (let v = 0; v < opts.vectors; v++) this.msix[(v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL) / 4] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    if (opts.vectors > 0) {
      this.msixTable = {
        name: 'msix-table', owner: typeName, base: opts.msixTableBase, size: opts.vectors * PCI_MSIX_ENTRY_SIZE,
        ops: { read: (a) => this.msix[a >> 2] ?? 0, write: (a, v) => this.msix_table_write(a, v) },
      };
    }
    vdev.notifyTransport = (vq) => this.virtio_pci_notify(vq);
    // virtio_pci_notify for VIRTIO_NO_VECTOR: with INTx, pci_set_irq(isr & 1) — 0 after a reset.
    vdev.notifyResetTransport = () => this.pci_set_irq(0);
    if (opts.modernBar !== null) {
      // virtio_pci_device_plugged: a modern device offers VIRTIO_F_VERSION_1 (bit 32).
      vdev.hostFeaturesHi |= 1 << (VIRTIO_F_VERSION_1 - 32);
      const b = opts.modernBar;
      const region = (name: string, off: number, size: number, ops: MemoryRegion['ops']): MemoryRegion =>
        ({ name, owner: typeName, base: b + off, size, ops });
      this.modernRegions = [
        region('virtio-pci-common-virtio-blk', MODERN_COMMON, 0x1000, { read: (a, s) => this.virtio_pci_common_read(a, s), write: (a, v) => this.virtio_pci_common_write(a, v) }),
        region('virtio-pci-isr-virtio-blk', MODERN_ISR, 0x1000, { read: () => { if (this.t.on) this.t.rec(EV_ISR_READ, -1); return this.isrReadAndClear(); }, write: () => {} }),
        region('virtio-pci-device-virtio-blk', MODERN_DEVICE, 0x1000, { read: (a, s) => this.vdev.configRead(a, s), write: () => {} }),
        region('virtio-pci-notify-virtio-blk', MODERN_NOTIFY, MODERN_NOTIFY_MULT * VIRTIO_QUEUE_MAX, { read: () => 0, write: (a, v) => this.virtio_pci_notify_write(a, v) }),
      ];
    }
  }

  /** The modern BAR's regions (common, ISR, device, notify), for the memory address space. */
  readonly modernRegions: MemoryRegion[] = [];
  private dfselect = 0;
  private gfselect = 0;
  /** proxy->guest_features[2]: what the driver wrote through GFSELECT 0 and 1. */
  private readonly guestFeaturesSel = [0, 0];

  /** virtio_pci_common_read */
  private virtio_pci_common_read(addr: number, _size: number): number {
    const vdev = this.vdev;
    const vq = vdev.vqs[vdev.queueSel];
    switch (addr) {
      case VIRTIO_PCI_COMMON_DFSELECT: return this.dfselect;
      // VIRTIO_F_VERSION_1 (bit 32) is offered by every modern device.
      case VIRTIO_PCI_COMMON_DF: return this.dfselect === 0 ? vdev.hostFeatures >>> 0 : this.dfselect === 1 ? vdev.hostFeaturesHi >>> 0 : 0;
      case VIRTIO_PCI_COMMON_GFSELECT: return this.gfselect;
      case VIRTIO_PCI_COMMON_GF: return this.guestFeaturesSel[this.gfselect] ?? 0;
      case VIRTIO_PCI_COMMON_MSIX: return this.msixEnabled ? this.configVector : VIRTIO_MSI_NO_VECTOR;
      case VIRTIO_PCI_COMMON_NUMQ: return vdev.vqs.length;
      case VIRTIO_PCI_COMMON_STATUS: return vdev.status;
      case VIRTIO_PCI_COMMON_CFGGENERATION: return 0;
      case VIRTIO_PCI_COMMON_Q_SELECT: return vdev.queueSel;
      case VIRTIO_PCI_COMMON_Q_SIZE: return vq?.num ?? 0;
      case VIRTIO_PCI_COMMON_Q_MSIX: return this.queueVector[vdev.queueSel] ?? VIRTIO_MSI_NO_VECTOR;
      case VIRTIO_PCI_COMMON_Q_ENABLE: return vq?.ready ? 1 : 0;
      case VIRTIO_PCI_COMMON_Q_NOFF: return vdev.queueSel; // queue_notify_off = the queue index
      default: return 0;
    }
  }

  /** virtio_pci_common_write: the queue's three ring addresses arrive separately; queue_enable commits them. */
  private virtio_pci_common_write(addr: number, val: number): void {
    const vdev = this.vdev;
    const vq = vdev.vqs[vdev.queueSel];
    const q = this.pendingRing;
    switch (addr) {
      case VIRTIO_PCI_COMMON_DFSELECT: this.dfselect = val; break;
      case VIRTIO_PCI_COMMON_GFSELECT: this.gfselect = val; break;
      case VIRTIO_PCI_COMMON_GF:
        // proxy->guest_features[gfselect], then virtio_set_features with both halves.
        if (this.gfselect < 2) {
          this.guestFeaturesSel[this.gfselect] = val >>> 0;
          vdev.virtio_set_features(this.guestFeaturesSel[0]!, this.guestFeaturesSel[1]!);
        }
        break;
      case VIRTIO_PCI_COMMON_MSIX: if (this.msixEnabled) this.configVector = val < this.opts.vectors ? val : VIRTIO_MSI_NO_VECTOR; break;
      case VIRTIO_PCI_COMMON_STATUS: this.virtio_ioport_write(VIRTIO_PCI_STATUS, val, 1); break;
      case VIRTIO_PCI_COMMON_Q_SELECT: if (val < VIRTIO_QUEUE_MAX) vdev.queueSel = val; break;
      case VIRTIO_PCI_COMMON_Q_SIZE: if (vq && val > 0 && val <= vq.maxNum) vq.num = val; break;
      case VIRTIO_PCI_COMMON_Q_MSIX: if (this.msixEnabled) this.queueVector[vdev.queueSel] = val < this.opts.vectors ? val : VIRTIO_MSI_NO_VECTOR; break;
      case VIRTIO_PCI_COMMON_Q_DESCLO: q.desc = val; break;
      case VIRTIO_PCI_COMMON_Q_AVAILLO: q.avail = val; break;
      case VIRTIO_PCI_COMMON_Q_USEDLO: q.used = val; break;
      case VIRTIO_PCI_COMMON_Q_DESCHI: case VIRTIO_PCI_COMMON_Q_AVAILHI: case VIRTIO_PCI_COMMON_Q_USEDHI:
        // Guest RAM is below 4 GiB here; a high half other than 0 would point outside it.
        if (val !== 0) vdev.virtio_error('ring address above guest RAM');
        break;
      case VIRTIO_PCI_COMMON_Q_ENABLE:
        if (vq && val === 1) { vq.desc = q.desc; vq.avail = q.avail; vq.used = q.used; }
        break;
      default: break;
    }
  }
  private readonly pendingRing = { desc: 0, avail: 0, used: 0 };

  /** virtio_pci_notify_write: the queue is the offset divided by the multiplier. */
  private virtio_pci_notify_write(addr: number, _val: number): void {
    if (this.t.on) this.t.rec(EV_NOTIFY_WRITE, -1, addr);
    const queue = Math.floor(addr / MODERN_NOTIFY_MULT);
    if (queue >= VIRTIO_QUEUE_MAX) return;
    if (this.t.on) this.t.rec(EV_QUEUE_NOTIFY, -1, queue);
    this.vdev.virtio_queue_notify(queue);
  }

  private isrReadAndClear(): number {
    const isr = this.vdev.isr;
    this.vdev.isr = 0;
    this.pci_set_irq(0);
    return isr;
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
    const gsi = this.vectorGsi.get(vector);
    if (gsi !== undefined && this.pf.raiseGsi) { this.pf.raiseGsi(gsi); return; }
    const irqfd = this.vectorIrqfd.get(vector);
    if (irqfd !== undefined) { this.pf.eventfdSet(irqfd); return; }
    this.pf.sendMsi(this.msix[e + PCI_MSIX_ENTRY_LOWER_ADDR / 4]!, this.msix[e + PCI_MSIX_ENTRY_DATA / 4]!);
  }

  /**
   * msix_vector_use (qemu-kvm 0.14, kvm's irqchip): the vector's first user gives it a GSI routed to
   * its table entry (kvm_msix_add). QEMU 9.0 keeps no route for a vector without irqfd.
   */
  private msix_vector_use(vector: number): void {
    if (!this.old || !this.pf.msiRoute || vector >= this.opts.vectors || this.vectorGsi.has(vector)) return;
    const e = vector * PCI_MSIX_ENTRY_SIZE / 4;
    this.vectorGsi.set(vector, this.pf.msiRoute(this.msix[e + PCI_MSIX_ENTRY_LOWER_ADDR / 4]!, this.msix[e + PCI_MSIX_ENTRY_DATA / 4]!));
  }

  /** A write to the MSI-X table; in qemu-kvm 0.14 a used vector's route follows it (msix_mmio_writel → kvm_msix_update). */
  private msix_table_write(addr: number, val: number): void {
    const old = this.msix[addr >> 2];
    this.msix[addr >> 2] = val >>> 0;
    const vector = Math.floor(addr / PCI_MSIX_ENTRY_SIZE);
    const gsi = this.vectorGsi.get(vector);
    if (gsi === undefined || old === val >>> 0 || !this.pf.msiRoute) return;
    const e = vector * PCI_MSIX_ENTRY_SIZE / 4;
    this.pf.msiRoute(this.msix[e + PCI_MSIX_ENTRY_LOWER_ADDR / 4]!, this.msix[e + PCI_MSIX_ENTRY_DATA / 4]!, gsi);
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
      // Legacy: a PIO ioeventfd, 2 bytes, datamatch = queue index. Modern: an MMIO ioeventfd of
      // length 0 at the queue's notify address — kvm puts it on the fast MMIO bus.
      if (this.opts.modernBar !== null) this.pf.addIoeventfd(this.opts.modernBar + MODERN_NOTIFY + MODERN_NOTIFY_MULT * vq.index, 0, null, fd);
      else this.pf.addIoeventfd(this.bar.base + VIRTIO_PCI_QUEUE_NOTIFY, 2, vq.index, fd);
      this.pf.watch(fd, () => {
        // virtio_queue_host_notifier_read
        if (!this.pf.eventfdTestAndClear(fd)) return;
        if (this.t.on) this.t.rec(this.old ? EV_HOST_NOTIFIER_0_14 : EV_HOST_NOTIFIER, -1, vq.index);
        this.vdev.virtio_queue_notify(vq.index);
      });
    }
  }

  /**
   * vhost_dev_start's transport half: a host notifier per queue registered with kvm as an ioeventfd
   * but not watched by qemu, and the vectors' irqfds; the backend gets both eventfds.
   */
  private vhost_start(v: VirtIODevice & VhostDevice): void {
    this.virtio_pci_set_guest_notifiers();
    v.vhostStart((vq) => {
      const fd = this.pf.eventfd();
      if (this.opts.modernBar !== null) this.pf.addIoeventfd(this.opts.modernBar + MODERN_NOTIFY + MODERN_NOTIFY_MULT * vq.index, 0, null, fd);
      else this.pf.addIoeventfd(this.bar.base + VIRTIO_PCI_QUEUE_NOTIFY, 2, vq.index, fd);
      return fd;
    }, (vq) => {
      const fd = this.vectorIrqfd.get(this.queueVector[vq.index] ?? VIRTIO_MSI_NO_VECTOR);
      if (fd === undefined) throw new Error('vhost-user-blk: the queue has no MSI-X vector with an irqfd');
      return fd;
    });
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

  /**
   * virtio_pci_reset (qemu_devices_reset at a system reset): the device as a status write of 0
   * leaves it, the INTx line low. (Simplification: the ioeventfds and irqfds stay registered; the
   * driver's next DRIVER_OK finds them in place.)
   */
  reset(): void {
    this.vdev.reset();
    this.pci_set_irq(0);
  }

  /** The I/O BAR's write handler: virtio_pci_config_write (9.0), virtio_pci_config_writeb/w/l (0.14). */
  private config_write(addr: number, val: number, size: number): void {
    const t = this.t;
    if (t.on) {
      if (this.old) t.rec(EV_CONFIG_WRITE_0_14.get(size) ?? EV_CONFIG_WRITE, -1, addr, val, size);
      else t.rec(EV_CONFIG_WRITE, -1, addr, val, size);
    }
    const cfgOff = this.msixEnabled ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
    if (addr >= cfgOff) return; // device config is read-only for virtio-blk here
    if (t.on) t.rec(EV_IOPORT_WRITE, -1, addr, val);
    this.virtio_ioport_write(addr, val, size);
  }

  /** virtio_ioport_write */
  private virtio_ioport_write(addr: number, val: number, size: number): void {
    const vdev = this.vdev;
    switch (addr) {
      case VIRTIO_PCI_GUEST_FEATURES: vdev.virtio_set_features(val >>> 0); break;
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
        if (val === 0) vdev.reset();                   // virtio_pci_reset → virtio_bus_reset → virtio_reset
        if (val & VIRTIO_CONFIG_S_DRIVER_OK) {
          const vhost = this.vdev as VirtIODevice & Partial<VhostDevice>;
          if (vhost.vhostStart) this.vhost_start(vhost as VirtIODevice & VhostDevice);
          else {
            if (this.opts.irqfd) this.virtio_pci_set_guest_notifiers();
            if (this.opts.ioeventfd) this.virtio_pci_start_ioeventfd();
          }
        }
        break;
      case VIRTIO_MSI_CONFIG_VECTOR:
        if (this.msixEnabled) { this.configVector = val < this.opts.vectors ? val : VIRTIO_MSI_NO_VECTOR; this.msix_vector_use(val); }
        break;
      case VIRTIO_MSI_QUEUE_VECTOR:
        if (this.msixEnabled) { this.queueVector[vdev.queueSel] = val < this.opts.vectors ? val : VIRTIO_MSI_NO_VECTOR; this.msix_vector_use(val); }
        break;
      default: break;
    }
  }

  /** The I/O BAR's read handler: virtio_pci_config_read (9.0), virtio_pci_config_readb/w/l (0.14). */
  private config_read(addr: number, size: number): number {
    const t = this.t;
    if (t.on) {
      if (this.old) t.rec(EV_CONFIG_READ_0_14.get(size) ?? EV_CONFIG_READ, -1, addr, size);
      else t.rec(EV_CONFIG_READ, -1, addr, size);
    }
    const vdev = this.vdev;
    const cfgOff = this.msixEnabled ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
    if (addr >= cfgOff) return vdev.configRead(addr - cfgOff, size);
    if (t.on) t.rec(EV_IOPORT_READ, -1, addr);
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
