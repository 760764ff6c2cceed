// The real command line: `node bin/exitpath.js …` (the compiled CLI, rebuilt first if a source is
// newer than it) and cucumber itself, run as child processes in a scratch directory, with what they
// print and their exit status kept for the Then steps.

import { Given, When, Then } from '@cucumber/cucumber';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExitpathWorld } from './support/world';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'exitpath.js');
const COMPILED = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

interface CliRun { status: number | null; stdout: string; stderr: string }
interface CliState { dir: string; last?: CliRun }
const states = new WeakMap<ExitpathWorld, CliState>();

/** The scratch directory the CLI steps run in (and the files they write). */
export function cliScratchDir(w: ExitpathWorld): string { return state(w).dir; }

function state(w: ExitpathWorld): CliState {
  let s = states.get(w);
  if (!s) { s = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-cli-')) }; states.set(w, s); }
  return s;
}

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

let built = false;
/** The CLI runs compiled (npm ci builds it); rebuild once if a source is newer than the build. */
function ensureBuilt(): void {
  if (built) return;
  const stale = !fs.existsSync(COMPILED) || newest(path.join(ROOT, 'src')) > fs.statSync(COMPILED).mtimeMs;
  if (stale) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
    if (!fs.existsSync(COMPILED)) throw new Error(`could not build the CLI:\n${r.stdout}${r.stderr}`);
  }
  built = true;
}

/** Split a command line as a shell would for plain words and double-quoted strings. */
function argv(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

function run(w: ExitpathWorld, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const s = state(w);
  const r = spawnSync(cmd, args, { cwd: s.dir, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  s.last = { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function last(w: ExitpathWorld): CliRun {
  const l = state(w).last;
  if (!l) throw new Error('nothing has been run yet: a When step must come first');
  return l;
}

Given('the file {string} holds:', function (this: ExitpathWorld, name: string, text: string) {
  fs.writeFileSync(path.join(state(this).dir, name), text + '\n');
});

When('exitpath is run with: {}', function (this: ExitpathWorld, line: string) {
  ensureBuilt();
  run(this, process.execPath, [CLI, ...argv(line)]);
});

When('cucumber runs a feature with the step {string}', function (this: ExitpathWorld, step: string) {
  const dir = state(this).dir;
  fs.writeFileSync(path.join(dir, 'undefined.feature'), `Feature: a step nobody defined\n  Scenario: it\n    When ${step}\n`);
  // Only this feature, with the project's steps; strict, as the project's profile is.
  fs.writeFileSync(path.join(dir, 'cucumber.cjs'), `module.exports = { default: { paths: [${JSON.stringify(path.join(dir, 'undefined.feature'))}], requireModule: ['ts-node/register'], require: [${JSON.stringify(path.join(ROOT, 'steps', '**', '*.ts'))}], format: ['progress'], strict: true } };\n`);
  run(this, process.execPath, [path.join(ROOT, 'node_modules', '@cucumber', 'cucumber', 'bin', 'cucumber.js'), '--config', 'cucumber.cjs'],
    { TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') });
});

Then('it exits with status {int}', function (this: ExitpathWorld, status: number) {
  const l = last(this);
  expect(l.status, `stderr: ${l.stderr}\nstdout: ${l.stdout.slice(0, 2000)}`).to.equal(status);
});

Then('it prints nothing on stdout', function (this: ExitpathWorld) {
  expect(last(this).stdout).to.equal('');
});

Then('stderr is the one line:', function (this: ExitpathWorld, text: string) {
  expect(last(this).stderr).to.equal(text.trim() + '\n');
});

Then('stderr is one line that starts with {string}', function (this: ExitpathWorld, prefix: string) {
  const err = last(this).stderr;
  expect(err.split('\n').filter(Boolean), 'lines on stderr').to.have.length(1);
  expect(err.startsWith(prefix), `stderr: ${err}`).to.equal(true);
});

Then('its output says the step is undefined', function (this: ExitpathWorld) {
  const out = last(this).stdout + last(this).stderr;
  expect(out).to.match(/Undefined\. Implement with the following snippet/);
  expect(out).to.match(/1 scenario \(1 undefined\)/);
});
