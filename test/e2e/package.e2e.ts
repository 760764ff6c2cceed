// From outside: the package as a team installs it. `npm pack` makes the tarball; a fresh project that
// depends on nothing else installs it with a lock file made from this repository's (so `npm ci
// --offline` needs nothing the repository's own `npm ci` did not fetch); two features there — one
// that passes, one with a misspelt syscall — run through `npx exitpath test`, with and without
// --report, and through cucumber-js with the exitpath/cucumber preset.
// Run: `npm run test:package`.

import { before, test } from 'node:test';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { packageRoot } from '../../runner/paths';

const ROOT = packageRoot();
let project = '';

function sh(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
}

const OK = `Feature: our exit path
  Scenario: the seed's write submits its five reads and writes with Linux AIO
    The open reads the directory's block and the inode bitmap, the write the block bitmap, then
    writes the data and the inode; its flush goes to a worker thread's fdatasync.
    When the guest process writes "hello" to "/hello.txt"
    Then the VM exit reason is IO_INSTRUCTION
    And the host calls io_submit 5 times
    And the host calls fdatasync 1 time
`;
const TYPO = `Feature: a misspelt name
  Scenario: a syscall nobody makes
    When the guest process writes "hello" to "/hello.txt"
    Then the host does not call io_sumbit
`;

before(() => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-package-'));
  const packed = sh('npm', ['pack', '--silent', '--pack-destination', tmp], ROOT);
  expect(packed.status, packed.stderr).to.equal(0);
  const tarball = packed.stdout.trim().split('\n').pop()!;
  project = path.join(tmp, 'project');
  fs.mkdirSync(path.join(project, 'features'), { recursive: true });
  fs.renameSync(path.join(tmp, tarball), path.join(project, tarball));

  // The project's lock file: exitpath from the tarball, and exactly the run-time packages this
  // repository's lock file pins (marked dev, as they come with a devDependency).
  const own = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const integrity = 'sha512-' + crypto.createHash('sha512').update(fs.readFileSync(path.join(project, tarball))).digest('base64');
  const devDependencies = { exitpath: `file:${tarball}` };
  const packages: Record<string, unknown> = {
    '': { name: 'project', version: '1.0.0', devDependencies },
    'node_modules/exitpath': { version: own.version, resolved: `file:${tarball}`, integrity, dev: true, license: own.license, dependencies: own.dependencies, bin: own.bin, engines: own.engines },
  };
  for (const [k, v] of Object.entries(lock.packages)) if (k && !v.dev) packages[k] = { ...v, dev: true };
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'project', version: '1.0.0', private: true, devDependencies }, null, 2));
  fs.writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({ name: 'project', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  const ci = sh('npm', ['ci', '--offline', '--no-audit', '--no-fund'], project);
  expect(ci.status, `npm ci --offline in the project:\n${ci.stdout}${ci.stderr}`).to.equal(0);
  fs.writeFileSync(path.join(project, 'features', 'ok.feature'), OK);
  fs.writeFileSync(path.join(project, 'features', 'typo.feature'), TYPO);
});

test('npx exitpath test runs the project\'s features/ and nothing else: one passes, the typo fails in one line', () => {
  const r = sh('npx', ['exitpath', 'test'], project);
  expect(r.status, r.stdout + r.stderr).to.equal(1);
  expect(r.stdout).to.match(/^scenarios: 1 passed, 1 failed$/m);
  expect(r.stdout).to.include("unknown host syscall 'io_sumbit' — did you mean io_submit?");
  expect(r.stdout).to.include('features/typo.feature:2');
  expect(r.stdout).to.include('node_modules/exitpath/docs/steps.md');
  const one = sh('npx', ['exitpath', 'test', 'features/ok.feature'], project);
  expect(one.status, one.stdout + one.stderr).to.equal(0);
  expect(one.stdout).to.match(/^scenarios: 1 passed, 0 failed$/m);
});

test('npx exitpath test --report builds the reports in the project', () => {
  const r = sh('npx', ['exitpath', 'test', 'features/ok.feature', '--report', 'reports'], project);
  expect(r.status, r.stdout + r.stderr).to.equal(0);
  for (const f of ['index.html', 'allure/index.html', 'conformance.html', 'conformance.json', 'cucumber.html', 'junit.xml', 'cucumber.ndjson']) {
    expect(fs.existsSync(path.join(project, 'reports', f)), f).to.equal(true);
  }
  const m = JSON.parse(fs.readFileSync(path.join(project, 'reports', 'conformance.json'), 'utf8')) as { scenarios: unknown[] };
  expect(m.scenarios).to.have.length(1);
});

test('cucumber-js with the exitpath/cucumber preset runs the same steps', () => {
  fs.writeFileSync(path.join(project, 'cucumber.js'), "const { preset } = require('exitpath/cucumber');\nmodule.exports = { default: preset() };\n");
  try {
    const r = sh('npx', ['cucumber-js', 'features/ok.feature'], project);
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include('1 scenario (1 passed)');
  } finally {
    fs.rmSync(path.join(project, 'cucumber.js'));
  }
});
