// How exitpath's steps are defined: cucumber's Given/When/Then, plus what a reader and the checks need
// to know of each step — what it does (docs/steps.md is generated from this), which of its arguments
// are names of the model (checked against the vocabulary before the step runs, so a misspelt name
// fails instead of passing vacuously), and whether it counts or denies something (then a name this
// configuration can never produce fails too). Count steps take a scope: the last action (the default)
// or the whole scenario.

import { Given as defineGiven, When as defineWhen, Then as defineThen } from '@cucumber/cucumber';
import { pattern as phrasePattern, type Phrase } from '../../src/report/vocabulary';
import type { NameKind } from '../../src/vocabulary';
import type { ExitpathWorld } from './world';

export type Keyword = 'Given' | 'When' | 'Then';

export interface StepDoc {
  /** What the step does or checks, in a sentence or two: docs/steps.md's notes column. */
  doc: string;
  /** Argument position → the kind of name it is (null for a non-name argument). */
  names?: readonly (NameKind | null)[];
  /** The step says a named thing is absent, or counts it: a name this configuration never produces fails. */
  negative?: boolean;
  /** The step counts or denies over the last action by default; also `… in the whole scenario`. */
  scope?: boolean;
  /** Step text that uses it, when the pattern alone does not show how (docs, and the misspelling test). */
  example?: string;
}

export interface StepEntry {
  keyword: Keyword;
  pattern: string | RegExp;
  /** The Japanese phrasing of the same step, when it has one. */
  ja?: string | RegExp;
  section: string;
  doc: StepDoc;
}

/** Every step defined through this module, in the order defined. */
export const STEPS: StepEntry[] = [];

export const SCOPE_SUFFIXES = { action: ' in the last action', scenario: ' in the whole scenario' } as const;

/** A pattern with a scope suffix: a cucumber expression gets the text, a regular expression before its `$`. */
function withSuffix(pattern: string | RegExp, suffix: string): string | RegExp {
  if (typeof pattern === 'string') return pattern + suffix;
  return new RegExp(pattern.source.replace(/\$$/, '') + suffix + '$', pattern.flags);
}

type StepFn = (this: ExitpathWorld, ...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Cucumber checks a step function's arity against its parameters: a wrapper keeps the original's. */
function sameArity<F extends (...a: never[]) => unknown>(wrapper: F, of: StepFn): F {
  return Object.defineProperty(wrapper, 'length', { value: of.length });
}

function definer(keyword: Keyword, section: string) {
  const cucumber = keyword === 'Given' ? defineGiven : keyword === 'When' ? defineWhen : defineThen;
  return (what: string | RegExp | Phrase, doc: StepDoc, fn: StepFn): void => {
    const phrase = typeof what === 'object' && !(what instanceof RegExp) ? what : undefined;
    const pattern = phrase ? phrasePattern(phrase.en) : what as string | RegExp;
    const ja = phrase ? phrasePattern(phrase.ja) : undefined;
    STEPS.push({ keyword, pattern, ...(ja ? { ja } : {}), section, doc });
    const run = (scope: 'action' | 'scenario') => sameArity(function (this: ExitpathWorld, ...args: unknown[]) {
      // On a host trace, a step that needs what no host trace holds fails first (support/host_trace_limits.ts).
      this.checkHostTrace(keyword, String(pattern), args);
      for (const [i, kind] of (doc.names ?? []).entries()) {
        if (kind && args[i] !== undefined) this.checkName(kind, String(args[i]), !!doc.negative);
      }
      // Every step is defined here, so every step sets the scope its own text asked for.
      this.scope = scope;
      return fn.apply(this, args);
    }, fn);
    cucumber(pattern, run('action'));
    if (ja) {
      // The Japanese phrasing may name the arguments in another order (the phrase's jaOrder).
      const order = phrase!.jaOrder;
      const inEnglishOrder = run('action');
      cucumber(ja, sameArity(function (this: ExitpathWorld, ...args: unknown[]) {
        const en = order ? [...order.map((i) => args[i]), ...args.slice(order.length)] : args;
        return inEnglishOrder.apply(this, en);
      }, fn));
    }
    if (doc.scope) {
      cucumber(withSuffix(pattern, SCOPE_SUFFIXES.action), run('action'));
      cucumber(withSuffix(pattern, SCOPE_SUFFIXES.scenario), run('scenario'));
    }
  };
}

/** The Given/When/Then of one section of the vocabulary (a heading of docs/steps.md). */
export function stepsAbout(section: string) {
  return { Given: definer('Given', section), When: definer('When', section), Then: definer('Then', section) };
}
