// The walk as text, numbered like the seed talk: each crossing on a line, the ①–⑩ ones marked and
// explained, the kernel and qemu functions that decided where to go shown beneath.

import type { TraceEvent } from './recorder';
import type { Summary } from './query';

const CIRCLED = ['', '①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩'];

const WHY: Record<number, string> = {
  1: 'the process makes a system call: the guest kernel takes over',
  2: 'a sensitive instruction: the guest kernel kicks the device with port I/O',
  3: 'VT-x leaves VMX non-root mode: a VM exit; the VMCS says why',
  4: 'no device in the kernel claims it: ioctl(KVM_RUN) returns to qemu-kvm with kvm_run filled',
  5: 'qemu-kvm emulates the device and asks the host kernel to do the I/O',
  6: 'the host kernel returns to qemu-kvm',
  7: 'qemu-kvm calls ioctl(KVM_RUN) again',
  8: 'kvm enters the guest again (VM entry)',
  9: 'the instruction has completed: the guest continues after it',
  10: 'the system call returns to the process',
};

function detail(e: TraceEvent): string {
  const parts = Object.entries(e.detail).filter(([k]) => k !== 'rip').map(([k, v]) => `${k}=${v}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export function narrate(title: string, events: TraceEvent[], s: Summary, verbose = false): string {
  const out: string[] = [title, ''];
  for (const e of events) {
    const crossing = e.from !== e.to;
    if (!crossing && !verbose && e.kind !== 'exit-handler') continue;
    const mark = e.stage ? CIRCLED[e.stage]! : ' ';
    const route = crossing ? `${e.from} → ${e.to}` : `  in ${e.from}`;
    out.push(`${mark} ${route.padEnd(30)} ${e.kind.padEnd(18)} ${e.name}${detail(e)}`);
    if (e.stage) out.push(`    ${WHY[e.stage]}`);
  }
  const up = s.exits.filter((x) => x.handledIn === 'userspace').length;
  out.push('');
  out.push(`VM exits: ${s.exits.length} (${up} reached qemu-kvm): ${s.exits.map((x) => `${x.reason}→${x.handler ?? 'no handler'}${x.userspaceExit ? `→${x.userspaceExit}` : ''}`).join(', ') || 'none'}`);
  out.push(`VM entries: ${s.entries.length}; guest interrupts: ${s.guestInterrupts}`);
  out.push(`host syscalls: ${s.hostSyscalls.map((h) => h.request ? `ioctl(${h.request})` : h.name).join(', ') || 'none'}`);
  out.push(`result in the guest: ${s.guestResult.value}${s.guestResult.errno ? ` (${s.guestResult.errno})` : ''}${s.guestResult.fault ? ` after ${s.guestResult.fault}` : ''}; modelled cycles: ${s.cycles}`);
  return out.join('\n') + '\n';
}
