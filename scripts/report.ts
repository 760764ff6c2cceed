// `npm run report`: run every spec with the report profile, then build what people read —
//   reports/cucumber.html, reports/junit.xml, reports/cucumber.ndjson   (cucumber's own formats)
//   reports/conformance.html, reports/conformance.json                  (the conformance matrix)
//   reports/allure/index.html                                            (the Allure report)
//   reports/index.html                                                   (a page linking them all)
// and say where to open them. The exit status is cucumber's: non-zero on any failed, undefined or
// pending step (the profile is strict), even though the reports are still built.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildMatrix, readNdjson } from '../src/report/matrix';
import { matrixHtml } from '../src/report/html';
import { landingHtml } from '../src/report/landing';

const root = path.join(__dirname, '..');
const reports = path.join(root, 'reports');
const results = path.join(reports, 'allure-results');

function step(msg: string): void { process.stdout.write(`\n[report] ${msg}\n`); }

function main(): number {
  fs.rmSync(results, { recursive: true, force: true });
  fs.rmSync(path.join(reports, 'allure'), { recursive: true, force: true });
  fs.mkdirSync(reports, { recursive: true });

  step('running every scenario (one dot per step)');
  const cucumber = spawnSync(process.execPath, [path.join(path.dirname(require.resolve('@cucumber/cucumber/package.json')), 'bin', 'cucumber.js'), '--profile', 'report', ...process.argv.slice(2)], {
    cwd: root, stdio: 'inherit', env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
  });
  const status = cucumber.status ?? 1;
  const ndjson = path.join(reports, 'cucumber.ndjson');
  if (!fs.existsSync(ndjson)) { process.stderr.write('report: cucumber wrote no reports/cucumber.ndjson; nothing to build\n'); return status || 1; }

  step('building the conformance matrix');
  const m = buildMatrix(readNdjson(ndjson), path.join(root, 'features', 'golden'));
  fs.writeFileSync(path.join(reports, 'conformance.json'), JSON.stringify(m, null, 1) + '\n');
  fs.writeFileSync(path.join(reports, 'conformance.html'), matrixHtml(m, { allure: 'allure/index.html', cucumber: 'cucumber.html', json: 'conformance.json' }));
  for (const [k, t] of Object.entries(m.totals)) {
    process.stdout.write(`  ${k.padEnd(13)} ${t.specified}/${t.rows - t.outOfScope} specified, ${t.exercisedOnly} only walked through, ${t.uncovered} with no scenario\n`);
  }
  for (const w of m.warnings) process.stdout.write(`  warning: ${w}\n`);

  step('generating the Allure report');
  fs.mkdirSync(results, { recursive: true });
  fs.writeFileSync(path.join(results, 'environment.properties'),
    `node=${process.version}\nconformance.matrix=../conformance.html\nscenarios=${m.scenarios.length}\n`);
  const allure = spawnSync(process.execPath, [path.join(path.dirname(require.resolve('allure-commandline/package.json')), 'bin', 'allure'), 'generate', results, '-o', path.join(reports, 'allure'), '--clean', '--single-file'], {
    cwd: root, stdio: ['ignore', 'inherit', 'inherit'],
  });
  const allureOk = allure.status === 0 && fs.existsSync(path.join(reports, 'allure', 'index.html'));
  if (!allureOk) process.stderr.write('report: allure generate failed (it needs Java 8 or later: `java -version`)\n');

  fs.writeFileSync(path.join(reports, 'index.html'), landingHtml(m, { allure: allureOk }));
  step('done');
  process.stdout.write([
    `  open reports/index.html            (everything; works from the file system)`,
    `  Allure report:       reports/allure/index.html`,
    `  conformance matrix:  reports/conformance.html  (and .json; \`npx exitpath coverage\` prints it)`,
    `  cucumber:            reports/cucumber.html, reports/junit.xml, reports/cucumber.ndjson`,
    `  or serve them:       npm run report:serve`,
    '',
  ].join('\n'));
  if (status !== 0) process.stdout.write(`cucumber exited with status ${status}: some scenario failed, or a step is undefined or pending\n`);
  return status !== 0 ? status : allureOk ? 0 : 1;
}

process.exitCode = main();
