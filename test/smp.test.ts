import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG, applySet, notModelled, type VmConfig } from '../src/config';
import { instructionAction, reschedIpiAction, writeAction, writeWhileComputingAction } from '../src/guest/actions';
import { KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED } from '../src/uapi/kvm';
import {
  APIC_DEST_ALLBUT, APIC_DEST_LOGICAL, APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL, APIC_DEST_SELF, APIC_DM_FIXED, APIC_DM_INIT,
  APIC_DM_STARTUP, X2APIC_BROADCAST, __apic_accept_irq, kvm_apic_match_dest, type KvmLapicIrq,
} from '../src/kvm/lapic';
import { Stack, StackError } from '../src/stack';
import { O_CREAT, O_DIRECT, O_WRONLY } from '../src/guest/kernel';
import { explain } from '../src/walk';

const smp = (n: number, ...sets: string[]): VmConfig => [`vcpus=${n}`, ...sets].reduce(applySet, DEFAULT_CONFIG);
const fixed = (dest: number, extra: Partial<KvmLapicIrq> = {}): KvmLapicIrq => ({
  vector: 0xfd, delivery_mode: APIC_DM_FIXED, dest_mode: APIC_DEST_PHYSICAL, level: true, trig_mode: false, shorthand: APIC_DEST_NOSHORT, dest_id: dest, ...extra,
});

test('boot with 4 vCPUs: every AP came up through INIT/SIPI and sleeps halted in kvm; vCPU 0 is parked in its guest', () => {
  const s = new Stack(smp(4));
  const vcpus = s.kvm.vms[0]!.vcpus;
  expect(vcpus.map((v) => v.arch.mp_state)).to.deep.equal([KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_HALTED, KVM_MP_STATE_HALTED, KVM_MP_STATE_HALTED]);
  expect(s.guest.cpus.map((c) => c.online)).to.deep.equal([true, true, true, true]);
  expect(s.cpus.map((c) => c.frozen)).to.deep.equal([true, false, false, false]);
  // Only the boot vCPU's APIC base has the BSP flag (kvm_lapic_reset).
  expect(vcpus.map((v) => (v.apic!.apicBase >> 8) & 1)).to.deep.equal([1, 0, 0, 0]);
  // x2APIC logical IDs: cluster 0, one bit per CPU (kvm_apic_set_x2apic_id).
  expect(vcpus.map((v) => v.apic!.regs.getUint32(0xd0, true))).to.deep.equal([1, 2, 4, 8]);
});

test('kvm_apic_match_dest: physical ID and broadcast, x2APIC logical cluster, shorthands', () => {
  const s = new Stack(smp(3));
  const [v0, v1, v2] = s.kvm.vms[0]!.vcpus as [never, never, never];
  expect([v0, v1, v2].map((v) => kvm_apic_match_dest(v, v0, fixed(1)))).to.deep.equal([false, true, false]);
  expect([v0, v1, v2].map((v) => kvm_apic_match_dest(v, v0, fixed(X2APIC_BROADCAST)))).to.deep.equal([true, true, true]);
  // Logical: cluster 0 (bits 31:16), CPUs 0 and 2 (bits 0 and 2).
  expect([v0, v1, v2].map((v) => kvm_apic_match_dest(v, v0, fixed(0b101, { dest_mode: APIC_DEST_LOGICAL })))).to.deep.equal([true, false, true]);
  expect([v0, v1, v2].map((v) => kvm_apic_match_dest(v, v1, fixed(0, { shorthand: APIC_DEST_SELF })))).to.deep.equal([false, true, false]);
  expect([v0, v1, v2].map((v) => kvm_apic_match_dest(v, v1, fixed(0, { shorthand: APIC_DEST_ALLBUT })))).to.deep.equal([true, false, true]);
});

test('an INIT de-assert is ignored; a SIPI outside wait-for-SIPI wakes the AP but is dropped', () => {
  const s = new Stack(smp(2));
  const v1 = s.kvm.vms[0]!.vcpus[1]!;
  expect(__apic_accept_irq(v1, fixed(1, { delivery_mode: APIC_DM_INIT, trig_mode: true, level: false }))).to.equal(0);
  expect(v1.apic!.pending_events).to.equal(0);
  // The AP runs its idle loop (halted in kvm): the APIC takes the SIPI, kvm_apic_accept_events drops it.
  expect(__apic_accept_irq(v1, fixed(1, { delivery_mode: APIC_DM_STARTUP, vector: 0x10 }))).to.equal(1);
  expect(v1.apic!.pending_events).to.equal(2);
  const o = s.run(instructionAction('nop'));
  const ap = s.trace.slice(o.from, o.to).filter((e) => e.vcpu === 1);
  expect(v1.apic!.pending_events).to.equal(0);
  expect(ap.some((e) => e.name === 'kvm_vcpu_deliver_sipi_vector')).to.equal(false);
  // Woken from hlt, it went back to the idle loop where it was, not to 0x10000.
  expect(ap.filter((e) => e.kind === 'vm-entry').map((e) => e.detail.rip)).to.not.include('0x10000');
  expect(v1.arch.mp_state).to.equal(KVM_MP_STATE_HALTED);
});

test('an AP waits in KVM_MP_STATE_UNINITIALIZED for INIT and SIPI; its first KVM_RUN returns -EAGAIN', () => {
  expect([KVM_MP_STATE_UNINITIALIZED, KVM_MP_STATE_INIT_RECEIVED]).to.deep.equal([1, 2]);
  const w = explain(smp(2), 'nop', { traceBoot: true });
  const ap = w.events.filter((e) => e.vcpu === 1);
  // The calls and crossings (kvm's tracepoints — kvm_fpu, kvm_userspace_exit — left out).
  const names = ap.filter((e) => e.kind !== 'tracepoint').map((e) => e.name);
  // Its first KVM_RUN blocks, accepts INIT and SIPI, and returns -EAGAIN; the second enters at the SIPI page.
  const first = names.indexOf('KVM_RUN');
  expect(names.slice(first, first + 6)).to.deep.equal(['KVM_RUN', 'kvm_vcpu_block', 'kvm_vcpu_reset', 'kvm_vcpu_deliver_sipi_vector', 'KVM_RUN', 'KVM_RUN']);
  expect(Number(ap.find((e) => e.kind === 'ioctl-return' && e.name === 'KVM_RUN')!.detail.result)).to.equal(-11);
  expect(ap.find((e) => e.kind === 'vm-entry')!.detail.rip).to.equal('0x9a000');
});

test('an IPI to a vCPU in guest mode: an EXTERNAL_INTERRUPT exit without APICv, none with it (posted)', () => {
  for (const apicv of [false, true]) {
    const s = new Stack(smp(2, `apicv=${apicv}`));
    const o = s.run(reschedIpiAction(0), 1);
    const ev = s.trace.slice(o.from, o.to);
    const v0exits = ev.filter((e) => e.vcpu === 0 && e.kind === 'vm-exit').map((e) => e.name);
    // Without APICv: the kick's exit, then injection, and the handler's EOI is a PV EOI (no exit).
    expect(v0exits, `apicv=${apicv}`).to.deep.equal(apicv ? ['MSR_WRITE'] : ['MSR_WRITE', 'EXTERNAL_INTERRUPT']);
    expect(ev.some((e) => e.vcpu === 0 && e.name === 'posted-interrupt notification')).to.equal(apicv);
    expect(ev.filter((e) => e.vcpu === 0 && e.kind === 'irq' && e.name === 'interrupt').map((e) => e.detail.vector)).to.deep.equal(['0xfd']);
    // Afterwards vCPU 0 is parked in its guest again, vCPU 1 halted in kvm.
    expect(s.cpus[0]!.frozen).to.equal(true);
    expect(s.kvm.vms[0]!.vcpus[1]!.arch.mp_state).to.equal(KVM_MP_STATE_HALTED);
  }
});

test('SMP runs are deterministic, and a 2-vCPU VM still does the seed write on vCPU 0', () => {
  const a = JSON.stringify(explain(smp(2), 'write hello /hello.txt'));
  expect(a).to.equal(JSON.stringify(explain(smp(2), 'write hello /hello.txt')));
  const s = new Stack(smp(2));
  expect(s.run(writeAction(new TextEncoder().encode('hello'), '/hello.txt')).result.value).to.equal(5);
  // ext2 put the file's first block at 2048 (features/seed/write-walk.feature).
  expect(new TextDecoder().decode(s.image.pread(2048 * 4096, 5))).to.equal('hello');
});

test('bad requests: a vCPU that does not exist, a process action on an AP, SMP where it is not modelled', () => {
  const s = new Stack(smp(2));
  expect(() => s.run(instructionAction('nop'), 2)).to.throw(StackError, 'there is no vCPU 2: the VM has 2 (vCPU 0 to 1)');
  expect(() => s.run(writeAction(new Uint8Array([1]), '/x'), 1)).to.throw(StackError, 'only kernel instructions run on vCPU 1');
  expect(notModelled(smp(2, 'irqchip=userspace'))).to.match(/irqchip: userspace/);
  expect(notModelled(smp(2, 'profile=qemu-kvm-2013'))).to.match(/qemu-kvm-2013/);
  expect(notModelled(smp(2, 'irqchip=split'))).to.equal(undefined);
});

test('a vCPU computing in its guest parks while the host threads run: the I/O completes meanwhile, and its time counts', () => {
  const cfg = ['ioeventfd=true', 'irqfd=true', 'disk.vectors=2', 'apicv=true'].reduce(applySet, DEFAULT_CONFIG);
  const s = new Stack(cfg);
  // One request: an O_DIRECT overwrite of the block the file already has.
  const block = new Uint8Array(4096).fill(0x61);
  s.run(writeAction(block, '/data', O_CREAT | O_WRONLY | O_DIRECT));
  const o = s.run(writeWhileComputingAction(block, '/data', 100_000 * s.clock.ghz, O_CREAT | O_WRONLY | O_DIRECT));
  const ev = s.trace.slice(o.from, o.to);
  const at = (pred: (e: (typeof ev)[number]) => boolean) => ev.find(pred)!.t_ns;
  const start = at((e) => e.name === 'schedule');
  const done = at((e) => e.kind === 'syscall-return' && e.from === 'guest kernel' && e.name === 'write');
  const completed = at((e) => e.name === 'aio_complete');
  // The device finished during the computation, and the guest took its interrupt while computing.
  expect(completed).to.be.within(start, done);
  expect(ev.filter((e) => e.vcpu === 0 && e.kind === 'vm-exit').map((e) => e.name)).to.deep.equal(['IO_INSTRUCTION']);
  // 100 µs of computing, plus what delivering the one interrupt took (no exit: well under a microsecond).
  expect(done - start).to.be.within(100_000, 101_000);
  expect(o.result.value).to.equal(4096);
});

test('INIT from the guest: an AP restarts through INIT and SIPI; the BSP, or an AP started elsewhere, ends the run as not modelled', () => {
  const s = new Stack(smp(2));
  // INIT (assert) then STARTUP 0x9a to vCPU 1: kvm resets it, it waits for SIPI, and starts the trampoline again.
  const o = s.run(instructionAction('wrmsr 0x830 0x10000c500; wrmsr 0x830 0x10000069a'));
  const ap = s.trace.slice(o.from, o.to).filter((e) => e.vcpu === 1).map((e) => e.name);
  expect(ap).to.include.members(['kvm_vcpu_reset', 'kvm_vcpu_deliver_sipi_vector', 'start_secondary']);
  expect(s.kvm.vms[0]!.vcpus[1]!.arch.mp_state).to.equal(KVM_MP_STATE_HALTED);
  // INIT to itself: vCPU 0 would restart at the reset vector (the firmware).
  expect(() => s.run(instructionAction('wrmsr 0x830 0xc500'))).to.throw(StackError, /reset vector.*firmware is not modelled/);
  expect(() => s.run(instructionAction('nop'))).to.throw(StackError, /the machine cannot go on/);
  const t = new Stack(smp(2));
  expect(() => t.run(instructionAction('wrmsr 0x830 0x10000c500; wrmsr 0x830 0x100000610'))).to.throw(StackError, /vCPU 1 starts at 0x10000, where the model has no guest code/);
});
