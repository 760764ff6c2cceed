#!/usr/bin/env node
'use strict';
// `npm run build`: type-check and compile src/, steps/, runner/, test/ and scripts/ into dist/
// (incrementally: an unchanged tree takes about a second), then remove compiled files whose source
// is gone, so a deleted test or step never runs from a stale dist/.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const dist = path.join(root, 'dist');
function prune(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { prune(p); if (fs.readdirSync(p).length === 0) fs.rmdirSync(p); continue; }
    const m = /^(.*)\.js(\.map)?$/.exec(e.name);
    if (!m) continue;
    const source = path.join(root, path.relative(dist, dir), `${m[1]}.ts`);
    if (!fs.existsSync(source)) fs.rmSync(p);
  }
}
if (fs.existsSync(dist)) prune(dist);
