// Conformance of a simulated walk to a host's trace of the same action: both reduced to what a kvm
// trace shows (exits, kvm's handler, the returns to and from userspace, entries, kvm's tracepoints),
// aligned as `exitpath diff` aligns walks (golden.ts diffWalks: identical events anchor, same-kind
// events in between pair up), and the differences named: missing from the host trace, extra in it,
// reordered, or with different fields.
//
// Compared: the fields both sides print for an event kind (a real trace has no qemu fd, the model
// has no `evidence` of an inference); never RIPs, times, durations or the decoded qualification.

import type { TraceEvent } from '../recorder';
import { diffWalks, entryLine, type GoldenEntry } from '../golden';
import { kvmLevel } from './index';

const IGNORED = new Set(['rip', 'haltedNs', 'evidence', 'inferred', 'fd', 'arg', 'port', 'size', 'direction', 'string', 'rep', 'access',
  'cr', 'dr', 'gpr', 'offset', 'count', 'form', 'csbase', 'mode', 'insn']);

/** The kvm-level events of a walk, with kvm's own tracepoints. */
export function kvmView(events: readonly TraceEvent[]): TraceEvent[] {
  const keep = new Set(kvmLevel(events));
  return events.filter((e) => keep.has(e) || (e.kind === 'tracepoint' && e.from === 'kvm' && e.name.startsWith('kvm_')));
}

export interface Conformance {
  same: boolean;
  missing: number;
  extra: number;
  reordered: number;
  different: number;
  text: string;
}

export function conform(simulated: readonly TraceEvent[], host: readonly TraceEvent[], labels: [string, string], context = 2): Conformance {
  const a = kvmView(simulated);
  const b = kvmView(host);
  // The fields each event kind has on both sides.
  const keys = (evs: TraceEvent[]) => {
    const m = new Map<string, Set<string>>();
    for (const e of evs) {
      const k = `${e.kind}|${e.name}`;
      const s = m.get(k) ?? new Set<string>();
      for (const d of Object.keys(e.detail)) if (!IGNORED.has(d)) s.add(d);
      m.set(k, s);
    }
    return m;
  };
  const ka = keys(a);
  const kb = keys(b);
  const norm = (e: TraceEvent): GoldenEntry => {
    const both = [...(ka.get(`${e.kind}|${e.name}`) ?? [])].filter((k) => kb.get(`${e.kind}|${e.name}`)?.has(k));
    const detail: Record<string, string | number> = {};
    for (const k of both.sort()) { const v = e.detail[k]; if (v !== undefined) detail[k] = typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v) ? `0x${BigInt(v).toString(16)}` : v; }
    return { vcpu: e.vcpu, from: e.from, to: e.to, kind: e.kind, name: e.name, detail };
  };
  const ga = a.map(norm);
  const gb = b.map(norm);
  const ops = diffWalks(ga, gb);
  const full = (g: GoldenEntry) => `${g.vcpu}|${g.kind}|${g.name}|${JSON.stringify(g.detail)}`;
  // A vanished event that appears elsewhere unchanged was reordered.
  const appeared = new Map<string, number[]>();
  ops.forEach((o, i) => { if (o.op === 'appeared') { const k = full(o.entry); appeared.set(k, [...(appeared.get(k) ?? []), i]); } });
  const moved = new Set<number>();
  ops.forEach((o, i) => {
    if (o.op !== 'vanished') return;
    const list = appeared.get(full(o.entry));
    const j = list?.shift();
    if (j !== undefined) { moved.add(i); moved.add(j); }
  });
  let missing = 0, extra = 0, different = 0;
  ops.forEach((o, i) => {
    if (moved.has(i)) return;
    if (o.op === 'vanished') missing++;
    else if (o.op === 'appeared') extra++;
    else if (o.op === 'changed') different++;
  });
  const reordered = moved.size / 2;
  const same = missing + extra + different + reordered === 0;
  if (same) return { same, missing, extra, reordered, different, text: `the kvm-level walks agree (${ga.length} events: exits, handlers, userspace exits, entries and kvm's tracepoints)\n` };
  const out = [`--- ${labels[0]}`, `+++ ${labels[1]}`,
    `the kvm-level walks differ: ${missing} missing from the host trace, ${extra} extra in it, ${reordered} reordered, ${different} with different fields (of ${ga.length} → ${gb.length} events)`];
  const show = new Array<boolean>(ops.length).fill(false);
  ops.forEach((o, k) => { if (o.op !== 'same') for (let d = -context; d <= context; d++) if (k + d >= 0 && k + d < ops.length) show[k + d] = true; });
  const pos = (n: number | undefined) => (n === undefined ? '   ' : String(n + 1).padStart(3));
  let gap = false;
  ops.forEach((o, k) => {
    if (!show[k]) { gap = true; return; }
    if (gap) { out.push('  …'); gap = false; }
    const tag = moved.has(k) ? (o.op === 'vanished' ? '<' : '>') : o.op === 'vanished' ? '-' : o.op === 'appeared' ? '+' : o.op === 'changed' ? '~' : ' ';
    if (o.op === 'same') out.push(`${tag} ${pos(o.a)} ${pos(o.b)}   ${entryLine(o.entry)}`);
    else if (o.op === 'vanished') out.push(`${tag} ${pos(o.a)} ${pos(undefined)}   ${entryLine(o.entry)}${moved.has(k) ? '   (reordered: later in the host trace)' : '   (missing from the host trace)'}`);
    else if (o.op === 'appeared') out.push(`${tag} ${pos(undefined)} ${pos(o.b)}   ${entryLine(o.entry)}${moved.has(k) ? '   (reordered)' : '   (only in the host trace)'}`);
    else {
      const diffs = Object.keys({ ...o.before.detail, ...o.after.detail }).filter((x) => o.before.detail[x] !== o.after.detail[x])
        .map((x) => `${x} ${o.before.detail[x] ?? '(none)'} → ${o.after.detail[x] ?? '(none)'}`);
      out.push(`${tag} ${pos(o.a)} ${pos(o.b)}   ${entryLine(o.after)}\n                ${diffs.join(', ')}`);
    }
  });
  if (gap) out.push('  …');
  return { same, missing, extra, reordered, different, text: out.join('\n') + '\n' };
}
