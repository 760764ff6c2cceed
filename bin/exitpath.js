#!/usr/bin/env node
'use strict';
// The installed command runs the compiled CLI (`npm ci` builds it through the prepare script).
const path = require('node:path');
const fs = require('node:fs');
const compiled = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(compiled)) {
  process.stderr.write('exitpath: not built yet: run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
process.exitCode = require(compiled).main(process.argv.slice(2));
