// Then: VM exits and entries, as the trace recorded them.

import { Then, type DataTable } from '@cucumber/cucumber';
import { expect } from 'chai';
import { KVM_MP_STATE_HALTED } from '../src/kvm/vcpu';
import { abiTable } from '../src/uapi/abi';
import { ERRNO } from '../src/uapi/errno';
import { kvm_run } from '../src/uapi/kvm';
import { exitReasonName, parseExitReason } from '../src/uapi/vmx';
import type { ExitSummary } from '../src/trace/query';
import type { ExitpathWorld } from './support/world';

function firstExit(w: ExitpathWorld) {
  const e = w.last.summary.exits[0];
  if (!e) throw new Error('the action caused no VM exit');
  return e;
}

Then('the VM exit reason is {exitReason}', function (this: ExitpathWorld, reason: number) {
  const e = firstExit(this);
  expect(e.reason, `first VM exit: ${e.reason} (${e.reasonNumber})`).to.equal(exitReasonName(reason));
  expect(e.reasonNumber).to.equal(reason);
});

Then('kvm handles the exit with {word}', function (this: ExitpathWorld, handler: string) {
  expect(firstExit(this).handler).to.equal(handler);
});

Then('the exit is handled in the kernel', function (this: ExitpathWorld) {
  const e = firstExit(this);
  expect(e.handledIn, `the ${e.reason} exit reached qemu-kvm as ${e.userspaceExit}`).to.equal('kernel');
});

Then('the exit reaches qemu-kvm as {word}', function (this: ExitpathWorld, exit: string) {
  expect(firstExit(this).userspaceExit).to.equal(exit);
});

Then(/^there (?:is|are) (\d+) VM exits?$/, function (this: ExitpathWorld, n: string) {
  const exits = this.last.summary.exits;
  expect(exits.length, `exits: ${exits.map((e) => e.reason).join(', ') || 'none'}`).to.equal(Number(n));
});

Then(/^(\d+) exits? reach(?:es)? userspace$/, function (this: ExitpathWorld, n: string) {
  const up = this.last.summary.exits.filter((e) => e.handledIn === 'userspace');
  expect(up.length, `userspace exits: ${up.map((e) => `${e.reason}→${e.userspaceExit}`).join(', ') || 'none'}`).to.equal(Number(n));
});

Then('there is no VM exit', function (this: ExitpathWorld) {
  expect(this.last.summary.exits.map((e) => e.reason)).to.deep.equal([]);
});

Then('the first VM entry is {word}', function (this: ExitpathWorld, name: string) {
  expect(this.last.summary.entries[0]).to.equal(name);
});

Then('every later VM entry is {word}', function (this: ExitpathWorld, name: string) {
  const later = this.last.summary.entries.slice(1);
  expect(later.length, 'there is no later VM entry').to.be.greaterThan(0);
  expect(later.filter((e) => e !== name), `entries: ${later.join(', ')}`).to.deep.equal([]);
});

Then('every VM entry is {word}', function (this: ExitpathWorld, name: string) {
  const all = this.last.summary.entries;
  expect(all.length, 'there is no VM entry').to.be.greaterThan(0);
  expect(all.filter((e) => e !== name)).to.deep.equal([]);
});

Then(/^the guest takes (\d+) interrupts?$/, function (this: ExitpathWorld, n: string) {
  expect(this.last.summary.guestInterrupts).to.equal(Number(n));
});

Then('VM exit {int} is {exitReason}', function (this: ExitpathWorld, n: number, reason: number) {
  const exits = this.last.summary.exits;
  const e = exits[n - 1];
  if (!e) throw new Error(`there is no VM exit ${n}: exits were ${exits.map((x) => x.reason).join(', ') || 'none'}`);
  expect(e.reason, `VM exit ${n}`).to.equal(exitReasonName(reason));
});

/**
 * A `reason | handler | handled in` table against exits of the summary, both as `REASON | handler |
 * kernel-or-KVM_EXIT_…` lines (also used by the per-vCPU step of smp.steps.ts).
 */
export function expectExitTable(exits: readonly ExitSummary[], table: DataTable): void {
  const want = table.hashes().map((r) => {
    for (const k of ['reason', 'handler', 'handled in']) if (!(k in r)) throw new Error(`the table needs columns reason | handler | handled in (got ${Object.keys(r).join(' | ')})`);
    const n = parseExitReason(r.reason!);
    if (n === undefined) throw new Error(`'${r.reason}' is not a basic exit reason of asm/vmx.h`);
    return `${exitReasonName(n)} | ${r.handler} | ${r['handled in']}`;
  });
  const got = exits.map((e) => `${e.reason} | ${e.handler ?? '(none)'} | ${e.userspaceExit ?? 'kernel'}`);
  expect(got).to.deep.equal(want);
}

/** Every exit of the action, in order: reason, handler, and where it ended (kernel, or the KVM_EXIT_* it reached). */
Then('the VM exits are:', function (this: ExitpathWorld, table: DataTable) {
  expectExitTable(this.last.summary.exits, table);
});

/**
 * kvm_run as qemu-kvm reads it, byte for byte at the offsets of struct kvm_run: `exit_reason`,
 * `io.port`, `fail_entry.hardware_entry_failure_reason`, `internal.data[1]`, ... The value is a
 * number or a UAPI name (KVM_EXIT_IO, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, ...).
 */
Then('kvm_run\'s {word} is {word}', function (this: ExitpathWorld, field: string, value: string) {
  const m = /^([a-z0-9_.]+)(?:\[(\d+)\])?$/.exec(field);
  const off = m ? (kvm_run as Record<string, number>)[m[1]!] : undefined;
  if (off === undefined) throw new Error(`'${field}' is not a field of struct kvm_run the model uses (${Object.keys(kvm_run).join(', ')})`);
  const size = KVM_RUN_FIELD_SIZE[m![1]!] ?? 8;
  const at = off + (m![2] ? 8 * Number(m![2]) : 0);
  const run = this.stack.kvm.vms[0]!.vcpus[0]!.run.view;
  const got = size === 1 ? run.getUint8(at) : size === 2 ? run.getUint16(at, true) : size === 4 ? run.getUint32(at, true) : Number(run.getBigUint64(at, true));
  const want = uapiValue(value);
  expect('0x' + got.toString(16), `kvm_run.${field}`).to.equal('0x' + want.toString(16));
});

Then('the walk includes {word}', function (this: ExitpathWorld, name: string) {
  const names = new Set(this.last.events.map((e) => e.name));
  expect(names.has(name), `${name} is not in the walk`).to.equal(true);
});

Then('the walk does not include {word}', function (this: ExitpathWorld, name: string) {
  expect(this.last.events.some((e) => e.name === name), `${name} is in the walk`).to.equal(false);
});

/** A tracepoint or call in the walk with one detail: `kvm_ple_window_update new 8192`. */
Then('the walk includes {word} with {word} {word}', function (this: ExitpathWorld, name: string, key: string, value: string) {
  const seen = this.last.events.filter((e) => e.name === name);
  expect(seen.length, `${name} is not in the walk`).to.be.greaterThan(0);
  const want = /^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number(value) : value;
  const values = seen.map((e) => e.detail[key]);
  expect(values.some((v) => v === want || (typeof v === 'string' && /^0x/.test(v) && Number(v) === want)), `${name} ${key}: ${values.join(', ')}`).to.equal(true);
});

/** The guest's own IDT handled an exception (no VM exit decided it): #UD, #GP, #BP, ... */
Then('the guest\'s own handler takes {word}', function (this: ExitpathWorld, name: string) {
  const vector = EXCEPTION_VECTORS[name];
  if (vector === undefined) throw new Error(`'${name}' is not an exception mnemonic (${Object.keys(EXCEPTION_VECTORS).join(', ')})`);
  const taken = this.last.events.filter((e) => e.kind === 'irq' && e.name === 'exception').map((e) => Number(e.detail.vector));
  expect(taken, 'exceptions delivered to the guest').to.include(vector);
});

Then('the guest takes an NMI', function (this: ExitpathWorld) {
  expect(this.last.events.some((e) => e.kind === 'irq' && e.name === 'nmi'), 'no NMI was delivered to the guest').to.equal(true);
});

Then('the guest takes interrupt {word}', function (this: ExitpathWorld, vector: string) {
  const got = this.last.events.filter((e) => e.kind === 'irq' && e.name === 'interrupt').map((e) => Number(e.detail.vector));
  expect(got, 'interrupts delivered to the guest').to.include(Number(vector));
});

Then('qemu-kvm stops the VM: {string}', function (this: ExitpathWorld, why: string) {
  expect(this.stack.qemu.stopReason).to.equal(why);
});

Then('qemu-kvm resets the machine', function (this: ExitpathWorld) {
  expect(this.last.state, 'the action').to.equal('reset');
  expect(this.last.events.some((e) => e.name === 'qemu_system_reset'), 'qemu_system_reset in the walk').to.equal(true);
  expect(this.stack.qemu.runstate, 'qemu runstate').to.equal('running');
});

Then('the vCPU is halted in kvm', function (this: ExitpathWorld) {
  expect(this.stack.kvm.vms[0]!.vcpus[0]!.arch.mp_state, 'vcpu->arch.mp_state').to.equal(KVM_MP_STATE_HALTED);
});

Then('the vCPU is halted in qemu-kvm', function (this: ExitpathWorld) {
  expect(this.stack.qemu.cpus[0]!.halted, 'cpu->halted').to.equal(true);
});

const KVM_RUN_FIELD_SIZE: Record<string, number> = {
  request_interrupt_window: 1, immediate_exit: 1, exit_reason: 4, ready_for_interrupt_injection: 1, if_flag: 1, flags: 2,
  'io.direction': 1, 'io.size': 1, 'io.port': 2, 'io.count': 4, 'mmio.len': 4, 'mmio.is_write': 1,
  'internal.suberror': 4, 'internal.ndata': 4, 'fail_entry.cpu': 4, 'ex.exception': 4, 'ex.error_code': 4,
  'eoi.vector': 1, 'msr.error': 1, 'msr.reason': 4, 'msr.index': 4, 'notify.flags': 4,
};

const EXCEPTION_VECTORS: Record<string, number> = {
  '#DE': 0, '#DB': 1, '#BP': 3, '#OF': 4, '#BR': 5, '#UD': 6, '#NM': 7, '#DF': 8, '#TS': 10, '#NP': 11, '#SS': 12,
  '#GP': 13, '#PF': 14, '#MF': 16, '#AC': 17, '#MC': 18,
};

/** A number (hex or decimal) or the name of a UAPI constant of src/uapi. */
function uapiValue(text: string): number {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return Number(text);
  const e = abiTable().find((x) => x.name === text);
  if (!e) throw new Error(`'${text}' is neither a number nor a UAPI constant the model uses`);
  return e.value;
}

/** KVM_RUN ended with an error instead of an exit reason: -EINTR when a signal took the thread out (KVM_EXIT_INTR). */
Then('KVM_RUN returns -{word}', function (this: ExitpathWorld, errno: string) {
  const n = (ERRNO as Record<string, number>)[errno];
  if (n === undefined) throw new Error(`'${errno}' is not an errno name`);
  const rets = this.last.events.filter((e) => e.kind === 'ioctl-return' && e.name === 'KVM_RUN').map((e) => Number(e.detail.result));
  expect(rets, 'KVM_RUN error returns').to.include(-n);
});

/** The instruction's result as a signed 64-bit value (RAX = -KVM_ENOSYS after an unknown hypercall). */
Then(/^the instruction returns (-\d+)$/, function (this: ExitpathWorld, n: string) {
  expect(this.last.summary.guestResult.value).to.equal(Number(n));
});
