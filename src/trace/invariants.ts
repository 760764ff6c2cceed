// Invariants every simulated run must keep, checked on the recorded trace as it grows: each new
// event is looked at once, through its type's precomputed class, so the check stays on everywhere.
//
//  1. VM exits and entries alternate per vCPU: an exit is followed by exactly one entry (or by
//     nothing, when the run ends there or the VM stops for good); never two exits or two entries in
//     a row. A failed VMLAUNCH/VMRESUME (VMfailValid) is neither.
//  2. No VM entry while the VM is stopped (between vm_stop and vm_start).
//  3. Crossings only between neighbouring boxes of the walk's picture, listed below.
//  4. The used ring only reports chains the device popped from the avail ring and still holds
//     (virtqueue_fill id ∈ popped − filled − detached), per queue.
//  5. Every AIO completion matches an iocb that was submitted and not yet completed.
//  6. The DMA guard rail was never tripped (dma_guard_violation).
// A system reset (qemu_system_reset) starts the machine anew: the vCPUs' modes and the queues'
// popped chains are forgotten (the reboot's boot is not traced unless asked).

import { eventType, type Layer } from './events';
import type { TraceEvent } from './recorder';

/** What the checker reads from a trace store (the TraceRecorder, or a test's own). */
export interface TraceReader {
  readonly length: number;
  typeAt(seq: number): number;
  argAt(seq: number, k: number): number;
  vcpuAt(seq: number): number;
  get(seq: number): TraceEvent;
}

/** Boxes that may talk directly, and why. Anything else crossing is a violation. */
const NEIGHBOURS: readonly (readonly [Layer, Layer, string])[] = [
  ['guest process', 'guest kernel', 'syscalls and their return'],
  ['guest kernel', 'VMX CPU', 'instructions, their completion, injected events'],
  ['VMX CPU', 'kvm', 'VM exit and VM entry'],
  ['kvm', 'qemu-kvm', 'ioctl on kvm files and its return'],
  ['qemu-kvm', 'host kernel', "a host process's syscalls"],
  ['vhost-user-blk', 'host kernel', "a host process's syscalls"],
  ['kvm', 'host kernel', 'kvm is a module of the host kernel'],
  ['host kernel', 'VMX CPU', "the platform's interrupts reach the physical CPU"],
];
const neighbourKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
const NEIGHBOUR_SET = new Set(NEIGHBOURS.map(([a, b]) => neighbourKey(a, b)));

const enum C { Other, Entry, Exit, Stop, Start, Pop, Fill, Detach, AioSubmit, AioComplete, Guard, BadCrossing, Reset }

export interface Violation { seq: number; rule: string; message: string }

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** Class of each event type, plus one (0: not classified yet); type ids are 16-bit. */
  private readonly classes = new Uint8Array(0x10000);
  /** vCPU → true in guest mode, false in root mode; absent until first seen. */
  private readonly inGuest = new Map<number, boolean>();
  private stopped = false;
  /** queue → head → how many times popped and not yet given back. */
  private readonly inUse = new Map<number, Map<number, number>>();
  /** iocb address → outstanding submissions. */
  private readonly aio = new Map<number, number>();
  /** Events checked so far. */
  checked = 0;

  private classify(type: number): C {
    const known = this.classes[type]!;
    if (known !== 0) return known - 1;
    let c: C;
    const t = eventType(type);
    if (t.from !== t.to && !NEIGHBOUR_SET.has(neighbourKey(t.from, t.to))) c = C.BadCrossing;
    else if (t.kind === 'vm-entry') c = C.Entry;
    else if (t.kind === 'vm-exit') c = t.name === 'VMfailValid' ? C.Other : C.Exit;
    else if (t.name === 'vm_stop' && t.from === 'qemu-kvm') c = C.Stop;
    else if (t.name === 'vm_start' && t.from === 'qemu-kvm') c = C.Start;
    else if (t.name === 'virtqueue_pop' && t.from === 'qemu-kvm') c = C.Pop;
    else if (t.name === 'virtqueue_fill' && t.from === 'qemu-kvm') c = C.Fill;
    else if (t.name === 'virtqueue_detach_element' && t.from === 'qemu-kvm') c = C.Detach;
    else if (t.name === 'io_submit_one' && t.from === 'host kernel') c = C.AioSubmit;
    else if (t.name === 'aio_complete' && t.from === 'host kernel') c = C.AioComplete;
    else if (t.name === 'dma_guard_violation') c = C.Guard;
    else if (t.name === 'qemu_system_reset' && t.from === 'qemu-kvm') c = C.Reset;
    else c = C.Other;
    this.classes[type] = c + 1;
    return c;
  }

  private fail(seq: number, rule: string, message: string): void { this.violations.push({ seq, rule, message }); }

  /** Check the events recorded since the last call. */
  check(r: TraceReader): Violation[] {
    const before = this.violations.length;
    if (r.length < this.checked) this.checked = 0;   // the store was cleared
    for (let seq = this.checked; seq < r.length; seq++) this.step(r, seq);
    this.checked = r.length;
    return this.violations.slice(before);
  }

  private step(r: TraceReader, seq: number): void {
    const type = r.typeAt(seq);
    const c = this.classify(type);
    if (c === C.Other) return;
    switch (c) {
      case C.BadCrossing: {
        const t = eventType(type);
        this.fail(seq, 'neighbours', `${t.name} crosses from ${t.from} to ${t.to}, which are not neighbours`);
        return;
      }
      case C.Entry: {
        const v = r.vcpuAt(seq);
        if (this.inGuest.get(v) === true) this.fail(seq, 'exit-entry', `vCPU ${v}: a second VM entry without an exit between`);
        if (this.stopped) this.fail(seq, 'stopped', `vCPU ${v}: VM entry while the VM is stopped`);
        this.inGuest.set(v, true);
        return;
      }
      case C.Exit: {
        const v = r.vcpuAt(seq);
        if (this.inGuest.get(v) === false) this.fail(seq, 'exit-entry', `vCPU ${v}: a VM exit without an entry since the last exit`);
        this.inGuest.set(v, false);
        return;
      }
      case C.Reset: this.inGuest.clear(); this.inUse.clear(); return;
      case C.Stop: this.stopped = true; return;
      case C.Start: this.stopped = false; return;
      case C.Pop: {
        const head = r.argAt(seq, 0), q = r.argAt(seq, 3);
        let m = this.inUse.get(q);
        if (!m) { m = new Map(); this.inUse.set(q, m); }
        m.set(head, (m.get(head) ?? 0) + 1);
        return;
      }
      case C.Fill: case C.Detach: {
        const head = r.argAt(seq, 0), q = r.argAt(seq, 3 - (c === C.Detach ? 2 : 0));
        const m = this.inUse.get(q);
        const n = m?.get(head) ?? 0;
        if (n <= 0) {
          this.fail(seq, 'used-ring', `queue ${q}: ${c === C.Fill ? 'a used element' : 'a detach'} for head ${head}, which the device did not pop from the avail ring`);
          return;
        }
        if (n === 1) m!.delete(head); else m!.set(head, n - 1);
        return;
      }
      case C.AioSubmit: {
        const obj = r.argAt(seq, 0);
        this.aio.set(obj, (this.aio.get(obj) ?? 0) + 1);
        return;
      }
      case C.AioComplete: {
        const obj = r.argAt(seq, 3);
        const n = this.aio.get(obj) ?? 0;
        if (n <= 0) { this.fail(seq, 'aio', `an AIO completion for iocb 0x${obj.toString(16)}, which was not submitted`); return; }
        if (n === 1) this.aio.delete(obj); else this.aio.set(obj, n - 1);
        return;
      }
      case C.Guard: {
        const e = r.get(seq);
        this.fail(seq, 'guard', `the DMA guard refused an access at ${String(e.detail.site)} (${String(e.detail.hva)}+${String(e.detail.len)})`);
        return;
      }
    }
  }

  /** Requests the host still holds (for the end of a run). */
  get aioOutstanding(): number { let n = 0; for (const v of this.aio.values()) n += v; return n; }
}
