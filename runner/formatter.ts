// What `exitpath test` prints: progress while scenarios run (a bar on a terminal, a line every tenth
// otherwise, on stderr), then on stdout each scenario that did not pass — where it is, the step that
// stopped it and why — with the closest existing steps for a step nobody defined, and a closing count.
// Attachments (walks, tracepoint text) stay in the reports; the terminal gets the reasons.

import * as path from 'node:path';
import { Formatter, Status, formatterHelpers, type IFormatterOptions } from '@cucumber/cucumber';
import type * as messages from '@cucumber/messages';
import { closestSteps } from './suggest';
import { docsPath } from './paths';

const MESSAGE_LINES = 40;

interface Problem { status: string; name: string; where: string; step: string; message: string[]; reason?: string }

/** The lines of an error worth reading: the message, without the stack frames that follow it. */
export function messageLines(m: string | undefined): string[] {
  if (!m) return [];
  const lines = m.split('\n');
  const firstFrame = lines.findIndex((l) => /^\s+at .+[(:]/.test(l));
  const kept = (firstFrame < 0 ? lines : lines.slice(0, firstFrame)).filter((l, i, a) => l.trim() || (i > 0 && i < a.length - 1));
  // A mistake in the spec (an unknown name, an unstated state) is said as it is, without a class name.
  if (kept[0]) kept[0] = kept[0].replace(/^SpecError: /, '');
  return kept;
}

export default class ExitpathFormatter extends Formatter {
  static override readonly documentation = 'exitpath: progress on stderr, then each scenario that did not pass, one reason each.';
  private total = 0;
  private done = 0;
  private failed = 0;
  private lastShown = -1;
  private readonly tty: boolean;
  private readonly parseErrors: string[] = [];
  private started = 0;

  constructor(options: IFormatterOptions) {
    super(options);
    this.tty = !!process.stderr.isTTY;
    options.eventBroadcaster.on('envelope', (e: messages.Envelope) => {
      if (e.testRunStarted) this.started = Date.now();
      else if (e.testCase) this.total++;
      else if (e.testCaseFinished && !e.testCaseFinished.willBeRetried) {
        this.done++;
        const a = this.eventDataCollector.getTestCaseAttempt(e.testCaseFinished.testCaseStartedId);
        if (a.worstTestStepResult.status !== Status.PASSED) this.failed++;
        this.progress();
      } else if (e.parseError) {
        const loc = e.parseError.source.location;
        this.parseErrors.push(`${e.parseError.source.uri}${loc ? `:${loc.line}` : ''}: ${e.parseError.message}`);
      } else if (e.testRunFinished) {
        if (this.tty && this.total > 0) process.stderr.write('\r\x1b[K');
        this.summary();
      }
    });
  }

  private progress(): void {
    if (this.total === 0) return;
    if (this.tty) {
      const width = 30;
      const full = Math.round((this.done / this.total) * width);
      process.stderr.write(`\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] scenario ${this.done} of ${this.total}${this.failed ? `, ${this.failed} not passed` : ''}`);
      return;
    }
    const tenth = Math.floor((this.done * 10) / this.total);
    if (tenth !== this.lastShown && (tenth > this.lastShown)) {
      this.lastShown = tenth;
      process.stderr.write(`scenario ${this.done} of ${this.total}${this.failed ? ` (${this.failed} not passed)` : ''}\n`);
    }
  }

  private problems(): Problem[] {
    const out: Problem[] = [];
    for (const a of this.eventDataCollector.getTestCaseAttempts()) {
      if (a.willBeRetried || a.worstTestStepResult.status === Status.PASSED) continue;
      const steps = formatterHelpers.GherkinDocumentParser.getGherkinStepMap(a.gherkinDocument);
      const uri = path.relative(this.cwd, path.resolve(this.cwd, a.pickle.uri));
      const where = `${uri}:${a.pickle.location?.line ?? '?'}`;
      let step = 'after the last step';
      let message: string[] = [];
      let status: string = a.worstTestStepResult.status;
      let reason: string | undefined;
      for (const ts of a.testCase.testSteps) {
        const r = a.stepResults[ts.id];
        if (!r || r.status === Status.PASSED || r.status === Status.SKIPPED) continue;
        status = r.status;
        const ps = ts.pickleStepId ? a.pickle.steps.find((s) => s.id === ts.pickleStepId) : undefined;
        const g = ps ? steps[ps.astNodeIds[0]!] : undefined;
        step = ps ? `${g?.keyword.trim() ?? ''} ${ps.text} (line ${g?.location.line ?? '?'})`.trim() : 'after the last step';
        if (r.status === Status.UNDEFINED && ps) {
          const near = closestSteps(ps.text, this.supportCodeLibrary.stepDefinitions.map((d) => d.pattern.toString()));
          message = ['no step matches this text. The closest steps are:', ...near.map((p) => `  ${p}`),
            `every step is listed in ${path.relative(this.cwd, docsPath()) || docsPath()}`];
          reason = near.length ? `no step matches this text; the closest is "${near[0]}"` : 'no step matches this text';
        } else if (r.status === Status.PENDING) message = ['the step is pending'];
        else message = messageLines(r.message ?? r.exception?.message);
        break;
      }
      out.push({ status, name: a.pickle.name, where, step, message, reason });
    }
    return out;
  }

  private summary(): void {
    const problems = this.problems();
    for (const e of this.parseErrors) this.log(`✖ ${e}\n`);
    if (this.parseErrors.length) this.log('\n');
    for (const p of problems) {
      this.log(`✖ ${p.status.toLowerCase()}: ${p.name}  ${p.where}\n    ${p.step}\n`);
      const shown = p.message.slice(0, MESSAGE_LINES);
      for (const l of shown) this.log(`    ${l}\n`);
      if (p.message.length > shown.length) this.log(`    … ${p.message.length - shown.length} more lines\n`);
      this.log('\n');
    }
    if (problems.length > 0) {
      this.log('Scenarios that did not pass:\n');
      for (const p of problems) this.log(`  ${p.where}  ${p.name} — ${p.step}: ${p.reason ?? p.message[0] ?? p.status.toLowerCase()}\n`);
      this.log('\n');
    }
    const passed = this.done - problems.length;
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    const kinds = new Map<string, number>();
    for (const p of problems) kinds.set(p.status.toLowerCase(), (kinds.get(p.status.toLowerCase()) ?? 0) + 1);
    const detail = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ');
    this.log(`scenarios: ${passed} passed, ${problems.length + this.parseErrors.length} failed\n`);
    this.log(`(${this.done} scenario${this.done === 1 ? '' : 's'} in ${secs} s${detail ? `; ${detail}` : ''}${this.parseErrors.length ? `; ${this.parseErrors.length} feature file(s) could not be read` : ''})\n`);
  }
}
