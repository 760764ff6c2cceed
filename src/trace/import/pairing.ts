// Per-vCPU pairing of a host trace, as it streams: each kvm_exit with the next kvm_entry of the same
// vCPU is one exit, its in-kernel time the gap between them (as perf kvm stat's vmexit analysis
// pairs them: tools/perf/arch/x86/util/kvm-stat.c, exit_event_begin/exit_event_end); a
// kvm_userspace_exit between them makes it a round trip through userspace, and the time includes
// qemu's. The events of the vCPU in between (kvm_pio, kvm_mmio, kvm_msr, a stack trace) stay with the
// exit, for the handler's inference and perf's ioport/mmio keys.
//
// Whose event is it: the payload's `vcpu N` (kvm_entry always; kvm_exit since Linux 5.4), else the
// thread that printed it — which the first event with a vCPU id on that thread ties to that vCPU —,
// else (a line without task and thread) the host CPU column. Never the comm: trace-cmd cuts
// "CPU 1/KVM" to "CPU", and ftrace prints `<...>` for a thread it did not record.

import type { HostEvent } from './host_event';

export interface PairedExit {
  /** The vCPU, or -1 when no event of its thread ever named one. */
  vcpu: number;
  /** The thread (-1 when the lines had none). */
  tid: number;
  exit: HostEvent;
  /** The kvm_entry that ended it, or null (the trace ended, or events were lost). */
  entry: HostEvent | null;
  /** The kvm_userspace_exit in between, or null: handled in the kernel. */
  userspace: HostEvent | null;
  /** The vCPU's other events in between (at most MAX_INNER). */
  inner: HostEvent[];
}

/** Events kept with one exit: enough for any handler's trail, bounded for a runaway exit. */
const MAX_INNER = 64;

class Lane {
  vcpu = -1;
  open: PairedExit | null = null;
  /** The vCPU is in userspace (a kvm_userspace_exit, no entry since). */
  inUserspace = false;
  constructor(readonly tid: number) {}
}

export interface PairingSink {
  /** A finished exit (paired, or cut short). */
  exit(x: PairedExit): void;
  /** A kvm_userspace_exit with no open exit (KVM_RUN interrupted before entering, or the trace's first line). */
  strayUserspace?(e: HostEvent, vcpu: number): void;
  /** Every event, with the vCPU it belongs to (-1: none), before it is paired. */
  event?(e: HostEvent, vcpu: number): void;
  /** A perf top row (a share of the samples, not an event in time). */
  share?(e: HostEvent): void;
}

export class Pairing {
  /** By identity: the thread id, or -2 - cpu for lines without one. */
  private readonly lanes = new Map<number, Lane>();
  /** The lane of each vCPU once known. */
  private readonly byVcpu = new Map<number, Lane>();

  constructor(private readonly sink: PairingSink) {}

  push(e: HostEvent): void {
    const name = e.name;
    if (name === '<lost events>') { this.cutAll(); return; }
    if (e.share >= 0) { this.sink.share?.(e); return; } // a perf top row: no event in time
    const lane = this.lane(e);
    if (this.sink.event !== undefined) this.sink.event(e, lane.vcpu);
    if (name === 'kvm_exit') {
      if (lane.open !== null) this.close(lane, null);
      lane.open = { vcpu: lane.vcpu, tid: lane.tid, exit: e, entry: null, userspace: null, inner: [] };
      lane.inUserspace = false;
      return;
    }
    if (name === 'kvm_entry') {
      if (lane.open !== null) this.close(lane, e);
      lane.inUserspace = false;
      return;
    }
    if (name === 'kvm_userspace_exit') {
      if (lane.open !== null && lane.open.userspace === null) lane.open.userspace = e;
      else this.sink.strayUserspace?.(e, lane.vcpu);
      lane.inUserspace = true;
      return;
    }
    const open = lane.open;
    if (open !== null && open.inner.length < MAX_INNER) open.inner.push(e);
  }

  /** The trace ended: exits still open are cut short. */
  finish(): void { this.cutAll(); }

  /** Whether the vCPU of this event's lane is between kvm_userspace_exit and its next entry. */
  inUserspace(e: HostEvent): boolean { return this.lane(e).inUserspace; }

  private lane(e: HostEvent): Lane {
    const key = e.tid >= 0 ? e.tid : -2 - e.cpu;
    let lane = this.lanes.get(key);
    if (lane === undefined) { lane = new Lane(e.tid); this.lanes.set(key, lane); }
    const v = e.vcpu;
    // kvm_eoi's apicid is a vcpu_id, but it may be traced on another vCPU's thread: it names no thread.
    if (v >= 0 && lane.vcpu !== v && e.name !== 'kvm_eoi' && e.name !== 'kvm_pv_eoi') {
      if (lane.vcpu < 0) {
        // The thread's first vCPU id: its lane becomes that vCPU's; an open exit keeps going.
        const had = this.byVcpu.get(v);
        if (had !== undefined && had !== lane) {
          // The vCPU was seen on another thread before: keep one lane per vCPU.
          if (lane.open !== null && had.open === null) { had.open = lane.open; had.inUserspace = lane.inUserspace; }
          this.lanes.set(key, had);
          lane = had;
        } else {
          lane.vcpu = v;
          this.byVcpu.set(v, lane);
        }
        if (lane.open !== null) lane.open.vcpu = v;
      } else {
        // A thread running another vCPU (qemu never does; a reused thread id might).
        let other = this.byVcpu.get(v);
        if (other === undefined) { other = new Lane(e.tid); other.vcpu = v; this.byVcpu.set(v, other); }
        this.lanes.set(key, other);
        lane = other;
      }
    }
    return lane;
  }

  private close(lane: Lane, entry: HostEvent | null): void {
    const x = lane.open!;
    lane.open = null;
    x.entry = entry;
    if (x.vcpu < 0) x.vcpu = lane.vcpu;
    this.sink.exit(x);
  }

  private cutAll(): void {
    for (const lane of new Set(this.lanes.values())) if (lane.open !== null) this.close(lane, null);
    for (const lane of this.byVcpu.values()) if (lane.open !== null) this.close(lane, null);
  }
}
