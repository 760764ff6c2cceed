// The reports of `exitpath test --report DIR`: cucumber writes its own formats during the run —
//   DIR/cucumber.html, DIR/junit.xml, DIR/cucumber.ndjson, and the Allure results —
// then buildReports (src/report/build.ts) makes what people read from them:
//   DIR/conformance.html, DIR/conformance.json, DIR/allure/index.html, DIR/index.html.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildReports, ReportBuildError } from '../src/report/build';
import { totalsLine } from '../src/report/terminal';

/** The formats cucumber writes during a run with `--report DIR`. */
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

/** Build the reports of the run that just ended; the lines to print, and whether all were built. */
export function writeReports(dir: string, cwd: string): { ok: boolean; lines: string[] } {
  const rel = (p: string) => path.relative(cwd, p) || p;
  const lines: string[] = [];
  let built;
  try {
    built = buildReports({ messagesFile: path.join(dir, 'cucumber.ndjson'), allureResultsDir: path.join(dir, 'allure-results'), outDir: dir, root: cwd });
  } catch (e) {
    if (!(e instanceof ReportBuildError)) throw e;
    return { ok: false, lines: [`report: ${e.message}`] };
  }
  for (const [k, t] of Object.entries(built.matrix.totals)) lines.push(`  ${k.padEnd(13)} ${totalsLine(t)}`);
  for (const w of built.matrix.warnings) lines.push(`  warning: ${w}`);
  if (!built.allure.ok) lines.push(`report: ${built.allure.message}`);
  lines.push(
    `open ${rel(path.join(dir, 'index.html'))}   (start here: the seed's walk is one click away; works from the file system)`,
    `  Allure report:       ${rel(path.join(dir, 'allure', 'index.html'))}`,
    `  conformance matrix:  ${rel(path.join(dir, 'conformance.html'))}  (and .json; \`npx exitpath coverage --from ${rel(path.join(dir, 'cucumber.ndjson'))}\` prints it)`,
    `  cucumber:            ${rel(path.join(dir, 'cucumber.html'))}, ${rel(path.join(dir, 'junit.xml'))}, ${rel(path.join(dir, 'cucumber.ndjson'))}`,
  );
  return { ok: built.allure.ok, lines };
}
