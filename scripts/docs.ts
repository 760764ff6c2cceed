// `npm run docs`: docs/steps.md, generated from what defines it — the step definitions (steps/, each
// with its notes), the configuration schema (src/config.ts), the model's names (src/vocabulary.ts)
// and the instruction parser (src/guest/asm.ts). test/docs.test.ts fails when the file is stale.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSupport } from '@cucumber/cucumber/api';
import { CONFIG_SCHEMA, DEFAULT_CONFIG, type VmConfig } from '../src/config';
import { INSTRUCTION_FORMS } from '../src/guest/asm';
import { Stack } from '../src/stack';
import { knownNames, NAME_KINDS, type NameKind } from '../src/vocabulary';
import { packageRoot, stepsEntry } from '../runner/paths';
import type { StepEntry } from '../steps/support/define';

const KEYWORDS = { Given: 'Given — the machine and what is set up', When: 'When — what happens', Then: 'Then — what must have happened (asserted on the recorded trace)' } as const;

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A pattern as a reader writes the step: a cucumber expression as is, a regular expression by its example or source. */
function shown(e: StepEntry, p: string | RegExp): string {
  if (typeof p === 'string') return p;
  return e.doc.example ?? p.source.replace(/^\^|\$$/g, '');
}

function stepRows(steps: readonly StepEntry[]): string[] {
  const out: string[] = [];
  for (const kw of ['Given', 'When', 'Then'] as const) {
    out.push(`## ${KEYWORDS[kw]}`, '');
    const mine = steps.filter((s) => s.keyword === kw);
    for (const section of [...new Set(mine.map((s) => s.section))]) {
      out.push(`### ${section}`, '', '| step | notes |', '|---|---|');
      for (const s of mine.filter((x) => x.section === section)) {
        const flags = [s.doc.scope ? '*scope*' : '', s.doc.names?.some(Boolean) ? `names: ${s.doc.names.filter(Boolean).join(', ')}` : '']
          .filter(Boolean).join('; ');
        out.push(`| \`${cell(`${kw} ${shown(s, s.pattern)}`)}\` | ${cell(s.doc.doc)}${flags ? ` (${flags})` : ''} |`);
      }
      out.push('');
    }
  }
  return out;
}

function japanese(steps: readonly StepEntry[]): string[] {
  const out = ['## 日本語 (`# language: ja`)', '',
    'The core steps have a Japanese phrasing, in the seed talk\'s words (`features/ja/seed-write-walk.feature`).',
    'Keywords: 前提 (Given), もし (When), ならば (Then), かつ (And). In `処理は次の順に境界を越える:` tables the',
    'columns are `送り手 | 受け手 | 名前` and the boxes may be named プロセス, ゲストOS, vt-x, kvm, qemu-kvm, ホストOS',
    '(or by their English names). Each phrasing runs the same step as its English one.', '',
    '| English | 日本語 |', '|---|---|'];
  for (const s of steps) if (s.ja) out.push(`| \`${cell(shown(s, s.pattern))}\` | \`${cell(typeof s.ja === 'string' ? s.ja : s.ja.source.replace(/^\^|\$$/g, ''))}\` |`);
  return [...out, ''];
}

const NAME_NOTES: Partial<Record<NameKind, string>> = {
  'host syscall': 'syscalls of the host kernel model, and KVM ioctls by their request',
  'exit handler': 'the names in kvm\'s exit-handler table of the scenario\'s profile',
  event: 'any event name the walk records: a crossing, an exit handler, a function or a tracepoint (`exitpath explain ACTION --verbose` shows them)',
  device: 'the devices of qemu-kvm\'s address spaces, and `unassigned`',
  thread: 'qemu-kvm\'s main loop, and one `CPU n/KVM` thread per vCPU',
  vCPU: 'vCPU 0 to vcpus − 1',
  'config key': 'the keys of the configuration (below), dotted',
};

function names(): string[] {
  const out = ['## Names', '',
    'A step that takes a name checks it first: an unknown one fails with one line naming the kind, the',
    'closest known names and this list; a step that says something is absent or counts it fails when the',
    'configuration can never produce that name (it could never fail). The lists for the default machine:', ''];
  const stack = new Stack(DEFAULT_CONFIG);
  const devices = [...stack.qemu.ioSpace.owners(), ...stack.qemu.memSpace.owners()];
  for (const kind of NAME_KINDS) {
    out.push(`### ${kind}`, '');
    if (NAME_NOTES[kind]) out.push(`${NAME_NOTES[kind]}.`, '');
    if (kind === 'event') continue;
    if (kind === 'exit handler') {
      for (const profile of ['linux-6.1', 'qemu-kvm-2013'] as const) {
        const c: VmConfig = { ...DEFAULT_CONFIG, profile };
        out.push(`- profile \`${profile}\`: ${knownNames(kind, { config: c }).map((n) => `\`${n}\``).join(', ')}`);
      }
      out.push('');
      continue;
    }
    out.push(knownNames(kind, { config: DEFAULT_CONFIG, devices }).map((n) => `\`${n}\``).join(', '), '');
  }
  return out;
}

function configKeys(): string[] {
  const out = ['## Configuration keys', '',
    'For `Given the VM is configured as:` (YAML), `Given the VM setting {string} is {string}`, `--config FILE`',
    'and `--set KEY=VALUE`. Unknown keys and bad values are errors that name the file, line, key and what was expected.', '',
    '| key | type | default | allowed values |', '|---|---|---|---|'];
  type Prop = { enum?: unknown[]; type?: string | string[]; minimum?: number; maximum?: number; multipleOf?: number; pattern?: string; minLength?: number; properties?: Record<string, Prop> };
  const walk = (props: Record<string, Prop>, defaults: Record<string, unknown> | undefined, prefix: string) => {
    for (const [k, p] of Object.entries(props)) {
      const key = prefix + k;
      const def = defaults?.[k];
      if (p.properties) { walk(p.properties, def as Record<string, unknown> | undefined, `${key}.`); continue; }
      const type = p.enum ? 'one of' : Array.isArray(p.type) ? p.type.join(' or ') : p.type ?? '';
      const allowed = p.enum ? p.enum.map((v) => `\`${String(v)}\``).join(', ')
        : [p.minimum !== undefined ? `≥ ${p.minimum}` : '', p.maximum !== undefined ? `≤ ${p.maximum}` : '',
          p.multipleOf !== undefined ? `a multiple of 0x${p.multipleOf.toString(16)}` : '', p.pattern ? `\`${p.pattern}\`` : ''].filter(Boolean).join(', ');
      out.push(`| \`${key}\` | ${type} | ${def === undefined ? '(absent)' : `\`${JSON.stringify(def)}\``} | ${cell(allowed)} |`);
    }
  };
  walk(CONFIG_SCHEMA.properties as unknown as Record<string, Prop>, DEFAULT_CONFIG as unknown as Record<string, unknown>, '');
  return [...out, ''];
}

function instructions(): string[] {
  const out = ['## Instructions', '',
    'What `When the guest executes {string}` and `exitpath explain` take (qtest\'s syntax for I/O and memory,',
    'x86 mnemonics for the rest). Numbers are hex (`0x…`) or decimal.', '',
    '| form | example | note |', '|---|---|---|'];
  for (const f of INSTRUCTION_FORMS) out.push(`| \`${cell(f.form)}\` | \`${cell(f.example)}\` | ${cell(f.note)} |`);
  return [...out, ''];
}

/** docs/steps.md as the step definitions and the model define it. */
export async function stepsMarkdown(): Promise<string> {
  const root = packageRoot();
  await loadSupport({
    sources: { paths: [], defaultDialect: 'en', names: [], tagExpression: '', order: 'defined' },
    support: { requireModules: [], requirePaths: [stepsEntry()], importPaths: [] },
  }, { cwd: root });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { STEPS } = require(path.join(path.dirname(stepsEntry()), 'support', 'define')) as { STEPS: StepEntry[] };
  return [
    '# Step vocabulary', '',
    '<!-- Generated by `npm run docs` from the step definitions (steps/), the configuration schema, the',
    '     model\'s names and the instruction parser. Do not edit: test/docs.test.ts fails when it is stale. -->', '',
    'Every step exitpath defines. A scenario with no `Given` runs on the seed\'s machine (1 vCPU, 512 MiB,',
    'the irqchip in kvm, a legacy virtio-pci disk at I/O base 0xc040 with INTx, Linux AIO, profile `linux-6.1`).',
    '',
    '- **Names are checked.** A step argument that names something of the model (a syscall, an exit handler, a',
    '  `KVM_EXIT_*`, an event, a thread, a vCPU, …: "names" in the notes) is checked before the step asserts',
    '  anything; see [Names](#names).',
    '- **Scope.** A step marked *scope* counts or denies over the last action. Append ` in the whole scenario` to',
    '  look at every action of the scenario, or ` in the last action` to say the default.',
    '- **States, not exceptions.** An action that cannot finish — the VM paused, the guest halted or waiting for',
    '  the device — ends its When step normally. A Then step must state it (`Then the VM is paused`,',
    '  `Then vCPU 0 stays halted in qemu-kvm`, `Then the write has not returned`, `Then the guest is still',
    '  waiting for the disk`); a scenario that leaves it unsaid fails.',
    '- **Not modelled** mechanisms are refused with `not modelled yet: …`: a step never passes vacuously.',
    '',
    ...stepRows(STEPS), ...japanese(STEPS), ...names(), ...configKeys(), ...instructions(),
  ].join('\n').replace(/\n+$/, '\n');
}

if (require.main === module) {
  stepsMarkdown().then((md) => {
    const file = path.join(packageRoot(), 'docs', 'steps.md');
    fs.writeFileSync(file, md);
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }, (e: unknown) => { process.stderr.write(`docs: ${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });
}
