import { test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { explain } from '../src/walk';
import { allureCategories, SCENARIO_LABEL, shapeAllureResults } from '../src/report/allure';
import { allureUids } from '../src/report/allure-generate';
import { areaOf } from '../src/report/areas';
import { readRun } from '../src/report/messages';

const w = explain(DEFAULT_CONFIG, 'write hello /hello.txt');
const trace = JSON.stringify({ config: w.config, walks: [{ action: 'When the guest process writes "hello" to "/hello.txt"', events: w.events, summary: w.summary }] });

/** The message stream of two scenarios of one feature: the seed, and one whose last step has no definition. */
function stream(): object[] {
  const feature = {
    name: 'The seed\'s walk', language: 'en', description: '  The talk follows one write().\n  It has ten steps.\n\n  A second paragraph.',
    children: [
      { scenario: { id: 'a1', name: 'The ten steps of the talk', description: '', location: { line: 8 } } },
      { rule: { id: 'r1', name: 'Spec mistakes', children: [{ scenario: { id: 'a2', name: 'the moon', description: '    A scenario\n    with prose.', location: { line: 20 } } }] } },
    ],
  };
  return [
    { gherkinDocument: { uri: 'features/seed/write-walk.feature', feature } },
    { stepDefinition: { id: 'd1', pattern: { source: 'the guest process writes {string} to {string}', type: 'CUCUMBER_EXPRESSION' } } },
    { pickle: { id: 'p1', name: 'The ten steps of the talk', uri: 'features/seed/write-walk.feature', astNodeIds: ['a1'], steps: [{ id: 's1', text: 'the guest process writes "hello" to "/hello.txt"' }] } },
    { pickle: { id: 'p2', name: 'the moon', uri: 'features/seed/write-walk.feature', astNodeIds: ['a2'], steps: [{ id: 's2', text: 'the guest process writes "hello" to "/hello.txt"' }, { id: 's3', text: 'the moon is blue' }] } },
    { testCase: { id: 't1', pickleId: 'p1', testSteps: [{ id: 'x1', pickleStepId: 's1', stepDefinitionIds: ['d1'], stepMatchArgumentsLists: [] }] } },
    { testCase: { id: 't2', pickleId: 'p2', testSteps: [{ id: 'x2', pickleStepId: 's2', stepDefinitionIds: ['d1'], stepMatchArgumentsLists: [] }, { id: 'x3', pickleStepId: 's3', stepDefinitionIds: [] }] } },
    { testCaseStarted: { id: 'c1', testCaseId: 't1', timestamp: { seconds: 100, nanos: 0 } } },
    { testStepFinished: { testCaseStartedId: 'c1', testStepId: 'x1', testStepResult: { status: 'PASSED' } } },
    { attachment: { testCaseStartedId: 'c1', fileName: 'trace.json', body: trace, contentEncoding: 'IDENTITY' } },
    { testCaseStarted: { id: 'c2', testCaseId: 't2', timestamp: { seconds: 101, nanos: 0 } } },
    { testStepFinished: { testCaseStartedId: 'c2', testStepId: 'x2', testStepResult: { status: 'PASSED' } } },
    { testStepFinished: { testCaseStartedId: 'c2', testStepId: 'x3', testStepResult: { status: 'UNDEFINED' } } },
    { attachment: { testCaseStartedId: 'c2', fileName: 'trace.json', body: trace, contentEncoding: 'IDENTITY' } },
  ];
}

/** Results as allure-cucumberjs writes them: each attachment wrapped in a step of its own. */
function writeResults(dir: string): void {
  const wrapped = (name: string, type: string) => {
    fs.writeFileSync(path.join(dir, `${name}-attachment`), 'x');
    return { name, status: 'passed', steps: [], attachments: [{ name, source: `${name}-attachment`, type }] };
  };
  const base = { labels: [{ name: 'feature', value: 'The seed\'s walk' }, { name: 'language', value: 'javascript' }], links: [], attachments: [], parameters: [] };
  fs.writeFileSync(path.join(dir, 'r1-result.json'), JSON.stringify({
    ...base, uuid: 'r1', name: 'The ten steps of the talk', fullName: 'exitpath:features/seed/write-walk.feature#The ten steps of the talk', start: 100_000,
    status: 'passed', statusDetails: {}, description: 'The talk follows one write().\n    It has ten steps.',
    steps: [{ name: 'When the guest process writes "hello" to "/hello.txt"', status: 'passed', attachments: [], steps: [
      wrapped('walk.svg', 'image/svg+xml'), wrapped('walk.txt', 'text/plain'), wrapped('kvm-trace.txt', 'text/plain'), wrapped('trace.json', 'application/json')] }],
  }));
  fs.writeFileSync(path.join(dir, 'r2-result.json'), JSON.stringify({
    ...base, uuid: 'r2', name: 'the moon', fullName: 'exitpath:features/seed/write-walk.feature#the moon', start: 101_000, status: 'passed', statusDetails: {},
    steps: [{ name: 'When the guest process writes "hello" to "/hello.txt"', status: 'passed', attachments: [], steps: [] }, { name: 'Then the moon is blue', steps: [], attachments: [] }],
  }));
}

test('each Allure result gets its scenario\'s place, prose, narrated walk, links and the status cucumber gave', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-allure-'));
  try {
    writeResults(dir);
    const { scenarios } = readRun(stream() as never);
    expect(shapeAllureResults(dir, scenarios)).to.deep.equal({ shaped: 2, unmatched: [] });
    const r1 = JSON.parse(fs.readFileSync(path.join(dir, 'r1-result.json'), 'utf8'));
    const label = (r: { labels: { name: string; value: string }[] }, n: string) => r.labels.filter((l) => l.name === n).map((l) => l.value);
    expect(label(r1, 'parentSuite')).to.deep.equal(['features/seed']);
    expect(label(r1, 'suite')).to.deep.equal(['The seed\'s walk']);
    expect(label(r1, 'epic')).to.deep.equal(['1. The walk']);
    expect(label(r1, 'feature')).to.deep.equal(['The seed\'s walk']);
    expect(label(r1, SCENARIO_LABEL)).to.deep.equal(['p1']);
    expect(label(r1, 'tag')).to.include('exit:IO_INSTRUCTION');
    // Prose in paragraphs (a scenario without its own prose shows its feature's), then the narrated walk.
    expect(r1.description).to.equal(undefined);
    expect(r1.descriptionHtml).to.contain('<p>The talk follows one write(). It has ten steps.</p>\n<p>A second paragraph.</p>');
    expect(r1.descriptionHtml).to.match(/<h4>The walk, step by step<\/h4>\n<pre>The ten steps of the talk: When the guest process writes/);
    expect(r1.descriptionHtml).to.contain('① guest process → guest kernel');
    // Links: one per function, `file: function`.
    const names = r1.links.map((l: { name: string }) => l.name);
    expect(names[0]).to.equal('conformance matrix');
    expect(names).to.include.members(['arch/x86/kvm/vmx/vmx.c: handle_io', 'fs/aio.c: io_submit', 'arch/x86/kvm/x86.c: KVM_IRQ_LINE_STATUS', 'guest: drivers/virtio/virtio_pci_common.c: vp_notify']);
    // The diagram, the trace and the tracepoint text belong to the scenario; the narrative file is gone.
    expect(r1.attachments.map((a: { name: string }) => a.name)).to.deep.equal(['walk.svg', 'kvm-trace.txt', 'trace.json']);
    expect(r1.steps[0].steps).to.deep.equal([]);
    expect(fs.existsSync(path.join(dir, 'walk.txt-attachment'))).to.equal(false);

    const r2 = JSON.parse(fs.readFileSync(path.join(dir, 'r2-result.json'), 'utf8'));
    expect(r2.status).to.equal('broken');
    expect(r2.statusDetails.message).to.equal('undefined step: "the moon is blue" matches no step definition');
    expect(r2.steps[1].status).to.equal('broken');
    expect(label(r2, 'subSuite')).to.deep.equal(['Spec mistakes']);
    expect(r2.descriptionHtml).to.contain('<p>A scenario with prose.</p>');
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('categories: spec mistakes apart from model failures, each message in exactly one category', () => {
  const cats = allureCategories() as { name: string; matchedStatuses: string[]; messageRegex: string }[];
  const categoryOf = (status: string, message: string) => cats.filter((c) => c.matchedStatuses.includes(status) &&
    new RegExp(`^(?:${c.messageRegex.replace(/^\(\?s\)/, '')})$`, 's').test(message)).map((c) => c.name);
  const cases: [string, string, RegExp][] = [
    ['broken', 'undefined step: "the moon is blue" matches no step definition', /^Spec mistakes: an undefined/],
    ['broken', 'ambiguous step: "x" matches several step definitions', /^Spec mistakes: an undefined or ambiguous/],
    ['broken', '\'FOOBAR\' is not a basic exit reason of asm/vmx.h (e.g. …)', /^Spec mistakes: a name/],
    ['broken', '"frobnicate 1": unknown instruction \'frobnicate\'; expected e.g. "outw 0xc050 0x0"', /^Spec mistakes: a name/],
    ['broken', 'unknown key \'disk.foo\' (expected one of: size_mib)', /^Spec mistakes: a name/],
    ['failed', 'exits: IO_INSTRUCTION, HLT: expected 4 to equal 7\nmore', /^Model failures/],
    ['broken', 'the action did not complete: the VM is paused', /^Model errors/],
    ['broken', 'not modelled yet: SMP with irqchip: userspace', /^Model errors/],
  ];
  for (const [status, message, want] of cases) {
    const got = categoryOf(status, message);
    expect(got, message).to.have.length(1);
    expect(got[0], message).to.match(want);
  }
});

test('the areas follow the folders, in the order a reader takes them', () => {
  expect(['seed', 'chapters', 'ja', 'exits', 'io-paths', 'smp', 'faults', 'hostile', 'input'].map(areaOf)).to.deep.equal(
    ['1. The walk', '1. The walk', '1. The walk', '2. Exits', '3. I/O paths', '4. SMP', '5. Faults', '6. Hostile guest', '7. Bad input']);
  expect(areaOf('import')).to.equal('8. features/import');
});

test('a scenario\'s page in the generated single-file report is found by its label', () => {
  const tc = (uid: string, id: string) => Buffer.from(JSON.stringify({ uid, labels: [{ name: 'feature', value: 'f' }, { name: SCENARIO_LABEL, value: id }] })).toString('base64');
  const html = `<script>d('data/suites.json','e30='),d('data/test-cases/ab12.json','${tc('ab12', 'p1')}'),d('data/test-cases/cd34.json','${tc('cd34', 'p2')}')</script>`;
  expect([...allureUids(html, SCENARIO_LABEL)]).to.deep.equal([['p1', 'ab12'], ['p2', 'cd34']]);
});
