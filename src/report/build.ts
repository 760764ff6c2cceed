// Building what people read from a finished cucumber run: the message stream (cucumber.ndjson) and
// the Allure results become, under outDir,
//   conformance.html, conformance.json   the conformance matrix, its cells linked to Allure
//   allure/index.html                    the Allure report (one file; opens from the file system)
//   index.html                           the page a reader starts from: the seed's walk first
// Whoever ran cucumber (scripts/report.ts, or any runner with the message and Allure formatters)
// calls buildReports once the run is over.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { allureCategories, SCENARIO_LABEL, seedOf, shapeAllureResults } from './allure';
import { allureUids, generateAllure, writeAllureHome, type OverviewWidget } from './allure-generate';
import { matrixHtml } from './html';
import { landingHtml } from './landing';
import { buildMatrix, ROW_KINDS, type Matrix } from './matrix';
import { readNdjson, readRun, type RunScenario } from './messages';
import { KIND_TITLES, totalsLine } from './terminal';
import { sequenceSvg, esc } from '../trace/svg';

export interface BuildOptions {
  /** cucumber's message stream of the run (the `message` formatter's file). */
  messagesFile: string;
  /** Where the allure-cucumberjs formatter wrote its results; no Allure report when it is missing. */
  allureResultsDir?: string;
  /** Where the reports go (reports/). */
  outDir: string;
  /** The project's root, where the features/ paths in the messages start. Default: the current directory. */
  root?: string;
  /** Progress lines, e.g. `(l) => process.stdout.write(l + '\n')`. */
  log?: (line: string) => void;
}

export interface BuildResult {
  matrix: Matrix;
  scenarios: RunScenario[];
  /** The Allure report was generated; or why not, in one line. */
  allure: { ok: boolean; message?: string };
  /** The files written, relative to outDir. */
  files: string[];
}

/** A problem with the input (a missing or unreadable message stream): one line, no stack. */
export class ReportBuildError extends Error {}

export function buildReports(o: BuildOptions): BuildResult {
  const root = o.root ?? process.cwd();
  const log = o.log ?? (() => {});
  if (!fs.existsSync(o.messagesFile)) throw new ReportBuildError(`${o.messagesFile}: no cucumber message stream (run cucumber with the message formatter first)`);
  let scenarios: RunScenario[], matrix: Matrix;
  try {
    const envelopes = readNdjson(o.messagesFile);
    scenarios = readRun(envelopes).scenarios;
    matrix = buildMatrix(envelopes, root);
  } catch (e) {
    const m = (e as Error).message;
    throw new ReportBuildError(m.startsWith(o.messagesFile) ? m : `${o.messagesFile}: ${m}`);
  }
  fs.mkdirSync(o.outDir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, body: string) => { fs.writeFileSync(path.join(o.outDir, name), body); files.push(name); };

  let allure: BuildResult['allure'] = { ok: false, message: 'no Allure results' };
  if (o.allureResultsDir && fs.existsSync(o.allureResultsDir)) {
    log('shaping the Allure results: each scenario opens on its walk');
    const shaped = shapeAllureResults(o.allureResultsDir, scenarios, root);
    if (shaped.unmatched.length) log(`  ${shaped.unmatched.length} Allure results matched no scenario of the message stream (first: ${shaped.unmatched[0]})`);
    writeAllureExtras(o.allureResultsDir, matrix);
    log('generating the Allure report');
    const home = path.join(o.outDir, '.allure-home');
    writeAllureHome(home, overviewWidget(matrix, seedOf(scenarios)));
    allure = generateAllure({ resultsDir: o.allureResultsDir, outDir: path.join(o.outDir, 'allure'), home });
    if (allure.ok) {
      files.push('allure/index.html');
      const uids = allureUids(fs.readFileSync(path.join(o.outDir, 'allure', 'index.html'), 'utf8'), SCENARIO_LABEL);
      for (const s of matrix.scenarios) {
        const uid = uids.get(s.id);
        if (uid) s.allure = `allure/index.html#testresult/${uid}`;
      }
    }
  }

  log('writing the conformance matrix and the index');
  write('conformance.json', JSON.stringify(matrix, null, 1) + '\n');
  // The matrix page sits next to allure/, so its links need no change.
  write('conformance.html', matrixHtml(matrix, { index: 'index.html', allure: allure.ok ? 'allure/index.html' : undefined, cucumber: 'cucumber.html', json: 'conformance.json' }));
  const seed = seedOf(scenarios);
  write('index.html', landingHtml(matrix, {
    allure: allure.ok, ...(allure.message ? { allureProblem: allure.message } : {}),
    ...(seed ? { seed: matrix.scenarios.find((s) => s.id === seed.id)! } : {}),
  }));
  return { matrix, scenarios, allure, files };
}

/** categories.json, and the coverage numbers for Allure's Environment and Executors widgets. */
function writeAllureExtras(dir: string, m: Matrix): void {
  fs.writeFileSync(path.join(dir, 'categories.json'), JSON.stringify(allureCategories(), null, 1) + '\n');
  const failed = m.scenarios.filter((s) => s.status !== 'passed').length;
  const env: [string, string][] = [
    ['scenarios', `${m.scenarios.length}, ${failed ? `${failed} not passed` : 'all passed'}`],
    ...ROW_KINDS.map((k): [string, string] => [KIND_TITLES[k], totalsLine(m.totals[k])]),
    ['scenarios checked against a real host trace', String(m.scenarios.filter((s) => s.hostTrace).length)],
    ['node', process.version],
  ];
  // environment.xml keeps the order (environment.properties does not).
  fs.writeFileSync(path.join(dir, 'environment.xml'), `<environment>\n${env.map(([k, v]) => `  <parameter><key>${esc(k)}</key><value>${esc(v)}</value></parameter>\n`).join('')}</environment>\n`);
  fs.rmSync(path.join(dir, 'environment.properties'), { force: true });
  fs.writeFileSync(path.join(dir, 'executor.json'), JSON.stringify({
    name: 'npm run report', type: 'local', buildName: 'the conformance matrix', buildUrl: '../conformance.html', reportName: 'exitpath',
  }) + '\n');
}

/** The Overview's first widget: the seed's ten steps drawn, and what the specification covers. */
function overviewWidget(m: Matrix, seed: RunScenario | undefined): OverviewWidget {
  const o: string[] = [];
  o.push('<h2>Start here: the seed’s walk, ① → ⑩</h2>');
  if (seed && seed.walks.length) {
    const events = seed.walks[seed.walks.length - 1]!.events;
    const three = events.findIndex((e) => e.stage === 3), eight = events.findIndex((e) => e.stage === 8);
    const steps = events.filter((e, i) => e.stage !== undefined || (e.kind === 'exit-handler' && i > three && i < eight));
    o.push('<p>One <code>write()</code> of a guest process, from the process to the host disk and back, in the ten steps of the talk “QEMUとkvmとvt-x” (2013). ' +
      `<a data-seed href="#suites">Open the whole walk: “${esc(seed.name)}”</a> — every crossing drawn and captioned, then told step by step.</p>`);
    o.push(`<div class="exitpath-svg">${sequenceSvg(steps, { title: 'The seed’s ten steps: a guest write() on a virtio-blk disk' })}</div>`);
  }
  o.push('<h2>What the specification covers</h2><table><tr><th></th><th>specified</th><th>only walked through</th><th>no scenario</th><th>checked against a real host trace</th></tr>');
  for (const k of ROW_KINDS) {
    const t = m.totals[k];
    o.push(`<tr><td>${esc(KIND_TITLES[k])}</td><td>${t.specified} of ${t.rows - t.outOfScope}</td><td>${t.exercisedOnly}</td><td class="${t.uncovered ? 'gap' : ''}">${t.uncovered}</td><td>${t.hostTrace}</td></tr>`);
  }
  o.push('</table><p><a href="../conformance.html">The conformance matrix</a> names the scenarios behind each number.</p>');
  return {
    html: o.join('\n'),
    ...(seed ? { seed: { parentSuite: `features/${seed.folder}`, suite: seed.feature, name: seed.name } } : {}),
  };
}
