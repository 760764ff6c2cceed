// `exitpath test`'s command line: which features, which scenarios, and where the reports go.

export class UsageError extends Error {}

export interface TestOptions {
  /** Feature files or folders, each optionally `:LINE` (cucumber's own syntax); default `features/`. */
  paths: string[];
  tags?: string;
  names: string[];
  /** A profile of the project's own cucumber configuration file, layered under exitpath's settings. */
  profile?: string;
  /** Write the reports (Allure, the conformance matrix, JUnit, cucumber's HTML) into this folder. */
  report?: string;
  updateGolden: boolean;
  parallel: number;
  /** The project's own support code, besides cucumber's default `features/**\/*.{js,cjs,mjs}`. */
  require: string[];
  requireModule: string[];
  failFast: boolean;
}

export const TEST_USAGE = `usage: exitpath test [PATH[:LINE]...] [--tags EXPR] [--name RE] [--profile P] [--report DIR] [--update-golden]
                    [--parallel N] [--require GLOB] [--require-module MODULE] [--fail-fast]

Runs the features named (default: features/) with exitpath's steps and the project's own step files
(features/**/*.{js,cjs,mjs}, and --require GLOB for more; --require-module ts-node/register for
TypeScript). Exit status 1 when a step failed, is undefined, pending or ambiguous, or when the selection
leaves no scenario to run; 2 on a usage error (a PATH:LINE whose line starts no scenario is one) and
when a feature file cannot be parsed.
  --tags EXPR        cucumber's tag expression ("@smoke and not @slow")
  --name RE          only scenarios whose name matches (may be repeated)
  --profile P        a profile of the project's cucumber.js/.cjs/.mjs/.json/.yaml, under exitpath's settings
  --report DIR       also write DIR/index.html, the Allure report, the conformance matrix, JUnit and cucumber HTML
  --update-golden    rewrite the golden trace files of the scenarios that run (and only those)
  --parallel N       run scenarios on N worker processes`;

export function parseTestArgs(argv: readonly string[]): TestOptions {
  const o: TestOptions = { paths: [], names: [], updateGolden: false, parallel: 0, require: [], requireModule: [], failFast: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--tags': o.tags = o.tags ? `(${o.tags}) and (${value()})` : value(); break;
      case '--name': {
        const re = value();
        try { new RegExp(re); } catch (e) { throw new UsageError(`--name ${re}: not a regular expression (${(e as Error).message})`); }
        o.names.push(re);
        break;
      }
      case '--profile': o.profile = value(); break;
      case '--report': o.report = value(); break;
      case '--update-golden': o.updateGolden = true; break;
      case '--parallel': {
        const v = value();
        if (!/^\d+$/.test(v)) throw new UsageError(`--parallel ${v}: expected a number of workers`);
        o.parallel = Number(v);
        break;
      }
      case '--require': o.require.push(value()); break;
      case '--require-module': o.requireModule.push(value()); break;
      case '--fail-fast': o.failFast = true; break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        o.paths.push(a);
    }
  }
  return o;
}
