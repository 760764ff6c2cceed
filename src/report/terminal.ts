// The conformance matrix in a terminal (`exitpath coverage`): one line per row with the scenarios
// that specify it, the rows no scenario covers marked, and a total per kind — the same
// classification (rowCoverage) and the same totals as the HTML page.

import { rowCoverage, ROW_KINDS, type Matrix, type Totals } from './matrix';
import type { RowKind } from './vocabulary';

export const KIND_TITLES: Record<RowKind, string> = {
  'exit reason': 'Basic VM exit reasons', handler: 'kvm exit handlers', KVM_EXIT: 'KVM_EXIT_* codes',
  'host syscall': 'Host syscalls and kvm ioctls', tracepoint: 'kvm tracepoints',
};

export interface CoverageOptions { gapsOnly?: boolean; colour?: boolean; width?: number }

/** The totals of one kind in words, as both the terminal and the HTML page print them. */
export function totalsLine(t: Totals): string {
  return `${t.specified}/${t.rows - t.outOfScope} specified, ${t.exercisedOnly} only walked through, ${t.uncovered} with no scenario` +
    `${t.outOfScope ? `, ${t.outOfScope} of other architectures` : ''}, ${t.hostTrace} checked against a real host trace`;
}

export function coverageText(m: Matrix, opts: CoverageOptions = {}): string {
  const c = (code: string, s: string) => (opts.colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const width = opts.width ?? 120;
  const num = new Map(m.scenarios.map((s, i) => [s.id, i + 1]));
  const status = new Map(m.scenarios.map((s) => [s.id, s.status]));
  const host = new Set(m.scenarios.filter((s) => s.hostTrace).map((s) => s.id));
  const out: string[] = [];
  const failed = m.scenarios.filter((s) => s.status !== 'passed').length;
  out.push(`conformance: ${m.scenarios.length} scenarios, ${failed === 0 ? 'all passed' : c('31', `${failed} not passed`)}`);
  out.push('  ✔ specified by passing scenarios   ✘ a specifying scenario did not pass   ○ only walked through   ✗ no scenario   ⌁ checked against a real host trace');
  for (const kind of ROW_KINDS) {
    const t = m.totals[kind];
    out.push('');
    out.push(`${KIND_TITLES[kind].toUpperCase()}: ${totalsLine(t).replace(/(\d+ with no scenario)/, c('31', '$1'))}`);
    for (const r of m.rows.filter((x) => x.kind === kind)) {
      const cov = rowCoverage(r);
      if (opts.gapsOnly && cov !== 'no scenario') continue;
      if (cov === 'other architecture') continue;
      const spec = r.cells.filter((x) => x.how !== 'exercised').sort((a, b) => num.get(a.scenario)! - num.get(b.scenario)!);
      const ex = r.cells.filter((x) => x.how === 'exercised');
      const bad = spec.some((x) => status.get(x.scenario) !== 'passed');
      const mark = cov === 'no scenario' ? c('31', '✗') : cov === 'walked through' ? '○' : bad ? c('31', '✘') : c('32', '✔');
      const name = `${r.name}${r.number !== undefined ? ` (${r.number})` : ''}`.padEnd(32);
      const who = spec.length
        ? `specified by ${spec.map((x) => `S${num.get(x.scenario)}${x.how === 'not called' ? '⊘' : ''}`).join(' ')}`
        : cov === 'no scenario' ? c('31', 'no scenario') : '';
      const more = ex.length ? `${who ? '; ' : ''}walked through by ${ex.length}` : '';
      const traced = r.cells.filter((x) => host.has(x.scenario)).length;
      out.push(`  ${mark} ${name} ${who}${more}${traced ? `; ⌁ ${traced}` : ''}`.slice(0, width + 20));
    }
  }
  out.push('');
  out.push('SCENARIOS');
  m.scenarios.forEach((s, i) => out.push(`  S${String(i + 1).padEnd(3)} ${s.status === 'passed' ? '     ' : c('31', s.status.padEnd(5))} ${s.name}  (${s.uri}:${s.line})${s.hostTrace ? '  ⌁' : ''}`));
  for (const w of m.warnings) out.push(c('33', `warning: ${w}`));
  return out.join('\n') + '\n';
}
