// `exitpath compare`: one action under several configurations, side by side — how many boxes the
// I/O crosses and what that costs. Every figure comes from the recorded walk of a fresh VM.

import { applySet, DEFAULT_CONFIG, notModelled, ConfigError, type VmConfig } from './config';
import { explain } from './walk';

export interface Column { label: string; sets: string[] }

/** The ladder of the talk's "recent trends": each step removes a box from the path. */
export const IO_PATHS: Column[] = [
  { label: 'seed (INTx, no ioeventfd)', sets: [] },
  { label: 'ioeventfd', sets: ['ioeventfd=true'] },
  { label: 'ioeventfd + MSI-X', sets: ['ioeventfd=true', 'disk.vectors=2'] },
  { label: 'ioeventfd + MSI-X + irqfd', sets: ['ioeventfd=true', 'disk.vectors=2', 'irqfd=true'] },
  { label: '… + APICv', sets: ['ioeventfd=true', 'disk.vectors=2', 'irqfd=true', 'apicv=true'] },
  { label: '… + io_uring', sets: ['ioeventfd=true', 'disk.vectors=2', 'irqfd=true', 'disk.backend=io_uring'] },
  { label: 'vhost-user-blk', sets: ['ioeventfd=true', 'disk.vectors=2', 'irqfd=true', 'disk.device=vhost-user-blk'] },
];

export interface Row {
  label: string;
  sets: string[];
  vmExits: number;
  userspaceExits: number;
  hostSyscalls: number;
  syscallNames: string[];
  guestInterrupts: number;
  cycles: number;
  result: number;
}

export function configFor(base: VmConfig, sets: string[]): VmConfig {
  let c = base;
  for (const s of sets) c = applySet(c, s);
  const nm = notModelled(c);
  if (nm) throw new ConfigError(`--set ${sets.join(' --set ')}: ${nm} is not modelled yet`);
  return c;
}

/** One row per column; `problems`: invariants any column's run broke (empty for sound runs). */
export function compare(action: string, columns: Column[], base: VmConfig = DEFAULT_CONFIG): { rows: Row[]; problems: string[] } {
  const problems: string[] = [];
  const rows = columns.map((col) => {
    const w = explain(configFor(base, col.sets), action);
    problems.push(...w.problems.map((p) => `${col.label}: ${p}`));
    const s = w.summary;
    return {
      label: col.label, sets: col.sets,
      vmExits: s.exits.length,
      userspaceExits: s.exits.filter((e) => e.handledIn === 'userspace').length,
      hostSyscalls: s.hostSyscalls.length,
      syscallNames: s.hostSyscalls.map((h) => (h.request ? `ioctl(${h.request})` : h.name)),
      guestInterrupts: s.guestInterrupts,
      cycles: s.cycles,
      result: s.guestResult.value,
    };
  });
  return { rows, problems };
}

export function formatTable(action: string, rows: Row[]): string {
  const head = ['configuration', 'VM exits', 'userspace exits', 'host syscalls', 'guest interrupts', 'cycles'];
  const body = rows.map((r) => [r.label, String(r.vmExits), String(r.userspaceExits), String(r.hostSyscalls), String(r.guestInterrupts), String(r.cycles)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const out = [`exitpath compare "${action}"`, '', line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line), ''];
  for (const r of rows) out.push(`${r.label}: ${r.syscallNames.join(', ') || 'no host syscall'}`);
  return out.join('\n') + '\n';
}
