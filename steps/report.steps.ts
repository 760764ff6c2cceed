// Then: the whole walk against a golden trace, a YAML file beside the feature file. The walk is
// normalised first (src/trace/golden.ts says what is kept); a difference fails with a readable diff
// of the crossings that vanished, appeared or changed. `exitpath test FEATURE --update-golden` (or
// UPDATE_GOLDEN=1) writes the current walk as the new golden file, for the scenarios that ran only.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../src/config';
import { VOCABULARY as V } from '../src/report/vocabulary';
import { changedFrom, formatDiff, goldenToYaml, normalise, parseTraceFile, withDefaults, type GoldenTrace } from '../src/trace/golden';
import { stepsAbout } from './support/define';
import { scenarioOf } from './support/hooks';
import { SpecError, type ExitpathWorld } from './support/world';

const { Then } = stepsAbout('golden traces');

Then(V.golden, { doc: 'the normalised walk equals the golden file, a YAML file named relative to the feature file (crossings and kvm\'s exit handlers, in order; no time, guest RIPs, host pointers or qemu-kvm fd numbers); a difference prints the crossings that vanished, appeared or changed; `exitpath test FEATURE --update-golden` rewrites it', example: 'the trace matches the golden file "seed-write.yaml"' }, async function (this: ExitpathWorld, name: string) {
  if (!/\.ya?ml$/.test(name)) throw new SpecError(`golden file '${name}': expected a YAML file name like 'seed-write.yaml', relative to the feature file`);
  const feature = scenarioOf(this).uri;
  const file = path.join(path.dirname(feature), name);
  const current: GoldenTrace = { title: scenarioOf(this).name, config: changedFrom(DEFAULT_CONFIG, this.config), walk: normalise(this.last.events) };
  if (this.parameters.updateGolden || process.env.UPDATE_GOLDEN === '1') {
    // A golden file that exists keeps its title: two scenarios (a feature and its translation) may
    // share one, and the file should not change with the order they ran in.
    const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    let title = current.title;
    try { if (before !== undefined) title = parseTraceFile(before, file).title ?? title; } catch { /* a file that cannot be read is rewritten whole */ }
    const text = goldenToYaml({ ...current, title });
    if (text === before) {
      await this.attach(`${file} is unchanged (${current.walk.length} events)`, 'text/plain');
      return;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    await this.attach(`wrote ${file} (${current.walk.length} events)`, 'text/plain');
    return;
  }
  if (!fs.existsSync(file)) throw new SpecError(`no golden file ${file}: run this scenario once with \`exitpath test ${feature} --update-golden\` to write it, then review and commit it`);
  const golden = parseTraceFile(fs.readFileSync(file, 'utf8'), file);
  const d = formatDiff({ ...golden, config: withDefaults(DEFAULT_CONFIG, golden.config) }, { ...current, config: this.config },
    [`${file} (golden)`, 'this run']);
  if (!d.same) throw new Error(`the walk differs from ${file}\n${d.text}If the change is intended, rerun with --update-golden and review the new golden file.`);
});
