// SMP: actions on a given vCPU, and what each vCPU, the IPIs and qemu's big lock did — all read
// from the recorded trace (kvm_apic_ipi, each vCPU's exits and entries, bql_lock).

import { type DataTable } from '@cucumber/cucumber';
import { stepsAbout } from './support/define';
import { expect } from 'chai';
import { instructionAction, reschedIpiAction } from '../src/guest/actions';
import { VIRTIO_BLK_VECTOR } from '../src/guest/kernel';
import { MSIX_CONFIG_VECTOR, MSIX_QUEUE_VECTOR } from '../src/guest/virtio_blk';
import { BQL_LOCK_NAMES } from '../src/qemu/bql';
import { DELIVERY_MODE } from '../src/trace/ftrace';
import type { TraceEvent } from '../src/trace/recorder';
import { ERRNO } from '../src/uapi/errno';
import { expectExitTable } from './exits.steps';
import { SpecError, type ExitpathWorld } from './support/world';

const { When, Then } = stepsAbout('several vCPUs');

When('vCPU {int} executes {string}', { doc: 'one instruction on that vCPU: vCPU 0 queues it there and wakes the idle vCPU with a reschedule IPI (`exitpath explain INSN --vcpu N`)', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number, insn: string) {
  this.run(instructionAction(insn), cpu);
});

When('vCPU {int} sends a reschedule IPI to vCPU {int}', { doc: 'the kernel\'s smp_send_reschedule on the first vCPU: one write of the x2APIC ICR (`exitpath explain "ipi N" --vcpu M`)', names: ['vCPU', 'vCPU'] }, function (this: ExitpathWorld, from: number, to: number) {
  this.run(reschedIpiAction(to), from);
});

const exitsOf = (w: ExitpathWorld, cpu: number) => w.scoped.summary.exits.filter((e) => e.vcpu === cpu);

Then('vCPU {int}\'s VM exits are:', { doc: 'the exits of one vCPU, in order (the table as in `the VM exits are:`)', names: ['vCPU'], scope: true }, function (this: ExitpathWorld, cpu: number, table: DataTable) {
  expectExitTable(this, exitsOf(this, cpu), table);
});

Then('vCPU {int} has no VM exit', { doc: 'that vCPU did not exit', names: ['vCPU'], scope: true }, function (this: ExitpathWorld, cpu: number) {
  expect(exitsOf(this, cpu).map((e) => e.reason)).to.deep.equal([]);
});

/** The IPIs kvm's local APICs sent (kvm_apic_ipi): the sending vCPU, the destination, the delivery mode and vector. */
Then('the IPIs are:', { doc: 'every IPI kvm\'s local APICs sent (kvm_apic_ipi): `Fixed`, `INIT (assert)`, `INIT (de-assert)`, `SIPI`, `NMI`, …' }, function (this: ExitpathWorld, table: DataTable) {
  const want = table.hashes().map((r) => {
    for (const k of ['from', 'to', 'delivery', 'vector']) if (!(k in r)) throw new Error(`the table needs columns from | to | delivery | vector (got ${Object.keys(r).join(' | ')})`);
    return `vCPU ${r.from} → vCPU ${r.to} | ${r.delivery} | ${Number(r.vector)}`;
  });
  const got = this.last.events.filter((e) => e.kind === 'tracepoint' && e.name === 'kvm_apic_ipi').map((e) => {
    const lo = Number(e.detail.icr_low);
    const mode = DELIVERY_MODE[(lo >> 8) & 7]!;
    const init = mode === 'INIT' ? (lo & (1 << 14) ? ' (assert)' : ' (de-assert)') : '';
    return `vCPU ${e.vcpu} → vCPU ${Number(e.detail.dest_id)} | ${mode}${init} | ${lo & 0xff}`;
  });
  expect(got).to.deep.equal(want);
});

const runReturns = (w: ExitpathWorld, cpu: number): TraceEvent[] => w.last.events.filter((e) => e.vcpu === cpu && e.from === 'kvm' && e.to === 'qemu-kvm'
  && e.kind === 'ioctl-return' && (e.name === 'KVM_RUN' || e.name.startsWith('KVM_EXIT_')));

Then('vCPU {int}\'s first KVM_RUN returns {word}', { doc: 'an AP\'s first `KVM_RUN`: `-EAGAIN`, `-EINTR`, or a `KVM_EXIT_…`', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number, what: string) {
  const r = runReturns(this, cpu)[0];
  expect(r, `vCPU ${cpu}'s KVM_RUN never returned`).to.not.equal(undefined);
  const errno = /^-(E[A-Z]+)$/.exec(what)?.[1];
  if (errno !== undefined) {
    const n = ERRNO[errno as keyof typeof ERRNO];
    if (n === undefined) throw new SpecError(`unknown errno '${errno}'`);
    expect(Number(r!.detail.result), `KVM_RUN returned ${String(r!.detail.result)}`).to.equal(-n);
  } else {
    this.checkName('userspace exit', what, false);
    expect(r!.name).to.equal(what);
  }
});

Then('vCPU {int} first enters the guest with {word} at {word}', { doc: 'the vCPU\'s first VM entry and the RIP it starts at (`VMLAUNCH at 0x9a000`)', names: ['vCPU', 'VM entry'] }, function (this: ExitpathWorld, cpu: number, entry: string, rip: string) {
  const e = this.last.events.find((x) => x.vcpu === cpu && x.kind === 'vm-entry');
  expect(e, `vCPU ${cpu} never entered the guest`).to.not.equal(undefined);
  expect(`${e!.name} at ${String(e!.detail.rip)}`).to.equal(`${entry} at ${rip}`);
});

Then('vCPU {int} wakes from kvm_vcpu_block', { doc: 'kvm_vcpu_wakeup for that vCPU', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number) {
  expect(this.last.events.some((e) => e.vcpu === cpu && e.name === 'kvm_vcpu_wakeup'), `vCPU ${cpu} was not woken`).to.equal(true);
});

Then('vCPU {int} takes interrupt {word}', { doc: 'an interrupt delivered to that vCPU', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number, vector: string) {
  const got = this.last.events.filter((e) => e.vcpu === cpu && e.kind === 'irq' && e.name === 'interrupt').map((e) => Number(e.detail.vector));
  expect(got, `interrupts delivered to vCPU ${cpu}`).to.include(Number(vector));
});

/** The interrupt came to a vCPU in guest mode as a posted-interrupt notification (SDM 29.6): no VM exit between the IPI and the handler. */
Then('vCPU {int} takes interrupt {word} from a posted-interrupt notification, without a VM exit', { doc: 'APICv: the notification vector reached the vCPU in guest mode and the interrupt followed with no exit in between', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number, vector: string) {
  const ev = this.last.events;
  const n = ev.findIndex((e) => e.vcpu === cpu && e.kind === 'irq' && e.name === 'posted-interrupt notification');
  expect(n, `no posted-interrupt notification reached vCPU ${cpu}`).to.be.greaterThan(-1);
  const irq = ev.findIndex((e, i) => i > n && e.vcpu === cpu && e.kind === 'irq' && e.name === 'interrupt');
  expect(irq, `vCPU ${cpu} took no interrupt after the notification`).to.be.greaterThan(-1);
  expect(Number(ev[irq]!.detail.vector)).to.equal(Number(vector));
  const exits = ev.slice(n, irq).filter((e) => e.vcpu === cpu && e.kind === 'vm-exit').map((e) => e.name);
  expect(exits, `vCPU ${cpu} exited between the notification and the interrupt`).to.deep.equal([]);
});

const bqlTakers = (w: ExitpathWorld) => w.scoped.events.filter((e) => e.kind === 'call' && BQL_LOCK_NAMES.has(e.name)).map((e) => String(e.detail.thread));

Then('{string} takes the BQL {int} time(s)', { doc: 'qemu_mutex_lock_iothread by that qemu-kvm thread (`"CPU 1/KVM"`, `"main loop"`), that many times', names: ['thread'], scope: true }, function (this: ExitpathWorld, thread: string, n: number) {
  const all = bqlTakers(this);
  expect(all.filter((t) => t === thread).length, `BQL taken by: ${all.join(', ') || 'nobody'}`).to.equal(n);
});

Then('no vCPU thread takes the BQL', { doc: 'no `CPU n/KVM` thread took qemu_mutex_lock_iothread', scope: true }, function (this: ExitpathWorld) {
  const all = bqlTakers(this);
  expect(all.filter((t) => /^CPU \d+\/KVM$/.test(t)), `BQL taken by: ${all.join(', ') || 'nobody'}`).to.deep.equal([]);
});

Then('the device\'s interrupts go to vCPU {int}', { doc: 'every interrupt the disk raised was delivered to that vCPU', names: ['vCPU'] }, function (this: ExitpathWorld, cpu: number) {
  const device = [VIRTIO_BLK_VECTOR, MSIX_QUEUE_VECTOR, MSIX_CONFIG_VECTOR];
  const irqs = this.last.events.filter((e) => e.kind === 'irq' && e.name === 'interrupt' && device.includes(Number(e.detail.vector)));
  expect(irqs.length, 'the device raised no interrupt').to.be.greaterThan(0);
  expect([...new Set(irqs.map((e) => `vCPU ${e.vcpu}`))]).to.deep.equal([`vCPU ${cpu}`]);
});
