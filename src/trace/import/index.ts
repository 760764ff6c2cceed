// Importing a host's kvm trace: read it (reader.ts, one parser per line family and per payload),
// pair it per vCPU (pairing.ts), infer kvm's handlers (handlers.ts), and see it as the model's walk
// (walk.ts) or summarise it as perf kvm stat does (stat.ts).

import type { TraceEvent } from '../recorder';
import { summarize, type Summary } from '../query';
import type { HostEvent } from './host_event';
import { Pairing } from './pairing';
import { eraOf, readTraceFile, readTraceText, type ReadOptions, type ReadSummary } from './reader';
import type { EraHints } from './payload';
import { StatAggregator, type StatOptions } from './stat';
import { hostWalk, type HostWalk } from './walk';

export { ImportError, readTraceFile, readTraceText, type ReadSummary, type Malformed, type TraceFormat } from './reader';
export { HostEvent } from './host_event';
export { StatAggregator, type StatOptions, type StatJson, type StatEvent, type StatKey } from './stat';
export { hostEventsOfWalk, QEMU_PID, vcpuThreadId } from './simulated';

export interface ImportedTrace {
  read: ReadSummary;
  host: HostEvent[];
  walk: HostWalk;
  summary: Summary;
}

/** A trace small enough to hold (a feature's fixture, a doc string): its events, walk and summary. */
export function importTrace(input: { text: string; source: string } | { file: string }, opts: ReadOptions = {}): ImportedTrace {
  const host: HostEvent[] = [];
  const sink = (e: HostEvent) => { host.push(e); };
  const o = { keepText: true, ...opts };
  const read = 'file' in input ? readTraceFile(input.file, sink, o) : readTraceText(input.text, input.source, sink, o);
  const walk = hostWalk(host, read);
  const summary = summarize(walk.events, { value: Number.NaN, errno: null }, 0, () => '');
  return { read, host, walk, summary };
}

/** Stream files through the pairing into a stat aggregator: memory bounded by the number of vCPUs and reasons. */
export function statFiles(files: readonly string[], opts: StatOptions & { strict?: boolean }): { stat: StatAggregator; reads: ReadSummary[] } {
  let hints: EraHints = { modern: false, old: false, vcpuIds: false };
  const stat = new StatAggregator(opts, () => eraOf(hints));
  const reads: ReadSummary[] = [];
  for (const file of files) {
    // The era decides kvm's handler table; a first pass over the file would double the reading time,
    // so each exit takes the era its file has shown when it closes (its own kvm_exit and kvm_entry at least).
    hints = { modern: false, old: false, vcpuIds: false };
    const pairing = new Pairing({
      exit: (x) => stat.exit(x),
      strayUserspace: (e, v) => stat.strayUserspace(e, v),
      share: (e) => { if (e.name === 'kvm_exit') stat.perfTopRow(e); },
    });
    const read = readTraceFile(file, (e) => pairing.push(e), { strict: opts.strict, hints });
    pairing.finish();
    reads.push(read);
  }
  return { stat, reads };
}

/** The same statistics for a simulated walk's events. */
export function statEvents(host: readonly HostEvent[], opts: StatOptions): StatAggregator {
  const stat = new StatAggregator(opts, () => 'modern');
  const pairing = new Pairing({ exit: (x) => stat.exit(x), strayUserspace: (e, v) => stat.strayUserspace(e, v) });
  for (const e of host) pairing.push(e);
  pairing.finish();
  return stat;
}

/** The kvm-level events of a walk: what a host kvm trace can show. */
export function kvmLevel(events: readonly TraceEvent[]): TraceEvent[] {
  return events.filter((e) => (e.from === 'VMX CPU' && e.to === 'kvm') || (e.from === 'kvm' && e.to === 'VMX CPU')
    || e.kind === 'exit-handler'
    || (e.from === 'kvm' && e.to === 'qemu-kvm' && (e.name.startsWith('KVM_EXIT_') || e.name === 'KVM_RUN'))
    || (e.from === 'qemu-kvm' && e.to === 'kvm' && e.name === 'KVM_RUN'));
}
