// The vcpu's own pages of its mmap area as kvm sees them: page 0 is `struct kvm_run`, page 1 the
// PIO data page (page 2, the coalesced MMIO ring, is the VM's). Both kvm and qemu hold the same
// bytes; this is kvm's accessor.

import { KVM_PIO_PAGE_OFFSET, PAGE_SIZE, kvm_run } from '../uapi/kvm';

export class KvmRunPage {
  readonly bytes = new Uint8Array((KVM_PIO_PAGE_OFFSET + 1) * PAGE_SIZE);
  readonly view = new DataView(this.bytes.buffer);
  static readonly PIO_DATA = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;

  get exit_reason(): number { return this.view.getUint32(kvm_run.exit_reason, true); }
  set exit_reason(v: number) { this.view.setUint32(kvm_run.exit_reason, v, true); }
  get immediate_exit(): number { return this.view.getUint8(kvm_run.immediate_exit); }

  setIo(direction: number, size: number, port: number, count: number): void {
    const d = this.view;
    d.setUint8(kvm_run['io.direction'], direction);
    d.setUint8(kvm_run['io.size'], size);
    d.setUint16(kvm_run['io.port'], port, true);
    d.setUint32(kvm_run['io.count'], count, true);
    d.setBigUint64(kvm_run['io.data_offset'], BigInt(KvmRunPage.PIO_DATA), true);
  }

  setMmio(gpa: number, len: number, isWrite: boolean, data: number): void {
    const d = this.view;
    d.setBigUint64(kvm_run['mmio.phys_addr'], BigInt(gpa), true);
    d.setBigUint64(kvm_run['mmio.data'], BigInt.asUintN(64, BigInt(data)), true);
    d.setUint32(kvm_run['mmio.len'], len, true);
    d.setUint8(kvm_run['mmio.is_write'], isWrite ? 1 : 0);
  }

  mmioData(len: number): number {
    const d = this.view;
    const o = kvm_run['mmio.data'];
    return len === 1 ? d.getUint8(o) : len === 2 ? d.getUint16(o, true) : len === 4 ? d.getUint32(o, true)
      : Number(d.getBigUint64(o, true));
  }

  setInternalError(suberror: number, data: readonly number[]): void {
    const d = this.view;
    d.setUint32(kvm_run['internal.suberror'], suberror, true);
    d.setUint32(kvm_run['internal.ndata'], data.length, true);
    data.forEach((x, i) => d.setBigUint64(kvm_run['internal.data'] + 8 * i, BigInt(x), true));
  }

  /** kvm_run->flags (KVM_RUN_X86_BUS_LOCK, …) */
  get flags(): number { return this.view.getUint16(kvm_run.flags, true); }
  set flags(v: number) { this.view.setUint16(kvm_run.flags, v, true); }
  get request_interrupt_window(): number { return this.view.getUint8(kvm_run.request_interrupt_window); }

  /** post_kvm_run_save: what userspace needs to decide on injecting an interrupt itself. */
  setPostRun(ifFlag: boolean, ready: boolean, cr8: number, apicBase: number): void {
    const d = this.view;
    d.setUint8(kvm_run.if_flag, ifFlag ? 1 : 0);
    d.setUint8(kvm_run.ready_for_interrupt_injection, ready ? 1 : 0);
    d.setBigUint64(kvm_run.cr8, BigInt(cr8), true);
    d.setBigUint64(kvm_run.apic_base, BigInt(apicBase), true);
  }

  /** KVM_EXIT_EXCEPTION */
  setException(exception: number, errorCode: number): void {
    this.view.setUint32(kvm_run['ex.exception'], exception, true);
    this.view.setUint32(kvm_run['ex.error_code'], errorCode, true);
  }

  /** KVM_EXIT_IOAPIC_EOI */
  setIoapicEoi(vector: number): void { this.view.setUint8(kvm_run['eoi.vector'], vector); }

  /** KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR */
  setMsr(reason: number, index: number, data: number): void {
    const d = this.view;
    d.setUint8(kvm_run['msr.error'], 0);
    d.setUint32(kvm_run['msr.reason'], reason, true);
    d.setUint32(kvm_run['msr.index'], index, true);
    d.setBigUint64(kvm_run['msr.data'], BigInt(data), true);
  }
  get msrError(): number { return this.view.getUint8(kvm_run['msr.error']); }
  get msrData(): number { return Number(this.view.getBigUint64(kvm_run['msr.data'], true)); }

  /** KVM_EXIT_NOTIFY */
  setNotify(flags: number): void { this.view.setUint32(kvm_run['notify.flags'], flags, true); }

  setHardwareExitReason(reason: number): void {
    this.view.setBigUint64(kvm_run['hw.hardware_exit_reason'], BigInt(reason), true);
  }

  setFailEntry(reason: number, cpu: number): void {
    this.view.setBigUint64(kvm_run['fail_entry.hardware_entry_failure_reason'], BigInt(reason), true);
    this.view.setUint32(kvm_run['fail_entry.cpu'], cpu, true);
  }
}
