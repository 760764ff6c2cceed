// Cucumber profiles. No `paths` here: cucumber appends command-line paths to a profile's, so a
// profile path would make `cucumber-js features/one.feature` run everything. With none given,
// cucumber runs features/**/*.{feature,feature.md}.
// `default` is what `npm test` runs; `report` (used by `npm run report`) adds the
// HTML report, JUnit XML, the message stream the conformance matrix is built from, and Allure results;
// its world parameter `report` makes each scenario attach its walk (steps/support/hooks.ts).
const common = {
  requireModule: ['ts-node/register'],
  require: ['steps/**/*.ts'],
  format: ['progress'],
  strict: true,
};
module.exports = {
  default: common,
  // The same suite on two workers (`npx cucumber-js --profile parallel`): scenarios share no state.
  parallel: { ...common, parallel: 2 },
  report: {
    ...common,
    format: ['progress', 'html:reports/cucumber.html', 'junit:reports/junit.xml', 'message:reports/cucumber.ndjson',
      // The Allure formatter must write to a file, or it takes stdout from the progress formatter.
      ['allure-cucumberjs/reporter', 'reports/.allure-reporter.out']],
    formatOptions: { resultsDir: 'reports/allure-results' },
    worldParameters: { report: true },
  },
};
