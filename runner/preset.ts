// For a project that runs cucumber-js itself: a configuration that loads exitpath's steps (compiled
// JavaScript), keeps the custom parameter types out of snippets, and prints the closest existing
// steps beside the snippet of an undefined one. In the project's cucumber.js:
//
//   const { preset } = require('exitpath/cucumber');
//   module.exports = { default: preset() };                 // or preset({ format: ['progress'] })
//
// `npx cucumber-js` then runs features/ with exitpath's steps and the project's own
// (features/**/*.js), strict as `exitpath test` is.

import { runnerModule, stepsEntry } from './paths';

export interface Preset {
  require: string[];
  import: string[];
  format: (string | [string, string])[];
  formatOptions: Record<string, unknown>;
  strict: boolean;
}

export function preset(overrides: Partial<Preset> = {}): Preset {
  return {
    require: [stepsEntry(), ...(overrides.require ?? [])],
    import: overrides.import ?? ['features/**/*.{js,cjs,mjs}'],
    format: overrides.format ?? ['progress'],
    formatOptions: { snippetSyntax: runnerModule('snippets'), ...(overrides.formatOptions ?? {}) },
    strict: overrides.strict ?? true,
  };
}
