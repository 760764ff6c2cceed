// steps/index.ts is what `exitpath test` and `require('exitpath/steps')` load: it must name every step file.

import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import { packageRoot } from '../runner/paths';

test('steps/index.ts imports every step file', () => {
  const dir = path.join(packageRoot(), 'steps');
  const index = fs.readFileSync(path.join(dir, 'index.ts'), 'utf8');
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.steps.ts'))) {
    expect(index, f).to.include(`import './${f.replace(/\.ts$/, '')}';`);
  }
});
