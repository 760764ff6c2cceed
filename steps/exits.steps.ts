// Then: VM exits and entries, as the trace recorded them; where an idle or stopped vCPU waits; and
// the kvm_run page as qemu-kvm read it.

import { type DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { KVM_MP_STATE_HALTED } from '../src/kvm/vcpu';
import { VOCABULARY as V } from '../src/report/vocabulary';
import { abiTable } from '../src/uapi/abi';
import { ERRNO } from '../src/uapi/errno';
import { kvm_run, kvmExitName } from '../src/uapi/kvm';
import { exitReasonName, parseExitReason } from '../src/uapi/vmx';
import type { ExitSummary } from '../src/trace/query';
import { stepsAbout } from './support/define';
import { SpecError, type ExitpathWorld } from './support/world';

const { Then } = stepsAbout('VM exits and entries');

function firstExit(w: ExitpathWorld) {
  const e = w.last.summary.exits[0];
  if (!e) throw new Error(`the action caused no VM exit${w.last.state !== 'done' ? ` (it has not returned: ${w.last.why ?? w.last.state})` : ''}`);
  return e;
}

Then(V.exitReason, { doc: 'the action\'s first VM exit; `IO_INSTRUCTION`, `EXIT_REASON_IO_INSTRUCTION` or `30`' }, function (this: ExitpathWorld, reason: number) {
  const e = firstExit(this);
  expect(e.reason, `first VM exit: ${e.reason} (${e.reasonNumber})`).to.equal(exitReasonName(reason));
  expect(e.reasonNumber).to.equal(reason);
});

Then(V.handler, { doc: 'the handler kvm\'s table picked for the first exit (`handle_io`); a name of the profile\'s table. On a host trace, which names no handler, the handler is inferred from kvm\'s table for the trace\'s era (or seen in a stack trace), and the step says so', names: ['exit handler'] }, function (this: ExitpathWorld, handler: string) {
  const e = firstExit(this);
  // A host trace names no handler: it is inferred (or seen in a stack trace), and the step says how.
  if (e.handlerEvidence) this.log(`${e.reason} → ${e.handler ?? 'no handler'}: ${e.handlerEvidence}`);
  expect(e.handler, e.handlerEvidence ? `kvm's handler, ${e.handlerEvidence}` : undefined).to.equal(handler);
});

Then(V.inKernel, { doc: 'the first exit never returned from `KVM_RUN`: kvm handled it and entered the guest again' }, function (this: ExitpathWorld) {
  const e = firstExit(this);
  expect(e.handledIn, `the ${e.reason} exit reached qemu-kvm as ${e.userspaceExit}`).to.equal('kernel');
});

Then(V.reachesQemu, { doc: 'the first exit returned from `KVM_RUN` with that `kvm_run->exit_reason`: `KVM_EXIT_IO`, `KVM_EXIT_MMIO`, …', names: ['userspace exit'] }, function (this: ExitpathWorld, exit: string) {
  expect(firstExit(this).userspaceExit).to.equal(exit);
});

Then(V.exitsCount, { doc: 'how many VM exits there were', scope: true }, function (this: ExitpathWorld, n: string | number) {
  const exits = this.scoped.summary.exits;
  expect(exits.length, `exits ${this.scopeWords}: ${exits.map((e) => e.reason).join(', ') || 'none'}`).to.equal(Number(n));
});

Then(V.userspaceCount, { doc: 'how many exits returned from `KVM_RUN` to qemu-kvm', scope: true }, function (this: ExitpathWorld, n: string | number) {
  const up = this.scoped.summary.exits.filter((e) => e.handledIn === 'userspace');
  expect(up.length, `userspace exits ${this.scopeWords}: ${up.map((e) => `${e.reason}→${e.userspaceExit}`).join(', ') || 'none'}`).to.equal(Number(n));
});

Then(V.noExit, { doc: 'the guest never left VMX non-root mode', scope: true }, function (this: ExitpathWorld) {
  expect(this.scoped.summary.exits.map((e) => e.reason), `exits ${this.scopeWords}`).to.deep.equal([]);
});

Then(V.firstEntry, { doc: 'the first VM entry\'s instruction: `VMLAUNCH` or `VMRESUME`', names: ['VM entry'] }, function (this: ExitpathWorld, name: string) {
  expect(this.last.summary.entries[0]).to.equal(name);
});

Then(V.laterEntries, { doc: 'every VM entry after the first', names: ['VM entry'] }, function (this: ExitpathWorld, name: string) {
  const later = this.last.summary.entries.slice(1);
  expect(later.length, 'there is no later VM entry').to.be.greaterThan(0);
  expect(later.filter((e) => e !== name), `entries: ${later.join(', ')}`).to.deep.equal([]);
});

Then(V.everyEntry, { doc: 'every VM entry of the action', names: ['VM entry'] }, function (this: ExitpathWorld, name: string) {
  const all = this.last.summary.entries;
  expect(all.length, 'there is no VM entry').to.be.greaterThan(0);
  expect(all.filter((e) => e !== name)).to.deep.equal([]);
});

Then(V.interrupts, { doc: 'interrupts delivered to the guest', scope: true }, function (this: ExitpathWorld, n: string | number) {
  expect(this.scoped.summary.guestInterrupts, `interrupts ${this.scopeWords}`).to.equal(Number(n));
});

Then('VM exit {int} is {exitReason}', { doc: 'the Nth exit of the action (from 1)' }, function (this: ExitpathWorld, n: number, reason: number) {
  const exits = this.last.summary.exits;
  const e = exits[n - 1];
  if (!e) throw new Error(`there is no VM exit ${n}: exits were ${exits.map((x) => x.reason).join(', ') || 'none'}`);
  expect(e.reason, `VM exit ${n}`).to.equal(exitReasonName(reason));
});

/**
 * A `reason | handler | handled in` table against exits of the summary, both as `REASON | handler |
 * kernel-or-KVM_EXIT_…` lines (also used by the per-vCPU step of smp.steps.ts). Every name in the
 * table is checked against the model's vocabulary first.
 */
export function expectExitTable(w: ExitpathWorld, exits: readonly ExitSummary[], table: DataTable): void {
  const want = table.hashes().map((r) => {
    for (const k of ['reason', 'handler', 'handled in']) if (!(k in r)) throw new SpecError(`the table needs columns reason | handler | handled in (got ${Object.keys(r).join(' | ')})`);
    const n = parseExitReason(r.reason!);
    if (n === undefined) throw new SpecError(`'${r.reason}' is not a basic exit reason of asm/vmx.h`);
    if (r.handler !== '(none)') w.checkName('exit handler', r.handler!, false);
    if (r['handled in'] !== 'kernel') w.checkName('userspace exit', r['handled in']!, false);
    return `${exitReasonName(n)} | ${r.handler} | ${r['handled in']}`;
  });
  const got = exits.map((e) => `${e.reason} | ${e.handler ?? '(none)'} | ${e.userspaceExit ?? 'kernel'}`);
  const inferred = exits.find((e) => e.handlerEvidence)?.handlerEvidence;
  expect(got, inferred ? `handlers of a host trace, ${inferred}` : undefined).to.deep.equal(want);
}

/** Every exit of the action, in order: reason, handler, and where it ended (kernel, or the KVM_EXIT_* it reached). */
Then('the VM exits are:', { doc: 'every exit of the action, in order, as a table `reason | handler | handled in`; `handled in` is `kernel` or the `KVM_EXIT_…` it returned with, `handler` is `(none)` for an exit kvm has no handler for' }, function (this: ExitpathWorld, table: DataTable) {
  expectExitTable(this, this.last.summary.exits, table);
});

const KVM_RUN_FIELD_SIZE: Record<string, number> = {
  request_interrupt_window: 1, immediate_exit: 1, exit_reason: 4, ready_for_interrupt_injection: 1, if_flag: 1, flags: 2,
  'io.direction': 1, 'io.size': 1, 'io.port': 2, 'io.count': 4, 'mmio.len': 4, 'mmio.is_write': 1,
  'internal.suberror': 4, 'internal.ndata': 4, 'fail_entry.cpu': 4, 'ex.exception': 4, 'ex.error_code': 4,
  'eoi.vector': 1, 'msr.error': 1, 'msr.reason': 4, 'msr.index': 4, 'notify.flags': 4,
};

/** A number (hex or decimal) or the name of a UAPI constant of src/uapi. */
function uapiValue(text: string): number {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return Number(text);
  const e = abiTable().find((x) => x.name === text);
  if (!e) throw new SpecError(`'${text}' is neither a number nor a UAPI constant the model uses`);
  return e.value;
}

/**
 * kvm_run as qemu-kvm read it when `ioctl(KVM_RUN)` returned with the action's last userspace exit,
 * byte for byte at the offsets of struct kvm_run: `exit_reason`, `io.port`,
 * `fail_entry.hardware_entry_failure_reason`, `internal.data[1]`, ... The value is a number or a
 * UAPI name (KVM_EXIT_IO, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, ...).
 */
Then('kvm_run\'s {word} is {word}', { doc: 'a field of the kvm_run page as qemu-kvm read it when `KVM_RUN` returned with the action\'s last userspace exit, by its C name (`exit_reason`, `io.port`, `mmio.phys_addr`, `internal.suberror`, `internal.data[0]`, `fail_entry.hardware_entry_failure_reason`, `eoi.vector`, …); the value a number or a UAPI name (`KVM_EXIT_IO`)' }, function (this: ExitpathWorld, field: string, value: string) {
  const m = /^([a-z0-9_.]+)(?:\[(\d+)\])?$/.exec(field);
  if (m) this.checkName('kvm_run field', m[1]!, false);
  else throw new SpecError(`'${field}' is not a kvm_run field name (a C member name, e.g. io.port or internal.data[0])`);
  const off = (kvm_run as Record<string, number>)[m[1]!]!;
  const snap = this.last.runPages[this.last.runPages.length - 1];
  if (!snap) throw new Error('no exit reached qemu-kvm in the last action: qemu-kvm read no kvm_run page');
  const size = KVM_RUN_FIELD_SIZE[m[1]!] ?? 8;
  const at = off + (m[2] ? 8 * Number(m[2]) : 0);
  const run = new DataView(snap.page.buffer, snap.page.byteOffset, snap.page.byteLength);
  const got = size === 1 ? run.getUint8(at) : size === 2 ? run.getUint16(at, true) : size === 4 ? run.getUint32(at, true) : Number(run.getBigUint64(at, true));
  const want = uapiValue(value);
  const show = (v: number) => (m[1] === 'exit_reason' ? `${kvmExitName(v)} (${v})` : `0x${v.toString(16)}`);
  expect(show(got), `kvm_run.${field} when KVM_RUN returned ${snap.exit} on vCPU ${snap.vcpu}`).to.equal(show(want));
});

Then(V.walkIncludes, { doc: 'an event of that name (a function, tracepoint, syscall or crossing) in the action\'s trace', names: ['event'], scope: true }, function (this: ExitpathWorld, name: string) {
  const names = new Set(this.scoped.events.map((e) => e.name));
  expect(names.has(name), `${name} is not in the walk ${this.scopeWords}`).to.equal(true);
});

Then(V.walkExcludes, { doc: 'no event of that name in the action\'s trace', names: ['event'], negative: true, scope: true }, function (this: ExitpathWorld, name: string) {
  expect(this.scoped.events.some((e) => e.name === name), `${name} is in the walk ${this.scopeWords}`).to.equal(false);
});

/** A tracepoint or call in the walk with one detail: `kvm_ple_window_update new 8192`. */
Then(V.walkIncludesWith, { doc: 'such an event with one detail (`kvm_ple_window_update new 8192`)', names: ['event'] }, function (this: ExitpathWorld, name: string, key: string, value: string) {
  const seen = this.last.events.filter((e) => e.name === name);
  expect(seen.length, `${name} is not in the walk`).to.be.greaterThan(0);
  const keys = [...new Set(seen.flatMap((e) => Object.keys(e.detail)))];
  if (!keys.includes(key)) throw new SpecError(`${name} has no detail '${key}' (its details: ${keys.join(', ') || 'none'})`);
  const want = /^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number(value) : value;
  const values = seen.map((e) => e.detail[key]);
  expect(values.some((v) => v === want || (typeof v === 'string' && /^0x/.test(v) && Number(v) === want)), `${name} ${key}: ${values.join(', ')}`).to.equal(true);
});

const EXCEPTION_VECTORS: Record<string, number> = {
  '#DE': 0, '#DB': 1, '#BP': 3, '#OF': 4, '#BR': 5, '#UD': 6, '#NM': 7, '#DF': 8, '#TS': 10, '#NP': 11, '#SS': 12,
  '#GP': 13, '#PF': 14, '#MF': 16, '#AC': 17, '#MC': 18,
};

/** The guest's own IDT handled an exception (no VM exit decided it): #UD, #GP, #BP, ... */
Then('the guest\'s own handler takes {word}', { doc: 'an exception the guest\'s IDT handled without a VM exit deciding it (`#UD`, `#GP`, `#BP`)' }, function (this: ExitpathWorld, name: string) {
  const vector = EXCEPTION_VECTORS[name];
  if (vector === undefined) throw new SpecError(`'${name}' is not an exception mnemonic (${Object.keys(EXCEPTION_VECTORS).join(', ')})`);
  const taken = this.last.events.filter((e) => e.kind === 'irq' && e.name === 'exception').map((e) => Number(e.detail.vector));
  expect(taken, 'exceptions delivered to the guest').to.include(vector);
});

Then('the guest takes an NMI', { doc: 'an NMI delivered to the guest' }, function (this: ExitpathWorld) {
  expect(this.last.events.some((e) => e.kind === 'irq' && e.name === 'nmi'), 'no NMI was delivered to the guest').to.equal(true);
});

Then('the guest takes interrupt {word}', { doc: 'that vector (`0x31`) delivered to the guest' }, function (this: ExitpathWorld, vector: string) {
  if (!/^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(vector) || Number(vector) > 255) throw new SpecError(`'${vector}' is not an interrupt vector (0 to 255, e.g. 0x31)`);
  const got = this.last.events.filter((e) => e.kind === 'irq' && e.name === 'interrupt').map((e) => Number(e.detail.vector));
  expect(got, 'interrupts delivered to the guest').to.include(Number(vector));
});

Then('qemu-kvm stops the VM: {string}', { doc: 'qemu-kvm\'s vm_stop and the reason it gave; states that the action did not complete' }, function (this: ExitpathWorld, why: string) {
  this.stateStated = true;
  expect(this.stack.qemu.stopReason).to.equal(why);
});

/** Where an idle vCPU waits: halted in kvm (kvm_vcpu_halt, with kvm's LAPIC) or in qemu-kvm (KVM_EXIT_HLT). */
function expectHalted(w: ExitpathWorld, cpu: number, where: 'kvm' | 'qemu-kvm'): void {
  w.checkName('vCPU', String(cpu), false);
  w.stateStated = true;
  if (where === 'kvm') expect(w.stack.kvm.vms[0]!.vcpus[cpu]!.arch.mp_state, `vCPU ${cpu}'s vcpu->arch.mp_state`).to.equal(KVM_MP_STATE_HALTED);
  else expect(w.stack.qemu.cpus[cpu]!.halted, `vCPU ${cpu}'s cpu->halted in qemu-kvm`).to.equal(true);
}

Then('qemu-kvm resets the machine', { doc: 'kvm returned KVM_EXIT_SHUTDOWN (a triple fault) and qemu-kvm reset the machine (qemu_system_reset_request, qemu_system_reset): the guest boots again; states that the action did not return' }, function (this: ExitpathWorld) {
  this.stateStated = true;
  expect(this.last.state, 'the action').to.equal('reset');
  expect(this.last.events.some((e) => e.name === 'qemu_system_reset'), 'qemu_system_reset in the walk').to.equal(true);
  expect(this.stack.qemu.runstate, 'qemu runstate').to.equal('running');
});

Then('the vCPU is halted in kvm', { doc: 'vCPU 0 waits in kvm_vcpu_halt (HLT with kvm\'s local APIC); states that an action it left unfinished stays so' }, function (this: ExitpathWorld) {
  expectHalted(this, 0, 'kvm');
});

Then('the vCPU is halted in qemu-kvm', { doc: 'vCPU 0\'s thread in qemu-kvm is halted (KVM_EXIT_HLT with the irqchip in userspace); states that an action it left unfinished stays so' }, function (this: ExitpathWorld) {
  expectHalted(this, 0, 'qemu-kvm');
});

Then('vCPU {int} stays halted in qemu-kvm', { doc: 'that vCPU\'s thread is halted in qemu-kvm and nothing wakes it: the action has not returned', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number) {
  expectHalted(this, cpu, 'qemu-kvm');
  expect(this.last.state, 'the action').to.not.equal('done');
});

Then('vCPU {int} stays halted in kvm', { doc: 'that vCPU waits in kvm_vcpu_halt and nothing wakes it: the action has not returned', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number) {
  expectHalted(this, cpu, 'kvm');
  expect(this.last.state, 'the action').to.not.equal('done');
});

/** KVM_RUN ended with an error instead of an exit reason: -EINTR when a signal took the thread out (KVM_EXIT_INTR). */
Then('KVM_RUN returns -{word}', { doc: 'KVM_RUN\'s return, e.g. `-EINTR` after a signal', names: ['errno'] }, function (this: ExitpathWorld, errno: string) {
  const n = (ERRNO as Record<string, number>)[errno]!;
  const rets = this.last.events.filter((e) => e.kind === 'ioctl-return' && e.name === 'KVM_RUN').map((e) => Number(e.detail.result));
  expect(rets, 'KVM_RUN error returns').to.include(-n);
});
