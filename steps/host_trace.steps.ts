// Given: a host's kvm trace instead of the simulated machine. The model's Then-steps then read the
// trace (src/trace/import): exit reasons and counts, userspace exits, ports, MMIO addresses, MSRs,
// injected vectors, the kvm-level crossings; kvm's handler is inferred and the step says so. A step
// that needs what no host trace holds fails before it runs (support/host_trace_limits.ts).
// And, from a simulated scenario: the walk against a host trace of the same action.

import * as path from 'node:path';
import { importTrace, ImportError, type ImportedTrace } from '../src/trace/import';
import { conform } from '../src/trace/import/conform';
import { roundTrip } from '../src/trace/import/roundtrip';
import { stepsAbout } from './support/define';
import { scenarioOf } from './support/hooks';
import { SpecError, type ExitpathWorld } from './support/world';

const { Given, Then } = stepsAbout('Host traces');

function load(w: ExitpathWorld, t: ImportedTrace): void {
  const r = t.read;
  if (r.malformedTotal > 0) {
    const m = r.malformed[0]!;
    throw new SpecError(`${r.source}:${m.line}: ${m.why}: ${m.text.trim()}${r.malformedTotal > 1 ? ` (and ${r.malformedTotal - 1} more unread line(s))` : ''}`);
  }
  if (t.walk.events.length === 0) throw new SpecError(`${r.source}: no kvm event in the trace (${r.lines} lines read)`);
  // The names a step may use are the trace's: kvm's table of its era, its vCPUs.
  w.config.profile = r.era === 'old' ? 'qemu-kvm-2013' : 'linux-6.1';
  w.config.vcpus = Math.min(64, 1 + t.walk.events.reduce((m, e) => Math.max(m, e.vcpu), 0));
  w.useHostTrace({
    events: t.walk.events, summary: t.summary, state: 'done', runPages: [],
    host: { source: r.source, format: r.format, era: r.era, eraLabel: t.walk.eraLabel, syscalls: t.walk.syscalls },
  });
}

/** A trace file, its path relative to the feature file (or absolute). */
function featureRelative(w: ExitpathWorld, file: string): string {
  return path.isAbsolute(file) ? file : path.join(path.dirname(scenarioOf(w).uri), file);
}

function importFile(file: string): ImportedTrace {
  try { return importTrace({ file }); } catch (e) {
    if (e instanceof ImportError) throw new SpecError(e.message);
    throw e;
  }
}

Given('the host trace {string}', {
  doc: 'a host\'s kvm trace (raw ftrace, `trace-cmd report`, `perf script`, `perf top`; any kernel era) instead of the simulated machine, its path relative to the feature file: the Then-steps read its exits, userspace exits, ports, MSRs, injected vectors and kvm-level crossings; kvm\'s handler is inferred and the step says so. Only the steps that read kvm\'s side run on it; any other (the guest\'s results, the stages, qemu-kvm\'s devices and locks, the disk, a When) fails before it runs with one line saying what is missing (README: *Checking specs against a real host trace*)',
}, function (this: ExitpathWorld, file: string) {
  load(this, importFile(featureRelative(this, file)));
});

Given('the host trace:', { doc: 'the same, the trace given in the doc string (a bug report\'s quoted lines)' }, function (this: ExitpathWorld, text: string) {
  load(this, importTrace({ text, source: 'the doc string' }));
});

/** From a simulated scenario: its walk, at kvm level, against a host's trace of the same action. */
Then('the walk matches the host trace {string}', {
  doc: 'the last action\'s walk at kvm level (exits, kvm\'s handlers, userspace exits, KVM_RUN, the completed accesses, the entries) is what a host\'s trace of the same action shows; on a difference, both sides aligned (`exitpath conform` prints the same)',
}, function (this: ExitpathWorld, file: string) {
  const t = importFile(featureRelative(this, file));
  if (t.read.malformedTotal > 0) { const m = t.read.malformed[0]!; throw new SpecError(`${t.read.source}:${m.line}: ${m.why}: ${m.text.trim()}`); }
  const r = conform(this.last.events, t.walk.events, ['this run (simulated)', `${t.read.source} (host trace)`]);
  if (!r.same) throw new Error(r.text);
});

/**
 * The walk, printed as raw ftrace, trace-cmd report and perf script print a host's kvm trace, reads
 * back through the importer as the same exits, userspace exits and kvm-level walk.
 */
Then('the walk reads back the same from ftrace, trace-cmd and perf script text', {
  doc: 'the walk, printed as raw ftrace, `trace-cmd report` and `perf script` print a host\'s kvm trace (for the profile\'s era), reads back through the importer as the same exits, userspace exits and kvm-level walk',
}, function (this: ExitpathWorld) {
  const problems = roundTrip(this.last.events, this.last.summary, this.config.profile);
  if (problems.length > 0) throw new Error(`the walk does not round-trip:\n  ${problems.join('\n  ')}`);
});
