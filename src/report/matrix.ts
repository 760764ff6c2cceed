// The conformance matrix: every basic exit reason, kvm exit handler, KVM_EXIT_* code, host syscall
// and kvm tracepoint the model knows, against the scenarios that specify it (a step asserts it, or
// the golden trace the scenario matches contains it) and those whose walk only went through it, and
// which of them checked it against a trace recorded on a real host. Built from cucumber's message
// stream (reports/cucumber.ndjson): pickles, step matches, results, and the trace each scenario
// attached (messages.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventType } from '../trace/events';
import { parseTraceFile } from '../trace/golden';
import { EXIT_REASON, parseExitReason, exitReasonName } from '../uapi/vmx';
import { KVM_EXIT, KVM_IOCTLS } from '../uapi/kvm';
import { KVM_VMX_EXIT_HANDLERS } from '../kvm/vmx/handlers';
import { QEMU_KVM_2013 } from '../kvm/profile';
import '../stack'; // every layer declares its events (and so its host syscalls) when loaded
import { readRun, type Envelope, type ScenarioStatus } from './messages';
import { LAYER_JA, VOCABULARY, specifierFor, type RowKind, type Specified } from './vocabulary';

export type { ScenarioStatus };
export { readNdjson } from './messages';

export interface MatrixScenario {
  id: string; name: string; uri: string; line: number; status: ScenarioStatus;
  /** The folder under features/ and the feature's name, which the matrix groups scenarios by. */
  folder: string; feature: string;
  /** The scenario compares its walk with a trace recorded on a real host. */
  hostTrace: boolean;
  /** The scenario's page in the Allure report, relative to reports/, once the report exists. */
  allure?: string;
}

export interface MatrixCell { scenario: string; how: 'specified' | 'not called' | 'exercised' }

export interface MatrixRow {
  kind: RowKind;
  name: string;
  /** The exit reason or KVM_EXIT number, where there is one. */
  number?: number;
  /** Why a row is not expected to be covered (another architecture), or which era has it. */
  note?: string;
  /** Rows that do not count as gaps: codes of other architectures. */
  outOfScope?: boolean;
  cells: MatrixCell[];
}

/** What covers a row: a scenario that specifies it, only walks that go through it, or nothing. */
export type Coverage = 'specified' | 'walked through' | 'no scenario' | 'other architecture';

export interface Totals {
  rows: number; specified: number; exercisedOnly: number; uncovered: number; outOfScope: number;
  /** Rows a scenario checked against a trace recorded on a real host. */
  hostTrace: number;
}

export interface Matrix {
  generated: string;
  scenarios: MatrixScenario[];
  rows: MatrixRow[];
  totals: Record<RowKind, Totals>;
  /** Vocabulary expressions that no step definition has (the table in vocabulary.ts is out of date). */
  warnings: string[];
}

export const ROW_KINDS: readonly RowKind[] = ['exit reason', 'handler', 'KVM_EXIT', 'host syscall', 'tracepoint'];

/** The one classification of a row that the HTML page, the JSON and `exitpath coverage` all show. */
export function rowCoverage(r: MatrixRow): Coverage {
  if (r.cells.some((c) => c.how !== 'exercised')) return 'specified';
  if (r.cells.length > 0) return 'walked through';
  return r.outOfScope ? 'other architecture' : 'no scenario';
}

// ------------------------------------------------------------------ rows the model knows

const OTHER_ARCH = /^(S390_|PAPR_|OSI$|DCR$|EPR$|RISCV_|ARM_|XEN$|HYPERV$)/;

function allEventTypes(): { kind: string; from: string; to: string; name: string }[] {
  const out = [];
  for (let id = 0; ; id++) {
    try { out.push(eventType(id)); } catch { break; }
  }
  return out;
}

export function knownRows(): MatrixRow[] {
  const rows: MatrixRow[] = [];
  for (const [name, n] of Object.entries(EXIT_REASON)) rows.push({ kind: 'exit reason', name, number: n, cells: [] });
  for (const [name, n] of Object.entries(KVM_EXIT)) {
    const other = OTHER_ARCH.test(name);
    rows.push({ kind: 'KVM_EXIT', name: `KVM_EXIT_${name}`, number: n, cells: [], ...(other ? { outOfScope: true, note: 'not an x86 exit' } : {}) });
  }
  const handlers = new Map<string, { reasons: string[]; era: string }>();
  for (const [reason, name] of KVM_VMX_EXIT_HANDLERS) {
    const h = handlers.get(name) ?? { reasons: [], era: 'linux-6.1' };
    h.reasons.push(reason);
    handlers.set(name, h);
    const old = QEMU_KVM_2013.handlerNames[name];
    const oldName = old === undefined ? name : old;
    if (oldName === null) continue;
    const o = handlers.get(oldName) ?? { reasons: [], era: 'qemu-kvm-2013' };
    if (oldName !== name) { if (!o.reasons.includes(reason)) o.reasons.push(reason); handlers.set(oldName, o); }
    else h.era = 'both';
  }
  for (const [name, h] of handlers) {
    const era = h.era === 'both' ? 'both profiles' : h.era;
    rows.push({ kind: 'handler', name, cells: [], note: `${h.reasons.join(', ')} (${era})` });
  }
  const syscalls = new Set<string>();
  for (const t of allEventTypes()) if (t.kind === 'syscall' && t.to === 'host kernel') syscalls.add(t.name);
  for (const s of [...syscalls].sort()) rows.push({ kind: 'host syscall', name: s, cells: [] });
  for (const name of Object.keys(KVM_IOCTLS)) rows.push({ kind: 'host syscall', name, note: 'ioctl on a kvm file', cells: [] });
  const tracepoints = new Set(['kvm_exit', 'kvm_entry', 'kvm_userspace_exit']);
  for (const t of allEventTypes()) if (t.kind === 'tracepoint' && t.from === 'kvm' && t.to === 'kvm') tracepoints.add(t.name);
  for (const name of tracepoints) rows.push({ kind: 'tracepoint', name, cells: [], note: TRACEPOINT_NOTE[name] ?? 'arch/x86/kvm/trace.h' });
  return rows;
}

/** Where a tracepoint is defined, when not in arch/x86/kvm/trace.h. */
const TRACEPOINT_NOTE: Record<string, string> = {
  kvm_userspace_exit: 'include/trace/events/kvm.h', kvm_set_irq: 'include/trace/events/kvm.h', kvm_vcpu_wakeup: 'include/trace/events/kvm.h',
  kvm_mmio: 'include/trace/events/kvm.h', kvm_fpu: 'include/trace/events/kvm.h', kvm_halt_poll_ns: 'include/trace/events/kvm.h',
};

// ------------------------------------------------------------------ reading the message stream

interface TraceItem { kind: string; from: string; to: string; name: string }

/** What a list of crossings (a walk, a golden file, a `walk crosses` table) says about the rows. */
export function itemsOfCrossings(events: readonly TraceItem[]): Specified[] {
  const out: Specified[] = [];
  for (const e of events) {
    if (e.from === 'VMX CPU' && e.to === 'kvm' && parseExitReason(e.name) !== undefined) out.push({ kind: 'exit reason', name: exitReasonName(parseExitReason(e.name)!) });
    else if (e.from === 'kvm' && e.to === 'kvm' && e.kind === 'exit-handler') out.push({ kind: 'handler', name: e.name });
    else if (e.from === 'kvm' && e.to === 'qemu-kvm' && e.name.startsWith('KVM_EXIT_')) out.push({ kind: 'KVM_EXIT', name: e.name });
    else if (e.from === 'qemu-kvm' && (e.to === 'host kernel' || e.to === 'kvm') && (e.kind === 'syscall' || e.kind === 'ioctl' || e.kind === '')) out.push({ kind: 'host syscall', name: e.name });
  }
  return out;
}

/** The kvm tracepoints a walk fires: kvm_exit and kvm_entry at each exit and entry, kvm_userspace_exit
 *  when KVM_RUN returns with an exit for qemu-kvm, and the ones kvm records by name. */
export function tracepointsOf(events: readonly TraceItem[]): Specified[] {
  const out: Specified[] = [];
  for (const e of events) {
    if (e.kind === 'vm-exit' && e.name !== 'VMfailValid') out.push({ kind: 'tracepoint', name: 'kvm_exit' });
    else if (e.kind === 'vm-entry') out.push({ kind: 'tracepoint', name: 'kvm_entry' });
    else if (e.kind === 'ioctl-return' && e.from === 'kvm' && e.name.startsWith('KVM_EXIT_')) out.push({ kind: 'tracepoint', name: 'kvm_userspace_exit' });
    else if (e.kind === 'tracepoint' && e.from === 'kvm' && e.to === 'kvm') out.push({ kind: 'tracepoint', name: e.name });
  }
  return out;
}

function specifiedBy(source: string, args: string[], table: string[][] | undefined, goldenDir: string, tracepoints: ReadonlySet<string>): Specified[] {
  const sp = specifierFor(source);
  if (!sp) return [];
  if (sp.from === 'arg') {
    let name = args[sp.arg] ?? '';
    if (sp.kind === 'exit reason') { const n = parseExitReason(name); if (n === undefined) return []; name = exitReasonName(n); }
    if (sp.kind === 'host syscall' && name.startsWith('ioctl(')) name = name.slice(6, -1);
    // "the walk includes NAME" names any event: only a kvm tracepoint is a row of its own.
    if (sp.kind === 'tracepoint' && !tracepoints.has(name)) return [];
    return [{ kind: sp.kind, name, ...(sp.negated ? { negated: true } : {}) }];
  }
  if (sp.from === 'crossings') {
    if (!table || table.length < 2) return [];
    const head = table[0]!.map((h) => ({ '送り手': 'from', '受け手': 'to', '名前': 'name' } as Record<string, string>)[h] ?? h);
    const rows = table.slice(1).map((r) => Object.fromEntries(head.map((h, i) => [h, LAYER_JA[r[i] ?? ''] ?? r[i] ?? ''])) as Record<string, string>);
    return itemsOfCrossings(rows.map((r) => ({ kind: r.from === 'kvm' && r.to === 'kvm' ? 'exit-handler' : '', from: r.from ?? '', to: r.to ?? '', name: r.name ?? '' })));
  }
  const file = path.join(goldenDir, args[sp.arg] ?? '');
  if (!fs.existsSync(file)) return [];
  return itemsOfCrossings(parseTraceFile(fs.readFileSync(file, 'utf8'), file).walk);
}

/**
 * Build the matrix from cucumber messages. Golden files named in steps live beside their feature file;
 * `cwd` is where the run's feature URIs start.
 */
export function buildMatrix(envelopes: readonly Envelope[], cwd = '.'): Matrix {
  const run = readRun(envelopes);
  const rows = knownRows();
  const index = new Map(rows.map((r) => [`${r.kind}|${r.name}`, r]));
  const tracepoints = new Set(rows.filter((r) => r.kind === 'tracepoint').map((r) => r.name));
  const add = (it: Specified, scenario: string, how: MatrixCell['how']) => {
    let r = index.get(`${it.kind}|${it.name}`);
    if (!r) {
      // A name the model's tables do not list (a step naming something the model never does).
      r = { kind: it.kind, name: it.name, note: 'named by a scenario, not known to the model', cells: [] };
      rows.push(r);
      index.set(`${it.kind}|${it.name}`, r);
    }
    const have = r.cells.find((c) => c.scenario === scenario);
    if (!have) r.cells.push({ scenario, how });
    else if (have.how === 'exercised' && how !== 'exercised') have.how = how;
  };

  const scenarios: MatrixScenario[] = [];
  for (const sc of run.scenarios) {
    scenarios.push({ id: sc.id, name: sc.name, uri: sc.uri, line: sc.line, status: sc.status, folder: sc.folder, feature: sc.feature, hostTrace: sc.hostTrace });
    const goldenDir = path.dirname(path.resolve(cwd, sc.uri));
    for (const step of sc.steps) {
      for (const m of step.matches) {
        for (const it of specifiedBy(m.source, m.args, step.table, goldenDir, tracepoints)) add(it, sc.id, it.negated ? 'not called' : 'specified');
      }
    }
    const events = sc.walks.flatMap((w) => w.events);
    for (const it of [...itemsOfCrossings(events), ...tracepointsOf(events)]) add(it, sc.id, 'exercised');
  }

  const warnings: string[] = [];
  const sources = run.stepSources;
  for (const [concept, p] of Object.entries(VOCABULARY)) {
    if (!('specifies' in p)) continue;
    for (const s of [p.en, p.ja]) {
      const src = s.startsWith('/') ? s.slice(1, -1) : s;
      if (sources.size && !sources.has(src)) warnings.push(`vocabulary ${concept}: no step definition '${s}'`);
    }
  }

  const hostTraced = new Set(scenarios.filter((x) => x.hostTrace).map((x) => x.id));
  const totals = {} as Matrix['totals'];
  for (const k of ROW_KINDS) {
    const rs = rows.filter((r) => r.kind === k);
    const count = (c: Coverage) => rs.filter((r) => rowCoverage(r) === c).length;
    totals[k] = {
      rows: rs.length, specified: count('specified'), exercisedOnly: count('walked through'), uncovered: count('no scenario'),
      outOfScope: count('other architecture'), hostTrace: rs.filter((r) => r.cells.some((c) => hostTraced.has(c.scenario))).length,
    };
  }
  return { generated: new Date().toISOString(), scenarios, rows, totals, warnings };
}
