// Where exitpath's own files are, whether it runs from its repository (compiled into dist/, or
// under ts-node) or from a project's node_modules.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The folder of exitpath's package.json. */
export function packageRoot(): string {
  for (let d = __dirname; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'exitpath') return d;
    if (path.dirname(d) === d) throw new Error(`exitpath's package.json is not above ${__dirname}`);
  }
}

/** True when this file runs as TypeScript (ts-node), false when compiled. */
const fromSource = __filename.endsWith('.ts');

/** The module that registers every step, the world and the parameter types. */
export function stepsEntry(): string {
  return fromSource ? path.join(packageRoot(), 'steps', 'index.ts') : path.join(packageRoot(), 'dist', 'steps', 'index.js');
}

/** A module of the runner itself (its formatter, the snippet syntax), as cucumber loads it by path. */
export function runnerModule(name: string): string {
  return path.join(__dirname, `${name}${fromSource ? '.ts' : '.js'}`);
}

/** The step vocabulary. */
export function docsPath(): string {
  return path.join(packageRoot(), 'docs', 'steps.md');
}
