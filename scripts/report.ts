// `npm run report`: run every spec with the report profile, then build what people read —
//   reports/cucumber.html, reports/junit.xml, reports/cucumber.ndjson   (cucumber's own formats)
//   reports/conformance.html, reports/conformance.json                  (the conformance matrix)
//   reports/allure/index.html                                            (the Allure report)
//   reports/index.html                                                   (where a reader starts)
// and say where to open them. The building is src/report/build.ts (buildReports); this script only
// runs cucumber and calls it. The exit status is cucumber's: non-zero on any failed, undefined or
// pending step (the profile is strict), even though the reports are still built.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildReports, ReportBuildError } from '../src/report/build';
import { totalsLine } from '../src/report/terminal';

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

  let built;
  try {
    built = buildReports({ messagesFile: path.join(reports, 'cucumber.ndjson'), allureResultsDir: results, outDir: reports, root, log: step });
  } catch (e) {
    if (!(e instanceof ReportBuildError)) throw e;
    process.stderr.write(`report: ${e.message}\n`);
    return status || 1;
  }
  for (const [k, t] of Object.entries(built.matrix.totals)) process.stdout.write(`  ${k.padEnd(13)} ${totalsLine(t)}\n`);
  for (const w of built.matrix.warnings) process.stdout.write(`  warning: ${w}\n`);
  if (!built.allure.ok) process.stderr.write(`report: ${built.allure.message}\n`);

  step('done');
  process.stdout.write([
    `  open reports/index.html            (start here: the seed's walk is one click away; works from the file system)`,
    `  Allure report:       reports/allure/index.html`,
    `  conformance matrix:  reports/conformance.html  (and .json; \`npx exitpath coverage\` prints it)`,
    `  cucumber:            reports/cucumber.html, reports/junit.xml, reports/cucumber.ndjson`,
    `  or serve them:       npm run report:serve`,
    '',
  ].join('\n'));
  if (status !== 0) process.stdout.write(`cucumber exited with status ${status}: some scenario failed, or a step is undefined or pending\n`);
  return status !== 0 ? status : built.allure.ok ? 0 : 1;
}

process.exitCode = main();
