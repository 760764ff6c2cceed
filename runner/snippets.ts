// Snippets for undefined steps (cucumber's JavaScript syntax) that first list the closest steps
// exitpath already has, and where the whole vocabulary is: most undefined steps are near-misses.

import * as path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
import JavaScriptSnippetSyntax = require('@cucumber/cucumber/lib/formatter/step_definition_snippet_builder/javascript_snippet_syntax');
import { STEPS } from '../steps/support/define';
import { docsPath } from './paths';
import { closestSteps } from './suggest';

type BuildOptions = Parameters<InstanceType<typeof JavaScriptSnippetSyntax.default>['build']>[0];

export default class ExitpathSnippetSyntax extends JavaScriptSnippetSyntax.default {
  override build(options: BuildOptions): string {
    const text = options.generatedExpressions[0]?.source ?? '';
    const patterns = STEPS.map((s) => (typeof s.pattern === 'string' ? s.pattern : s.pattern.source));
    const near = closestSteps(text, patterns);
    const head = near.length
      ? `// exitpath has no such step. The closest ones:\n${near.map((p) => `//   ${p}\n`).join('')}// Every step: ${path.relative(process.cwd(), docsPath()) || docsPath()}\n`
      : '';
    return head + super.build(options);
  }
}
