// Nothing passes vacuously: every step of docs/steps.md that takes a name of the model is run with a
// misspelt name (or a vCPU, stage or thread the VM does not have), through `exitpath test` as a user
// runs it, and must fail with one line naming the unknown thing and the closest known names. The five
// misspellings that used to pass are among them, verbatim.

import { before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import type { NameKind } from '../src/vocabulary';
import { packageRoot } from '../runner/paths';
import { stepsMarkdown } from '../scripts/docs';
import type { StepEntry } from '../steps/support/define';

/** A name of each kind that exists, and a misspelling of it (or one the two-vCPU VM does not have). */
const SAMPLE: Record<NameKind, { good: string; bad: string; says: string }> = {
  'host syscall': { good: 'io_submit', bad: 'io_sumbit', says: "unknown host syscall 'io_sumbit' — did you mean io_submit" },
  'KVM ioctl': { good: 'KVM_RUN', bad: 'KVM_RUNN', says: "unknown KVM ioctl 'KVM_RUNN' — did you mean KVM_RUN" },
  'exit reason': { good: 'CPUID', bad: 'CPUDI', says: "unknown exit reason 'CPUDI'" },
  'exit handler': { good: 'handle_io', bad: 'handle_oi', says: "unknown exit handler 'handle_oi' — did you mean handle_io" },
  'userspace exit': { good: 'KVM_EXIT_IO', bad: 'KVM_EXIT_OI', says: "unknown userspace exit 'KVM_EXIT_OI' — did you mean KVM_EXIT_IO" },
  event: { good: 'io_submit', bad: 'io_sumbit', says: "unknown event 'io_sumbit' — did you mean io_submit" },
  thread: { good: 'main loop', bad: 'main lop', says: "unknown thread 'main lop' — did you mean main loop" },
  device: { good: 'virtio-blk-pci', bad: 'virtio-blk-pic', says: "unknown device 'virtio-blk-pic' — did you mean virtio-blk-pci" },
  errno: { good: 'EIO', bad: 'EIOO', says: "unknown errno 'EIOO' — did you mean EIO" },
  'kvm_run field': { good: 'io.port', bad: 'io.prot', says: "unknown kvm_run field 'io.prot' — did you mean io.port" },
  'VM entry': { good: 'VMRESUME', bad: 'VMRESUEM', says: "unknown VM entry 'VMRESUEM' — did you mean VMRESUME" },
  vCPU: { good: '0', bad: '7', says: 'there is no vCPU 7: the VM has 2 (vCPU 0 to 1)' },
  stage: { good: '1', bad: '11', says: "there is no stage 11: the walk's stages are 1 to 10" },
  'config key': { good: 'disk.cache', bad: 'disk.cahce', says: "unknown config key 'disk.cahce' — did you mean disk.cache" },
  layer: { good: 'kvm', bad: 'kmv', says: "unknown layer 'kmv' — did you mean kvm" },
};

/** The five misspellings that passed before names were checked, and what each must say now. */
const VERBATIM: { step: string; says: string }[] = [
  { step: 'Then the host does not call KVM_IRQ_LNE', says: "unknown host syscall 'KVM_IRQ_LNE' — did you mean KVM_IRQ_LINE" },
  { step: 'Then the walk does not include io_sumbit', says: "unknown event 'io_sumbit' — did you mean io_submit" },
  { step: 'Then the host calls KVM_RUNN 0 times', says: "unknown host syscall 'KVM_RUNN' — did you mean KVM_RUN" },
  { step: 'Then "main lop" takes the BQL 0 times', says: "unknown thread 'main lop' — did you mean main loop" },
  { step: 'Then vCPU 7 has no VM exit', says: 'there is no vCPU 7: the VM has 2 (vCPU 0 to 1)' },
];

interface Case { name: string; keyword: string; text: string; argument: string; says: string }

/** The step's text with every parameter filled, the one at `bad` with a misspelt name. */
function instantiate(s: StepEntry, bad: number): { text: string; says: string } | null {
  const names = s.doc.names ?? [];
  if (typeof s.pattern !== 'string') {
    // A regular expression: its example, with the name in it misspelt.
    const kind = names[bad]!;
    const ex = s.doc.example;
    if (!ex || !ex.includes(SAMPLE[kind].good)) throw new Error(`${s.pattern}: its example must show a ${kind}`);
    return { text: ex.replace(SAMPLE[kind].good, SAMPLE[kind].bad), says: SAMPLE[kind].says };
  }
  let i = 0;
  let says = '';
  const text = s.pattern.replace(/\([^)]*\)/g, '').replace(/\{(\w*)\}/g, (_, type: string) => {
    const kind = names[i];
    const value = kind ? (i === bad ? SAMPLE[kind].bad : SAMPLE[kind].good) : type === 'int' ? '1' : type === 'exitReason' ? 'CPUID' : 'x';
    if (i === bad) says = SAMPLE[kind!].says;
    i++;
    return type === 'string' ? `"${value}"` : value;
  });
  return { text, says };
}

let cases: Case[] = [];
let output = '';

before(async () => {
  await stepsMarkdown();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { STEPS } = require('../steps/support/define') as { STEPS: StepEntry[] };
  for (const s of STEPS) {
    for (const [k, kind] of (s.doc.names ?? []).entries()) {
      if (!kind) continue;
      const made = instantiate(s, k);
      if (!made) continue;
      const argument = String(s.pattern).endsWith(':') ? '\n      | a |' : '';
      cases.push({ name: `${cases.length + 1}: ${s.keyword} ${String(s.pattern)} #${k + 1}`, keyword: s.keyword, text: made.text, argument, says: made.says });
    }
  }
  cases = [...cases, ...VERBATIM.map((v, n) => ({ name: `verbatim ${n + 1}`, keyword: 'Then', text: v.step.replace(/^Then /, ''), argument: '', says: v.says }))];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-misspelt-'));
  fs.mkdirSync(path.join(dir, 'features'));
  const scenarios = cases.map((c) => [
    `  Scenario: ${c.name}`,
    '    Given the VM has 2 vCPUs',
    ...(c.keyword === 'Then' ? ['    When the guest executes "cpuid 0x0"'] : []),
    `    ${c.keyword} ${c.text}${c.argument}`,
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'features', 'misspelt.feature'), `Feature: misspelt names\n\n${scenarios.join('\n\n')}\n`);
  const r = spawnSync(process.execPath, [path.join(packageRoot(), 'bin', 'exitpath.js'), 'test'], { cwd: dir, encoding: 'utf8' });
  output = r.stdout;
});

test('every step that takes a name fails on a misspelt one, in one line that names it', () => {
  expect(cases.length).to.be.greaterThan(30);
  expect(output).to.match(new RegExp(`^scenarios: 0 passed, ${cases.length} failed$`, 'm'));
  for (const c of cases) {
    const at = output.indexOf(`✖ failed: ${c.name}  `);
    expect(at, `${c.name} (${c.text}) did not fail`).to.be.greaterThan(-1);
    const [, step, message] = output.slice(at).split('\n');
    expect(step!.trim(), c.name).to.match(new RegExp(`^${c.keyword} `));
    expect(message!.trim(), `${c.name}: ${c.text}`).to.include(c.says);
  }
});

test('a selection that checks nothing is not green: a line with no scenario, a --name or --tags that selects none', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-selection-'));
  fs.mkdirSync(path.join(dir, 'features'));
  fs.writeFileSync(path.join(dir, 'features', 'one.feature'), [
    'Feature: one', '', '  Scenario: cpuid', '    When the guest executes "cpuid 0x0"', '    Then the VM exit reason is CPUID', '',
    '  Scenario: a misspelt step', '    Given ioeventfd is enabeld', '    When the guest executes "cpuid 0x0"', ''].join('\n'));
  const run = (...args: string[]) => spawnSync(process.execPath, [path.join(packageRoot(), 'bin', 'exitpath.js'), 'test', ...args], { cwd: dir, encoding: 'utf8' });
  const line = run('features/one.feature:4');
  expect(line.status).to.equal(2);
  expect(line.stderr).to.include('features/one.feature:4: no scenario at line 4 (the scenarios of features/one.feature start at lines 3, 7)');
  const name = run('--name', 'nothing like it');
  expect(name.status).to.equal(1);
  expect(name.stderr).to.include("no scenario to run: features/ with --name 'nothing like it' selects none");
  expect(run('--tags', '@absent').status).to.equal(1);
  const one = run('features/one.feature:3');
  expect(one.status, one.stderr).to.equal(0);
  expect(one.stdout).to.match(/^scenarios: 1 passed, 0 failed$/m);
  // An undefined step's one-line reason names the closest step, not an unfinished sentence.
  const misspelt = run('features/one.feature:7');
  expect(misspelt.status).to.equal(1);
  expect(misspelt.stdout).to.include('Given ioeventfd is enabeld (line 8): no step matches this text; the closest is "ioeventfd is enabled"');
  // A feature file that cannot be parsed: where and what could stand there, and nothing runs.
  fs.writeFileSync(path.join(dir, 'features', 'broken.feature'), 'Feature: broken\n  Scenario: x\n    When the guest executes "cpuid 0x0"\n  Then\n');
  const broken = run();
  expect(broken.status).to.equal(2);
  expect(broken.stderr).to.include("features/broken.feature:4:3: cannot read 'Then' here; expected the end of the file, a table row");
  expect(broken.stderr).to.include('a feature file could not be read: nothing ran');
});
