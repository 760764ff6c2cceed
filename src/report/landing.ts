// reports/index.html: one page that says what was run and links every report.

import { esc } from '../trace/svg';
import type { Matrix } from './matrix';

export function landingHtml(m: Matrix, have: { allure: boolean }): string {
  const passed = m.scenarios.filter((s) => s.status === 'passed').length;
  const failed = m.scenarios.filter((s) => s.status !== 'passed');
  const t = m.totals['exit reason'];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>exitpath — reports</title>
<style>body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:32px;max-width:860px;color:#1f1f1f}li{margin:6px 0}.bad{color:#c62828}</style></head><body>
<h1>exitpath — reports</h1>
<p>${m.scenarios.length} scenarios, ${passed} passed${failed.length ? `, <span class="bad">${failed.length} did not pass: ${failed.map((s) => esc(s.name)).join('; ')}</span>` : ''}.
${t.specified} of ${t.rows} basic exit reasons are specified by a scenario.</p>
<ul>
${have.allure ? '<li><a href="allure/index.html">Allure report</a>: each scenario with its walk drawn as a sequence diagram, the narrated walk, the trace (JSON and kvm tracepoint text) and links to the real sources</li>' : '<li class="bad">the Allure report was not generated (Java missing?)</li>'}
<li><a href="conformance.html">Conformance matrix</a> (<a href="conformance.json">JSON</a>): exit reasons, KVM_EXIT codes, kvm handlers and host syscalls against the scenarios that specify them</li>
<li><a href="cucumber.html">Cucumber report</a>, <a href="junit.xml">JUnit XML</a>, <a href="cucumber.ndjson">message stream</a></li>
</ul>
<p>Generated ${esc(m.generated)}.</p>
</body></html>
`;
}
