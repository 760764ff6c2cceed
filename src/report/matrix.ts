// The conformance matrix: every basic exit reason, KVM_EXIT_* code, kvm exit handler and host
// syscall the model knows, against the scenarios that specify it (a step asserts it, or the golden
// trace the scenario matches contains it) and those whose walk only went through it. Built from
// cucumber's message stream (reports/cucumber.ndjson): pickles, step matches, results, and the trace
// each scenario attached.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventType } from '../trace/events';
import { parseTraceFile } from '../trace/golden';
import { EXIT_REASON, parseExitReason, exitReasonName } from '../uapi/vmx';
import { KVM_EXIT, KVM_IOCTLS } from '../uapi/kvm';
import { KVM_VMX_EXIT_HANDLERS } from '../kvm/vmx/handlers';
import { QEMU_KVM_2013 } from '../kvm/profile';
import '../stack'; // every layer declares its events (and so its host syscalls) when loaded
import { LAYER_JA, VOCABULARY, specifierFor, type RowKind, type Specified } from './vocabulary';

export type ScenarioStatus = 'passed' | 'failed' | 'undefined' | 'pending' | 'skipped' | 'ambiguous' | 'unknown';

export interface MatrixScenario { id: string; name: string; uri: string; line: number; status: ScenarioStatus }

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

export interface Matrix {
  generated: string;
  scenarios: MatrixScenario[];
  rows: MatrixRow[];
  totals: Record<RowKind, { rows: number; specified: number; exercisedOnly: number; uncovered: number; outOfScope: number }>;
  /** Vocabulary expressions that no step definition has (the table in vocabulary.ts is out of date). */
  warnings: string[];
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
  return rows;
}

// ------------------------------------------------------------------ reading the message stream

// Cucumber messages, read loosely: only the fields used below are looked at.
interface Envelope { [k: string]: any }

export function readNdjson(file: string): Envelope[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l) as Envelope; } catch { throw new Error(`${file}:${i + 1}: not a cucumber message (expected one JSON object per line)`); }
  });
}

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

function specifiedBy(source: string, args: string[], table: string[][] | undefined, goldenDir: string): Specified[] {
  const sp = specifierFor(source);
  if (!sp) return [];
  if (sp.from === 'arg') {
    let name = args[sp.arg] ?? '';
    if (sp.kind === 'exit reason') { const n = parseExitReason(name); if (n === undefined) return []; name = exitReasonName(n); }
    if (sp.kind === 'host syscall' && name.startsWith('ioctl(')) name = name.slice(6, -1);
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

const STATUS_ORDER: ScenarioStatus[] = ['failed', 'ambiguous', 'undefined', 'pending', 'skipped', 'passed'];

/** Build the matrix from cucumber messages. `goldenDir` is where golden files named in steps live. */
export function buildMatrix(envelopes: readonly Envelope[], goldenDir = path.join('features', 'golden')): Matrix {
  const pickles = new Map<string, Envelope>();
  const pickleSteps = new Map<string, Envelope>();
  const stepDefs = new Map<string, string>();
  const testCases = new Map<string, Envelope>();
  const started = new Map<string, string>(); // testCaseStartedId → testCaseId
  const stepStatus = new Map<string, string[]>(); // testCaseStartedId → statuses
  const traces = new Map<string, TraceItem[]>(); // pickleId → events of its walks
  const retried = new Set<string>();
  const locations = new Map<string, number>(); // gherkin scenario id → line
  for (const e of envelopes) {
    if (e.gherkinDocument) {
      const visit = (children: Envelope[] | undefined) => {
        for (const c of children ?? []) {
          if (c.scenario) locations.set(c.scenario.id, c.scenario.location.line);
          if (c.rule) visit(c.rule.children);
        }
      };
      visit(e.gherkinDocument.feature?.children);
    } else if (e.pickle) {
      pickles.set(e.pickle.id, e.pickle);
      for (const s of e.pickle.steps) pickleSteps.set(s.id, s);
    } else if (e.stepDefinition) stepDefs.set(e.stepDefinition.id, e.stepDefinition.pattern.source);
    else if (e.testCase) testCases.set(e.testCase.id, e.testCase);
    else if (e.testCaseStarted) started.set(e.testCaseStarted.id, e.testCaseStarted.testCaseId);
    else if (e.testStepFinished) {
      const l = stepStatus.get(e.testStepFinished.testCaseStartedId) ?? [];
      l.push(String(e.testStepFinished.testStepResult.status).toLowerCase());
      stepStatus.set(e.testStepFinished.testCaseStartedId, l);
    } else if (e.testCaseFinished?.willBeRetried) retried.add(e.testCaseFinished.testCaseStartedId);
    else if (e.attachment?.fileName === 'trace.json' && e.attachment.testCaseStartedId) {
      const tc = testCases.get(started.get(e.attachment.testCaseStartedId) ?? '');
      if (!tc) continue;
      const body = JSON.parse(e.attachment.contentEncoding === 'BASE64' ? Buffer.from(e.attachment.body, 'base64').toString('utf8') : e.attachment.body) as { walks: { events: TraceItem[] }[] };
      traces.set(tc.pickleId, body.walks.flatMap((w) => w.events));
    }
  }

  const scenarios: MatrixScenario[] = [];
  const statusOf = new Map<string, ScenarioStatus>();
  for (const [startedId, tcId] of started) {
    if (retried.has(startedId)) continue;
    const tc = testCases.get(tcId);
    if (!tc) continue;
    const st = stepStatus.get(startedId) ?? [];
    const worst = STATUS_ORDER.find((s) => st.includes(s)) ?? (st.length ? 'unknown' : 'passed');
    statusOf.set(tc.pickleId, worst);
  }
  const rows = knownRows();
  const index = new Map(rows.map((r) => [`${r.kind}|${r.name}`, r]));
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

  for (const tc of testCases.values()) {
    const p = pickles.get(tc.pickleId);
    if (!p) continue;
    const id = p.id as string;
    const line = locations.get(p.astNodeIds?.[0]) ?? 0;
    scenarios.push({ id, name: p.name, uri: p.uri, line, status: statusOf.get(id) ?? 'unknown' });
    for (const ts of tc.testSteps ?? []) {
      if (!ts.pickleStepId) continue;
      const step = pickleSteps.get(ts.pickleStepId);
      for (const [k, defId] of (ts.stepDefinitionIds ?? []).entries()) {
        const source = stepDefs.get(defId);
        if (!source) continue;
        const args = ((ts.stepMatchArgumentsLists?.[k]?.stepMatchArguments ?? []) as Envelope[]).map((a) => String(a.group?.value ?? '').replace(/^"(.*)"$/, '$1'));
        const table = step?.argument?.dataTable?.rows?.map((r: Envelope) => r.cells.map((c: Envelope) => String(c.value)));
        for (const it of specifiedBy(source, args, table, goldenDir)) add(it, id, it.negated ? 'not called' : 'specified');
      }
    }
    for (const it of itemsOfCrossings(traces.get(id) ?? [])) add(it, id, 'exercised');
  }
  scenarios.sort((a, b) => (a.uri === b.uri ? a.line - b.line : a.uri < b.uri ? -1 : 1));

  const warnings: string[] = [];
  const sources = new Set(stepDefs.values());
  for (const [concept, p] of Object.entries(VOCABULARY)) {
    if (!('specifies' in p)) continue;
    for (const s of [p.en, p.ja]) {
      const src = s.startsWith('/') ? s.slice(1, -1) : s;
      if (sources.size && !sources.has(src)) warnings.push(`vocabulary ${concept}: no step definition '${s}'`);
    }
  }

  const totals = {} as Matrix['totals'];
  for (const k of ['exit reason', 'KVM_EXIT', 'handler', 'host syscall'] as RowKind[]) {
    const rs = rows.filter((r) => r.kind === k);
    const spec = rs.filter((r) => r.cells.some((c) => c.how !== 'exercised'));
    const ex = rs.filter((r) => !spec.includes(r) && r.cells.length > 0);
    const oos = rs.filter((r) => r.outOfScope && r.cells.length === 0);
    totals[k] = { rows: rs.length, specified: spec.length, exercisedOnly: ex.length, outOfScope: oos.length, uncovered: rs.length - spec.length - ex.length - oos.length };
  }
  return { generated: new Date().toISOString(), scenarios, rows, totals, warnings };
}

/** A row is a gap when no scenario specifies it and it is in scope. */
export const isGap = (r: MatrixRow): boolean => !r.outOfScope && !r.cells.some((c) => c.how !== 'exercised');
