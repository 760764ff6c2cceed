// A cucumber run as the reports read it, from its message stream (reports/cucumber.ndjson): each
// scenario with its feature, folder, prose, steps and their results, and the walks it attached
// (trace.json, see evidence.ts). The conformance matrix and the Allure report both start here.

import * as fs from 'node:fs';
import type { VmConfig } from '../config';
import type { Summary } from '../trace/query';
import type { TraceEvent } from '../trace/recorder';

/** Cucumber messages, read loosely: only the fields used below are looked at. */
export interface Envelope { [k: string]: any }

export type ScenarioStatus = 'passed' | 'failed' | 'undefined' | 'pending' | 'skipped' | 'ambiguous' | 'unknown';

export interface RunStep {
  id: string;
  text: string;
  status: ScenarioStatus | 'not run';
  /** The error's own message (no stack), when the step failed. */
  message?: string;
  /** Arguments the step definition matched, and the definition's pattern source. */
  matches: { source: string; args: string[] }[];
  table?: string[][];
}

export interface RunWalk { action: string; events: TraceEvent[]; summary: Summary }

export interface RunScenario {
  /** The pickle id: one per scenario (and per example row of an outline). */
  id: string;
  name: string;
  uri: string;
  line: number;
  /** The folder under features/ ("seed", "exits", …). */
  folder: string;
  feature: string;
  /** The Gherkin language of its feature file ("en", "ja", …). */
  language: string;
  featureDescription: string;
  description: string;
  rule?: string;
  status: ScenarioStatus;
  steps: RunStep[];
  /** When its (last) attempt started, in ms since the epoch. */
  startedMs: number;
  config?: VmConfig;
  walks: RunWalk[];
  /** A step of it compares the walk with a trace recorded on a real host ("the host trace …"). */
  hostTrace: boolean;
}

export function readNdjson(file: string): Envelope[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l) as Envelope; } catch { throw new Error(`${file}:${i + 1}: not a cucumber message (expected one JSON object per line)`); }
  });
}

/** The folder of a feature file under features/ (or the file's own folder elsewhere). */
export function folderOf(uri: string): string {
  const parts = uri.replace(/\\/g, '/').split('/');
  const at = parts.indexOf('features');
  if (at >= 0 && parts.length > at + 2) return parts[at + 1]!;
  return parts.length > 1 ? parts[parts.length - 2]! : '.';
}

const STATUS_ORDER: ScenarioStatus[] = ['failed', 'ambiguous', 'undefined', 'pending', 'skipped', 'passed'];

/** Gherkin prose: the lines of a description, trimmed, with blank lines kept between paragraphs. */
export function prose(text: string | undefined): string {
  return (text ?? '').split('\n').map((l) => l.trim()).join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

export function readRun(envelopes: readonly Envelope[]): { scenarios: RunScenario[]; stepSources: Set<string> } {
  const docs = new Map<string, Envelope>();
  const astScenario = new Map<string, { scenario: Envelope; rule?: Envelope }>();
  const pickles = new Map<string, Envelope>();
  const stepDefs = new Map<string, string>();
  const testCases = new Map<string, Envelope>();
  const started = new Map<string, Envelope>(); // testCaseStartedId → testCaseStarted
  const results = new Map<string, Map<string, Envelope>>(); // testCaseStartedId → testStepId → result
  const retried = new Set<string>();
  const traces = new Map<string, { config?: VmConfig; walks: RunWalk[] }>(); // testCaseStartedId → walks
  for (const e of envelopes) {
    if (e.gherkinDocument) {
      docs.set(e.gherkinDocument.uri, e.gherkinDocument);
      const visit = (children: Envelope[] | undefined, rule?: Envelope) => {
        for (const c of children ?? []) {
          if (c.scenario) astScenario.set(c.scenario.id, { scenario: c.scenario, rule });
          if (c.rule) visit(c.rule.children, c.rule);
        }
      };
      visit(e.gherkinDocument.feature?.children);
    } else if (e.pickle) pickles.set(e.pickle.id, e.pickle);
    else if (e.stepDefinition) stepDefs.set(e.stepDefinition.id, e.stepDefinition.pattern.source);
    else if (e.testCase) testCases.set(e.testCase.id, e.testCase);
    else if (e.testCaseStarted) started.set(e.testCaseStarted.id, e.testCaseStarted);
    else if (e.testStepFinished) {
      const m = results.get(e.testStepFinished.testCaseStartedId) ?? new Map<string, Envelope>();
      m.set(e.testStepFinished.testStepId, e.testStepFinished.testStepResult);
      results.set(e.testStepFinished.testCaseStartedId, m);
    } else if (e.testCaseFinished?.willBeRetried) retried.add(e.testCaseFinished.testCaseStartedId);
    else if (e.attachment?.fileName === 'trace.json' && e.attachment.testCaseStartedId) {
      const a = e.attachment;
      let body: { config?: VmConfig; walks: RunWalk[] };
      try { body = JSON.parse(a.contentEncoding === 'BASE64' ? Buffer.from(a.body, 'base64').toString('utf8') : a.body); } catch {
        throw new Error(`the trace.json attached to test case ${a.testCaseStartedId} is not JSON`);
      }
      traces.set(a.testCaseStartedId, body);
    }
  }

  // The last attempt of each test case.
  const attempt = new Map<string, Envelope>(); // testCaseId → testCaseStarted
  for (const s of started.values()) if (!retried.has(s.id)) attempt.set(s.testCaseId, s);

  const scenarios: RunScenario[] = [];
  for (const tc of testCases.values()) {
    const p = pickles.get(tc.pickleId);
    if (!p) continue;
    const ast = astScenario.get(p.astNodeIds?.[0]);
    const doc = docs.get(p.uri);
    const run = attempt.get(tc.id);
    const res = run ? results.get(run.id) ?? new Map<string, Envelope>() : new Map<string, Envelope>();
    const steps: RunStep[] = [];
    const statuses: string[] = [];
    for (const ts of tc.testSteps ?? []) {
      const r = res.get(ts.id);
      const status = r ? String(r.status).toLowerCase() as ScenarioStatus : undefined;
      if (status) statuses.push(status);
      if (!ts.pickleStepId) continue;
      const ps = (p.steps as Envelope[]).find((s) => s.id === ts.pickleStepId);
      const matches = ((ts.stepDefinitionIds ?? []) as string[]).map((id, k) => ({
        source: stepDefs.get(id) ?? '',
        args: ((ts.stepMatchArgumentsLists?.[k]?.stepMatchArguments ?? []) as Envelope[]).map((a) => String(a.group?.value ?? '').replace(/^"(.*)"$/, '$1')),
      }));
      const table = ps?.argument?.dataTable?.rows?.map((row: Envelope) => row.cells.map((c: Envelope) => String(c.value)));
      const message = r?.exception?.message ?? (r?.message ? String(r.message).split('\n')[0] : undefined);
      steps.push({ id: ts.pickleStepId, text: ps?.text ?? '', status: status ?? 'not run', matches, ...(table ? { table } : {}), ...(message ? { message } : {}) });
    }
    const status: ScenarioStatus = !run ? 'unknown' : STATUS_ORDER.find((s) => statuses.includes(s)) ?? (statuses.length ? 'unknown' : 'passed');
    const ts = run?.timestamp;
    const trace = run ? traces.get(run.id) : undefined;
    scenarios.push({
      id: p.id, name: p.name, uri: p.uri, line: ast?.scenario.location?.line ?? 0, folder: folderOf(p.uri),
      feature: doc?.feature?.name ?? p.uri, language: doc?.feature?.language ?? 'en', featureDescription: prose(doc?.feature?.description), description: prose(ast?.scenario.description),
      ...(ast?.rule ? { rule: ast.rule.name as string } : {}),
      status, steps, startedMs: ts ? Number(ts.seconds) * 1000 + Math.floor(Number(ts.nanos) / 1e6) : 0,
      ...(trace?.config ? { config: trace.config } : {}), walks: trace?.walks ?? [],
      hostTrace: steps.some((s) => /^the host trace\b/.test(s.text)),
    });
  }
  scenarios.sort((a, b) => (a.uri === b.uri ? a.line - b.line : a.uri < b.uri ? -1 : 1));
  return { scenarios, stepSources: new Set(stepDefs.values()) };
}
