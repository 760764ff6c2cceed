// With the world parameter `traceDump` (a directory), each scenario writes every walk it ran — the
// events with their stages, and the summaries — as JSON to DIR/<feature path>:<line>.json. The
// determinism test (test/determinism-process.test.ts) compares these bytes between runs: a scenario
// alone in a fresh process, after every other scenario, and on parallel workers. This only observes.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { After, type ITestCaseHookParameter } from '@cucumber/cucumber';
import { scenarioOf } from './hooks';
import type { ExitpathWorld } from './world';

interface Located { id?: string; location?: { line: number } }

/** The line of the scenario, or of its Examples row, that a pickle was made from. */
function lineOf(doc: ITestCaseHookParameter['gherkinDocument'], ids: readonly string[]): number {
  const want = ids[ids.length - 1];
  let found = 0;
  const visit = (n: unknown): void => {
    if (found || n === null || typeof n !== 'object') return;
    const o = n as Located & Record<string, unknown>;
    if (o.id === want && o.location) { found = o.location.line; return; }
    for (const v of Object.values(o)) {
      if (Array.isArray(v)) v.forEach(visit); else if (v && typeof v === 'object') visit(v);
    }
  };
  visit(doc.feature);
  return found;
}

After(function (this: ExitpathWorld, { pickle, gherkinDocument }: ITestCaseHookParameter) {
  const dir = (this.parameters as { traceDump?: string }).traceDump;
  if (!dir) return;
  const walks = scenarioOf(this).walks.map(({ walk, action }) => ({ action, events: walk.events, summary: walk.summary }));
  const file = path.join(dir, `${pickle.uri}:${lineOf(gherkinDocument, pickle.astNodeIds)}.json`.replace(/[\\/]/g, '__'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(walks));
});
