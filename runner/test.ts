// `exitpath test`: the project's features, run by cucumber through its JavaScript API with exitpath's
// steps (compiled JavaScript: nothing to transpile) and the project's own step files, then, with
// --report, the reports people read.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfiguration, loadSources, runCucumber, type IRunEnvironment, type ISourcesCoordinates } from '@cucumber/cucumber/api';
import type { IConfiguration } from '@cucumber/cucumber';
import { parseTestArgs, TEST_USAGE, UsageError, type TestOptions } from './args';
import { runnerModule, stepsEntry } from './paths';
import { prepareReportDir, reportFormats, writeReports } from './reports';

const CONFIG_FILES = ['cucumber.js', 'cucumber.cjs', 'cucumber.mjs', 'cucumber.json', 'cucumber.yaml', 'cucumber.yml'];

/**
 * Feature paths as given (default features/), each checked to exist; `:LINE` suffixes kept, and a
 * folder taken as every .feature and literate .feature.md file under it.
 */
function featurePaths(o: TestOptions, cwd: string): string[] {
  const paths = o.paths.length ? o.paths : ['features'];
  return paths.map((p) => {
    const file = p.replace(/(:\d+)+$/, '');
    const abs = path.resolve(cwd, file);
    if (!fs.existsSync(abs)) {
      throw new UsageError(o.paths.length ? `no such feature file or folder: ${file}` : `no features/ folder in ${cwd}: name the feature files or folders to run`);
    }
    if (fs.statSync(abs).isDirectory()) return `${file.replace(/\/+$/, '')}/**/*.{feature,feature.md}`;
    if (!/\.feature(\.md)?$/.test(file)) throw new UsageError(`${file}: not a feature file (.feature or .feature.md)`);
    return p;
  });
}

/**
 * A run that checks nothing is not a green run: a `PATH:LINE` whose line starts no scenario (nor an
 * example row, nor a rule or feature), or a selection (--tags, --name) that leaves no scenario, is an
 * error before anything runs; so is a feature file that cannot be parsed (each place said in one line).
 */
async function checkSelection(o: TestOptions, sources: ISourcesCoordinates, environment: IRunEnvironment): Promise<void> {
  const all = o.paths.length ? o.paths : ['features/'];
  for (const p of all) {
    const m = /^(.*?)((?::\d+)+)$/.exec(p);
    if (!m) continue;
    const file = m[1]!;
    const whole = await loadSources({ ...sources, paths: [file], names: [], tagExpression: '' }, environment);
    if (whole.errors.length) continue;
    for (const line of m[2]!.slice(1).split(':')) {
      const one = await loadSources({ ...sources, paths: [`${file}:${line}`], names: [], tagExpression: '' }, environment);
      if (one.plan.length) continue;
      const starts = [...new Set(whole.plan.map((x) => x.location.line))];
      throw new UsageError(`${file}:${line}: no scenario at line ${line}` +
        (starts.length ? ` (the scenarios of ${file} start at line${starts.length > 1 ? 's' : ''} ${starts.join(', ')})` : ` (${file} has no scenario)`));
    }
  }
  const planned = await loadSources(sources, environment);
  if (planned.errors.length) throw new UnreadableFeatures(planned.errors.map(parseErrorLine));
  if (planned.plan.length) return;
  const filters = [o.tags ? `--tags '${o.tags}'` : '', ...o.names.map((n) => `--name '${n}'`)].filter(Boolean);
  throw new NothingToRun(`no scenario to run: ${all.join(' ')}${filters.length ? ` with ${filters.join(' ')}` : ''} selects none`);
}

/** Gherkin's token names, as a reader says them. */
const TOKENS: Record<string, string> = {
  EOF: 'the end of the file', TableRow: 'a table row (| … |)', DocStringSeparator: 'a doc string (""")', StepLine: 'a step (Given/When/Then/And/But and its text)',
  TagLine: 'a tag (@…)', ExamplesLine: '"Examples:"', ScenarioLine: '"Scenario:"', RuleLine: '"Rule:"', BackgroundLine: '"Background:"',
  FeatureLine: '"Feature:"', Comment: 'a comment (# …)', Empty: 'an empty line', Language: 'a "# language:" line', Other: 'free text',
};

/** One parse error of a feature file: where, what was there, and what could have been. */
function parseErrorLine(e: { uri: string; location: { line: number; column?: number }; message: string }): string {
  const where = `${e.uri}:${e.location.line}${e.location.column ? `:${e.location.column}` : ''}`;
  const m = /expected: (.*), got '(.*)'$/.exec(e.message);
  if (!m) return `${where}: ${e.message.replace(/^\(\d+:\d+\): /, '')}`;
  const expected = m[1]!.split(/,\s*/).map((t) => TOKENS[t.replace(/^#/, '')] ?? t.replace(/^#/, ''))
    .filter((t) => t !== TOKENS.Empty && t !== TOKENS.Comment);
  const last = expected.pop();
  return `${where}: cannot read '${m[2]!.trim()}' here; expected ${expected.length ? `${expected.join(', ')} or ` : ''}${last}`;
}

/** Feature files that cannot be parsed: each error in one line, status 2, and nothing runs. */
export class UnreadableFeatures extends Error {
  constructor(readonly lines: string[]) { super(lines.join('\n')); }
}

/** A selection that leaves no scenario: exit status 1, as a run that checked nothing cannot pass. */
export class NothingToRun extends Error {}

/** The project's own JavaScript support code in features/ (cucumber's default place for it). */
function projectSupport(cwd: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (/\.(js|cjs|mjs)$/.test(e.name)) out.push(p);
    }
  };
  walk(path.join(cwd, 'features'));
  return out.sort();
}

export async function runTests(o: TestOptions, cwd: string): Promise<number> {
  const paths = featurePaths(o, cwd);
  if (o.profile !== undefined && !CONFIG_FILES.some((f) => fs.existsSync(path.join(cwd, f)))) {
    throw new UsageError(`--profile ${o.profile}: there is no cucumber configuration file here (${CONFIG_FILES.join(', ')})`);
  }
  const reportDir = o.report !== undefined ? path.resolve(cwd, o.report) : undefined;
  const formats: IConfiguration['format'] = [runnerModule('formatter')];
  let resultsDir: string | undefined;
  if (reportDir) {
    prepareReportDir(reportDir);
    const r = reportFormats(reportDir, require.resolve('allure-cucumberjs/reporter'));
    formats.push(...r.format);
    resultsDir = r.resultsDir;
  }
  const provided: Partial<IConfiguration> = {
    paths,
    require: [stepsEntry(), ...o.require],
    import: projectSupport(cwd),
    requireModule: o.requireModule,
    format: formats,
    formatOptions: { ...(resultsDir ? { resultsDir } : {}), snippetSyntax: runnerModule('snippets') },
    strict: true,
    failFast: o.failFast,
    parallel: o.parallel,
    tags: o.tags ?? '',
    name: o.names,
    worldParameters: { report: !!reportDir, updateGolden: o.updateGolden },
  };
  const environment: IRunEnvironment = { cwd, stdout: process.stdout, stderr: process.stderr, env: process.env };
  let configuration;
  try {
    configuration = await loadConfiguration(
      o.profile !== undefined ? { profiles: [o.profile], provided } : { file: false, provided }, environment);
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!);
  }
  // exitpath's settings win over the profile's where both are given: its steps are always there,
  // and its formatter writes stdout.
  const run = configuration.runConfiguration;
  run.support.requirePaths = [...new Set([...(run.support.requirePaths ?? []), ...provided.require!])];
  await checkSelection(o, run.sources, environment);
  const { success } = await runCucumber(run, environment);
  let status = success ? 0 : 1;
  if (reportDir) {
    process.stdout.write('building the reports\n');
    const built = writeReports(reportDir, cwd);
    process.stdout.write(built.lines.join('\n') + '\n');
    if (!built.ok && status === 0) status = 1;
  }
  return status;
}

/** The `exitpath test` command: its exit status. */
export async function main(argv: readonly string[], cwd = process.cwd()): Promise<number> {
  try {
    if (argv.includes('-h') || argv.includes('--help')) { process.stdout.write(TEST_USAGE + '\n'); return 0; }
    return await runTests(parseTestArgs(argv), cwd);
  } catch (e) {
    if (e instanceof UnreadableFeatures) {
      for (const l of e.lines) process.stderr.write(`exitpath test: ${l}\n`);
      process.stderr.write(`exitpath test: ${e.lines.length === 1 ? 'a feature file' : `${e.lines.length} places in the feature files`} could not be read: nothing ran\n`);
      return 2;
    }
    if (e instanceof NothingToRun) {
      process.stderr.write(`exitpath test: ${e.message}\n`);
      return 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`exitpath test: ${e.message} (exitpath test --help for more)\n`);
      return 2;
    }
    throw e;
  }
}
