// The round trip: a simulated walk printed as each tool prints a host's kvm trace (src/trace/ftrace.ts),
// read back by the importer, must give the same exits (vCPU, reason, kvm's handler, the KVM_EXIT_* it
// reached) and the same kvm-level walk (each vCPU's exits, entries, returns to userspace and KVM_RUNs,
// in order). What the text cannot carry — the guest's side, qemu-kvm's inside — is not compared.

import { toolText, type FtraceEra, type TraceTool } from '../ftrace';
import type { Summary } from '../query';
import type { TraceEvent } from '../recorder';
import { importTrace, kvmLevel } from './index';

export const TOOLS: readonly TraceTool[] = ['ftrace', 'trace-cmd', 'perf-script'];

const exitsOf = (s: Summary) => s.exits.map((x) => `vCPU ${x.vcpu} ${x.reason} → ${x.handler ?? '(no handler)'} → ${x.userspaceExit ?? 'kernel'}`);
const walkOf = (events: readonly TraceEvent[]) => kvmLevel(events).filter((e) => e.vcpu >= 0).map((e) => `vCPU ${e.vcpu} ${e.kind} ${e.name}`);

/** Differences between the walk and what each tool's text reads back as; empty when they round-trip. */
export function roundTrip(events: readonly TraceEvent[], summary: Summary, era: FtraceEra): string[] {
  const problems: string[] = [];
  for (const tool of TOOLS) {
    const text = toolText(tool, events, { era });
    const t = importTrace({ text, source: `${tool} text of the walk` });
    if (t.read.malformedTotal > 0) {
      const m = t.read.malformed[0]!;
      problems.push(`${tool}: line ${m.line} does not read back: ${m.why}: ${m.text.trim()}`);
      continue;
    }
    const diff = (what: string, a: string[], b: string[]) => {
      if (a.join('\n') === b.join('\n')) return;
      const i = a.findIndex((x, k) => x !== b[k]);
      const at = i < 0 ? Math.min(a.length, b.length) : i;
      problems.push(`${tool}: ${what} differ at ${at + 1} of ${a.length}: the walk has ${a[at] ?? '(nothing)'}, the text reads back ${b[at] ?? '(nothing)'}`);
    };
    diff('the exits', exitsOf(summary), exitsOf(t.summary));
    diff('the kvm-level crossings', walkOf(events), walkOf(t.walk.events));
  }
  return problems;
}
