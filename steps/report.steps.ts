// Then: the whole walk against a golden trace (features/golden/*.yaml). The walk is normalised first
// (src/trace/golden.ts says what is kept); a difference fails with a readable diff of the crossings
// that vanished, appeared or changed. UPDATE_GOLDEN=1 writes the current walk as the new golden.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Then } from '@cucumber/cucumber';
import { formatDiff, goldenToYaml, normalise, parseTraceFile, type GoldenTrace } from '../src/trace/golden';
import { scenarioOf } from './support/hooks';
import type { ExitpathWorld } from './support/world';

export const GOLDEN_DIR = path.join('features', 'golden');

Then('the trace matches the golden file {string}', async function (this: ExitpathWorld, name: string) {
  if (!/^[\w.-]+\.ya?ml$/.test(name)) throw new Error(`golden file '${name}': expected a file name like 'seed-write.yaml' (it lives in ${GOLDEN_DIR}/)`);
  const file = path.join(GOLDEN_DIR, name);
  const current: GoldenTrace = { title: scenarioOf(this).name, config: this.config, walk: normalise(this.last.events) };
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(file, goldenToYaml(current));
    await this.attach(`wrote ${file} (${current.walk.length} events)`, 'text/plain');
    return;
  }
  if (!fs.existsSync(file)) throw new Error(`no golden file ${file}: run the scenario once with UPDATE_GOLDEN=1 to write it, then review and commit it`);
  const golden = parseTraceFile(fs.readFileSync(file, 'utf8'), file);
  const d = formatDiff(golden, current, [`${file} (golden)`, 'this run']);
  if (!d.same) throw new Error(`the walk differs from ${file}\n${d.text}If the change is intended, rerun with UPDATE_GOLDEN=1 and review the new golden file.`);
});
