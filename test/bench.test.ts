// The benchmark is not a test of speed: this runs it once in its quick mode (tiny sizes) to prove
// it still works end to end, and checks the shape of what it writes.

import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { FIGURES, type BenchReport } from '../scripts/bench';
import { packageRoot } from '../runner/paths';

const ROOT = packageRoot();

test('npm run bench -- --quick measures every figure and writes the JSON report', () => {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'exitpath-bench-')), 'bench.json');
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, '..', 'scripts', 'bench.js'), '--quick', '--out', out],
    { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  for (const f of FIGURES) expect(r.stdout).to.include(f);

  const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport;
  expect(report.mode).to.equal('quick');
  expect(report.machine.nproc).to.be.a('number').greaterThan(0);
  expect(report.machine.cpuModel).to.be.a('string').not.empty;
  const built = existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));
  for (const f of FIGURES) {
    const fig = report.figures[f]!;
    expect(fig, f).to.be.an('object');
    expect(fig.target, f).to.match(/^(>=|<=) /);
    if (f === 'explainColdSeconds' && !built) { expect(fig.value).to.equal(null); continue; }
    expect(report[f], f).to.be.a('number').greaterThan(0);
    expect(fig.value, f).to.equal(report[f]);
    expect(fig.met, f).to.be.a('boolean');
  }
  expect(report.recordsPerExit).to.be.a('number').greaterThan(0);
  expect(report.baselineRecordsPerSec).to.be.a('number').greaterThan(0);
});
