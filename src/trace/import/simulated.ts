// A simulated walk seen through the same lens as a host trace: its kvm-level events as the host
// events kvm's tracepoints would be (kvm_exit, kvm_entry, kvm_userspace_exit, the kvm_* tracepoints),
// so `exitpath stat --action` pairs and counts them exactly as it does a real trace. The handler is
// the one the model ran (an `exit-handler` event), not an inference.

import type { TraceEvent } from '../recorder';
import { ERRNO } from '../../uapi/errno';
import { HostEvent } from './host_event';

/** qemu-kvm's process id in exported traces, and its vCPU threads' ids (the model does not number host threads). */
export const QEMU_PID = 4000;
export const vcpuThreadId = (vcpu: number): number => (vcpu >= 0 ? QEMU_PID + 1 + vcpu : QEMU_PID);

const num = (v: string | number | undefined): number => (typeof v === 'number' ? v : v === undefined ? 0 : Number(v));

export function hostEventsOfWalk(events: readonly TraceEvent[]): HostEvent[] {
  const out: HostEvent[] = [];
  for (const e of events) {
    let name: string;
    let f: Record<string, string | number>;
    const d = e.detail;
    if (e.kind === 'vm-exit' && e.name !== 'VMfailValid') {
      name = 'kvm_exit';
      f = { reason: e.name, reasonNumber: num(d.reasonNumber), isa: 'vmx', flags: '', rip: num(d.rip), qualification: num(d.qualification), info2: 0, form: 'E5' };
    } else if (e.kind === 'exit-handler') {
      name = 'exit-handler';
      f = { handler: e.name };
    } else if (e.kind === 'ioctl-return' && e.from === 'kvm' && e.name.startsWith('KVM_EXIT_')) {
      name = 'kvm_userspace_exit';
      f = { reason: e.name, exitReason: num(d.exitReason) };
    } else if (e.kind === 'ioctl-return' && e.from === 'kvm' && e.name === 'KVM_RUN' && num(d.result) < 0) {
      name = 'kvm_userspace_exit';
      f = { reason: num(d.result) === -ERRNO.EINTR ? 'restart' : 'error', errno: -num(d.result) };
    } else if (e.kind === 'vm-entry') {
      name = 'kvm_entry';
      f = { rip: num(d.rip), form: 'N2' };
    } else if (e.kind === 'tracepoint' && e.from === 'kvm' && e.name.startsWith('kvm_') && e.name !== 'kvm_userspace_exit') {
      name = e.name;
      f = {};
      for (const [k, v] of Object.entries(d)) f[k] = typeof v === 'string' && v.startsWith('0x') ? Number(v) : v;
    } else continue;
    const h = new HostEvent();
    h.line = e.seq;
    h.tsNs = e.t_ns;
    h.cpu = 0;
    h.tid = vcpuThreadId(e.vcpu);
    h.vcpu = name === 'kvm_exit' || name === 'kvm_entry' ? e.vcpu : -1;
    h.name = name;
    h.f = f;
    out.push(h);
  }
  return out;
}
