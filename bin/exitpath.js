#!/usr/bin/env node
'use strict';
// The installed command runs the compiled code: the package ships it (npm pack builds it first), and
// in the repository the first run builds it (`npm test` and `npm run report` rebuild what changed).
// `exitpath test` runs cucumber (runner/), every other command the CLI of the simulated stack (src/cli/).
const path = require('node:path');
const fs = require('node:fs');
const dist = path.join(__dirname, '..', 'dist');
const compiled = path.join(dist, 'src', 'cli', 'main.js');
if (!fs.existsSync(compiled)) {
  const build = path.join(__dirname, '..', 'scripts', 'build.js');
  if (!fs.existsSync(build)) {
    process.stderr.write(`exitpath: the package has no compiled code (${compiled} is missing): reinstall it\n`);
    process.exit(2);
  }
  process.stderr.write('exitpath: building the TypeScript into dist/ (the first run in this checkout)\n');
  const r = require('node:child_process').spawnSync(process.execPath, [build], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0 || !fs.existsSync(compiled)) {
    process.stderr.write('exitpath: the build failed: run `npm run build` to see why\n');
    process.exit(2);
  }
}
const argv = process.argv.slice(2);
if (argv[0] === 'test') {
  require(path.join(dist, 'runner', 'test.js')).main(argv.slice(1)).then(
    (status) => { process.exitCode = status; },
    (e) => { process.stderr.write(`exitpath test: ${e && e.stack ? e.stack : e}\n`); process.exitCode = 70; });
} else {
  process.exitCode = require(compiled).main(argv);
}
