// Runs several cucumber runs one after the other in this one process, sharing the loaded step
// definitions (cucumber's API allows it in serial mode): what a scenario records after every other
// scenario has run in the same process. Used by test/determinism-process.test.ts.
//   node dist/test/support/cucumber-runs.js '[{"paths": [...], "traceDump": DIR}, ...]'   (cucumber.cjs's default profile: the compiled steps)

import { loadConfiguration, runCucumber } from '@cucumber/cucumber/api';
import type { ISupportCodeLibrary } from '@cucumber/cucumber/api';

interface Run { paths: string[]; traceDump: string }

async function main(runs: Run[]): Promise<number> {
  let support: ISupportCodeLibrary | undefined;
  for (const r of runs) {
    const { runConfiguration } = await loadConfiguration({ provided: { paths: r.paths, format: ['summary'], worldParameters: { traceDump: r.traceDump } } });
    const result = await runCucumber(support ? { ...runConfiguration, support } : runConfiguration);
    support = result.support;
    if (!result.success) return 1;
  }
  return 0;
}

main(JSON.parse(process.argv[2] ?? '[]') as Run[]).then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 2;
});
