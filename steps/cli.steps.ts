// The command line. `exitpath is run with:` calls the CLI's main() in this process (the code
// `node bin/exitpath.js` runs), in a scratch directory, with what it writes to stdout and stderr
// and its exit status kept for the Then steps; where the process boundary is the point —
// `exitpath test`, which starts cucumber, and the real executable — a child process runs it.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../src/cli/main';
import { packageRoot } from '../runner/paths';
import { stepsAbout } from './support/define';
import { SpecError, type ExitpathWorld } from './support/world';

const { Given, When, Then } = stepsAbout('the command line');

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

/** Split a command line as a shell would for plain words and double-quoted strings. */
function argv(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

/** The executable, as a user runs it (bin/exitpath.js runs the compiled CLI). */
function spawnCli(w: ExitpathWorld, args: string[]): void {
  const s = state(w);
  const bin = path.join(packageRoot(), 'bin', 'exitpath.js');
  if (!fs.existsSync(path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js'))) throw new SpecError('exitpath is not built: run `npm run build` first');
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: s.dir, encoding: 'utf8', timeout: 120_000 });
  s.last = { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** main(argv) in this process, in the scratch directory, with its output captured. */
function runInProcess(w: ExitpathWorld, args: string[]): void {
  const s = state(w);
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: process.stdout.write, err: process.stderr.write };
  const here = process.cwd();
  process.stdout.write = ((chunk: string | Uint8Array) => { out.push(String(chunk)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => { err.push(String(chunk)); return true; }) as typeof process.stderr.write;
  let status: number;
  try {
    process.chdir(s.dir);
    status = main(args);
  } finally {
    process.chdir(here);
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
  s.last = { status, stdout: out.join(''), stderr: err.join('') };
}

function last(w: ExitpathWorld): CliRun {
  const l = state(w).last;
  if (!l) throw new SpecError('nothing has been run yet: a When step must come first');
  return l;
}

Given('the file {string} holds:', { doc: 'a file in the scenario\'s scratch directory (where the command line runs), with the doc string as its text' }, function (this: ExitpathWorld, name: string, text: string) {
  const file = path.join(state(this).dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text + '\n');
});

When('exitpath is run with: {}', { doc: 'the command line with those arguments, in the scenario\'s scratch directory (`exitpath test …` as a child process, any other command in this process)', example: 'exitpath is run with: explain "cpuid 0x0" --set vcpus=3' }, function (this: ExitpathWorld, line: string) {
  const args = argv(line);
  if (args[0] === 'test') spawnCli(this, args);
  else runInProcess(this, args);
});

When('the exitpath executable is run with: {}', { doc: '`node bin/exitpath.js` with those arguments, as a child process in the scratch directory', example: 'the exitpath executable is run with: explain "cpuid 0x0"' }, function (this: ExitpathWorld, line: string) {
  spawnCli(this, argv(line));
});

When('cucumber runs a feature with the step {string}', { doc: '`exitpath test` on a one-step feature in the scratch directory (a child process)' }, function (this: ExitpathWorld, step: string) {
  const dir = state(this).dir;
  fs.mkdirSync(path.join(dir, 'features'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'features', 'one-step.feature'), `Feature: one step\n  Scenario: it\n    When ${step}\n`);
  spawnCli(this, ['test', 'features/one-step.feature']);
});

Then('it exits with status {int}', { doc: 'the exit status of the last command' }, function (this: ExitpathWorld, status: number) {
  const l = last(this);
  expect(l.status, `stderr: ${l.stderr}\nstdout: ${l.stdout.slice(0, 2000)}`).to.equal(status);
});

Then('it prints nothing on stdout', { doc: 'the last command wrote nothing to stdout' }, function (this: ExitpathWorld) {
  expect(last(this).stdout).to.equal('');
});

Then('stderr is the one line:', { doc: 'the last command wrote exactly the doc string\'s line to stderr' }, function (this: ExitpathWorld, text: string) {
  expect(last(this).stderr).to.equal(text.trim() + '\n');
});

Then('stderr is one line that starts with {string}', { doc: 'the last command wrote one line to stderr, starting so' }, function (this: ExitpathWorld, prefix: string) {
  const err = last(this).stderr;
  expect(err.split('\n').filter(Boolean), 'lines on stderr').to.have.length(1);
  expect(err.startsWith(prefix), `stderr: ${err}`).to.equal(true);
});

Then('its output says the step is undefined', { doc: 'the last `exitpath test` reported an undefined step, with the closest existing steps' }, function (this: ExitpathWorld) {
  const out = last(this).stdout + last(this).stderr;
  expect(out).to.match(/✖ undefined: /);
  expect(out).to.match(/no step matches this text\. The closest steps are:/);
  expect(out).to.match(/scenarios: 0 passed, 1 failed/);
});

Then('its output lists the closest steps:', { doc: 'the closest existing steps the last `exitpath test` suggested for an undefined step, in order (one per line of the doc string)' }, function (this: ExitpathWorld, text: string) {
  const out = last(this).stdout;
  const m = /The closest steps are:\n((?: {6}.*\n)+)/.exec(out);
  if (!m) throw new Error(`no list of closest steps in:\n${out}`);
  expect(m[1]!.split('\n').map((l) => l.trim()).filter(Boolean)).to.deep.equal(text.split('\n').map((l) => l.trim()).filter(Boolean));
});

Then('stdout includes:', { doc: 'the last command\'s stdout contains the doc string\'s text' }, function (this: ExitpathWorld, text: string) {
  expect(last(this).stdout).to.include(text.trim());
});
