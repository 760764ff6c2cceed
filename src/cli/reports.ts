// The report side of the command line: `explain --format svg|ftrace|trace-cmd|perf-script`, `diff A B` for two traces, and
// `coverage` for the conformance matrix of the last report run.

import * as fs from 'node:fs';
import { ftraceText, perfScriptText, traceCmdText } from '../trace/ftrace';
import { GoldenFormatError, formatDiff, parseTraceFile } from '../trace/golden';
import { sequenceSvg } from '../trace/svg';
import { buildMatrix, readNdjson } from '../report/matrix';
import { coverageText } from '../report/terminal';
import type { Walk } from '../walk';
import { PROFILE_STACK } from '../config';

/** A user error of these commands: printed as one line, exit status 2. */
export class ReportInputError extends Error {}

export const WALK_FORMATS = ['text', 'json', 'svg', 'ftrace', 'trace-cmd', 'perf-script'] as const;

/** `explain --format svg|ftrace`; null for the formats main.ts prints itself. The diagram speaks `lang`. */
export function formatWalk(w: Walk, format: string, lang: 'en' | 'ja' = 'en'): string | null {
  if (format === 'svg') return sequenceSvg(w.events, { title: `exitpath explain "${w.action}" (profile ${w.config.profile}: ${PROFILE_STACK[w.config.profile]})`, lang });
  if (format === 'ftrace') return ftraceText(w.events, { era: w.config.profile });
  if (format === 'trace-cmd') return traceCmdText(w.events, { era: w.config.profile });
  if (format === 'perf-script') return perfScriptText(w.events, { era: w.config.profile });
  return null;
}

function readTrace(file: string) {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
    throw new ReportInputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try { return parseTraceFile(text, file); } catch (e) {
    if (e instanceof GoldenFormatError) throw new ReportInputError(e.message);
    throw e;
  }
}

/**
 * `exitpath diff A B`: what changed in the walk between two traces (golden YAML, or the JSON of
 * `explain --format json`). Exit status 0 when the walks are the same, 1 when they differ.
 */
export function diffCommand(a: string, b: string): { text: string; status: number } {
  const d = formatDiff(readTrace(a), readTrace(b), [a, b]);
  return { text: d.text, status: d.same ? 0 : 1 };
}

/** `exitpath coverage [--from reports/cucumber.ndjson] [--gaps]`: the matrix in the terminal. */
export function coverageCommand(from: string, gapsOnly: boolean, colour: boolean): string {
  if (!fs.existsSync(from)) throw new ReportInputError(`${from}: no cucumber message stream; run \`npm run report\` first (it writes reports/cucumber.ndjson)`);
  let m;
  try { m = buildMatrix(readNdjson(from)); } catch (e) { throw new ReportInputError((e as Error).message); }
  return coverageText(m, { gapsOnly, colour, width: process.stdout.columns ?? 120 });
}
