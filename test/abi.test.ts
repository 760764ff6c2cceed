// Checks every constant and struct offset of src/uapi against the real Linux UAPI headers installed
// on this machine: abiTable() is turned into a C program that prints each C expression, compiled
// with gcc and run. Needs gcc and linux-libc-dev; without them the test FAILS (it never skips).
//
//   TS_NODE_TRANSPILE_ONLY=true node --require ts-node/register --test test/abi.test.ts

import { after, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { abiHeaders, abiTable, abiUnclassified, type AbiEntry } from '../src/uapi/abi';
import { EXIT_REASON, VMX_EXIT_REASONS_FAILED_VMENTRY } from '../src/uapi/vmx';
import { KVM_EXIT, KVM_IOCTLS, kvm_run } from '../src/uapi/kvm';

const INSTALL_HINT = 'install a C compiler and the kernel UAPI headers: `apt-get install gcc linux-libc-dev`';
const GCC_ENV = { ...process.env, LC_ALL: 'C', LANG: 'C' };

let workDir: string | undefined;
function tmp(): string {
  workDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-abi-'));
  return workDir;
}
after(() => { if (workDir) fs.rmSync(workDir, { recursive: true, force: true }); });

function gcc(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('gcc', args, { cwd, env: GCC_ENV, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) {
    throw new Error(`cannot run gcc (${r.error.message}). This test compiles src/uapi against the real headers; ${INSTALL_HINT}.`);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function prelude(headers: readonly string[]): string[] {
  return [
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include <errno.h>',
    ...headers.map((h) => `#include <${h}>`),
  ];
}

/** Fails loudly (never skips) when gcc or a header is missing. */
function assertToolchain(headers: readonly string[]): void {
  const dir = tmp();
  const src = path.join(dir, 'probe.c');
  fs.writeFileSync(src, [...prelude(headers), 'int main(void) { return 0; }', ''].join('\n'));
  const r = gcc(['-w', '-fsyntax-only', src], dir);
  if (r.status !== 0) {
    const missing = [...r.stderr.matchAll(/fatal error: ([^:\s]+): No such file or directory/g)].map((m) => m[1]);
    const what = missing.length > 0 ? `header(s) not found: ${missing.join(', ')}` : `gcc cannot compile the header prelude:\n${r.stderr}`;
    throw new Error(`${what}\nThis test checks src/uapi against the real Linux UAPI headers; ${INSTALL_HINT}.`);
  }
}

interface Check {
  /** name -> value printed by the compiled program. */
  values: Map<string, number>;
  /** Entries that do not compile against the headers, with gcc's reason. */
  broken: { entry: AbiEntry; reason: string }[];
  /** Human-readable problems: broken entries first, then value mismatches. */
  problems: string[];
}

/** One C program, one printf per entry: returns the program text and which source line is which entry. */
function program(headers: readonly string[], entries: readonly AbiEntry[]): { text: string; lineOf: Map<number, AbiEntry> } {
  const lines = [...prelude(headers), '', 'int main(void)', '{'];
  const lineOf = new Map<number, AbiEntry>();
  for (const e of entries) {
    lines.push(`  printf("%s %lld\\n", ${JSON.stringify(e.name)}, (long long)(${e.c}));`);
    lineOf.set(lines.length, e);
  }
  lines.push('  return 0;', '}', '');
  return { text: lines.join('\n'), lineOf };
}

/** gcc's errors, attributed to the entries (program lines) they come from. */
function attributeErrors(stderr: string, file: string, lineOf: Map<number, AbiEntry>): Map<AbiEntry, string> {
  const out = new Map<AbiEntry, string>();
  const base = path.basename(file).replace(/[.]/g, '\\.');
  const loc = new RegExp(`(?:^|/)${base}:(\\d+):\\d+: (error|note): (.*)$`);
  let lastError = '';
  for (const line of stderr.split('\n')) {
    const err = /: error: (.*)$/.exec(line);
    if (err) lastError = err[1] ?? '';
    const m = loc.exec(line);
    if (!m) continue;
    const entry = lineOf.get(Number(m[1]));
    if (!entry || out.has(entry)) continue;
    out.set(entry, m[2] === 'error' ? m[3] ?? '' : lastError);
  }
  return out;
}

/** Compiles and runs the table against the installed headers; never throws for a bad entry. */
function checkAgainstHeaders(table: readonly AbiEntry[], tag: string): Check {
  const headers = abiHeaders(table);
  assertToolchain(headers);
  const dir = tmp();
  const src = path.join(dir, `${tag}.c`);
  const exe = path.join(dir, tag);
  const broken: Check['broken'] = [];
  let active = [...table];
  // A name missing from the headers fails compilation: report that name and retry without it,
  // so the remaining entries are still checked (gcc reports an undeclared name once per function).
  for (;;) {
    const { text, lineOf } = program(headers, active);
    fs.writeFileSync(src, text);
    const r = gcc(['-std=gnu11', '-w', '-O0', '-o', exe, src], dir);
    if (r.status === 0) break;
    const errs = attributeErrors(r.stderr, src, lineOf);
    if (errs.size === 0) throw new Error(`gcc failed and no failing entry could be identified:\n${r.stderr.split('\n').slice(0, 40).join('\n')}`);
    for (const [entry, reason] of errs) broken.push({ entry, reason });
    active = active.filter((e) => !errs.has(e));
  }
  const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 30_000 });
  if (run.error || run.status !== 0) throw new Error(`compiled ABI probe failed to run: ${run.error?.message ?? `exit ${run.status}`}\n${run.stderr}`);
  const values = new Map<string, number>();
  for (const line of run.stdout.split('\n')) {
    if (line === '') continue;
    const sp = line.lastIndexOf(' ');
    values.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  const problems: string[] = [];
  for (const { entry: e, reason } of broken) {
    problems.push(`${e.name}: not defined by <${e.header}> — \`${e.c}\` does not compile (${reason}); TS ${e.ts} = ${e.value}`);
  }
  for (const e of active) {
    const hv = values.get(e.name);
    if (hv === undefined) problems.push(`${e.name}: no value printed by the probe`);
    else if (hv !== e.value) problems.push(`${e.name}: TS ${e.ts} = ${e.value} (0x${e.value.toString(16)}) but <${e.header}> gives ${hv} (0x${hv.toString(16)}) for \`${e.c}\``);
  }
  return { values, broken, problems };
}

let realCheck: Check | undefined;
function real(): Check {
  realCheck ??= checkAgainstHeaders(abiTable(), 'abi');
  return realCheck;
}

test('abi table: non-trivial, sorted, unique, deterministic, and every uapi export is classified', () => {
  const table = abiTable();
  expect(table.length, 'abiTable() size').to.be.greaterThan(100);
  const names = table.map((e) => e.name);
  expect(new Set(names).size, 'duplicate names').to.equal(names.length);
  expect(names, 'sorted by name').to.deep.equal([...names].sort());
  expect(JSON.stringify(abiTable()), 'deterministic').to.equal(JSON.stringify(table));
  for (const e of table) {
    expect(Number.isSafeInteger(e.value) && e.value >= 0, `${e.name} value ${e.value}`).to.equal(true);
    expect(e.c, `${e.name} c`).to.be.a('string').and.not.equal('');
    expect(e.header, `${e.name} header`).to.match(/^[a-z0-9_-]+\/[a-z0-9_-]+\.h$/);
  }
  expect(abiUnclassified(), 'uapi exports neither in abiTable() nor documented as NOT_UAPI in src/uapi/abi.ts').to.deep.equal([]);
});

test('abi table covers every EXIT_REASON, KVM_EXIT, KVM ioctl and kvm_run offset', () => {
  const byName = new Map(abiTable().map((e) => [e.name, e]));
  const missing: string[] = [];
  const want = (name: string, value: number): void => {
    const e = byName.get(name);
    if (!e || e.value !== value) missing.push(`${name}=${value}${e ? ` (table has ${e.value})` : ''}`);
  };
  for (const [k, v] of Object.entries(EXIT_REASON)) want(`EXIT_REASON_${k}`, v);
  want('VMX_EXIT_REASONS_FAILED_VMENTRY', VMX_EXIT_REASONS_FAILED_VMENTRY);
  for (const [k, v] of Object.entries(KVM_EXIT)) want(`KVM_EXIT_${k}`, v);
  for (const [k, v] of Object.entries(KVM_IOCTLS)) want(k, v);
  for (const [k, v] of Object.entries(kvm_run)) want(`kvm_run.${k}`, v);
  for (const name of ['KVM_RUN', 'KVM_EXIT_IO', 'EXIT_REASON_CPUID', 'kvm_run.io.port', 'sizeof(struct iocb)',
    'iocb.aio_resfd', 'vring_desc.next', 'vring_avail.ring', 'vring_used.ring', 'VIRTIO_PCI_QUEUE_NOTIFY', 'EINVAL']) {
    if (!byName.has(name)) missing.push(name);
  }
  expect(missing, 'missing from abiTable()').to.deep.equal([]);
});

test('every abiTable() value equals the installed Linux UAPI headers (gcc)', () => {
  const { problems, values } = real();
  expect(problems, `${problems.length} entr${problems.length === 1 ? 'y differs' : 'ies differ'} from the headers:\n  ${problems.join('\n  ')}\n`).to.deep.equal([]);
  expect(values.size).to.equal(abiTable().length);
});

test('each entry\'s header really defines it', () => {
  const table = abiTable();
  real(); // toolchain present, program written
  const dir = tmp();
  const deps = gcc(['-w', '-M', path.join(dir, 'abi.c')], dir);
  expect(deps.status, deps.stderr).to.equal(0);
  const files = deps.stdout.replace(/\\\n/g, ' ').split(/\s+/).filter((f) => f.endsWith('.h'));
  const text = new Map<string, string>();
  const problems: string[] = [];
  for (const h of abiHeaders(table)) {
    const file = files.find((f) => f.endsWith(`/${h}`));
    if (file === undefined) problems.push(`<${h}> is not among the headers gcc used`);
    else text.set(h, fs.readFileSync(file, 'utf8'));
  }
  for (const e of table) {
    const body = text.get(e.header);
    if (body === undefined) continue;
    const struct = /^(?:offsetof|sizeof)\(struct (\w+)/.exec(e.c);
    const ident = struct ? struct[1] : /^\w+/.exec(e.c)?.[0] ?? e.c;
    // A struct definition, or a macro / enum constant (aio_abi.h's IOCB_CMD_* and io_uring.h's IORING_OP_* are enums; the latter implicitly numbered).
    const defines = struct
      ? [new RegExp(`\\bstruct\\s+${ident}\\s*\\{`)]
      : [new RegExp(`^[ \\t]*#[ \\t]*define[ \\t]+${ident}\\b`, 'm'), new RegExp(`^[ \\t]*${ident}[ \\t]*(=[^=]|,)`, 'm')];
    if (!defines.some((re) => re.test(body))) problems.push(`${e.name}: <${e.header}> does not define ${struct ? `struct ${ident}` : ident}`);
  }
  expect(problems, `wrong header attribution:\n  ${problems.join('\n  ')}\n`).to.deep.equal([]);
});

test('EXIT_REASON and KVM_EXIT list every exit reason the headers define', () => {
  real();
  const dir = tmp();
  const macros = gcc(['-w', '-dM', '-E', path.join(dir, 'abi.c')], dir);
  expect(macros.status, macros.stderr).to.equal(0);
  const defined = (prefix: string): Map<string, string> => new Map(
    [...macros.stdout.matchAll(new RegExp(`^#define ${prefix}(\\w+) (.*)$`, 'gm'))].map((m): [string, string] => [m[1] ?? '', (m[2] ?? '').trim()]),
  );
  const missing: string[] = [];
  for (const [k, v] of defined('EXIT_REASON_')) if (!(k in EXIT_REASON)) missing.push(`EXIT_REASON_${k} ${v} (asm/vmx.h) not in vmx.ts EXIT_REASON`);
  // Sub-codes that share the prefix but are not kvm_run.exit_reason values.
  const notExitReason = /^(IO_IN|IO_OUT|HYPERV_\w+|XEN_\w+)$/;
  for (const [k, v] of defined('KVM_EXIT_')) {
    if (!notExitReason.test(k) && !(k in KVM_EXIT)) missing.push(`KVM_EXIT_${k} ${v} (linux/kvm.h) not in kvm.ts KVM_EXIT`);
  }
  expect(missing, 'exit reasons defined by the headers but missing in src/uapi').to.deep.equal([]);
});

test('the checker names the entries that do not compile or differ (self-test with bogus entries)', () => {
  const good = abiTable().filter((e) => e.name === 'KVM_EXIT_IO' || e.name === 'kvm_run.io.port');
  const bogus: AbiEntry[] = [
    { name: 'KVM_EXIT_NO_SUCH_EXIT', value: 99, c: 'KVM_EXIT_NO_SUCH_EXIT', header: 'linux/kvm.h', ts: 'selftest' },
    { name: 'EXIT_REASON_NO_SUCH_REASON', value: 98, c: 'EXIT_REASON_NO_SUCH_REASON', header: 'asm/vmx.h', ts: 'selftest' },
    { name: 'kvm_run.io.no_such_field', value: 0, c: 'offsetof(struct kvm_run, io.no_such_field)', header: 'linux/kvm.h', ts: 'selftest' },
    { name: 'KVM_EXIT_HLT', value: 6, c: 'KVM_EXIT_HLT', header: 'linux/kvm.h', ts: 'selftest' },
  ];
  const check = checkAgainstHeaders([...good, ...bogus], 'selftest');
  expect(check.broken.map((b) => b.entry.name).sort()).to.deep.equal(
    ['EXIT_REASON_NO_SUCH_REASON', 'KVM_EXIT_NO_SUCH_EXIT', 'kvm_run.io.no_such_field'],
  );
  expect(check.problems).to.have.length(4);
  expect(check.problems.join('\n')).to.include('KVM_EXIT_HLT: TS selftest = 6 (0x6) but <linux/kvm.h> gives 5');
  expect(check.values.get('KVM_EXIT_IO')).to.equal(2);
  expect(check.values.get('kvm_run.io.port')).to.equal(34);
});
