// For running cucumber-js directly in this repository (`npx cucumber-js [FEATURE…]`); `npm test` and
// `exitpath test` do not read this file. `default` is what a project that installs exitpath gets
// from require('exitpath/cucumber'): the compiled steps (`npm run build`). `ts` loads the TypeScript
// sources through ts-node instead, for a developer who wants no build step.
// No `paths` in either: cucumber appends command-line paths to a profile's, so a profile path would
// make `cucumber-js features/one.feature` run everything; with none, it runs features/.
const fs = require('node:fs');
const ts = { requireModule: ['ts-node/register/transpile-only'], require: ['steps/index.ts'], format: ['progress'], strict: true };
const built = fs.existsSync(`${__dirname}/dist/runner/preset.js`);
if (!built) process.stderr.write('cucumber.cjs: exitpath is not built (npm run build): running the TypeScript steps through ts-node\n');
module.exports = { default: built ? require('./dist/runner/preset.js').preset() : ts, ts };
