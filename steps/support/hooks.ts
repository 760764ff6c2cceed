// Hooks of the report: every walk a scenario runs is kept, and when the scenario ends (its last step,
// or the step that failed) the report gets the walk as evidence — the sequence diagram, the narrated
// walk, the trace (JSON and kvm tracepoint text) — and Allure gets labels and links to the real
// sources. This only observes: nothing here changes what a scenario asserts. It is on when the
// cucumber profile sets the world parameter `report` (the `report` profile does).

import * as fs from 'node:fs';
import { After, AfterStep, Before, Status, type ITestCaseHookParameter, type ITestStepHookParameter } from '@cucumber/cucumber';
import type { Label, Link, Parameter } from 'allure-js-commons';
import { chapterLesson, isChapter, lessonHtml } from '../../src/report/chapter';
import { scenarioEvidence } from '../../src/report/evidence';
import { ExitpathWorld, type LastWalk } from './world';

export interface ScenarioContext {
  name: string;
  uri: string;
  /** Every action's walk, in order, with the step that ran it. */
  walks: { walk: LastWalk; action: string }[];
  reported: boolean;
}

/** allure-js-commons' ALLURE_RUNTIME_MESSAGE_CONTENT_TYPE: how runtime metadata reaches the allure formatter. */
const ALLURE_RUNTIME_MESSAGE_CONTENT_TYPE = 'application/vnd.allure.message+json';

const contexts = new WeakMap<ExitpathWorld, ScenarioContext>();

export function scenarioOf(w: ExitpathWorld): ScenarioContext {
  const c = contexts.get(w);
  if (!c) throw new Error('no scenario context (steps/support/hooks.ts did not run)');
  return c;
}

Before(function (this: ExitpathWorld, { pickle }: ITestCaseHookParameter) {
  contexts.set(this, { name: pickle.name, uri: pickle.uri, walks: [], reported: false });
});

/** Every scenario fails if its machine broke an invariant, whichever step ran it (a boot alone included). */
After(function (this: ExitpathWorld) {
  this.checkSound();
});

/** Keep each new walk the world recorded, with the step that ran it. */
function observe(w: ExitpathWorld, ctx: ScenarioContext, step: string): void {
  let walk: LastWalk | undefined;
  try { walk = w.last; } catch { return; }
  if (ctx.walks[ctx.walks.length - 1]?.walk !== walk) ctx.walks.push({ walk, action: step });
}

AfterStep(async function (this: ExitpathWorld, { pickle, pickleStep, result }: ITestStepHookParameter) {
  const ctx = contexts.get(this);
  if (!ctx) return;
  observe(this, ctx, pickleStep.text);
  if (!(this.parameters as { report?: boolean }).report || ctx.reported) return;
  const last = pickle.steps[pickle.steps.length - 1]?.id === pickleStep.id;
  if (!last && result.status === Status.PASSED) return;
  ctx.reported = true;
  if (ctx.walks.length === 0) return;
  const ev = scenarioEvidence({
    scenario: pickle.name,
    config: this.config,
    walks: ctx.walks.map(({ walk, action }) => ({ events: walk.events, summary: walk.summary, action })),
  });
  for (const a of ev.attachments) {
    // Images travel base64-encoded (a Buffer), which cucumber's HTML report needs to show them.
    const meta = { mediaType: a.mediaType, fileName: a.fileName };
    if (a.mediaType.startsWith('image/')) await this.attach(Buffer.from(a.body), meta);
    else await this.attach(a.body, meta);
  }
  // Allure's metadata travels as one runtime message on this step (the allure-cucumberjs formatter
  // applies it to the test; from an After hook it would be refused as fixture metadata).
  const labels: Label[] = [...ev.labels, ...ev.tags.map((t) => ({ name: 'tag', value: t }))];
  const links: Link[] = ev.links.map((l) => ({ url: l.url, name: l.name, type: 'link' }));
  const parameters: Parameter[] = ev.parameters;
  // A literate chapter's scenario carries the lesson written in its section.
  const lesson = isChapter(pickle.uri) ? chapterLesson(fs.readFileSync(pickle.uri, 'utf8'), pickle.name) : null;
  const metadata = { type: 'metadata', data: { labels, links, parameters, ...(lesson ? { descriptionHtml: lessonHtml(lesson) } : {}) } };
  await this.attach(JSON.stringify(metadata), ALLURE_RUNTIME_MESSAGE_CONTENT_TYPE);
});
