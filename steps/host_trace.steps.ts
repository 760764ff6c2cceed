// Given: a host's kvm trace instead of the simulated machine. The model's Then-steps then read the
// trace (src/trace/import): exit reasons and counts, userspace exits, ports, MMIO addresses, MSRs,
// injected vectors, the kvm-level crossings; kvm's handler is inferred and the step says so. A step
// that needs what no host trace holds fails before it runs (support/host_trace_limits.ts).
// And, from a simulated scenario: the walk against a host trace of the same action.

import * as path from 'node:path';
import { BeforeStep, Given, Then } from '@cucumber/cucumber';
import { importTrace, ImportError, type ImportedTrace } from '../src/trace/import';
import { conform } from '../src/trace/import/conform';
import { roundTrip } from '../src/trace/import/roundtrip';
import { scenarioOf } from './support/hooks';
import { hostTraceRefusal } from './support/host_trace_limits';
import type { ExitpathWorld } from './support/world';

function load(w: ExitpathWorld, t: ImportedTrace): void {
  const r = t.read;
  if (r.malformedTotal > 0) {
    const m = r.malformed[0]!;
    throw new Error(`${r.source}:${m.line}: ${m.why}: ${m.text.trim()}${r.malformedTotal > 1 ? ` (and ${r.malformedTotal - 1} more unread line(s))` : ''}`);
  }
  if (t.walk.events.length === 0) throw new Error(`${r.source}: no kvm event in the trace (${r.lines} lines read)`);
  w.useHostTrace({
    events: t.walk.events, summary: t.summary, state: 'done',
    host: { source: r.source, format: r.format, era: r.era, eraLabel: t.walk.eraLabel, syscalls: t.walk.syscalls },
  });
}

/** A trace file, its path relative to the feature file (or absolute). */
function featureRelative(w: ExitpathWorld, file: string): string {
  return path.isAbsolute(file) ? file : path.join(path.dirname(scenarioOf(w).uri), file);
}

function importFile(file: string): ImportedTrace {
  try { return importTrace({ file }); } catch (e) {
    if (e instanceof ImportError) throw new Error(e.message);
    throw e;
  }
}

Given('the host trace {string}', function (this: ExitpathWorld, file: string) {
  load(this, importFile(featureRelative(this, file)));
});

Given('the host trace:', function (this: ExitpathWorld, text: string) {
  load(this, importTrace({ text, source: 'the doc string' }));
});

// A step that needs what no host trace holds fails here, with one line, before it runs.
BeforeStep(function (this: ExitpathWorld, { pickleStep }) {
  if (this.hostTrace === undefined) return;
  const table = pickleStep.argument?.dataTable?.rows.map((r) => r.cells.map((c) => c.value));
  const why = hostTraceRefusal(pickleStep.text, table, { syscalls: this.hostTrace.syscalls });
  if (why !== null) throw new Error(`${why} (this scenario reads a host trace)`);
});

/** From a simulated scenario: its walk, at kvm level, against a host's trace of the same action. */
Then('the walk matches the host trace {string}', function (this: ExitpathWorld, file: string) {
  const t = importFile(featureRelative(this, file));
  if (t.read.malformedTotal > 0) { const m = t.read.malformed[0]!; throw new Error(`${t.read.source}:${m.line}: ${m.why}: ${m.text.trim()}`); }
  const r = conform(this.last.events, t.walk.events, ['this run (simulated)', `${t.read.source} (host trace)`]);
  if (!r.same) throw new Error(r.text);
});

/**
 * The walk, printed as raw ftrace, trace-cmd report and perf script print a host's kvm trace, reads
 * back through the importer as the same exits, userspace exits and kvm-level walk.
 */
Then('the walk reads back the same from ftrace, trace-cmd and perf script text', function (this: ExitpathWorld) {
  const problems = roundTrip(this.last.events, this.last.summary, this.config.profile);
  if (problems.length > 0) throw new Error(`the walk does not round-trip:\n  ${problems.join('\n  ')}`);
});
