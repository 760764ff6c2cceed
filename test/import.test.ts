// The importer of host kvm traces: each tool's line layout, each era's payloads, the pairing per
// vCPU, the statistics, what a host trace cannot show, and the round trip of every golden walk.
// Lines here are written from the formats cited in src/trace/import/reader.ts and payload.ts.

import { test } from 'node:test';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CONFIG } from '../src/config';
import { perfScriptText, traceCmdText, ftraceText } from '../src/trace/ftrace';
import { hex } from '../src/trace/recorder';
import { ImportError, importTrace, readTraceFile, readTraceText, statFiles, type HostEvent } from '../src/trace/import';
import { Cursor } from '../src/trace/import/scan';
import { decodeIoQualification, encodeIoQualification, decodeCrQualification, decodeIntrInfo } from '../src/uapi/vmx';
import { explain, walkEvents } from '../src/walk';
import { Stack } from '../src/stack';
import { instructionAction } from '../src/guest/actions';
import { LOCAL_TIMER_VECTOR } from '../src/kvm/vmx/vmx';
import { hostTraceRefusal } from '../steps/support/host_trace_limits';
import { packageRoot } from '../runner/paths';

const FIXTURES = path.join(packageRoot(), 'features', 'host-trace', 'fixtures');

function read(text: string): { events: HostEvent[]; r: ReturnType<typeof readTraceText> } {
  const events: HostEvent[] = [];
  const r = readTraceText(text, 'test', (e) => { events.push(e); }, { keepText: true });
  return { events, r };
}
const one = (line: string): HostEvent => {
  const { events, r } = read(line);
  expect(r.malformed, JSON.stringify(r.malformed)).to.deep.equal([]);
  expect(events).to.have.length(1);
  return events[0]!;
};

test('hex reads kernel addresses back exactly: sign-extended ones as the model stores them', () => {
  const c = new Cursor();
  for (const [text, want] of [['0xffffffff81000321', '0xffffffff81000321'], ['ffff8881000a0000', '0xffff8881000a0000'], ['7f08a4602116', '0x7f08a4602116'], ['0x0', '0x0']] as const) {
    expect(hex(c.reset(text).hex())).to.equal(want);
  }
  expect(Number.isNaN(c.reset('zz').hex())).to.equal(true);
});

test('each tool\'s line prefix: task, thread, CPU and time', () => {
  // raw ftrace, 5 flags (6.x)
  let e = one('       CPU 0/KVM-2187    [005] d..1.  5123.004101: kvm_entry: vcpu 0, rip 0xffffffff815a8c78');
  expect([e.comm, e.tid, e.cpu, e.tsNs, e.vcpu]).to.deep.equal(['CPU 0/KVM', 2187, 5, 5123004101000, 0]);
  // raw ftrace, 4 flags, a comm with dashes
  e = one(' qemu-system-x86-24797 [003] .... 83184.290314: kvm_fpu: load');
  expect([e.comm, e.tid, e.cpu]).to.deep.equal(['qemu-system-x86', 24797, 3]);
  // ftrace with the tgid column, and <...> for a comm ftrace did not keep
  e = one('           <...>-4412  (   4405) [003] ..... 18136.763700: kvm_fpu: unload');
  expect([e.comm, e.tid]).to.deep.equal(['<...>', 4412]);
  // trace-cmd report: no flags, padded event names, the comm cut at its space
  e = one('             CPU-3301  [002] 88201.554310: kvm_exit:             reason EPT_MISCONFIG rip 0xffffffff8150a3b2 info 0 0');
  expect([e.comm, e.tid, e.cpu, e.name, e.f!.reason]).to.deep.equal(['CPU', 3301, 2, 'kvm_exit', 'EPT_MISCONFIG']);
  // trace-cmd report -l
  e = one('CPU 0/KV-2187    5d..1.  5130.100200: kvm_exit:             reason CPUID rip 0xffffffff8104e3a1 info 0 0');
  expect([e.comm, e.tid, e.cpu]).to.deep.equal(['CPU 0/KV', 2187, 5]);
  // perf script: comm and tid separated by spaces, the system before the event
  e = one('       CPU 0/KVM  699876 [020] 18136.763707:                       kvm:kvm_exit: reason EPT_MISCONFIG rip 0x133025 info 0 0');
  expect([e.comm, e.tid, e.cpu, e.system, e.name]).to.deep.equal(['CPU 0/KVM', 699876, 20, 'kvm', 'kvm_exit']);
  // perf script with pid/tid, and a hand-trimmed line without task and thread
  e = one('       CPU 1/KVM  4405/4413  [007] 18136.763700: kvm:kvm_fpu: load');
  expect([e.comm, e.tid]).to.deep.equal(['CPU 1/KVM', 4413]);
  e = one('[001]   770.850287:                      kvm:kvm_entry: vcpu 0, rip 0x100146');
  expect([e.tid, e.cpu, e.vcpu]).to.deep.equal([-1, 1, 0]);
  // nanosecond timestamps
  e = one('       CPU 0/KVM-2187    [005] .....  5123.004101123: kvm_fpu: load');
  expect(e.tsNs).to.equal(5123004101123);
});

test('kvm_exit of every era and tool reads as the same exit', () => {
  const forms = [
    'reason io_instruction rip 0xc01e4473',                                   // 2.6.31 (E1), lower-case names
    'reason IO_INSTRUCTION rip 0xc01e4473 info 3f80000 0',                     // 3.x–5.3 (E2), and the plugin
    'vcpu 0 reason IO_INSTRUCTION rip 0xc01e4473 info 3f80000 0',              // 5.4–5.9 (E3)
    'vcpu 0 reason IO_INSTRUCTION rip 0xc01e4473 info1 0x0000000003f80000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000',
    'vcpu 0 reason IO_INSTRUCTION rip 0xc01e4473 info1 0x0000000003f80000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000 requests 0x0000000000000000',
    'reason IO_INSTRUCTION rip 0xc01e4473 serial8250_tx_chars+0x42 info 3f80000 0', // the plugin naming the RIP's function
  ];
  for (const p of forms) {
    const e = one(`qemu-1 [000] .... 1.000000: kvm_exit: ${p}`);
    expect([e.f!.reason, e.f!.reasonNumber, e.f!.rip], p).to.deep.equal(['IO_INSTRUCTION', 30, 0xc01e4473]);
  }
  expect(one('q-1 [000] 1.0: kvm_exit: vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0xfff0 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000').f!.flags).to.equal('FAILED_VMENTRY');
  // Kept by number: the plugin's UNKNOWN (N) (the full exit_reason), __print_symbolic's hex fallback.
  expect(one('q-1 [000] 1.0: kvm_exit: reason UNKNOWN (47) rip 0x1 info 0 0').f!.reason).to.equal('LDTR_TR');
  expect(one('q-1 [000] 1.0: kvm_exit: reason UNKNOWN (2147483681) rip 0x1 info 0 0').f).to.include({ reason: 'INVALID_STATE', flags: 'FAILED_VMENTRY' });
  expect(one('q-1 [000] 1.0: kvm_exit: reason 0x4a rip 0x1 info 0 0').f!.reason).to.equal('BUS_LOCK');
  expect(one('q-1 [000] 1.0: kvm_exit: reason UNKNOWN (131072) rip 0x1 info 0 0').f).to.include({ reason: 'UNKNOWN(131072)', reasonNumber: -1 });
  expect(one('q-1 [000] 1.0: kvm_exit: reason PENDING_INTERRUPT rip 0x1 info 0 0').f!.reason).to.equal('INTERRUPT_WINDOW');
});

test('SVM exits, the kernel\'s names and the plugin\'s, map onto the VMX vocabulary', () => {
  const r = (p: string) => one(`q-1 [000] 1.0: kvm_exit: ${p}`).f!;
  expect(r('vcpu 0 reason msr rip 0x1 info1 0x0000000000000001 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000')).to.include({ reason: 'MSR_WRITE', isa: 'svm' });
  expect(r('vcpu 0 reason msr rip 0x1 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000').reason).to.equal('MSR_READ');
  expect(r('reason EXIT_NPF rip 0x1 info 100000014 fd000').reason).to.equal('EPT_VIOLATION');
  expect(r('reason EXIT_IOIO rip 0x1 info 3f80210 0').reason).to.equal('IO_INSTRUCTION');
  expect(r('vcpu 1 reason PF excp rip 0x1 info 14 7f0000').reason).to.equal('EXCEPTION_NMI');
  expect(r('reason vmrun rip 0x1 info 0 0')).to.include({ reason: 'vmrun', reasonNumber: -1 });
});

test('the other payloads of each era', () => {
  const f = (l: string) => one(`q-1 [000] .... 1.0: ${l}`);
  expect(f('kvm_entry: vcpu 3').f!.form).to.equal('N1');
  expect(f('kvm_entry: vcpu 0, rip 0xfc95a').f).to.include({ form: 'N2', rip: 0xfc95a });
  expect(f('kvm_entry: vcpu 0, rip 0xfc95a intr_info 0x800000b0 error_code 0x00000000 [immediate exit]').f).to.include({ form: 'N3', intrInfo: 0x800000b0, immediateExit: 1 });
  expect(f('kvm_entry:  vcpu 1 rip 0x406a89').f).to.include({ form: 'NP', rip: 0x406a89 });
  expect(f('kvm_pio: pio_read at 0xc13e size 2 count 1').f).to.deep.equal({ rw: 0, port: 0xc13e, size: 2, count: 1 });
  expect(f('kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x34 ').f).to.include({ rw: 1, val: 0x34 });
  expect(f('kvm_inj_virq: irq 52').f!.vector).to.equal(52);
  expect(f('kvm_inj_virq: IRQ 0xb0').f!.vector).to.equal(0xb0);
  expect(f('kvm_inj_virq: Soft/INTn 0x80 [reinjected]').f).to.include({ vector: 0x80, soft: 1, reinjected: 1 });
  expect(f('kvm_inj_exception: #GP (0x0)').f).to.include({ vector: 13, errorCode: 0 });
  expect(f('kvm_inj_exception: #DB [reinjected]').f).to.include({ vector: 1, reinjected: 1 });
  expect(f('kvm_page_fault: address 66 error_code 9').f).to.include({ address: 0x66, errorCode: 9 });
  expect(f('kvm_page_fault: vcpu 5 rip 0x7f08a4602116 address 0x0000000113600002 error_code 0x181')).to.include({ vcpu: 5 });
  expect(f('kvm_userspace_exit: reason restart (4)').f).to.deep.equal({ reason: 'restart', errno: 4 });
  expect(f('kvm_userspace_exit: reason 0x21 (33)').f!.reason).to.equal('KVM_EXIT_X86_BUS_LOCK');
  expect(f('kvm_emulate_insn: 0:1:f4 (prot32) failed').f).to.include({ insn: 'f4', mode: 'prot32', failed: 1 });
  expect(f('kvm_emulate_insn: 0:fc95a: (prot32)').f).to.include({ insn: '', failed: 0 });
  expect(f('kvm_emulate_insn: 0:133025: ec FAIL').f).to.include({ insn: 'ec', failed: 1 });
  expect(f('kvm_cpuid: func 0 rax d rbx 756e6547 rcx 6c65746e rdx 49656e69').f).to.include({ function: 0, rax: 0xd });
  expect(f('kvm_ioapic_set_irq: pin 11 dst 1 vec=49 (Fixed|physical|level)').f).to.include({ pin: 11, vec: 49, level: 1 });
  expect(f('kvm_msi_set_irq: dst 0 vec 41 (Fixed|physical|edge)').f!.vec).to.equal(0x41);
  expect(f('kvm_apic_ipi: dst 1 vec 253 (Fixed|physical|assert|edge|dst)').f).to.include({ icr_low: 0x40fd, dest_id: 1 });
  expect(f('kvm_vcpu_wakeup: poll time 31200 ns, polling valid').f).to.include({ waited: 0, haltedNs: 31200 });
  expect(f('kvm_halt_poll_ns: vcpu 0: halt_poll_ns 20000 (grow 10000)').f).to.include({ grow: 1, new: 20000, old: 10000 });
  expect(f('kvm_ple_window_update: vcpu 1 old 4096 new 8192 (growed)').f).to.include({ old: 4096, new: 8192 });
  expect(f('kvm_ack_irq: irqchip PIC slave pin 12').f).to.include({ irqchip: 'PIC slave', pin: 12 });
  // A 5.x trace reads kvm_msi_set_irq's later form (decimal vector).
  const { events } = read('q-1 [000] .... 1.0: kvm_exit: vcpu 0 reason HLT rip 0x1 info 0 0\nq-1 [000] .... 1.1: kvm_msi_set_irq: dst 0 vec 41 (Fixed|physical|edge)');
  expect(events[1]!.f!.vec).to.equal(41);
});

test('an unreadable line is reported with its number, its text and what was expected; --strict makes it an error', () => {
  const text = 'q-1 [000] .... 1.0: kvm_fpu: load\nnot a trace line\nq-1 [000] .... 1.1: kvm_exit: vcpu 0 reason HLT\nq-1 [000] .... 1.2: sched_switch: prev_comm=q\n';
  const { events, r } = read(text);
  expect(r.malformed.map((m) => [m.line, m.text])).to.deep.equal([[2, 'not a trace line'], [3, 'q-1 [000] .... 1.1: kvm_exit: vcpu 0 reason HLT']]);
  expect(r.malformed[1]!.why).to.equal('kvm_exit: expected " rip 0x…" after the exit reason');
  // The unknown event is kept, opaque.
  expect(events.map((e) => e.name)).to.deep.equal(['kvm_fpu', 'sched_switch']);
  expect(r.opaque).to.equal(1);
  expect(() => readTraceText(text, 'host.txt', () => {}, { strict: true })).to.throw(ImportError, 'host.txt:2: expected a trace line');
});

test('a file is read in blocks: a line split between blocks, and a UTF-8 name, come back whole', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-import-'));
  const file = path.join(dir, 'big.txt');
  const line = (i: number) => `      vhost-ä-${1000 + (i % 7)}  [001] ..... ${String(100 + i).padStart(5)}.000001: kvm_fpu: ${i % 2 ? 'load' : 'unload'}\n`;
  const n = 30000; // about 2.5 MB: several 1 MiB blocks
  fs.writeFileSync(file, Array.from({ length: n }, (_, i) => line(i)).join(''));
  let seen = 0;
  let bad = 0;
  const r = readTraceFile(file, (e) => { seen++; if (e.comm !== 'vhost-ä') bad++; });
  expect([r.lines, seen, bad, r.malformedTotal]).to.deep.equal([n, n, 0, 0]);
  fs.rmSync(dir, { recursive: true });
});

test('the model\'s own decoders read the qualifications kvm_exit prints', () => {
  // The encoder the VMX CPU uses, and the decoder the importer uses, agree.
  for (const [size, isIn, port] of [[1, false, 0x3f8], [2, false, 0xc050], [4, true, 0x1234], [1, true, 0xe9]] as const) {
    expect(decodeIoQualification(encodeIoQualification(size, isIn, port))).to.include({ size, in: isIn, port });
  }
  // Values of a real trace (in Volker Rümelin's qemu-devel "pckbd" patch mail; layout per the Intel SDM): `in al,0x60` (immediate), `outb` to 0xa0.
  expect(decodeIoQualification(0x600048)).to.include({ port: 0x60, size: 1, in: true, imm: true });
  expect(decodeIoQualification(0xa00040)).to.include({ port: 0xa0, in: false, imm: true });
  expect(decodeCrQualification(0x4)).to.include({ cr: 4, type: 'mov-to-cr', gpr: 0 });
  expect(decodeIntrInfo(0x80000b0e)).to.deep.equal({ valid: true, vector: 14, type: 3, hasErrorCode: true });
  const t = importTrace({ text: 'q-1 [000] .... 1.0: kvm_exit: reason IO_INSTRUCTION rip 0xff info e90008 0\nq-1 [000] d..1 1.1: kvm_entry: vcpu 0', source: 't' });
  expect(t.walk.events[0]!.detail).to.include({ port: '0xe9', size: 1, direction: 'in' });
});

test('pairing goes by vCPU id, else by thread: interleaved vCPUs, exits without an id, a round trip through userspace', () => {
  const text = [
    ' CPU-11 [000] 1.000001: kvm_exit:             reason HLT rip 0x1 info 0 0',
    ' CPU-12 [001] 1.000002: kvm_exit:             reason IO_INSTRUCTION rip 0x2 info 3f80000 0',
    ' CPU-12 [001] 1.000003: kvm_userspace_exit:   reason KVM_EXIT_IO (2)',
    ' CPU-11 [000] 1.000011: kvm_entry:            vcpu 0, rip 0x2',
    ' CPU-12 [001] 1.000042: kvm_entry:            vcpu 1, rip 0x3',
  ].join('\n');
  const t = importTrace({ text, source: 't' });
  expect(t.summary.exits.map((x) => `${x.vcpu} ${x.reason} ${x.userspaceExit ?? 'kernel'}`)).to.deep.equal(['0 HLT kernel', '1 IO_INSTRUCTION KVM_EXIT_IO']);
  // KVM_RUN again is inferred before vCPU 1's entry.
  expect(t.walk.events.filter((e) => e.vcpu === 1).map((e) => e.name)).to.deep.equal(['IO_INSTRUCTION', 'handle_io', 'kvm_userspace_exit', 'KVM_EXIT_IO', 'KVM_RUN', 'VMRESUME']);
  expect(t.summary.exits[0]!.handlerEvidence).to.match(/^inferred from kvm_vmx_exit_handlers\[\] of Linux 6\.1/);
});

test('exitpath stat reads every fixture with zero unread lines; its exit counts equal the kvm_exit lines', () => {
  for (const name of fs.readdirSync(FIXTURES)) {
    const file = path.join(FIXTURES, name);
    const kvmExitLines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => / kvm_exit: | kvm:kvm_exit: /.test(l)).length;
    const { stat, reads } = statFiles([file], { event: 'vmexit', key: 'sample' });
    const j = stat.json({ ...reads[0]!, malformed: reads[0]!.malformed });
    expect(reads[0]!.malformedTotal, `${name}: ${JSON.stringify(reads[0]!.malformed[0])}`).to.equal(0);
    if (reads[0]!.format === 'perf-top') continue; // shares, not events
    expect(j.exits.total, name).to.equal(kvmExitLines);
    expect(Object.values(j.exits.byReason).reduce((n, r) => n + r.count, 0), name).to.equal(kvmExitLines);
  }
});

test('stat: the JSON contract, perf kvm stat\'s table, and the ioport and mmio keys', () => {
  const file = path.join(FIXTURES, 'linux-6.1-seed-write.ftrace');
  const { stat, reads } = statFiles([file], { event: 'vmexit', key: 'sample' });
  const j = stat.json(reads[0]!);
  expect(Object.keys(j).slice(0, 8)).to.deep.equal(['source', 'format', 'lines', 'malformed', 'events', 'exits', 'vcpus', 'userspaceExits']);
  expect(j.exits.byReason.IO_INSTRUCTION).to.deep.include({ count: 2, userspace: { KVM_EXIT_IO: 2 }, handler: 'handle_io' });
  expect(j.vcpus).to.deep.equal([{ id: 0, exits: 5 }]);
  expect(j.userspaceExits).to.deep.equal({ KVM_EXIT_IO: 2 });
  // The kick: kvm_exit at …004101, kvm_entry at …004132 — 31 µs, qemu-kvm's time included, as perf counts it.
  expect(j.exits.byReason.IO_INSTRUCTION!.maxUs).to.equal(31);
  const text = stat.text([]);
  expect(text).to.contain('Analyze events for all VMs, all VCPUs:\n\n             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time \n');
  const io = statFiles([file], { event: 'ioport', key: 'sample' }).stat.json(reads[0]!);
  expect(Object.keys(io.exits.byReason)).to.deep.equal(['0xc050:POUT', '0xc053:PIN']);
  const mmio = statFiles([path.join(FIXTURES, 'linux-5.x-mmio.trace-cmd')], { event: 'mmio', key: 'sample' });
  expect(Object.keys(mmio.stat.json(mmio.reads[0]!).exits.byReason)).to.deep.equal(['0xfebf1014:R']);
});

test('the exports: trace-cmd cuts the comm and pads the event, perf script right-aligns it, 3.2 prints its own formats', () => {
  const w = explain(DEFAULT_CONFIG, 'inl 0x1234');
  expect(traceCmdText(w.events)).to.match(/^ {13}CPU-4001  \[000\] +0\.\d{6}: kvm_exit: {13}reason IO_INSTRUCTION rip 0x[0-9a-f]+ info 1234000b 0$/m);
  expect(perfScriptText(w.events)).to.match(/^ {7}CPU 0\/KVM    4001 \[000\] +0\.\d{6}: {23}kvm:kvm_exit: reason IO_INSTRUCTION/m);
  const old = explain({ ...DEFAULT_CONFIG, profile: 'qemu-kvm-2013' }, 'cpuid 0x0');
  const text = ftraceText(old.events, { era: 'qemu-kvm-2013' });
  expect(text).to.match(/kvm_cpuid: func 0 rax [0-9a-f]+ rbx 756e6547 rcx 6c65746e rdx 49656e69\n/);
  expect(text).to.match(/ \[000\] \.\.\.\. +0\.\d{6}: kvm_exit: reason CPUID/);
});

test('a step that needs what no host trace holds is refused with one line; kvm-level rows of the walk are not', () => {
  expect(hostTraceRefusal('Then', 'the host calls {word}', ['io_submit'])).to.match(/^a host kvm trace holds no syscalls/);
  expect(hostTraceRefusal('Then', String(/^the (?:write|read|call|instruction) returns (\d+)$/), ['5'])).to.match(/no guest results/);
  expect(hostTraceRefusal('Then', 'the trace matches the golden file {string}', ['x.yaml'])).to.match(/golden trace is the whole walk/);
  expect(hostTraceRefusal('Then', 'the disk image holds {string} at byte {int}', ['hello', 0])).to.match(/^this step reads the simulated machine/);
  expect(hostTraceRefusal('When', 'the guest executes {string}', ['nop'])).to.match(/^a host trace replaces the simulated machine/);
  expect(hostTraceRefusal('Given', 'the host trace {string}', ['x'])).to.equal(null);
  expect(hostTraceRefusal('Then', 'the VM exit reason is {exitReason}', [30])).to.equal(null);
  // An absence says something only of what a host trace can hold.
  expect(hostTraceRefusal('Then', 'the walk does not include {word}', ['kvm_mmio'])).to.equal(null);
  expect(hostTraceRefusal('Then', 'the walk does not include {word}', ['kvm_vcpu_halt'])).to.match(/kvm_vcpu_halt is neither/);
  const rows = (r: string[][]) => [['from', 'to', 'name'], ...r];
  expect(hostTraceRefusal('Then', 'the walk crosses, in order:', [rows([['VMX CPU', 'kvm', 'IO_INSTRUCTION'], ['kvm', 'qemu-kvm', 'KVM_EXIT_IO']])])).to.equal(null);
  const why = hostTraceRefusal('Then', 'the walk crosses, in order:', [rows([['VMX CPU', 'kvm', 'IO_INSTRUCTION'], ['qemu-kvm', 'host kernel', 'io_submit']])]);
  expect(why).to.match(/^row 2 \(qemu-kvm \| host kernel \| io_submit\): a host kvm trace holds no such crossing/);
  expect(why!.split('\n')).to.have.length(1);
  // The Japanese table's headers and boxes.
  expect(hostTraceRefusal('Then', 'the walk crosses, in order:', [[['送り手', '受け手', '名前'], ['vt-x', 'kvm', 'IO_INSTRUCTION'], ['qemu-kvm', 'ホストOS', 'io_submit']]])).to.match(/^row 2 \(qemu-kvm \| host kernel \| io_submit\)/);
  // A trace with the syscalls tracepoints holds qemu-kvm's syscalls, but not their absence.
  expect(hostTraceRefusal('Then', 'the host calls {word}', ['io_submit'], { syscalls: true })).to.equal(null);
  expect(hostTraceRefusal('Then', 'the host does not call {word}', ['ppoll'], { syscalls: true })).to.match(/no absence or total/);
  expect(hostTraceRefusal('Then', 'the walk crosses, in order:', [rows([['qemu-kvm', 'host kernel', 'io_submit']])], { syscalls: true })).to.equal(null);
});

test('every golden scenario also round-trips through the host trace formats', () => {
  const feature = fs.readFileSync(path.join(packageRoot(), 'features', 'golden', 'whole-walks.feature'), 'utf8');
  const scenarios = feature.split(/\n  Scenario: /).slice(1);
  expect(scenarios.length).to.be.greaterThan(0);
  for (const s of scenarios) {
    if (!s.includes('Then the trace matches the golden file')) continue;
    expect(s, s.split('\n')[0]).to.contain('And the walk reads back the same from ftrace, trace-cmd and perf script text');
  }
});

test('an event a mail client wrapped onto the next line is joined; a prefix with nothing after it is reported', () => {
  // As in Volker Rümelin's qemu-devel "pckbd" patch mail: each event over two lines in the mail.
  const { events, r } = read([
    'qemu-system-x86-5665  [000] ....   280.971121:',
    ' kvm_exit: reason EXTERNAL_INTERRUPT rip 0x22da info 0 800000fd',
    'qemu-system-x86-5665  [000] d..1   280.971122:',
    'qemu-system-x86-5665  [000] d..1   280.971122: kvm_entry: vcpu 0, rip 0x22da',
  ].join('\n'));
  expect(events.map((e) => `${e.line} ${e.name}`)).to.deep.equal(['1 kvm_exit', '4 kvm_entry']);
  expect(r.malformed.map((m) => m.line)).to.deep.equal([3]);
});

test('on a host trace, a step that needs what the trace cannot hold fails before it runs, with that one line, in either language', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-refusal-'));
  fs.mkdirSync(path.join(dir, 'features'));
  const trace = JSON.stringify(path.join(FIXTURES, 'linux-6.1-seed-write.ftrace'));
  fs.writeFileSync(path.join(dir, 'features', 'refused.feature'), [
    'Feature: refused', '  Scenario: io_submit on a host trace',
    `    Given the host trace ${trace}`,
    '    Then the VM exit reason is IO_INSTRUCTION', '    And the host calls io_submit', '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'features', 'refused-ja.feature'), [
    '# language: ja', '機能: 拒否', '  シナリオ: ホストのトレースに無いシステムコール',
    `    前提 the host trace ${trace}`,
    '    ならば ホストOSで io_submit は呼ばれない', '',
  ].join('\n'));
  const r = require('node:child_process').spawnSync(process.execPath, [path.join(packageRoot(), 'bin', 'exitpath.js'), 'test'],
    { cwd: dir, encoding: 'utf8' }) as { status: number; stdout: string; stderr: string };
  fs.rmSync(dir, { recursive: true });
  expect(r.stdout, r.stderr).to.match(/^scenarios: 0 passed, 2 failed$/m);
  const why = 'a host kvm trace holds no syscalls: qemu-kvm\'s (io_submit, ppoll, …) need a syscall trace of it (record the syscalls:* events with kvm:*) (this scenario reads a host trace)';
  expect(r.stdout).to.contain(`And the host calls io_submit (line 5)\n    ${why}`);
  expect(r.stdout).to.contain(`ならば ホストOSで io_submit は呼ばれない (line 5)\n    ${why}`);
});

test('explain --format ftrace prints what a 6.1 host prints for the tracepoints it fires', () => {
  const text = (action: string, sets: Partial<typeof DEFAULT_CONFIG> = {}) => ftraceText(explain({ ...DEFAULT_CONFIG, ...sets }, action).events);
  // kvm_cpuid with idx and "cpuid entry found" (5.x+), and kvm_exit's irq flags: vmx_vcpu_run, interrupts off.
  expect(text('cpuid 0x0')).to.match(/ d\.\.1\. +0\.\d{6}: kvm_exit: vcpu 0 reason CPUID .*\n.* \.\.\.\.\. +0\.\d{6}: kvm_cpuid: func 0 idx 0 rax d rbx 756e6547 rcx 6c65746e rdx 49656e69, cpuid entry found\n/);
  expect(text('vmcall')).to.match(/kvm_hypercall: nr 0x0 a0 0x[0-9a-f]+ a1 0x[0-9a-f]+ a2 0x[0-9a-f]+ a3 0x[0-9a-f]+\n/);
  // An MMIO read no device claims: the 6.1 kvm_page_fault, the emulated instruction's bytes, the
  // unsatisfied read before userspace and the read after, the FPU swapped around KVM_RUN's return.
  const mmio = text('readl 0xd0000000');
  const events = mmio.split('\n').filter(Boolean).map((l) => l.slice(l.indexOf(': ', l.indexOf('] ')) + 2));
  expect(events).to.deep.equal([
    events[0]!,
    `kvm_page_fault: vcpu 0 rip ${/rip (0x[0-9a-f]+)/.exec(events[0]!)![1]} address 0x00000000d0000000 error_code 0x181`,
    `kvm_emulate_insn: 0:${/rip 0x([0-9a-f]+)/.exec(events[0]!)![1]}:8b 07 (prot64)`,
    'kvm_mmio: mmio unsatisfied-read len 4 gpa 0xd0000000 val 0x0',
    'kvm_fpu: unload',
    'kvm_userspace_exit: reason KVM_EXIT_MMIO (6)',
    'kvm_fpu: load',
    'kvm_mmio: mmio read len 4 gpa 0xd0000000 val 0x0',
    events[8]!,
  ]);
  expect(events[0]).to.match(/^kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x[0-9a-f]+ info1 0x0000000000000181 /);
  expect(events[8]).to.match(/^kvm_entry: vcpu 0, rip 0x/);
  // The seed's interrupt: the PIC and IOAPIC under their locks, the IOAPIC's delivery inside its lock; the EOI.
  const seed = text('write hello /hello.txt');
  expect(seed).to.match(/ \.\.\.1\. +0\.\d{6}: kvm_apic_accept_irq: apicid 0 vec 49 \(Fixed\|level\)\n.* \.\.\.1\. +0\.\d{6}: kvm_ioapic_set_irq: pin 11 dst 0 vec 49 \(Fixed\|physical\|level\)\n/);
  expect(seed).to.match(/kvm_pic_set_irq: chip 1 pin 3 \((edge|level)(\|masked)?\)/);
  expect(seed).to.contain('kvm_apic: apic_write APIC_EOI = 0x0\n');
  // MSI-X: the message's destination and vector.
  expect(text('write hello /x', { disk: { ...DEFAULT_CONFIG.disk, vectors: 2 } })).to.match(/kvm_msi_set_irq: dst 0 vec 50 \(Fixed\|physical\|edge\)\n/);
});

test('kvm_exit of an external interrupt prints the VM-exit interruption information', () => {
  const stack = new Stack(DEFAULT_CONFIG);
  stack.cpus[0]!.hostInterrupt(LOCAL_TIMER_VECTOR);
  const o = stack.submit(instructionAction('nop'), 0);
  const text = ftraceText(walkEvents(stack, o.from, o.to));
  expect(text).to.match(new RegExp(`kvm_exit: vcpu 0 reason EXTERNAL_INTERRUPT rip 0x[0-9a-f]+ info1 0x0{16} info2 0x0{16} intr_info 0x800000${LOCAL_TIMER_VECTOR.toString(16)} error_code 0x00000000\\n`));
});
