#!/usr/bin/env node
'use strict';
// `npm test`: build (the type check and the compiled JavaScript everything below runs), then either
// the features named — `npm test -- features/seed/write-walk.feature:38`, with any `exitpath test`
// option — or everything: the layer rules, the unit tests and every feature.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
function run(args) {
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run([path.join(__dirname, 'build.js')]);
const args = process.argv.slice(2);
if (args.length > 0) {
  run([path.join(root, 'bin', 'exitpath.js'), 'test', ...args]);
} else {
  run([path.join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), 'src', '--config', '.dependency-cruiser.cjs']);
  const tests = fs.readdirSync(path.join(root, 'dist', 'test')).filter((f) => f.endsWith('.test.js')).sort();
  run(['--test', ...tests.map((f) => path.join('dist', 'test', f))]);
  run([path.join(root, 'bin', 'exitpath.js'), 'test']);
}
