// The conformance matrix in a terminal (`exitpath coverage`): one line per row with the scenarios
// that specify it, gaps marked, and a total per kind.

import { isGap, type Matrix } from './matrix';
import type { RowKind } from './vocabulary';

const TITLES: [RowKind, string][] = [
  ['exit reason', 'BASIC VM EXIT REASONS'], ['handler', 'KVM EXIT HANDLERS'], ['KVM_EXIT', 'KVM_EXIT_* CODES'], ['host syscall', 'HOST SYSCALLS AND KVM IOCTLS'],
];

export interface CoverageOptions { gapsOnly?: boolean; colour?: boolean; width?: number }

export function coverageText(m: Matrix, opts: CoverageOptions = {}): string {
  const c = (code: string, s: string) => (opts.colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const width = opts.width ?? 120;
  const num = new Map(m.scenarios.map((s, i) => [s.id, i + 1]));
  const status = new Map(m.scenarios.map((s) => [s.id, s.status]));
  const out: string[] = [];
  const failed = m.scenarios.filter((s) => s.status !== 'passed').length;
  out.push(`conformance: ${m.scenarios.length} scenarios, ${failed === 0 ? 'all passed' : c('31', `${failed} not passed`)}`);
  out.push('  ✔ specified by passing scenarios   ✘ a specifying scenario did not pass   ○ only walked through   ✗ no scenario');
  for (const [kind, title] of TITLES) {
    const t = m.totals[kind];
    out.push('');
    out.push(`${title}: ${t.specified}/${t.rows - t.outOfScope} specified, ${t.exercisedOnly} only walked through, ${c('31', `${t.uncovered} with no scenario`)}${t.outOfScope ? `, ${t.outOfScope} of other architectures` : ''}`);
    for (const r of m.rows.filter((x) => x.kind === kind)) {
      const gap = isGap(r);
      if (opts.gapsOnly && !gap) continue;
      if (r.outOfScope && r.cells.length === 0 && !opts.gapsOnly) continue;
      const spec = r.cells.filter((x) => x.how !== 'exercised').sort((a, b) => num.get(a.scenario)! - num.get(b.scenario)!);
      const ex = r.cells.filter((x) => x.how === 'exercised');
      const bad = spec.some((x) => status.get(x.scenario) !== 'passed');
      const mark = gap ? (r.cells.length ? '○' : c('31', '✗')) : bad ? c('31', '✘') : c('32', '✔');
      const name = `${r.name}${r.number !== undefined ? ` (${r.number})` : ''}`.padEnd(32);
      const who = spec.length
        ? `specified by ${spec.map((x) => `S${num.get(x.scenario)}${x.how === 'not called' ? '⊘' : ''}`).join(' ')}`
        : gap && !r.cells.length ? c('31', 'no scenario') : '';
      const more = ex.length ? `${who ? '; ' : ''}walked through by ${ex.length}` : '';
      out.push(`  ${mark} ${name} ${who}${more}`.slice(0, width + 20));
    }
  }
  out.push('');
  out.push('SCENARIOS');
  m.scenarios.forEach((s, i) => out.push(`  S${String(i + 1).padEnd(3)} ${s.status === 'passed' ? '     ' : c('31', s.status.padEnd(5))} ${s.name}  (${s.uri}:${s.line})`));
  for (const w of m.warnings) out.push(c('33', `warning: ${w}`));
  return out.join('\n') + '\n';
}
