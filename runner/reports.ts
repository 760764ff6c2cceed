// The reports of a run, built after cucumber wrote its own formats into DIR:
//   DIR/cucumber.html, DIR/junit.xml, DIR/cucumber.ndjson   (cucumber's formats, written during the run)
//   DIR/conformance.html, DIR/conformance.json               (the conformance matrix)
//   DIR/allure/index.html                                     (the Allure report, from DIR/allure-results)
//   DIR/index.html                                            (a page linking them all)

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildMatrix, readNdjson } from '../src/report/matrix';
import { matrixHtml } from '../src/report/html';
import { landingHtml } from '../src/report/landing';

/** The files cucumber writes during a run with `--report DIR`. */
export function reportFormats(dir: string, allureReporter: string): { format: (string | [string, string])[]; resultsDir: string } {
  return {
    format: [
      ['html', path.join(dir, 'cucumber.html')],
      ['junit', path.join(dir, 'junit.xml')],
      ['message', path.join(dir, 'cucumber.ndjson')],
      // The Allure formatter must write to a file, or it takes stdout from the progress output.
      [allureReporter, path.join(dir, '.allure-reporter.out')],
    ],
    resultsDir: path.join(dir, 'allure-results'),
  };
}

/** Empty what a previous run left, so the Allure results are this run's alone. */
export function prepareReportDir(dir: string): void {
  fs.rmSync(path.join(dir, 'allure-results'), { recursive: true, force: true });
  fs.rmSync(path.join(dir, 'allure'), { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
}

export interface BuiltReports { ok: boolean; lines: string[] }

export function buildReports(dir: string, cwd: string): BuiltReports {
  const lines: string[] = [];
  const ndjson = path.join(dir, 'cucumber.ndjson');
  if (!fs.existsSync(ndjson)) return { ok: false, lines: [`report: cucumber wrote no ${ndjson}; nothing to build`] };
  const rel = (p: string) => path.relative(cwd, p) || p;

  const m = buildMatrix(readNdjson(ndjson), cwd);
  fs.writeFileSync(path.join(dir, 'conformance.json'), JSON.stringify(m, null, 1) + '\n');
  fs.writeFileSync(path.join(dir, 'conformance.html'), matrixHtml(m, { allure: 'allure/index.html', cucumber: 'cucumber.html', json: 'conformance.json' }));
  for (const [k, t] of Object.entries(m.totals)) {
    lines.push(`  ${k.padEnd(13)} ${t.specified}/${t.rows - t.outOfScope} specified, ${t.exercisedOnly} only walked through, ${t.uncovered} with no scenario`);
  }
  for (const w of m.warnings) lines.push(`  warning: ${w}`);

  const results = path.join(dir, 'allure-results');
  fs.mkdirSync(results, { recursive: true });
  fs.writeFileSync(path.join(results, 'environment.properties'),
    `node=${process.version}\nconformance.matrix=../conformance.html\nscenarios=${m.scenarios.length}\n`);
  const allure = spawnSync(process.execPath, [path.join(path.dirname(require.resolve('allure-commandline/package.json')), 'bin', 'allure'), 'generate', results, '-o', path.join(dir, 'allure'), '--clean', '--single-file'], {
    cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8',
  });
  const allureOk = allure.status === 0 && fs.existsSync(path.join(dir, 'allure', 'index.html'));
  if (!allureOk) lines.push(`report: allure generate failed (it needs Java 8 or later: \`java -version\`): ${(allure.stderr || allure.stdout || String(allure.error ?? '')).trim().split('\n')[0]}`);

  fs.writeFileSync(path.join(dir, 'index.html'), landingHtml(m, { allure: allureOk }));
  lines.push(
    `open ${rel(path.join(dir, 'index.html'))}   (everything; works from the file system)`,
    `  Allure report:       ${rel(path.join(dir, 'allure', 'index.html'))}`,
    `  conformance matrix:  ${rel(path.join(dir, 'conformance.html'))}  (and .json; \`npx exitpath coverage --from ${rel(ndjson)}\` prints it)`,
    `  cucumber:            ${rel(path.join(dir, 'cucumber.html'))}, ${rel(path.join(dir, 'junit.xml'))}, ${rel(ndjson)}`,
  );
  return { ok: allureOk, lines };
}
