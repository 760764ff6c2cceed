// Hooks of the report: every walk a scenario runs is kept, and when the scenario ends (its last step,
// or the step that failed) the report gets the walk as evidence — the sequence diagram, the narrated
// walk, the trace (JSON and kvm tracepoint text). cucumber's HTML report shows them as they are; the
// Allure report is shaped from the message stream afterwards (src/report/allure.ts). This only
// observes: nothing here changes what a scenario asserts. It is on when the world parameter `report`
// is set (`exitpath test --report DIR` sets it). The one check here is the unfinished action's state.

import { After, AfterStep, Before, Status, type ITestCaseHookParameter, type ITestStepHookParameter } from '@cucumber/cucumber';
import { scenarioEvidence } from '../../src/report/evidence';
import { ExitpathWorld, SpecError, type LastWalk } from './world';

export interface ScenarioContext {
  name: string;
  uri: string;
  /** The feature's language: a Japanese feature gets its diagram and narrative in Japanese. */
  lang: 'en' | 'ja';
  /** Every action's walk, in order, with the step that ran it. */
  walks: { walk: LastWalk; action: string }[];
  reported: boolean;
}

const contexts = new WeakMap<ExitpathWorld, ScenarioContext>();

/** allure-cucumberjs leaves a hook of this name out of a scenario's set-up and tear-down. */
const UNLISTED = { name: 'ALLURE_FIXTURE_IGNORE' };

export function scenarioOf(w: ExitpathWorld): ScenarioContext {
  const c = contexts.get(w);
  if (!c) throw new Error('no scenario context (steps/support/hooks.ts did not run)');
  return c;
}

Before(UNLISTED, function (this: ExitpathWorld, { pickle, gherkinDocument }: ITestCaseHookParameter) {
  const lang = gherkinDocument?.feature?.language === 'ja' ? 'ja' : 'en';
  contexts.set(this, { name: pickle.name, uri: pickle.uri, lang, walks: [], reported: false });
});

/** Every scenario fails if its machine broke an invariant, whichever step ran it (a boot alone included). */
After({ name: 'the machine kept its invariants' }, function (this: ExitpathWorld) {
  this.checkSound();
});

/** Keep each new walk the world recorded, with the step that ran it. */
function observe(w: ExitpathWorld, ctx: ScenarioContext, step: string): void {
  for (const walk of w.walks.slice(ctx.walks.length)) ctx.walks.push({ walk, action: step });
}

/**
 * An action that ended unfinished (the VM paused, the guest halted or waiting for the device) is a
 * state the scenario must state: a scenario whose Then steps never said so does not pass.
 */
After({ name: 'an unfinished action is stated' }, function (this: ExitpathWorld, { result }: ITestCaseHookParameter) {
  if (result?.status !== Status.PASSED) return;
  const last = this.walks[this.walks.length - 1];
  if (last && last.state !== 'done' && !this.stateStated) {
    throw new SpecError(`the last action did not complete (${last.why ?? last.state}) and no step says so: state it with a step such as "Then the VM is paused", "Then vCPU 0 stays halted in qemu-kvm" or "Then the write has not returned"`);
  }
});

async function report(w: ExitpathWorld, ctx: ScenarioContext): Promise<void> {
  ctx.reported = true;
  if (ctx.walks.length === 0) return;
  const ev = scenarioEvidence({
    scenario: ctx.name,
    config: w.config,
    lang: ctx.lang,
    walks: ctx.walks.map(({ walk, action }) => ({ events: walk.events, summary: walk.summary, action })),
  });
  for (const a of ev.attachments) {
    // Images travel base64-encoded (a Buffer), which cucumber's HTML report needs to show them.
    const meta = { mediaType: a.mediaType, fileName: a.fileName };
    if (a.mediaType.startsWith('image/')) await w.attach(Buffer.from(a.body), meta);
    else await w.attach(a.body, meta);
  }
}

AfterStep(async function (this: ExitpathWorld, { pickle, pickleStep, result }: ITestStepHookParameter) {
  const ctx = contexts.get(this);
  if (!ctx) return;
  observe(this, ctx, pickleStep.text);
  if (!(this.parameters as { report?: boolean }).report || ctx.reported) return;
  const last = pickle.steps[pickle.steps.length - 1]?.id === pickleStep.id;
  if (!last && result.status === Status.PASSED) return;
  await report(this, ctx);
});

// A step with no definition (or several) never reaches AfterStep: the walks so far are reported here.
After(UNLISTED, async function (this: ExitpathWorld) {
  const ctx = contexts.get(this);
  if (!ctx || ctx.reported || !(this.parameters as { report?: boolean }).report) return;
  await report(this, ctx);
});
