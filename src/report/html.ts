// The conformance matrix as one self-contained HTML page (reports/conformance.html). One table per
// area — exit reasons, kvm handlers, KVM_EXIT codes, host syscalls and ioctls, kvm tracepoints —
// whose rows are the things the model knows and whose cells name the scenarios, grouped by feature
// and linked to their page in the Allure report: those that specify the row (a step asserts it, or
// their golden trace contains it), those that only walk through it, and those that checked it
// against a trace recorded on a real host. The page is as wide as the window: cells wrap, and long
// lists fold. The filter bar and the tables' headers stay in view while the page scrolls; the
// filters hide rows (by name, by coverage, by folder) and columns.

import { esc } from '../trace/svg';
import { rowCoverage, ROW_KINDS, type Coverage, type Matrix, type MatrixRow, type MatrixScenario, type ScenarioStatus } from './matrix';
import { KIND_TITLES, totalsLine } from './terminal';
import type { RowKind } from './vocabulary';

const WHAT: Record<RowKind, { what: string; thing: string }> = {
  'exit reason': { what: 'EXIT_REASON_* of asm/vmx.h: why the VMX CPU left the guest', thing: 'exit reason' },
  handler: { what: 'kvm_vmx_exit_handlers[]: the function kvm picks for the reason (Linux 6.1 names, and the seed era’s)', thing: 'handler' },
  KVM_EXIT: { what: 'kvm_run->exit_reason when ioctl(KVM_RUN) returns to qemu-kvm', thing: 'KVM_EXIT code' },
  'host syscall': { what: 'what qemu-kvm asks of the host kernel: syscalls, and ioctls on kvm’s files', thing: 'syscall or ioctl' },
  tracepoint: { what: 'the kvm tracepoints a walk fires, as perf and trace-cmd record them on a real host', thing: 'tracepoint' },
};

const STATUS_COLOUR: Record<ScenarioStatus, string> = {
  passed: '#1e6b30', failed: '#c62828', undefined: '#b06000', pending: '#b06000', skipped: '#777', ambiguous: '#c62828', unknown: '#777',
};

const COVERAGE_LABEL: Record<Coverage, string> = {
  specified: 'specified', 'walked through': 'only walked through', 'no scenario': 'no scenario', 'other architecture': 'other architecture',
};

export interface MatrixLinks { allure?: string; cucumber?: string; json?: string; index?: string }

const kindId = (k: RowKind) => `kind-${k.replace(/\W+/g, '-')}`;
/** Lists longer than this fold into a <details>. */
const FOLD = 8;

export function matrixHtml(m: Matrix, links: MatrixLinks = {}): string {
  const byId = new Map(m.scenarios.map((s) => [s.id, s]));
  const folders = [...new Set(m.scenarios.map((s) => s.folder))].sort();
  const o: string[] = [];
  o.push('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>exitpath — conformance matrix</title>');
  o.push(`<style>${CSS}</style></head><body>`);
  o.push('<header class="top" id="top">');
  o.push('<div class="title"><h1>exitpath — conformance matrix</h1><nav>' +
    [links.index && `<a href="${esc(links.index)}">all reports</a>`, links.allure && `<a href="${esc(links.allure)}">Allure report</a>`,
      links.cucumber && `<a href="${esc(links.cucumber)}">Cucumber report</a>`, links.json && `<a href="${esc(links.json)}">this matrix as JSON</a>`]
      .filter(Boolean).join('') + '</nav></div>');
  o.push('<form class="filters" id="filters" onsubmit="return false">' +
    '<label class="q">Rows named <input type="search" id="q" placeholder="e.g. HLT, io_, kvm_exit"></label>' +
    '<fieldset id="f-rows"><legend>Rows</legend>' +
    (['specified', 'walked through', 'no scenario', 'other architecture'] as Coverage[]).map((c) =>
      `<label><input type="checkbox" name="cov" value="${c}"${c === 'other architecture' ? '' : ' checked'}> ${esc(COVERAGE_LABEL[c])}</label>`).join('') + '</fieldset>' +
    '<fieldset id="f-cols"><legend>Columns</legend>' +
    [['num', '#'], ['spec', 'specified by'], ['walk', 'walked through by'], ['host', 'real host trace'], ['note', 'note']].map(([c, t]) =>
      `<label><input type="checkbox" name="col" value="${c}" checked> ${esc(t!)}</label>`).join('') + '</fieldset>' +
    `<label>Scenarios from <select id="folder"><option value="">every folder</option>${folders.map((f) => `<option value="${esc(f)}">features/${esc(f)}</option>`).join('')}</select></label>` +
    '<span class="shown" id="shown"></span></form>');
  o.push('</header><main>');

  const counts = new Map<ScenarioStatus, number>();
  for (const s of m.scenarios) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const traced = m.scenarios.filter((s) => s.hostTrace).length;
  o.push(`<p class="sum">${m.scenarios.length} scenarios: ${[...counts].map(([k, v]) => `<span style="color:${STATUS_COLOUR[k]}">${v} ${k}</span>`).join(', ')}; ` +
    `${traced} checked against a trace recorded on a real host. Generated ${esc(m.generated)}.</p>`);
  o.push('<div class="cards">');
  for (const k of ROW_KINDS) {
    const t = m.totals[k];
    o.push(`<a class="card" href="#${kindId(k)}" data-kind="${esc(k)}"><b>${esc(KIND_TITLES[k])}</b>` +
      `<span class="n" data-n="specified">${t.specified} of ${t.rows - t.outOfScope} specified</span>` +
      `<span class="n" data-n="walked">${t.exercisedOnly} only walked through</span>` +
      `<span class="n gapn" data-n="gap">${t.uncovered} with no scenario</span>` +
      (t.outOfScope ? `<span class="n" data-n="other">${t.outOfScope} of other architectures</span>` : '') +
      `<span class="n" data-n="host">${t.hostTrace} checked against a real host trace</span></a>`);
  }
  o.push('</div>');
  o.push('<p class="legend"><span class="cov cov-specified">specified</span> a step asserts it, or the scenario’s golden trace contains it (⊘: asserts it does not happen) · ' +
    '<span class="cov cov-walked-through">only walked through</span> scenarios go through it, none asserts it · <span class="cov cov-no-scenario">no scenario</span> nothing goes through it · ' +
    'a scenario in <span style="color:#c62828">red</span> did not pass. Scenario names open their page in the Allure report.</p>');
  if (m.warnings.length) o.push(`<p class="warn">${m.warnings.map(esc).join('<br>')}</p>`);

  for (const k of ROW_KINDS) {
    const t = m.totals[k];
    o.push(`<section id="${kindId(k)}"><h2>${esc(KIND_TITLES[k])} <small>${esc(totalsLine(t))}</small></h2><p class="what">${esc(WHAT[k].what)}</p>`);
    o.push(`<table class="matrix" data-kind="${esc(k)}"><thead><tr><th class="c-name">${esc(WHAT[k].thing)}</th><th class="c-num">#</th><th class="c-cov">coverage</th>` +
      '<th class="c-spec">specified by</th><th class="c-walk">only walked through by</th><th class="c-host">checked against a real host trace</th><th class="c-note">note</th></tr></thead><tbody>');
    for (const r of m.rows.filter((x) => x.kind === k)) o.push(rowHtml(r, byId));
    o.push('</tbody></table></section>');
  }

  o.push('<section id="scenarios"><h2>Scenarios</h2><table class="scen"><thead><tr><th>scenario</th><th>status</th><th>where</th><th>real host trace</th></tr></thead><tbody>');
  let feature = '';
  for (const s of m.scenarios) {
    if (s.uri !== feature) { feature = s.uri; o.push(`<tr class="feat-row" data-folder="${esc(s.folder)}"><td colspan="4">${esc(s.uri)} — ${esc(s.feature)}</td></tr>`); }
    o.push(`<tr data-folder="${esc(s.folder)}"><td>${scenarioLink(s)}</td><td style="color:${STATUS_COLOUR[s.status]}">${esc(s.status)}</td><td>${esc(s.uri)}:${s.line}</td><td>${s.hostTrace ? 'yes' : ''}</td></tr>`);
  }
  o.push('</tbody></table></section></main>');
  o.push(`<script>${SCRIPT}</script></body></html>`);
  return o.join('\n') + '\n';
}

function scenarioLink(s: MatrixScenario, mark = ''): string {
  const title = `${s.name} — ${s.uri}:${s.line} (${s.status}${s.hostTrace ? ', checked against a real host trace' : ''})`;
  const cls = `sc${s.status === 'passed' ? '' : ' bad'}`;
  const text = `${esc(s.name)}${mark}`;
  return s.allure
    ? `<a class="${cls}" data-folder="${esc(s.folder)}" href="${esc(s.allure)}" title="${esc(title)}">${text}</a>`
    : `<span class="${cls}" data-folder="${esc(s.folder)}" title="${esc(title)}">${text}</span>`;
}

/** Scenarios grouped by feature file, each group one line; folded when long. */
function scenarioList(ids: { id: string; mark?: string }[], byId: Map<string, MatrixScenario>, open: boolean): string {
  const scs = ids.map((x) => ({ s: byId.get(x.id)!, mark: x.mark ?? '' })).filter((x) => x.s)
    .sort((a, b) => (a.s.uri === b.s.uri ? a.s.line - b.s.line : a.s.uri < b.s.uri ? -1 : 1));
  if (!scs.length) return '';
  const groups = new Map<string, typeof scs>();
  for (const x of scs) groups.set(x.s.uri, [...(groups.get(x.s.uri) ?? []), x]);
  const body = [...groups].map(([uri, xs]) =>
    `<div class="grp" data-folder="${esc(xs[0]!.s.folder)}"><span class="feat" title="${esc(xs[0]!.s.feature)}">${esc(uri.replace(/^features\//, ''))}</span> ` +
    xs.map((x) => scenarioLink(x.s, x.mark)).join('<span class="sep"> · </span>') + '</div>').join('');
  if (scs.length <= FOLD) return body;
  const summary = `${scs.length} scenarios in ${groups.size} feature${groups.size === 1 ? '' : 's'}`;
  return `<details${open ? ' open' : ''}><summary data-total="${scs.length}">${summary}</summary>${body}</details>`;
}

function rowHtml(r: MatrixRow, byId: Map<string, MatrixScenario>): string {
  const cov = rowCoverage(r);
  const spec = r.cells.filter((c) => c.how !== 'exercised').map((c) => ({ id: c.scenario, mark: c.how === 'not called' ? ' ⊘' : '' }));
  const walk = r.cells.filter((c) => c.how === 'exercised').map((c) => ({ id: c.scenario }));
  const host = r.cells.filter((c) => byId.get(c.scenario)?.hostTrace).map((c) => ({ id: c.scenario }));
  const failing = spec.some((c) => byId.get(c.id)?.status !== 'passed');
  const folders = [...new Set(r.cells.map((c) => byId.get(c.scenario)?.folder).filter(Boolean))];
  const covCls = `cov cov-${cov.replace(/ /g, '-')}${failing ? ' failing' : ''}`;
  return `<tr class="row" data-name="${esc(r.name)}" data-cov="${cov}" data-folders=" ${esc(folders.join(' '))} ">` +
    `<td class="c-name">${esc(r.name)}</td><td class="c-num">${r.number ?? ''}</td>` +
    `<td class="c-cov"><span class="${covCls}">${esc(COVERAGE_LABEL[cov])}${failing ? ', not passing' : ''}</span></td>` +
    `<td class="c-spec">${scenarioList(spec, byId, spec.length <= 24)}</td>` +
    `<td class="c-walk">${scenarioList(walk, byId, false)}</td>` +
    `<td class="c-host">${scenarioList(host, byId, false)}</td>` +
    `<td class="c-note">${esc(r.note ?? '')}</td></tr>`;
}

const CSS = `
:root{--top-h:120px}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0;color:#1f1f1f;font-size:14px;overflow-x:hidden}
header.top{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid #ccc;padding:8px 16px 6px}
header .title{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 24px}
h1{font-size:20px;margin:0}nav a{margin-right:16px}
form.filters{display:flex;flex-wrap:wrap;align-items:center;gap:6px 18px;margin-top:6px;font-size:13px}
form.filters fieldset{border:1px solid #ddd;border-radius:4px;padding:2px 8px;margin:0;display:flex;flex-wrap:wrap;gap:2px 10px}
form.filters legend{font-size:12px;color:#555;padding:0 4px}
.shown{color:#555}
main{padding:0 16px 40px}
h2{font-size:17px;margin:26px 0 2px}h2 small{font-weight:normal;color:#555;font-size:13px}
p.what{margin:0 0 6px;color:#555;font-size:13px}p.sum{margin:12px 0 4px}p.warn{color:#c62828}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{border:1px solid #ccc;border-radius:6px;padding:6px 10px;font-size:13px;min-width:170px;flex:1 1 170px;color:inherit;text-decoration:none;display:flex;flex-direction:column}
.card:hover{border-color:#888}.card b{font-size:14px;margin-bottom:2px}.gapn{color:#c62828;font-weight:bold}
.legend{font-size:13px;color:#333;line-height:1.7}
table.matrix{border-collapse:separate;border-spacing:0;width:100%;table-layout:fixed;font-size:13px}
table.matrix th,table.matrix td{border-bottom:1px solid #e2e2e2;padding:4px 6px;vertical-align:top;text-align:left;overflow-wrap:anywhere}
table.matrix thead th{position:sticky;top:var(--top-h);z-index:3;background:#f3f5f8;border-bottom:2px solid #bbb;font-size:12px}
table.matrix th.c-name,table.matrix td.c-name{position:sticky;left:0;z-index:2;background:#fff}
table.matrix thead th.c-name{z-index:4;background:#f3f5f8}
.c-name{width:15%;font-family:"DejaVu Sans Mono",monospace}.c-num{width:4%;color:#555}.c-cov{width:10%}
.c-spec{width:30%}.c-walk{width:23%}.c-host{width:10%}.c-note{width:8%;color:#666;font-size:12px}
.cov{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;white-space:nowrap}
.cov-specified{background:#e3f3e6;color:#1e6b30}.cov-walked-through{background:#fff1d6;color:#8a5a00}
.cov-no-scenario{background:#fde0e0;color:#b71c1c;font-weight:bold}.cov-other-architecture{background:#eee;color:#777}
.cov.failing{background:#fde0e0;color:#b71c1c}
tr[data-cov="no scenario"] td.c-name{background:#fdecec}
.grp{margin:1px 0 3px}.feat{color:#666;font-size:12px}.feat::after{content:":"}
a.sc{color:#174ea6;text-decoration:none}a.sc:hover{text-decoration:underline}.sc.bad{color:#c62828;font-weight:bold}
details summary{cursor:pointer;color:#333}
table.scen{border-collapse:collapse;font-size:13px;width:100%;table-layout:fixed}
table.scen td,table.scen th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;overflow-wrap:anywhere}
table.scen th:nth-child(1){width:55%}table.scen th:nth-child(2){width:9%}table.scen th:nth-child(3){width:26%}
tr.feat-row td{background:#f3f5f8;font-weight:bold;padding-top:6px}
${['num', 'spec', 'walk', 'host', 'note'].map((c) => `body.hide-${c} .c-${c}`).join(',')}{display:none}
`;

// Filters: rows by name, coverage and folder; columns; the header's height for the sticky heads.
const SCRIPT = `
(function(){
  var top=document.getElementById('top');
  function sizeTop(){document.documentElement.style.setProperty('--top-h',top.offsetHeight+'px');}
  window.addEventListener('resize',sizeTop);sizeTop();
  var q=document.getElementById('q'),folder=document.getElementById('folder'),shown=document.getElementById('shown');
  function apply(){
    var covs=[].slice.call(document.querySelectorAll('input[name=cov]')).filter(function(i){return i.checked}).map(function(i){return i.value});
    [].forEach.call(document.querySelectorAll('input[name=col]'),function(i){document.body.classList.toggle('hide-'+i.value,!i.checked)});
    var text=q.value.trim().toLowerCase(),f=folder.value,n=0,all=0;
    [].forEach.call(document.querySelectorAll('[data-folder]'),function(el){if(!el.closest('tr.row')&&!el.closest('table.scen'))return;el.hidden=!!f&&el.getAttribute('data-folder')!==f;});
    [].forEach.call(document.querySelectorAll('table.matrix details summary'),function(s){
      var d=s.parentNode,k=d.querySelectorAll('.grp:not([hidden]) .sc').length,g=d.querySelectorAll('.grp:not([hidden])').length;
      s.textContent=k+' scenario'+(k===1?'':'s')+' in '+g+' feature'+(g===1?'':'s');d.hidden=k===0;});
    [].forEach.call(document.querySelectorAll('tr.row'),function(tr){
      all++;
      var ok=covs.indexOf(tr.getAttribute('data-cov'))>=0&&(!text||tr.getAttribute('data-name').toLowerCase().indexOf(text)>=0)
        &&(!f||tr.getAttribute('data-folders').indexOf(' '+f+' ')>=0||tr.getAttribute('data-cov')==='no scenario');
      tr.hidden=!ok;if(ok)n++;});
    shown.textContent=n+' of '+all+' rows shown';
    sizeTop();
  }
  document.getElementById('filters').addEventListener('input',apply);
  document.getElementById('filters').addEventListener('change',apply);
  apply();
})();
`;
