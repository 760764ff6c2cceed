#!/usr/bin/env node
'use strict';
// The installed command runs the compiled code (the published package ships it; in the repository
// `npm ci` builds it through the prepare script). `exitpath test` runs cucumber (runner/), every other
// command the CLI of the simulated stack (src/cli/).
const path = require('node:path');
const fs = require('node:fs');
const dist = path.join(__dirname, '..', 'dist');
const compiled = path.join(dist, 'src', 'cli', 'main.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write('exitpath: not built yet: run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
const argv = process.argv.slice(2);
if (argv[0] === 'test') {
  require(path.join(dist, 'runner', 'test.js')).main(argv.slice(1)).then(
    (status) => { process.exitCode = status; },
    (e) => { process.stderr.write(`exitpath test: ${e && e.stack ? e.stack : e}\n`); process.exitCode = 70; });
} else {
  process.exitCode = require(compiled).main(argv);
}
