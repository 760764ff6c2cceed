// reports/index.html: where a reader starts. The seed's walk first (one click opens its page in the
// Allure report, the diagram at the top), then what the specification covers, then every report.

import { esc } from '../trace/svg';
import { ROW_KINDS, type Matrix, type MatrixScenario } from './matrix';
import { KIND_TITLES } from './terminal';

export interface LandingLinks {
  /** Did allure generate the report (reports/allure/index.html)? */
  allure: boolean;
  /** The seed scenario, with its Allure page when there is one. */
  seed?: MatrixScenario;
  /** Why the Allure report is missing, in one line. */
  allureProblem?: string;
}

export function landingHtml(m: Matrix, have: LandingLinks): string {
  const passed = m.scenarios.filter((s) => s.status === 'passed').length;
  const failed = m.scenarios.filter((s) => s.status !== 'passed');
  const link = (s: MatrixScenario) => (s.allure ? `<a href="${esc(s.allure)}">${esc(s.name)}</a>` : esc(s.name));
  const seed = have.seed;
  const rows = ROW_KINDS.map((k) => {
    const t = m.totals[k];
    return `<tr><td><a href="conformance.html#kind-${k.replace(/\W+/g, '-')}">${esc(KIND_TITLES[k])}</a></td><td>${t.specified} of ${t.rows - t.outOfScope}</td><td>${t.exercisedOnly}</td>` +
      `<td class="${t.uncovered ? 'bad' : ''}">${t.uncovered}</td><td>${t.hostTrace}</td></tr>`;
  }).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>exitpath — reports</title>
<style>body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:32px;max-width:900px;color:#1f1f1f;line-height:1.5}
li{margin:6px 0}.bad{color:#c62828}.start{border:2px solid #b3261e;border-radius:8px;padding:12px 18px;margin:18px 0}
.start a.go{font-size:20px;font-weight:bold;color:#b3261e}table{border-collapse:collapse}td,th{padding:3px 12px 3px 0;text-align:left}
th{font-weight:normal;color:#555;font-size:13px}</style></head><body>
<h1>exitpath — reports</h1>
<p>${m.scenarios.length} scenarios, ${passed} passed${failed.length ? `, <span class="bad">${failed.length} did not pass: ${failed.map(link).join('; ')}</span>` : ''}.</p>
${seed ? `<div class="start" id="start"><p>Start here: one <code>write()</code> of a guest process, from the process to the host disk and back, in the ten steps of the talk “QEMUとkvmとvt-x” (2013) — drawn as a sequence diagram, then told step by step.</p>
<p>${seed.allure ? `<a class="go" href="${esc(seed.allure)}">① → ⑩ The seed’s walk: “${esc(seed.name)}”</a>` : `<span class="go">${esc(seed.name)}</span> (the Allure report was not generated)`}</p></div>` : ''}
<h2>What the specification covers</h2>
<table><tr><th></th><th>specified</th><th>only walked through</th><th>no scenario</th><th>checked against a real host trace</th></tr>
${rows}
</table>
<h2>The reports</h2>
<ul>
${have.allure ? '<li><a href="allure/index.html">Allure report</a>: each scenario opens on its walk drawn as a sequence diagram, then its prose and the narrated walk; the trace (JSON and kvm tracepoint text) and links to the real sources below. Suites by folder and feature, Behaviors by area.</li>' : `<li class="bad">the Allure report was not generated${have.allureProblem ? `: ${esc(have.allureProblem)}` : ''}</li>`}
<li><a href="conformance.html">Conformance matrix</a> (<a href="conformance.json">JSON</a>): exit reasons, kvm handlers, KVM_EXIT codes, host syscalls and ioctls, kvm tracepoints — and the scenarios that specify each, walk through it, or check it against a real host trace</li>
<li><a href="cucumber.html">Cucumber report</a>, <a href="junit.xml">JUnit XML</a>, <a href="cucumber.ndjson">message stream</a></li>
</ul>
<p>Generated ${esc(m.generated)}.</p>
</body></html>
`;
}
