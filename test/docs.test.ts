// docs/steps.md is generated from the step definitions, the configuration schema, the model's names
// and the instruction parser: it must be what `npm run docs` writes now. Every step goes through
// steps/support/define.ts (so it has notes and its names are checked), every phrase the conformance
// matrix reads is a registered step, and every instruction example parses.

import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { parseInsn, parseProgram, INSTRUCTION_FORMS } from '../src/guest/asm';
import { pattern, VOCABULARY } from '../src/report/vocabulary';
import { packageRoot } from '../runner/paths';
import { stepsMarkdown } from '../scripts/docs';
import type { StepEntry } from '../steps/support/define';

test('docs/steps.md is what `npm run docs` generates from the step definitions', async () => {
  const want = await stepsMarkdown();
  const have = fs.readFileSync(path.join(packageRoot(), 'docs', 'steps.md'), 'utf8');
  expect(have === want, 'docs/steps.md is stale: run `npm run docs` and commit it').to.equal(true);
});

test('every step is defined with notes, and every phrase the matrix reads is one of them', async () => {
  await stepsMarkdown();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { STEPS } = require('../steps/support/define') as { STEPS: StepEntry[] };
  expect(STEPS.length).to.be.greaterThan(100);
  for (const s of STEPS) expect(s.doc.doc.trim(), String(s.pattern)).to.not.equal('');
  const sources = new Set(STEPS.map((s) => String(s.pattern)));
  const ja = new Set(STEPS.map((s) => String(s.ja)));
  for (const [concept, p] of Object.entries(VOCABULARY)) {
    expect(sources.has(String(pattern(p.en))), `${concept}: ${p.en}`).to.equal(true);
    expect(ja.has(String(pattern(p.ja))), `${concept}: ${p.ja}`).to.equal(true);
  }
});

test('every instruction form\'s example parses', () => {
  for (const f of INSTRUCTION_FORMS) expect(() => parseProgram(f.example), f.example).to.not.throw();
  for (const m of INSTRUCTION_FORMS.at(-2)!.form.split('|')) expect(() => parseInsn(m), m).to.not.throw();
});
