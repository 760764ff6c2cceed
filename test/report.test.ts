import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG, type VmConfig } from '../src/config';
import { explain } from '../src/walk';
import { sequenceSvg } from '../src/trace/svg';
import { ftraceText } from '../src/trace/ftrace';
import { narrate } from '../src/trace/narrative';
import { buildMatrix, knownRows, rowCoverage } from '../src/report/matrix';
import { matrixHtml } from '../src/report/html';
import { coverageText } from '../src/report/terminal';
import { chapterLesson, lessonHtml } from '../src/report/chapter';
import { scenarioEvidence } from '../src/report/evidence';
import { EXIT_REASON } from '../src/uapi/vmx';
import { KVM_EXIT } from '../src/uapi/kvm';

const seed = (config: VmConfig = DEFAULT_CONFIG) => explain(config, 'write hello /hello.txt');

test('the diagram of the seed walk has the six lifelines and the ten numbered arrows, in order', () => {
  const svg = sequenceSvg(seed().events, { title: 'seed' });
  const lifelines = [...svg.matchAll(/<g class="lifeline" data-layer="([^"]+)">/g)].map((m) => m[1]);
  expect(lifelines).to.deep.equal(['guest process', 'guest kernel', 'VMX CPU', 'kvm', 'qemu-kvm', 'host kernel']);
  const stages = [...svg.matchAll(/<g class="arrow stage"[^>]* data-stage="(\d+)">/g)].map((m) => Number(m[1]));
  expect(stages).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(svg).to.match(/data-name="KVM_EXIT_IO" data-stage="4"/);
  // VMX root and non-root are both shaded, and the CPU's bar changes mode at each exit and entry.
  expect(svg).to.contain('VMX non-root (the guest)').and.to.contain('VMX root (the host)');
  const modes = [...svg.matchAll(/class="mode (root|non-root)"/g)].map((m) => m[1]);
  expect(modes.filter((m) => m === 'root')).to.have.length(seed().summary.exits.length);
});

test('the kvm tracepoint text prints the seed walk as Linux 6.1 and Linux 3.2 would', () => {
  const modern = ftraceText(seed().events, { era: 'linux-6.1' });
  expect(modern).to.match(/kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0xffffffff81[0-9a-f]{6} info1 0x00000000c0500001 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000\n/);
  expect(modern).to.contain('kvm_pio: pio_write at 0xc050 size 2 count 1 val 0x0 \n');
  expect(modern).to.contain('kvm_userspace_exit: reason KVM_EXIT_IO (2)\n');
  expect(modern).to.match(/kvm_entry: vcpu 0, rip 0xffffffff81/);
  // trace_kvm_exit fires in vmx_vcpu_run, interrupts off and preemption disabled: `d..1.`.
  expect(modern).to.match(/^ +CPU 0\/KVM-\d+ +\[000\] d\.\.1\. +0\.\d{6}: kvm_exit/m);
  // One kvm_exit and one kvm_entry per exit and entry of the walk.
  const s = seed().summary;
  expect(modern.match(/kvm_exit:/g)).to.have.length(s.exits.length);
  expect(modern.match(/kvm_entry:/g)).to.have.length(s.entries.length);
  expect(modern.match(/kvm_userspace_exit:/g)).to.have.length(s.exits.filter((x) => x.handledIn === 'userspace').length);

  const old = ftraceText(seed({ ...DEFAULT_CONFIG, profile: 'qemu-kvm-2013' }).events, { era: 'qemu-kvm-2013' });
  expect(old).to.match(/kvm_exit: reason IO_INSTRUCTION rip 0xffffffff81[0-9a-f]{6} info c0500001 0\n/);
  expect(old).to.match(/kvm_entry: vcpu 0\n/);
  expect(old).to.match(/kvm_inj_virq: irq 49\n/);
});

test('the narrative speaks Japanese with --lang ja, in the seed talk\'s words', () => {
  const w = seed();
  const text = narrate('seed', w.events, w.summary, false, 'ja');
  expect(text).to.contain('① プロセス → ゲストOS');
  expect(text).to.contain('③ vt-x → kvm');
  // Six requests (ext2's reads at open and allocation, the data, the inode, the flush), four exits each.
  expect(text).to.contain('VMExit: 24 回 (うち qemu-kvm まで届いたもの 12 回)');
  expect(text).to.contain('センシティブ命令のエミュレーション完');
});

test('the matrix lists every exit reason, KVM_EXIT code and kvm handler the model knows', () => {
  const rows = knownRows();
  const names = (k: string) => rows.filter((r) => r.kind === k).map((r) => r.name);
  expect(names('exit reason')).to.have.members(Object.keys(EXIT_REASON));
  expect(names('KVM_EXIT')).to.have.members(Object.keys(KVM_EXIT).map((k) => `KVM_EXIT_${k}`));
  expect(names('handler')).to.include.members(['handle_io', 'kvm_emulate_cpuid', 'handle_cpuid', 'kvm_emulate_halt', 'handle_halt']);
  expect(names('host syscall')).to.include.members(['io_submit', 'io_getevents', 'KVM_RUN', 'KVM_IRQ_LINE_STATUS']);
});

/** A cucumber message stream for two scenarios, as the message formatter writes it. */
function messages(): object[] {
  const w = seed();
  const trace = JSON.stringify({ config: w.config, walks: [{ action: '', events: w.events, summary: w.summary }] });
  return [
    { stepDefinition: { id: 'd1', pattern: { source: 'the VM exit reason is {exitReason}', type: 'CUCUMBER_EXPRESSION' } } },
    { stepDefinition: { id: 'd2', pattern: { source: 'the host does not call {word}', type: 'CUCUMBER_EXPRESSION' } } },
    { stepDefinition: { id: 'd3', pattern: { source: 'VMExit は {word} として qemu-kvm に届く', type: 'CUCUMBER_EXPRESSION' } } },
    { pickle: { id: 'p1', name: 'seed', uri: 'features/a.feature', astNodeIds: ['s1'], steps: [{ id: 'ps1', text: 'the VM exit reason is 30' }] } },
    { pickle: { id: 'p2', name: 'ja', uri: 'features/b.feature', astNodeIds: ['s2'], steps: [{ id: 'ps2', text: 'x' }, { id: 'ps3', text: 'y' }] } },
    { testCase: { id: 't1', pickleId: 'p1', testSteps: [{ id: 'ts1', pickleStepId: 'ps1', stepDefinitionIds: ['d1'], stepMatchArgumentsLists: [{ stepMatchArguments: [{ group: { value: '30' } }] }] }] } },
    { testCase: { id: 't2', pickleId: 'p2', testSteps: [
      { id: 'ts2', pickleStepId: 'ps2', stepDefinitionIds: ['d3'], stepMatchArgumentsLists: [{ stepMatchArguments: [{ group: { value: 'KVM_EXIT_IO' } }] }] },
      { id: 'ts3', pickleStepId: 'ps3', stepDefinitionIds: ['d2'], stepMatchArgumentsLists: [{ stepMatchArguments: [{ group: { value: 'pwritev' } }] }] }] } },
    { testCaseStarted: { id: 'c1', testCaseId: 't1' } },
    { testStepFinished: { testCaseStartedId: 'c1', testStepId: 'ts1', testStepResult: { status: 'PASSED' } } },
    { attachment: { testCaseStartedId: 'c1', fileName: 'trace.json', body: trace, contentEncoding: 'IDENTITY' } },
    { testCaseStarted: { id: 'c2', testCaseId: 't2' } },
    { testStepFinished: { testCaseStartedId: 'c2', testStepId: 'ts2', testStepResult: { status: 'FAILED' } } },
  ];
}

test('the matrix marks what scenarios specify, what they only walk through, and what nobody covers', () => {
  const m = buildMatrix(messages() as never);
  const row = (kind: string, name: string) => m.rows.find((r) => r.kind === kind && r.name === name)!;
  expect(m.scenarios.map((s) => [s.name, s.status, s.folder])).to.deep.equal([['seed', 'passed', 'features'], ['ja', 'failed', 'features']]);
  expect(row('exit reason', 'IO_INSTRUCTION').cells).to.deep.equal([{ scenario: 'p1', how: 'specified' }]);
  expect(row('KVM_EXIT', 'KVM_EXIT_IO').cells.map((c) => [c.scenario, c.how])).to.have.deep.members([['p1', 'exercised'], ['p2', 'specified']]);
  expect(row('host syscall', 'pwritev').cells).to.deep.equal([{ scenario: 'p2', how: 'not called' }]);
  expect(row('exit reason', 'HLT').cells).to.deep.equal([{ scenario: 'p1', how: 'exercised' }]);
  expect(rowCoverage(row('exit reason', 'IO_INSTRUCTION'))).to.equal('specified');
  expect(rowCoverage(row('exit reason', 'HLT'))).to.equal('walked through');
  expect(rowCoverage(row('exit reason', 'CPUID'))).to.equal('no scenario');
  expect(rowCoverage(row('KVM_EXIT', 'KVM_EXIT_S390_SIEIC'))).to.equal('other architecture');
  // The walk's kvm tracepoints are rows too: kvm_exit at every exit, kvm_pio where kvm records it.
  expect(rowCoverage(row('tracepoint', 'kvm_exit'))).to.equal('walked through');
  expect(rowCoverage(row('tracepoint', 'kvm_pio'))).to.equal('walked through');
  expect(rowCoverage(row('tracepoint', 'kvm_apicv_accept_irq'))).to.equal('no scenario');
  const total = m.totals['exit reason'];
  expect(total.specified).to.equal(1);
  expect(total.exercisedOnly).to.equal(seed().summary.exits.map((x) => x.reason).filter((r, i, a) => r !== 'IO_INSTRUCTION' && a.indexOf(r) === i).length);
  expect(total.specified + total.exercisedOnly + total.uncovered).to.equal(Object.keys(EXIT_REASON).length);
  expect(total.hostTrace).to.equal(0);

  const html = matrixHtml(m, { allure: 'allure/index.html' });
  expect(html).to.match(/<tr class="row" data-name="CPUID" data-cov="no scenario"/);
  expect(html).to.match(/<tr class="row" data-name="HLT" data-cov="walked through"/);
  expect(html).to.match(/<tr class="row" data-name="IO_INSTRUCTION" data-cov="specified"/);
  const text = coverageText(m);
  expect(text).to.match(/✔ IO_INSTRUCTION \(30\)\s+specified by S1/);
  expect(text).to.match(/✘ KVM_EXIT_IO \(2\)\s+specified by S2/);
  expect(text).to.match(/✗ CPUID \(10\)\s+no scenario/);
  expect(text).to.match(/○ HLT \(12\)\s+walked through by 1/);
});

test('"the walk includes NAME" specifies a kvm tracepoint (in either language, with a scope suffix too); a function of the same step names no row', () => {
  const def = (id: string, source: string) => ({ stepDefinition: { id, pattern: { source, type: 'CUCUMBER_EXPRESSION' } } });
  const step = (id: string, d: string, value: string) => ({ id: `ts${id}`, pickleStepId: `ps${id}`, stepDefinitionIds: [d], stepMatchArgumentsLists: [{ stepMatchArguments: [{ group: { value } }] }] });
  const m = buildMatrix([
    def('d1', 'the walk includes {word} in the whole scenario'), def('d2', 'the walk does not include {word}'),
    def('d3', 'the walk includes {word}'), def('d4', '処理に {word} が含まれる'),
    { pickle: { id: 'p1', name: 'tp', uri: 'features/a.feature', astNodeIds: ['s1'], steps: ['1', '2', '3', '4'].map((i) => ({ id: `ps${i}`, text: i })) } },
    { testCase: { id: 't1', pickleId: 'p1', testSteps: [step('1', 'd1', 'kvm_pio'), step('2', 'd2', 'kvm_fast_mmio'), step('3', 'd3', 'kvm_cpu_exec'), step('4', 'd4', 'kvm_vcpu_wakeup')] } },
    { testCaseStarted: { id: 'c1', testCaseId: 't1' } },
    ...['1', '2', '3', '4'].map((i) => ({ testStepFinished: { testCaseStartedId: 'c1', testStepId: `ts${i}`, testStepResult: { status: 'PASSED' } } })),
  ] as never);
  const row = (name: string) => m.rows.find((r) => r.kind === 'tracepoint' && r.name === name);
  expect(row('kvm_pio')!.cells).to.deep.equal([{ scenario: 'p1', how: 'specified' }]);
  expect(row('kvm_fast_mmio')!.cells).to.deep.equal([{ scenario: 'p1', how: 'not called' }]);
  expect(row('kvm_vcpu_wakeup')!.cells).to.deep.equal([{ scenario: 'p1', how: 'specified' }]);
  expect(row('kvm_cpu_exec'), 'a qemu function is no tracepoint row').to.equal(undefined);
  expect(m.rows.some((r) => r.note === 'named by a scenario, not known to the model')).to.equal(false);
});

test('the page and `exitpath coverage` give the same counts: a row walked through is never "no scenario"', () => {
  const m = buildMatrix(messages() as never);
  const html = matrixHtml(m);
  const text = coverageText(m);
  for (const [kind, t] of Object.entries(m.totals)) {
    const rows = m.rows.filter((r) => r.kind === kind);
    expect(html.match(new RegExp(`<table class="matrix" data-kind="${kind}">[\\s\\S]*?</table>`))![0].match(/data-cov="no scenario"/g)?.length ?? 0, kind).to.equal(t.uncovered);
    expect(rows.filter((r) => r.cells.length > 0 && rowCoverage(r) === 'no scenario')).to.have.length(0);
    expect(html).to.contain(`${t.uncovered} with no scenario`);
    expect(text).to.contain(`${t.specified}/${t.rows - t.outOfScope} specified, ${t.exercisedOnly} only walked through, ${t.uncovered} with no scenario`);
  }
  // In the terminal, a row only walked through is ○ and never says "no scenario".
  for (const line of text.split('\n').filter((l) => l.includes('walked through by'))) expect(line).not.to.contain('no scenario');
});

test('a scenario with a step "the host trace …" counts as checked against a real host trace, in every row it touches', () => {
  const w = seed();
  const trace = JSON.stringify({ config: w.config, walks: [{ action: '', events: w.events, summary: w.summary }] });
  const stream = [
    { gherkinDocument: { uri: 'features/import/real.feature', feature: { name: 'Real traces', description: '', children: [{ scenario: { id: 's9', name: 'the seed against a real host', description: '', location: { line: 3 } } }] } } },
    { stepDefinition: { id: 'dh', pattern: { source: 'the host trace {string}', type: 'CUCUMBER_EXPRESSION' } } },
    { stepDefinition: { id: 'dw', pattern: { source: 'the guest process writes {string} to {string}', type: 'CUCUMBER_EXPRESSION' } } },
    { pickle: { id: 'p9', name: 'the seed against a real host', uri: 'features/import/real.feature', astNodeIds: ['s9'], steps: [
      { id: 'h1', text: 'the host trace "seed-6.1.trace"' }, { id: 'h2', text: 'the guest process writes "hello" to "/hello.txt"' }] } },
    { testCase: { id: 't9', pickleId: 'p9', testSteps: [
      { id: 'x1', pickleStepId: 'h1', stepDefinitionIds: ['dh'], stepMatchArgumentsLists: [{ stepMatchArguments: [{ group: { value: '"seed-6.1.trace"' } }] }] },
      { id: 'x2', pickleStepId: 'h2', stepDefinitionIds: ['dw'], stepMatchArgumentsLists: [] }] } },
    { testCaseStarted: { id: 'c9', testCaseId: 't9', timestamp: { seconds: 1, nanos: 0 } } },
    { testStepFinished: { testCaseStartedId: 'c9', testStepId: 'x1', testStepResult: { status: 'PASSED' } } },
    { testStepFinished: { testCaseStartedId: 'c9', testStepId: 'x2', testStepResult: { status: 'PASSED' } } },
    { attachment: { testCaseStartedId: 'c9', fileName: 'trace.json', body: trace, contentEncoding: 'IDENTITY' } },
    ...messages(),
  ];
  const m = buildMatrix(stream as never);
  const real = m.scenarios.find((s) => s.id === 'p9')!;
  expect(real.hostTrace).to.equal(true);
  expect(real.folder).to.equal('import');
  expect(m.scenarios.filter((s) => s.hostTrace)).to.have.length(1);
  const rowsOfSeed = m.rows.filter((r) => r.cells.some((c) => c.scenario === 'p9'));
  expect(rowsOfSeed.map((r) => r.name)).to.include.members(['IO_INSTRUCTION', 'KVM_EXIT_IO', 'io_submit', 'kvm_exit', 'kvm_pio']);
  for (const k of Object.keys(m.totals) as (keyof typeof m.totals)[]) {
    expect(m.totals[k].hostTrace, k).to.equal(rowsOfSeed.filter((r) => r.kind === k).length);
  }
  expect(m.totals['exit reason'].hostTrace).to.equal(3);
  const html = matrixHtml(m);
  const io = html.match(/<tr class="row" data-name="IO_INSTRUCTION"[\s\S]*?<\/tr>/)![0];
  expect(io.match(/<td class="c-host">([\s\S]*?)<\/td>/)![1]).to.contain('the seed against a real host');
  expect(coverageText(m)).to.match(/IO_INSTRUCTION \(30\).*; ⌁ 1/);
});

test('each scenario gets its diagram, narrative, trace and tracepoint text, with labels and source links', () => {
  const w = seed();
  const ev = scenarioEvidence({ scenario: 'seed', config: w.config, walks: [{ action: 'write', events: w.events, summary: w.summary }] });
  expect(ev.attachments.map((a) => a.fileName)).to.deep.equal(['walk.svg', 'walk.txt', 'kvm-trace.txt', 'trace.json']);
  expect(ev.labels).to.deep.include({ name: 'exitReason', value: 'IO_INSTRUCTION' });
  expect(ev.labels).to.deep.include({ name: 'userspaceExit', value: 'KVM_EXIT_IO' });
  expect(ev.labels).to.deep.include({ name: 'layer', value: 'host kernel' });
  expect(ev.labels).to.deep.include({ name: 'profile', value: 'linux-6.1' });
  const urls = ev.links.map((l) => l.url);
  expect(urls).to.include('https://github.com/torvalds/linux/blob/v6.1/arch/x86/kvm/vmx/vmx.c');
  expect(urls).to.include('https://github.com/qemu/qemu/blob/v9.0.0/accel/kvm/kvm-all.c');
  expect(urls).to.include('https://github.com/torvalds/linux/blob/v6.1/fs/aio.c');
});

test('a literate chapter gives each scenario the lesson written in its section, before its steps', () => {
  const md = '# Feature: F\n\nIntro.\n\n## Scenario: A\n\n```c\nx();\n```\n\nAbout A.\n\n* When x\n\nAfter A.\n\n## Scenario: B\n* Then y\n';
  expect(chapterLesson(md, 'A')).to.equal('```c\nx();\n```\n\nAbout A.');
  expect(chapterLesson(md, 'B')).to.equal(null);
  expect(chapterLesson(md, 'C')).to.equal(null);
  expect(lessonHtml(chapterLesson(md, 'A')!)).to.equal('<pre><code>x();</code></pre>\n<p>About A.</p>');
  expect(lessonHtml('a `b<c>`\nd\n\ne')).to.equal('<p>a <code>b&lt;c&gt;</code> d</p>\n<p>e</p>');
});
