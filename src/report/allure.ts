// The Allure report as a learner opens it. The allure-cucumberjs formatter writes one result per
// scenario (reports/allure-results); before `allure generate` runs, each result is given what the
// message stream knows about its scenario (messages.ts):
//   - its walk first: the diagrams (walk.svg) become the scenario's own attachments, which the
//     report's plugin draws at the top of the page at their natural size (allure-generate.ts);
//     then a description with the scenario's prose in paragraphs and the narrated walk; the trace
//     JSON and the tracepoint text are attachments below;
//   - Suites by folder, feature and rule (parentSuite, suite, subSuite), Behaviors by the seed's area
//     (epic, areas.ts) and feature;
//   - one link per function the walk went through, named `file: function`;
//   - the status cucumber gave: an undefined or ambiguous step is "broken" with a message saying
//     so (the formatter reports such a scenario as passed), and a failure's message is the error's
//     own, without its stack.
// categories.json separates spec mistakes (an undefined or ambiguous step, a name the model does
// not know) from model failures. Nothing here changes what a scenario asserts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { chapterLesson, isChapter, lessonHtml } from './chapter';
import { areaOf, SEED_SCENARIO } from './areas';
import { scenarioFacts, walkTitle, MATRIX_HREF, TRACE_ATTACHMENT } from './evidence';
import type { RunScenario } from './messages';
import { narrate } from '../trace/narrative';
import { esc } from '../trace/svg';
import type { VmConfig } from '../config';

/** The label that ties a result to its scenario (the pickle id), read back after generation. */
export const SCENARIO_LABEL = 'exitpathScenario';

interface AllureAttachment { name: string; source: string; type: string }
interface AllureStep { name?: string; status?: string; statusDetails?: { message?: string; trace?: string }; steps?: AllureStep[]; attachments?: AllureAttachment[] }
interface AllureResult extends AllureStep {
  uuid: string; fullName?: string; start?: number; description?: string; descriptionHtml?: string;
  labels: { name: string; value: string }[]; links: { name?: string; url: string; type?: string }[];
  attachments: AllureAttachment[]; parameters?: { name: string; value: string }[];
}

/** The narrated walk is in the description; the diagrams, the trace and the tracepoint text are the scenario's own attachments. */
const NARRATIVE = /^walk(-\d+)?\.txt$/;
const OWN = new RegExp(`^(walk(-\\d+)?\\.svg|${TRACE_ATTACHMENT.replace('.', '\\.')}|kvm-trace(-\\d+)?\\.txt)$`);

/** Gherkin prose, or a chapter's lesson, as paragraphs. */
function proseHtml(sc: RunScenario, root: string): string {
  if (isChapter(sc.uri)) {
    try {
      const lesson = chapterLesson(fs.readFileSync(path.resolve(root, sc.uri), 'utf8'), sc.name);
      if (lesson) return lessonHtml(lesson);
    } catch { /* the file moved: fall back to the Gherkin description */ }
  }
  if (sc.description) return lessonHtml(sc.description);
  if (sc.featureDescription) return `<p><b>${esc(sc.feature)}</b></p>\n${lessonHtml(sc.featureDescription)}`;
  return '';
}

const langOf = (sc: RunScenario): 'en' | 'ja' => (sc.language === 'ja' ? 'ja' : 'en');

/**
 * The description of a scenario's Allure page: its prose, then its walks narrated. Allure keeps only
 * plain HTML in a description (no SVG, no classes), so the diagrams travel as the scenario's
 * walk.svg attachments, which the report's plugin draws above the description (allure-generate.ts).
 */
export function scenarioDescriptionHtml(sc: RunScenario, root = '.'): string {
  const lang = langOf(sc);
  const o: string[] = [];
  const prose = proseHtml(sc, root);
  if (prose) o.push(prose);
  const cfg = sc.config as VmConfig | undefined;
  sc.walks.forEach((w, i) => {
    const head = `${walkTitle(sc.name, w)}${cfg ? `  (profile ${cfg.profile}, irqchip ${cfg.irqchip})` : ''}`;
    const title = lang === 'ja' ? '処理の流れを文章で' : 'The walk, step by step';
    o.push(`<h4>${title}${sc.walks.length > 1 ? ` (${i + 1} of ${sc.walks.length})` : ''}</h4>`);
    o.push(`<pre>${esc(narrate(head, w.events, w.summary, false, lang))}</pre>`);
  });
  return o.join('\n');
}

/** Labels, links, description and status for one result, from its scenario. */
function shape(r: AllureResult, sc: RunScenario, root: string, resultsDir: string): void {
  const keep = new Set(['language', 'framework', 'package', 'host', 'thread', '_fallbackTestCaseId', 'tag', 'severity', 'owner']);
  const labels = r.labels.filter((l) => keep.has(l.name));
  labels.push({ name: 'parentSuite', value: `features/${sc.folder}` }, { name: 'suite', value: sc.feature });
  if (sc.rule) labels.push({ name: 'subSuite', value: sc.rule });
  labels.push({ name: 'epic', value: areaOf(sc.folder) }, { name: 'feature', value: sc.feature }, { name: SCENARIO_LABEL, value: sc.id });
  let links: AllureResult['links'] = [];
  if (sc.config && sc.walks.length) {
    const all = scenarioFacts({ config: sc.config, walks: sc.walks });
    labels.push(...all.labels, ...all.tags.map((t) => ({ name: 'tag', value: t })));
    links = all.links.map((l) => ({ name: l.name, url: l.url, type: 'link' }));
  } else links = [{ name: 'conformance matrix', url: MATRIX_HREF, type: 'link' }];
  r.labels = labels;
  r.links = links;
  delete r.description;
  r.descriptionHtml = scenarioDescriptionHtml(sc, root);

  // The evidence: the narrative is in the description; the diagrams, the trace and the tracepoint
  // text go from the last step to the scenario itself.
  const moved: AllureAttachment[] = [];
  const visit = (s: AllureStep) => {
    s.attachments = (s.attachments ?? []).filter((a) => {
      if (NARRATIVE.test(a.name)) { fs.rmSync(path.join(resultsDir, a.source), { force: true }); return false; }
      if (OWN.test(a.name)) { moved.push(a); return false; }
      return true;
    });
    for (const c of s.steps ?? []) visit(c);
    // The formatter wraps each attachment in a step of its own: drop the ones left empty.
    s.steps = (s.steps ?? []).filter((c) => (c.attachments ?? []).length > 0 || (c.steps ?? []).length > 0 || !(c.name && (NARRATIVE.test(c.name) || OWN.test(c.name))));
  };
  visit(r);
  r.attachments = [...r.attachments ?? [], ...moved];

  // The status cucumber gave, and the error's own message.
  const bad = sc.steps.find((s) => s.status !== 'passed' && s.status !== 'not run' && s.status !== 'skipped');
  if (sc.status === 'undefined' || sc.status === 'ambiguous') {
    const what = bad ? `${sc.status} step: "${bad.text}" ${sc.status === 'undefined' ? 'matches no step definition' : 'matches several step definitions'}` : `${sc.status} step`;
    r.status = 'broken';
    r.statusDetails = { message: what };
    const mark = (s: AllureStep) => { if (bad && s.name?.endsWith(bad.text) && !s.status) { s.status = 'broken'; s.statusDetails = { message: what }; } (s.steps ?? []).forEach(mark); };
    (r.steps ?? []).forEach(mark);
  } else if (bad?.message && r.statusDetails) {
    const trace = r.statusDetails.trace ?? r.statusDetails.message;
    r.statusDetails = { message: bad.message, ...(trace ? { trace } : {}) };
    const mark = (s: AllureStep) => { if (s.statusDetails?.message && (s.status === 'failed' || s.status === 'broken')) s.statusDetails = { message: bad.message!, trace: s.statusDetails.trace ?? s.statusDetails.message }; (s.steps ?? []).forEach(mark); };
    (r.steps ?? []).forEach(mark);
  }
}

/** `exitpath:features/x.feature#name` → `features/x.feature`. */
const uriOf = (fullName: string | undefined) => (fullName ?? '').replace(/^[^:]*:(?=features\/|[^/]*\/)/, '').replace(/#.*$/, '');

/** Give every result in `resultsDir` its scenario's walk, prose, labels, links and status. */
export function shapeAllureResults(resultsDir: string, scenarios: readonly RunScenario[], root = '.'): { shaped: number; unmatched: string[] } {
  const byKey = new Map<string, RunScenario[]>();
  for (const sc of scenarios) byKey.set(`${sc.uri}#${sc.name}`, [...(byKey.get(`${sc.uri}#${sc.name}`) ?? []), sc]);
  let shaped = 0;
  const unmatched: string[] = [];
  for (const f of fs.readdirSync(resultsDir).filter((n) => n.endsWith('-result.json'))) {
    const file = path.join(resultsDir, f);
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as AllureResult;
    const candidates = byKey.get(`${uriOf(r.fullName)}#${r.name}`) ?? [];
    // Example rows of an outline share a name: the attempt that started closest to the result.
    const sc = candidates.slice().sort((a, b) => Math.abs(a.startedMs - (r.start ?? 0)) - Math.abs(b.startedMs - (r.start ?? 0)))[0];
    if (!sc) { unmatched.push(r.fullName ?? f); continue; }
    shape(r, sc, root, resultsDir);
    fs.writeFileSync(file, JSON.stringify(r));
    shaped++;
  }
  return { shaped, unmatched };
}

/**
 * Allure's categories: spec mistakes apart from model failures. A spec mistake is a step no
 * definition matches (or several do), or a name the model does not know: a message that starts
 * with "unknown", or names a quoted word as unknown or as not being one of the model's names
 * ("'FOO' is not a basic exit reason …", "\"frobnicate 1\": unknown instruction …").
 */
export function allureCategories(): object[] {
  const spec = `(undefined|ambiguous) step\\b|unknown\\b|('[^']*'|"[^"]*")(: unknown\\b| is not an? | is neither )`;
  return [
    { name: 'Spec mistakes: an undefined or ambiguous step', matchedStatuses: ['broken', 'failed', 'unknown'], messageRegex: '(?s)(undefined|ambiguous) step\\b.*' },
    { name: 'Spec mistakes: a name the model does not know', matchedStatuses: ['broken', 'failed'], messageRegex: `(?s)(unknown\\b|('[^']*'|"[^"]*")(: unknown\\b| is not an? | is neither )).*` },
    { name: 'Model failures: a check on the walk did not hold', matchedStatuses: ['failed'], messageRegex: `(?s)(?!${spec}).*` },
    { name: 'Model errors: the model stopped with an error', matchedStatuses: ['broken'], messageRegex: `(?s)(?!${spec}).*` },
  ];
}

/** The seed scenario of this run, if it ran. */
export function seedOf(scenarios: readonly RunScenario[]): RunScenario | undefined {
  return scenarios.find((s) => s.uri === SEED_SCENARIO.uri && s.name === SEED_SCENARIO.name);
}
