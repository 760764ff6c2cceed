// The conformance matrix as one self-contained HTML page (reports/conformance.html): rows are the
// exit reasons, KVM_EXIT_* codes, kvm handlers and host syscalls the model knows, columns are the
// scenarios, and each cell says whether the scenario specifies the row (●), specifies that it does
// not happen (⊘), or only walks through it (○), coloured by the scenario's status. Rows no scenario
// specifies are marked as gaps.

import { esc } from '../trace/svg';
import { isGap, type Matrix, type MatrixRow, type ScenarioStatus } from './matrix';
import type { RowKind } from './vocabulary';

const KINDS: { kind: RowKind; title: string; what: string }[] = [
  { kind: 'exit reason', title: 'Basic VM exit reasons', what: 'EXIT_REASON_* of asm/vmx.h: why the VMX CPU left the guest' },
  { kind: 'handler', title: 'kvm exit handlers', what: 'kvm_vmx_exit_handlers[]: the function kvm picks for the reason (Linux 6.1 names, and the seed era’s)' },
  { kind: 'KVM_EXIT', title: 'KVM_EXIT_* codes', what: 'kvm_run->exit_reason when ioctl(KVM_RUN) returns to qemu-kvm' },
  { kind: 'host syscall', title: 'Host syscalls and kvm ioctls', what: 'what qemu-kvm asks of the host kernel' },
];

const STATUS_COLOUR: Record<ScenarioStatus, string> = {
  passed: '#1e7e34', failed: '#c62828', undefined: '#e08a00', pending: '#e08a00', skipped: '#8a8a8a', ambiguous: '#c62828', unknown: '#8a8a8a',
};

export interface MatrixLinks { allure?: string; cucumber?: string; json?: string }

export function matrixHtml(m: Matrix, links: MatrixLinks = {}): string {
  const col = new Map(m.scenarios.map((s, i) => [s.id, i]));
  const o: string[] = [];
  o.push('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>exitpath — conformance matrix</title>');
  o.push(`<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px;color:#1f1f1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 2px}p.what{margin:0 0 8px;color:#555;font-size:13px}
nav a{margin-right:16px}.cards{display:flex;gap:12px;margin:16px 0}.card{border:1px solid #ccc;border-radius:6px;padding:8px 12px;font-size:13px;min-width:180px}
.card b{font-size:15px}.gapn{color:#c62828;font-weight:bold}
table.matrix{border-collapse:collapse;font-size:12px}table.matrix td,table.matrix th{border:1px solid #ddd;padding:2px 5px}
table.matrix th.sc{font-weight:normal;text-align:left;vertical-align:bottom;padding:4px 2px}table.matrix th.sc div{writing-mode:vertical-rl;white-space:nowrap;max-height:220px;overflow:hidden}
td.name{font-family:"DejaVu Sans Mono",monospace;white-space:nowrap}td.num{text-align:right;color:#555}td.note{color:#666;font-size:11px;max-width:260px}
td.cell{text-align:center;width:18px;font-size:13px}tr.gap td.name,tr.gap td.num{background:#fde8e8}tr.gap td.name::after{content:" no scenario";color:#c62828;font-size:10px;font-family:"DejaVu Sans",sans-serif}
tr.oos td{color:#aaa}tr.exonly td.name{background:#fff6e0}
.legend span{margin-right:18px;font-size:13px}.hide-covered tr.row:not(.gap){display:none}
table.scen{border-collapse:collapse;font-size:12px;margin-top:8px}table.scen td{padding:1px 8px;border-bottom:1px solid #eee}
</style></head><body>`);
  o.push('<h1>exitpath — conformance matrix</h1>');
  o.push(`<nav>${links.allure ? `<a href="${esc(links.allure)}">Allure report</a>` : ''}${links.cucumber ? `<a href="${esc(links.cucumber)}">Cucumber report</a>` : ''}${links.json ? `<a href="${esc(links.json)}">this matrix as JSON</a>` : ''}</nav>`);
  const counts = new Map<ScenarioStatus, number>();
  for (const s of m.scenarios) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  o.push(`<p>${m.scenarios.length} scenarios: ${[...counts].map(([k, v]) => `<span style="color:${STATUS_COLOUR[k]}">${v} ${k}</span>`).join(', ')}. Generated ${esc(m.generated)}.</p>`);
  o.push('<div class="cards">');
  for (const k of KINDS) {
    const t = m.totals[k.kind];
    o.push(`<div class="card" data-kind="${esc(k.kind)}"><b>${esc(k.title)}</b><br>${t.specified} of ${t.rows - t.outOfScope} specified<br>${t.exercisedOnly} only walked through<br><span class="gapn">${t.uncovered} with no scenario</span>${t.outOfScope ? `<br>${t.outOfScope} of other architectures` : ''}</div>`);
  }
  o.push('</div>');
  o.push('<p class="legend"><span>● specified by the scenario (a step asserts it, or its golden trace contains it)</span><span>⊘ specified as not happening</span><span>○ only walked through</span>' +
    '<span>colour = the scenario’s status</span><label><input type="checkbox" id="gaps-only" onclick="document.body.classList.toggle(\'hide-covered\',this.checked)"> show only rows with no scenario</label></p>');
  if (m.warnings.length) o.push(`<p style="color:#c62828">${m.warnings.map(esc).join('<br>')}</p>`);

  const head = '<tr><th>name</th><th>#</th><th>note</th>' + m.scenarios.map((s, i) =>
    `<th class="sc" title="${esc(`${s.name} — ${s.uri}:${s.line} (${s.status})`)}" style="color:${STATUS_COLOUR[s.status]}"><div>S${i + 1} ${esc(short(s.name, 34))}</div></th>`).join('') + '</tr>';
  for (const k of KINDS) {
    o.push(`<h2>${esc(k.title)}</h2><p class="what">${esc(k.what)}</p>`);
    o.push(`<table class="matrix" id="matrix-${k.kind.replace(/\W+/g, '-')}" data-kind="${esc(k.kind)}"><thead>${head}</thead><tbody>`);
    for (const r of m.rows.filter((x) => x.kind === k.kind)) o.push(rowHtml(r, m, col));
    o.push('</tbody></table>');
  }
  o.push('<h2>Scenarios</h2><table class="scen">');
  m.scenarios.forEach((s, i) => o.push(`<tr><td>S${i + 1}</td><td style="color:${STATUS_COLOUR[s.status]}">${esc(s.status)}</td><td>${esc(s.name)}</td><td>${esc(s.uri)}:${s.line}</td></tr>`));
  o.push('</table></body></html>');
  return o.join('\n') + '\n';
}

function short(s: string, n: number): string { return s.length > n ? s.slice(0, n - 1) + '…' : s; }

function rowHtml(r: MatrixRow, m: Matrix, col: Map<string, number>): string {
  const cells = new Array<string>(m.scenarios.length).fill('<td class="cell"></td>');
  for (const c of r.cells) {
    const i = col.get(c.scenario);
    if (i === undefined) continue;
    const s = m.scenarios[i]!;
    const mark = c.how === 'specified' ? '●' : c.how === 'not called' ? '⊘' : '○';
    cells[i] = `<td class="cell ${c.how === 'exercised' ? 'ex' : 'spec'}" title="${esc(`${s.name}: ${c.how} (${s.status})`)}" style="color:${c.how === 'exercised' ? '#9a9a9a' : STATUS_COLOUR[s.status]}">${mark}</td>`;
  }
  const gap = isGap(r);
  const cls = ['row', gap ? 'gap' : '', r.outOfScope && r.cells.length === 0 ? 'oos' : '', !gap && !r.cells.some((c) => c.how !== 'exercised') ? 'exonly' : ''].filter(Boolean).join(' ');
  return `<tr class="${cls}" data-name="${esc(r.name)}"><td class="name">${esc(r.name)}</td><td class="num">${r.number ?? ''}</td><td class="note">${esc(r.note ?? '')}</td>${cells.join('')}</tr>`;
}
