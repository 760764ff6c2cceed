// Hooks of the report: every walk a scenario runs is kept, and when the scenario ends (its last step,
// or the step that failed) the report gets the walk as evidence — the sequence diagram, the narrated
// walk, the trace (JSON and kvm tracepoint text) — and Allure gets labels and links to the real
// sources. This only observes: nothing here changes what a scenario asserts. It is on when the
// cucumber profile sets the world parameter `report` (the `report` profile does).

import * as fs from 'node:fs';
import { AfterStep, Before, BeforeStep, Status, type ITestCaseHookParameter, type ITestStepHookParameter } from '@cucumber/cucumber';
import 'allure-cucumberjs';
import * as allure from 'allure-js-commons';
import type { Action } from '../../src/guest/kernel';
import { chapterLesson, isChapter } from '../../src/report/chapter';
import { scenarioEvidence } from '../../src/report/evidence';
import { ExitpathWorld, type LastWalk } from './world';

export interface ScenarioContext {
  name: string;
  uri: string;
  /** Every action's walk, in order, with the step that ran it. */
  walks: { walk: LastWalk; action: string }[];
  step: string;
  reported: boolean;
}

const contexts = new WeakMap<ExitpathWorld, ScenarioContext>();

export function scenarioOf(w: ExitpathWorld): ScenarioContext {
  const c = contexts.get(w);
  if (!c) throw new Error('no scenario context (steps/support/hooks.ts did not run)');
  return c;
}

Before(function (this: ExitpathWorld, { pickle }: ITestCaseHookParameter) {
  const ctx: ScenarioContext = { name: pickle.name, uri: pickle.uri, walks: [], step: '', reported: false };
  contexts.set(this, ctx);
  const run = this.run.bind(this);
  // Observe each walk as it is recorded; the world's own behaviour is unchanged.
  this.run = (action: Action): LastWalk => {
    const walk = run(action);
    ctx.walks.push({ walk, action: ctx.step });
    return walk;
  };
});

BeforeStep(function (this: ExitpathWorld, { pickleStep }: ITestStepHookParameter) {
  const ctx = contexts.get(this);
  if (ctx) ctx.step = pickleStep.text;
});

AfterStep(async function (this: ExitpathWorld, { pickle, pickleStep, result }: ITestStepHookParameter) {
  if (!(this.parameters as { report?: boolean }).report) return;
  const ctx = contexts.get(this);
  if (!ctx || ctx.reported) return;
  const last = pickle.steps[pickle.steps.length - 1]?.id === pickleStep.id;
  if (!last && result.status === Status.PASSED) return;
  ctx.reported = true;
  if (ctx.walks.length === 0) return;
  const ev = scenarioEvidence({
    scenario: pickle.name,
    config: this.config,
    walks: ctx.walks.map(({ walk, action }) => ({ events: walk.events, summary: walk.summary, action })),
  });
  for (const a of ev.attachments) await this.attach(a.body, { mediaType: a.mediaType, fileName: a.fileName });
  await allure.labels(...ev.labels);
  await allure.tags(...ev.tags);
  for (const p of ev.parameters) await allure.parameter(p.name, p.value);
  await allure.links(...ev.links.map((l) => ({ url: l.url, name: l.name, type: 'link' })));
  // A literate chapter's scenario carries the lesson written before it.
  if (isChapter(pickle.uri)) {
    const lesson = chapterLesson(fs.readFileSync(pickle.uri, 'utf8'), pickle.name);
    if (lesson) await allure.description(lesson);
  }
});
