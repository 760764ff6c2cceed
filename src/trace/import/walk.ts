// A host trace as the model's walk: the crossings kvm's tracepoints show, as the model records them
// (src/trace/recorder.ts TraceEvent), so the model's Then-steps and summary read a real trace.
//
//   kvm_exit            → vm-exit            VMX CPU → kvm        (the reason; info1 decoded as the exit qualification)
//   (inferred)          → exit-handler       kvm → kvm            (handlers.ts; detail.inferred says how)
//   kvm_userspace_exit  → ioctl-return       kvm → qemu-kvm       KVM_EXIT_IO, …; `restart`/`error` → KVM_RUN with -errno
//   (inferred)          → ioctl              qemu-kvm → kvm       KVM_RUN, before the vCPU's next kvm event
//   kvm_entry           → vm-entry           kvm → VMX CPU        VMRESUME; VMLAUNCH when the vCPU's thread moved to
//                                                                 another host CPU since its last entry (vmx_vcpu_load_vmcs
//                                                                 clears the VMCS from the old CPU: `launched` = 0); VMRUN on SVM
//   (inferred)          → irq                VMX CPU → guest kernel `interrupt`, at the entry after kvm_inj_virq
//   other kvm tracepoints → tracepoint       kvm → kvm            with the model's detail names
// Nothing else is invented: a host kvm trace shows no guest syscall, no instruction, no qemu syscall.

import { decodeApicAccessQualification, decodeCrQualification, decodeDrQualification, decodeEptViolationQualification, decodeIoQualification } from '../../uapi/vmx';
import { KVM_EXIT } from '../../uapi/kvm';
import type { TraceEvent } from '../recorder';
import { eraTable, inferHandler, type Inference } from './handlers';
import type { HostEvent } from './host_event';
import { Pairing } from './pairing';
import type { ReadSummary } from './reader';
import { Cursor, hex64 } from './scan';

/** Detail keys the model's tracepoints print in hex (their defineEvent `:hex` arguments). */
const HEX_KEYS = new Set(['port', 'val', 'gpa', 'msr', 'data', 'address', 'errorCode', 'vector', 'vec', 'icr_low', 'dest_id',
  'dm', 'reg', 'function', 'index', 'rax', 'rbx', 'rcx', 'rdx', 'nr', 'a0', 'a1', 'a2', 'a3', 'qualification', 'rip', 'info2',
  'intrInfo', 'requests', 'dst', 'csbase']);
/** Fields of the payload readers that describe the line, not the event. */
const META_KEYS = new Set(['form']);

const hx = (v: number) => `0x${hex64(v)}`;

export interface HostWalk {
  events: TraceEvent[];
  /** The trace has the host's syscall tracepoints (sys_enter_* / sys_exit_*). */
  syscalls: boolean;
  /** For each inferred or observed handler, how it was found (by the exit's line). */
  handlers: Map<number, Inference>;
  /** kvm's table the handlers came from, in words. */
  eraLabel: string;
}

export function hostWalk(host: readonly HostEvent[], read: Pick<ReadSummary, 'era'>): HostWalk {
  // Which vCPU each thread (or, for lines without one, host CPU) runs: the first vCPU id it prints.
  const owner = new Map<number, number>();
  const ident = (e: HostEvent) => (e.tid >= 0 ? e.tid : -2 - e.cpu);
  for (const e of host) if (e.vcpu >= 0 && e.name !== 'kvm_eoi' && e.name !== 'kvm_pv_eoi' && !owner.has(ident(e))) owner.set(ident(e), e.vcpu);
  const vcpuOf = (e: HostEvent) => (e.vcpu >= 0 ? e.vcpu : owner.get(ident(e)) ?? -1);

  const handlers = new Map<number, Inference>();
  const pairing = new Pairing({ exit: (x) => handlers.set(x.exit.line, inferHandler(String(x.exit.f!.reason), String(x.exit.f!.isa), x.inner, read.era)) });
  for (const e of host) pairing.push(e);
  pairing.finish();

  const out: TraceEvent[] = [];
  const push = (e: HostEvent, vcpu: number, kind: TraceEvent['kind'], from: TraceEvent['from'], to: TraceEvent['to'], name: string, detail: TraceEvent['detail']) => {
    out.push({ seq: out.length, t_ns: e.tsNs, vcpu, from, to, kind, name, detail });
  };
  const inUserspace = new Set<number>();
  const lastEntryCpu = new Map<number, number>();
  const pendingInj = new Map<number, { vector: number; info: number }>();
  const svm = new Set<number>();

  for (const e of host) {
    // The syscalls tracepoints (sys_enter_NAME / sys_exit_NAME), when the trace has them: qemu-kvm's
    // calls into the host kernel, by thread (a vCPU thread's, or -1 for qemu's other threads).
    if (e.name.startsWith('sys_enter_') || e.name.startsWith('sys_exit_')) {
      const vcpu = owner.get(ident(e)) ?? -1;
      if (e.name.startsWith('sys_enter_')) push(e, vcpu, 'syscall', 'qemu-kvm', 'host kernel', e.name.slice(10), {});
      else push(e, vcpu, 'syscall-return', 'host kernel', 'qemu-kvm', e.name.slice(9), { result: syscallResult(e.text) });
      continue;
    }
    const f = e.f;
    if (f === null || e.name.startsWith('<') || e.share >= 0) continue;
    const vcpu = vcpuOf(e);
    const kvmEvent = e.system === '' || e.system === 'kvm';
    if (!kvmEvent || e.name === 'function') continue;
    // The vCPU's first kvm event after KVM_RUN returned: qemu-kvm called KVM_RUN again.
    if (vcpu >= 0 && inUserspace.has(vcpu) && e.name !== 'kvm_userspace_exit' && isVcpuThreadEvent(e)) {
      inUserspace.delete(vcpu);
      push(e, vcpu, 'ioctl', 'qemu-kvm', 'kvm', 'KVM_RUN', { inferred: 'the vCPU runs again after KVM_RUN returned' });
    }
    switch (e.name) {
      case 'kvm_exit': {
        const q = Number(f.qualification);
        const detail: TraceEvent['detail'] = { reasonNumber: Number(f.reasonNumber), qualification: hx(q), rip: hx(Number(f.rip)) };
        // intr_info: printed since 5.10; before, the kernel's info2 (not the plugin's on a 5.10+ kernel).
        const intr = f.intrInfo !== undefined ? Number(f.intrInfo) : read.era === 'old' && f.isa === 'vmx' ? Number(f.info2) : Number.NaN;
        if (!Number.isNaN(intr) && (f.reason === 'EXCEPTION_NMI' || f.reason === 'EXTERNAL_INTERRUPT')) detail.intrInfo = hx(intr);
        Object.assign(detail, decodeQualification(String(f.reason), q, String(f.isa)));
        if (f.isa === 'svm') svm.add(vcpu);
        push(e, vcpu, 'vm-exit', 'VMX CPU', 'kvm', String(f.reason), detail);
        const h = handlers.get(e.line);
        if (h?.handler) push(e, vcpu, 'exit-handler', 'kvm', 'kvm', h.handler, { reason: Number(f.reasonNumber), evidence: h.how });
        break;
      }
      case 'kvm_userspace_exit': {
        // The tracepoint as the model records it (kvm_vcpu_ioctl: exit_reason, and KVM_RUN's return),
        // then the return itself: KVM_EXIT_* to qemu-kvm, or KVM_RUN's error.
        const errno = f.errno !== undefined ? -Number(f.errno) : 0;
        const tp: TraceEvent['detail'] = { errno };
        if (f.exitReason !== undefined) tp.reason = Number(f.exitReason);
        else if (f.reason === 'restart') tp.reason = KVM_EXIT.INTR; // kvm_handle_signal_exit
        push(e, vcpu, 'tracepoint', 'kvm', 'kvm', 'kvm_userspace_exit', tp);
        if (f.reason === 'restart' || f.reason === 'error') push(e, vcpu, 'ioctl-return', 'kvm', 'qemu-kvm', 'KVM_RUN', { result: -Number(f.errno) });
        else push(e, vcpu, 'ioctl-return', 'kvm', 'qemu-kvm', String(f.reason), { result: 0, exitReason: Number(f.exitReason) });
        if (vcpu >= 0) inUserspace.add(vcpu);
        break;
      }
      case 'kvm_entry': {
        const prev = lastEntryCpu.get(vcpu);
        const name = svm.has(vcpu) ? 'VMRUN' : prev !== undefined && e.cpu >= 0 && prev !== e.cpu ? 'VMLAUNCH' : 'VMRESUME';
        if (e.cpu >= 0) lastEntryCpu.set(vcpu, e.cpu);
        const inj = pendingInj.get(vcpu);
        const detail: TraceEvent['detail'] = {};
        if (f.rip !== undefined) detail.rip = hx(Number(f.rip));
        detail.intrInfo = hx(f.intrInfo !== undefined ? Number(f.intrInfo) : inj?.info ?? 0);
        push(e, vcpu, 'vm-entry', 'kvm', 'VMX CPU', name, detail);
        if (inj !== undefined) {
          pendingInj.delete(vcpu);
          // VM entry delivers the injected event (SDM 27.6): the guest takes it now.
          if (inj.info >>> 8 === 0x800000) push(e, vcpu, 'irq', 'VMX CPU', 'guest kernel', 'interrupt', { vector: hx(inj.vector) });
          else push(e, vcpu, 'irq', 'VMX CPU', 'guest kernel', 'exception', { vector: hx(inj.vector) });
        }
        break;
      }
      default: {
        if (e.name === 'kvm_inj_virq' && f.soft !== 1) pendingInj.set(vcpu, { vector: Number(f.vector), info: 0x80000000 + Number(f.vector) });
        if (e.name === 'kvm_inj_exception') pendingInj.set(vcpu, { vector: Number(f.vector), info: 0x80000300 + Number(f.vector) + (f.errorCode !== undefined ? 0x800 : 0) });
        const detail: TraceEvent['detail'] = {};
        for (const [k, v] of Object.entries(f)) {
          if (META_KEYS.has(k)) continue;
          detail[k] = typeof v === 'number' && HEX_KEYS.has(k) ? hx(v) : v;
        }
        push(e, vcpu, 'tracepoint', 'kvm', 'kvm', e.name, detail);
      }
    }
  }
  return { events: out, handlers, eraLabel: eraTable(read.era).label, syscalls: out.some((e) => e.kind === 'syscall-return') };
}

/** sys_exit_*'s payload: the return value, printed as hex (`0x1`, `0xfffffffffffffff5` for -EAGAIN). */
function syscallResult(text: string): number {
  // Cursor.hex reads 0xfffffffffffffff5 as -11, as the model stores a negative return.
  return new Cursor().reset(text.trim()).hex();
}

/** Tracepoints a vCPU's thread prints while it runs the vCPU (not another thread's kvm_set_irq on its behalf). */
function isVcpuThreadEvent(e: HostEvent): boolean {
  return e.name !== 'kvm_set_irq' && e.name !== 'kvm_msi_set_irq' && e.name !== 'kvm_pic_set_irq' && e.name !== 'kvm_ioapic_set_irq';
}

/** The exit qualification decoded as kvm's handler for the reason reads it (the model's decoders, src/uapi/vmx.ts). */
function decodeQualification(reason: string, q: number, isa: string): TraceEvent['detail'] {
  if (isa !== 'vmx') return {};
  switch (reason) {
    case 'IO_INSTRUCTION': {
      const d = decodeIoQualification(q);
      return { port: hx(d.port), size: d.size, direction: d.in ? 'in' : 'out', ...(d.string ? { string: 1 } : {}), ...(d.rep ? { rep: 1 } : {}) };
    }
    case 'CR_ACCESS': { const d = decodeCrQualification(q); return { cr: d.cr, access: d.type, gpr: d.gpr }; }
    case 'DR_ACCESS': { const d = decodeDrQualification(q); return { dr: d.dr, access: d.type, gpr: d.gpr }; }
    case 'EPT_VIOLATION': {
      const d = decodeEptViolationQualification(q);
      return { access: d.fetch ? 'fetch' : d.write ? 'write' : 'read' };
    }
    case 'APIC_ACCESS': case 'APIC_WRITE': return { offset: hx(decodeApicAccessQualification(q).offset) };
    default: return {};
  }
}
