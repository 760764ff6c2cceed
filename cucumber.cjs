// Cucumber profiles. `default` is what `npm test` runs; `report` adds the HTML report and JUnit XML.
const common = {
  paths: ['features/**/*.feature'],
  requireModule: ['ts-node/register'],
  require: ['steps/**/*.ts'],
  format: ['progress'],
  strict: true,
};
module.exports = {
  default: common,
  report: {
    ...common,
    format: ['progress', 'html:reports/cucumber.html', 'junit:reports/junit.xml', 'message:reports/cucumber.ndjson'],
  },
};
