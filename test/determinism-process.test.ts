// No run depends on what ran before it in the process. Every golden scenario (one that compares its
// walk with a golden trace) is run alone in a fresh process, and again in one process after every
// scenario of the suite; features/exits/no-exit.feature is run serially and on two parallel workers.
// Each scenario writes its whole walk — events, stages, details, simulated times, summaries — as
// JSON (steps/support/trace_dump.ts), and the bytes must be the same.

import { test } from 'node:test';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateMessages } from '@cucumber/gherkin';
import { IdGenerator, SourceMediaType } from '@cucumber/messages';
import { packageRoot } from '../runner/paths';

const ROOT = packageRoot();
const CUCUMBER = path.join(ROOT, 'node_modules', '@cucumber', 'cucumber', 'bin', 'cucumber.js');
const GOLDEN_STEP = /^(the trace matches the golden file|トレースはゴールデンファイル) /;

function featureFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? featureFiles(p) : /\.feature(\.md)?$/.test(e.name) ? [p] : [];
  }).sort();
}

/** file:line of every scenario (or Examples row) with a golden-trace step. */
function goldenScenarios(): string[] {
  const out: string[] = [];
  for (const file of featureFiles(path.join(ROOT, 'features'))) {
    const uri = path.relative(ROOT, file);
    const md = file.endsWith('.md');
    const envelopes = generateMessages(fs.readFileSync(file, 'utf8'), uri,
      md ? SourceMediaType.TEXT_X_CUCUMBER_GHERKIN_MARKDOWN : SourceMediaType.TEXT_X_CUCUMBER_GHERKIN_PLAIN,
      { includeGherkinDocument: true, includePickles: true, includeSource: false, newId: IdGenerator.incrementing() });
    const lines = new Map<string, number>();
    const index = (n: unknown): void => {
      if (n === null || typeof n !== 'object') return;
      const o = n as { id?: string; location?: { line: number } } & Record<string, unknown>;
      if (typeof o.id === 'string' && o.location) lines.set(o.id, o.location.line);
      for (const v of Object.values(o)) if (v && typeof v === 'object') (Array.isArray(v) ? v.forEach(index) : index(v));
    };
    for (const e of envelopes) if (e.gherkinDocument) index(e.gherkinDocument.feature);
    for (const e of envelopes) {
      const p = e.pickle;
      if (!p || !p.steps.some((s) => GOLDEN_STEP.test(s.text))) continue;
      out.push(`${uri}:${lines.get(p.astNodeIds[p.astNodeIds.length - 1]!)}`);
    }
  }
  return out;
}

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, { cwd: ROOT });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', (code) => resolve({ code, out }));
  });
}

const cucumber = (paths: string[], dump: string, extra: string[] = []) =>
  run([CUCUMBER, ...paths, '--format', 'summary', '--world-parameters', JSON.stringify({ traceDump: dump }), ...extra]);

const read = (dir: string): Map<string, string> => new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));

test('every golden scenario records the same bytes alone in a fresh process and after all the others; no-exit.feature the same serially and on 2 workers', async () => {
  const golden = goldenScenarios();
  expect(golden.length, 'golden scenarios found').to.be.greaterThan(4);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-determinism-'));
  const dir = (name: string) => path.join(tmp, name);
  // One process: the whole suite, then the golden scenarios again — now after every other one.
  const afterAll = run([path.join(__dirname, 'support', 'cucumber-runs.js'),
    JSON.stringify([{ paths: [], traceDump: dir('suite') }, { paths: golden, traceDump: dir('after-all') }])]);
  // Meanwhile: each golden scenario in a fresh process, and no-exit.feature on two workers.
  const fresh: { code: number | null; out: string }[] = [];
  for (const g of golden) fresh.push(await cucumber([g], dir('fresh')));
  const parallel = await cucumber(['features/exits/no-exit.feature'], dir('parallel'), ['--parallel', '2']);
  const suite = await afterAll;
  for (const r of [...fresh, parallel, suite]) expect(r.code, r.out).to.equal(0);

  const alone = read(dir('fresh'));
  const after = read(dir('after-all'));
  const serial = read(dir('suite'));
  expect([...alone.keys()].sort()).to.deep.equal([...after.keys()].sort());
  expect(alone.size).to.equal(golden.length);
  for (const [k, bytes] of alone) {
    expect(after.get(k) === bytes, `${k}: the walk after the whole suite differs from the walk in a fresh process`).to.equal(true);
    expect(serial.get(k) === bytes, `${k}: the walk inside the suite differs from the walk in a fresh process`).to.equal(true);
  }
  const workers = read(dir('parallel'));
  expect(workers.size, 'no-exit.feature scenarios').to.be.greaterThan(20);
  for (const [k, bytes] of workers) expect(serial.get(k) === bytes, `${k}: serial and --parallel 2 differ`).to.equal(true);
  fs.rmSync(tmp, { recursive: true, force: true });
});
