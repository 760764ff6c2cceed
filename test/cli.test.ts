// The command line against careless and hostile input: one line on stderr and status 2 for the
// input's mistakes, status 3 when the run broke an invariant, 70 for a defect of the simulator —
// never a stack trace — and a --trace-out file that is replaced only by a finished run.

import { test } from 'node:test';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../src/cli/main';
import { GuestMemory } from '../src/qemu/dma';
import { BlockBackend } from '../src/qemu/block/block_backend';

/** Run the CLI in this process; what it printed and its status. */
function cli(...argv: string[]): { status: number; stdout: string; stderr: string } {
  let stdout = '', stderr = '';
  const out = process.stdout.write.bind(process.stdout), err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => { stdout += String(s); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => { stderr += String(s); return true; }) as typeof process.stderr.write;
  try { return { status: main(argv), stdout, stderr }; } finally { process.stdout.write = out; process.stderr.write = err; }
}

const oneLine = (r: { stderr: string }) => expect(r.stderr.split('\n').filter(Boolean), r.stderr).to.have.length(1);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-cli-test-'));
const file = (name: string, text: string) => { const p = path.join(dir, name); fs.writeFileSync(p, text); return p; };

test('YAML aliases and anchors, in a file, in --set, and an alias bomb: one line, status 2', () => {
  const a = cli('explain', 'cpuid 0x0', '--config', file('alias.yaml', 'memory_mib: *b\n'));
  expect(a.status).to.equal(2);
  expect(a.stderr).to.equal(`exitpath: ${path.join(dir, 'alias.yaml')}:1:13: YAML anchors and aliases are not accepted in a configuration (*b): write the value itself\n`);
  const s = cli('explain', 'cpuid 0x0', '--set', 'vcpus=*a');
  expect([s.status, s.stderr]).to.deep.equal([2, 'exitpath: --set vcpus=*a: YAML anchors and aliases are not accepted (*a): write the value itself\n']);
  const bomb = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]', ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(', ')}]`)].join('\n');
  const b = cli('explain', 'cpuid 0x0', '--config', file('bomb.yaml', bomb));
  expect(b.status).to.equal(2);
  oneLine(b);
});

test('a buffer larger than the guest can hold is refused with the limit; RAM that reaches the PCI hole boots, relocated above 4 GiB', () => {
  const w = cli('explain', 'write-blocks 1 1000000000 /x');
  expect(w.status).to.equal(2);
  oneLine(w);
  expect(w.stderr).to.match(/^exitpath: action "write-blocks 1 1000000000 \/x": a write of 1000000000 KiB needs a buffer of 1,024,000,000,000 bytes in the guest, which has 512 MiB of RAM: at most 522,240 KiB/);
  const m = cli('explain', 'cpuid 0x0', '--set', 'memory_mib=4070', '--set', 'disk.transport=virtio-pci-modern');
  expect([m.status, m.stderr]).to.deep.equal([0, '']);
});

test('--set errors name the --set argument; usage errors are one line that points to --help', () => {
  const s = cli('explain', 'cpuid 0x0', '--set', 'disk.cahce=none');
  expect([s.status, s.stderr]).to.deep.equal([2, "exitpath: --set disk.cahce=none: unknown key 'cahce' in disk — did you mean cache?\n"]);
  for (const argv of [['explain'], ['explain', 'cpuid 0x0', '--bogus'], ['frobnicate'], [], ['explain', 'cpuid 0x0', '--vcpu', 'x']]) {
    const r = cli(...argv);
    expect(r.status, argv.join(' ')).to.equal(2);
    oneLine(r);
    expect(r.stderr, argv.join(' ')).to.match(/; try `exitpath --help`\n$/);
  }
  expect(cli('expalin', 'cpuid 0x0').stderr).to.equal("exitpath: unknown command 'expalin' (closest: explain); try `exitpath --help`\n");
  const h = cli('--help');
  expect(h.status).to.equal(0);
  expect(h.stdout).to.match(/^usage: exitpath test .*\n +exitpath explain/);
});

test('--trace-out FILE is replaced only by a finished run: a refused input leaves it as it was, and no temporary file stays', () => {
  const out = file('trace.ndjson', 'what was there\n');
  for (const argv of [['explain', 'cpuid 0x0', '--set', 'vcpus=0'], ['explain', 'cpuidd 0x0'], ['explain', 'write-blocks 1 1000000000 /x'], ['explain', 'cpuid 0x0', '--format', 'svg']]) {
    const r = cli(...argv, '--trace-out', out);
    expect(r.status, argv.join(' ')).to.equal(2);
    expect(fs.readFileSync(out, 'utf8'), argv.join(' ')).to.equal('what was there\n');
  }
  const ok = cli('explain', 'loop 3 cpuid 0x0', '--trace-out', out);
  expect(ok.status, ok.stderr).to.equal(0);
  expect(ok.stdout).to.contain('VM exits: 3 (0 reached qemu-kvm): 3× CPUID→kvm_emulate_cpuid');
  expect(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean)).to.have.length(18);
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  const d = cli('explain', 'cpuid 0x0', '--trace-out', dir);
  expect(d.status).to.equal(2);
  oneLine(d);
});

test('a workload too large to hold is refused up front, naming the limit and --trace-out', () => {
  const t0 = Date.now();
  const r = cli('explain', 'loop 10000000 cpuid 0x0');
  expect(r.status).to.equal(2);
  oneLine(r);
  expect(r.stderr).to.equal('exitpath: action "loop 10000000 cpuid 0x0" records about 60,000,000 events; explain holds at most 1,000,000 in memory: '
    + 'write them to a file with --trace-out FILE (memory stays bounded)\n');
  expect(Date.now() - t0, 'refused before running it').to.be.below(20_000);
});

test('writeq of a 64-bit value above 2^53 stores exactly its 8 bytes and the trace shows it exactly', () => {
  const r = cli('explain', 'writeq 0x200000 0x123456789abcdef1; readl 0x200004', '--format', 'json');
  expect(r.status, r.stderr).to.equal(0);
  const j = JSON.parse(r.stdout) as { events: { name: string; detail: Record<string, unknown> }[]; summary: { guestResult: { value: number } } };
  expect(j.events.find((e) => e.name === 'writeq')!.detail.value).to.equal('0x123456789abcdef1');
  expect(j.summary.guestResult.value).to.equal(0x12345678);
  const low = JSON.parse(cli('explain', 'writeq 0x200000 0xffffffffffffffff; readl 0x200000', '--format', 'json').stdout) as typeof j;
  expect(low.summary.guestResult.value).to.equal(0xffffffff);
  const big = cli('explain', 'writeq 0x200000 0x10000000000000000');
  expect([big.status, big.stderr]).to.deep.equal([2, "exitpath: action \"writeq 0x200000 0x10000000000000000\": value '0x10000000000000000' does not fit in 64 bits\n"]);
});

test('a run that breaks an invariant prints its output, then says so, status 3; a simulator defect is status 70 in one line', () => {
  // A guard-rail refusal made to happen: every request's buffers also get a store outside guest RAM.
  const check = GuestMemory.prototype.checkIov;
  GuestMemory.prototype.checkIov = function (this: GuestMemory, hva: number, len: number, site?: string) { this.stb_hva(-1, 0, 'test_store'); return check.call(this, hva, len, site); };
  try {
    const r = cli('explain', 'write hello /hello.txt');
    expect(r.status).to.equal(3);
    expect(r.stdout).to.contain('exitpath explain "write hello /hello.txt"');
    expect(r.stderr).to.match(/^exitpath: the simulated run broke its invariants \(a defect of exitpath's model, not of the input\):\n  invariant guard .*test_store.*\n(  .*\n)*  the DMA guard refused \d+ access\(es\) outside guest RAM \(test_store×\d+\)\n$/);
    const j = cli('explain', 'write hello /hello.txt', '--format', 'json');
    expect(j.status).to.equal(3);
    const t = cli('explain', 'write hello /hello.txt', '--trace-out', path.join(dir, 'broken.ndjson'));
    expect(t.status).to.equal(3);
    expect(fs.existsSync(path.join(dir, 'broken.ndjson')), 'the trace of a broken run is kept').to.equal(true);
    const c = cli('compare', 'write hello /hello.txt');
    expect(c.status).to.equal(3);
  } finally { GuestMemory.prototype.checkIov = check; }
  // A defect inside the simulator: an exception nobody expects.
  const pwritev = BlockBackend.prototype.blk_aio_pwritev;
  BlockBackend.prototype.blk_aio_pwritev = () => { throw new TypeError('cannot read properties of undefined (reading \'x\')'); };
  try {
    const r = cli('explain', 'write hello /x');
    expect(r.status).to.equal(70);
    oneLine(r);
    expect(r.stderr).to.match(/^exitpath: internal error: cannot read properties of undefined \(reading 'x'\) — a defect of exitpath, not of the input; set EXITPATH_DEBUG=1 to see where it happened\n$/);
  } finally { BlockBackend.prototype.blk_aio_pwritev = pwritev; }
});

test('a misspelt action or instruction names the closest ones; an unknown one lists the forms', () => {
  const cases: [string, string][] = [
    ['wirte hello /x', "unknown action 'wirte' (closest: write); expected 'write TEXT PATH'"],
    ['fsnyc /x', "unknown action 'fsnyc' (closest: fsync, sync)"],
    ['cpuidd 0x0', "unknown instruction 'cpuidd' (closest: cpuid); expected e.g."],
    ['frobnicate 1', "unknown instruction 'frobnicate'; expected e.g."],
  ];
  for (const [action, says] of cases) {
    const r = cli('explain', action);
    expect(r.status, action).to.equal(2);
    oneLine(r);
    expect(r.stderr, action).to.include(says);
  }
  // An instruction whose mnemonic is close to an action's verb is still an instruction.
  expect(cli('explain', 'inl 0x1234').status).to.equal(0);
});
