// When: events that do not start with a guest instruction — the host's own interrupts and NMIs
// arriving while the guest runs, an INIT signal, a machine check during VM entry, an invalid guest
// state, qemu-kvm injecting an NMI, qemu-kvm logging dirty pages as a migration does — and the
// guest's longer runs (a PAUSE spin loop, a long computation, writes to many pages). Each runs the
// machine until the guest is idle again.

import { stepsAbout } from './support/define';
import { expect } from 'chai';
import type { Action, ActionResult } from '../src/guest/kernel';
import type { KCode } from '../src/guest/io';
import { instructionAction } from '../src/guest/actions';
import { LOCAL_TIMER_VECTOR, RESCHEDULE_VECTOR } from '../src/kvm/vmx/vmx';
import { OP } from '../src/vmx/insn';
import { CPU_BASED_MONITOR_TRAP_FLAG, VMCS } from '../src/vmx/vmcs';
import type { ExitpathWorld } from './support/world';

const { Given, When, Then } = stepsAbout('events from outside the guest, and long runs');

/** The guest goes on with what it was doing: one native instruction, no exit of its own. */
const nop: Action = () => (function* (): KCode<ActionResult> { yield OP.NOP; return { value: 0, errno: null }; })();

/** The physical CPU the guest's vCPU 0 runs on. */
const cpu0 = (w: ExitpathWorld) => w.stack.cpus[0]!;

When('an external interrupt arrives for the host', { doc: 'the host\'s LAPIC timer fires while the guest runs: EXTERNAL_INTERRUPT, the host\'s handler runs in vmx_handle_exit_irqoff' }, function (this: ExitpathWorld) {
  // The host's local APIC timer (LOCAL_TIMER_VECTOR) fires while the CPU is in VMX non-root mode.
  cpu0(this).hostInterrupt(LOCAL_TIMER_VECTOR);
  this.run(nop);
});

When('an NMI arrives for the host', { doc: 'a host NMI: EXCEPTION_NMI with an NMI in the interruption info, handled by the host' }, function (this: ExitpathWorld) {
  cpu0(this).hostNmiArrives();
  this.run(nop);
});

When('an INIT signal arrives at the host CPU', { doc: 'INIT in VMX non-root operation: INIT_SIGNAL' }, function (this: ExitpathWorld) {
  cpu0(this).initArrives();
  this.run(nop);
});

When('the VMCS guest state is made invalid', { doc: 'the next VM entry fails its guest-state checks: KVM_EXIT_FAIL_ENTRY with reason 33 and the failed-entry bit' }, function (this: ExitpathWorld) {
  // A reserved RFLAGS bit in the guest-state area; the reschedule IPI makes the vCPU exit, and the
  // VM entry after it checks the guest state.
  cpu0(this).invalidateGuestStateOnNextEntry();
  cpu0(this).hostInterrupt(RESCHEDULE_VECTOR);
  this.run(nop);
});

When('a machine check occurs during VM entry', { doc: 'MCE_DURING_VMENTRY: the entry fails, kvm_machine_check, KVM_EXIT_FAIL_ENTRY' }, function (this: ExitpathWorld) {
  cpu0(this).machineCheckOnNextEntry();
  cpu0(this).hostInterrupt(RESCHEDULE_VECTOR);
  this.run(nop);
});

When('the guest triple-faults', { doc: 'an IDT of limit 0 and then an exception: TRIPLE_FAULT → KVM_EXIT_SHUTDOWN; qemu-kvm requests a system reset, and the model\'s machine stops there' }, function (this: ExitpathWorld) {
  // An IDT of limit 0 (loaded from zeroed memory), then an exception: nothing can be delivered.
  this.run(instructionAction('lidt 0x0; ud2'));
});

When(/^qemu-kvm injects (an|\d+) NMIs? into the guest$/, { doc: 'the monitor\'s `nmi` (qmp_inject_nmi → KVM_NMI per vCPU thread), once or that many times', example: 'qemu-kvm injects 2 NMIs into the guest' }, function (this: ExitpathWorld, n: string) {
  // The monitor's `nmi` command, handled by qemu's main loop (a bottom half stands for the monitor's socket).
  const q = this.stack.qemu;
  for (let i = 0; i < (n === 'an' ? 1 : Number(n)); i++) q.mainLoop.qemu_bh_schedule(() => q.qmp_inject_nmi());
  this.run(nop);
});

When('the guest computes for {int} seconds', { doc: 'that long without an instruction that exits; the soft-disabled VMX-preemption timer still expires about every 55 s' }, function (this: ExitpathWorld, seconds: number) {
  const cycles = seconds * 1e9 * this.stack.clock.ghz;
  this.run((k) => (function* (): KCode<ActionResult> { k.r.rcx = cycles; yield OP.WORK; return { value: 0, errno: null }; })());
});

When('the guest keeps the CPU from an instruction boundary for {int} cycles', { doc: 'a stall without an instruction boundary: with notify VM exits, NOTIFY once the window is passed' }, function (this: ExitpathWorld, cycles: number) {
  this.run((k) => (function* (): KCode<ActionResult> { k.r.rcx = cycles; yield OP.STALL; return { value: 0, errno: null }; })());
});

When('the guest spins on a lock for {int} PAUSE instructions', { doc: 'a PAUSE loop: PAUSE-loop exiting with kvm\'s ple_gap and ple_window' }, function (this: ExitpathWorld, n: number) {
  // for (;;) { cpu_relax(); if (lock free) break; }: PAUSE, a compare, a branch.
  this.run(() => (function* (): KCode<ActionResult> {
    for (let i = 0; i < n; i++) { yield OP.PAUSE; yield OP.NOP; yield OP.NOP; }
    return { value: 0, errno: null };
  })());
});

When('the monitor trap flag is set and the guest executes {string}', { doc: 'the MTF control set for one action (kvm sets it only for a nested hypervisor): MONITOR_TRAP_FLAG after the instruction' }, function (this: ExitpathWorld, text: string) {
  // Only a nested hypervisor's VMCS would ask for MTF; here the step sets the control for one action.
  const v = this.stack.kvm.vms[0]!.vcpus[0]!.vmcs;
  v.setBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG);
  try { this.run(instructionAction(text)); } finally { v.clearBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MONITOR_TRAP_FLAG); }
});

Given('the guest\'s local APIC is in xAPIC mode', { doc: 'the guest leaves x2APIC mode through IA32_APIC_BASE (x2APIC → disabled → xAPIC, two WRMSR exits)' }, function (this: ExitpathWorld) {
  // x2APIC → disabled → xAPIC: the only way back the architecture allows (kvm_set_apic_base).
  this.run(instructionAction('wrmsr 0x1b 0x0; wrmsr 0x1b 0xfee00900'));
});

When('the guest executes {string}, which stops the VM', { doc: 'an instruction whose exit ends with qemu-kvm stopping the machine (`KVM_EXIT_SHUTDOWN`, `KVM_EXIT_INTERNAL_ERROR`, …); the action stays unfinished' }, function (this: ExitpathWorld, text: string) {
  // An instruction whose exit ends with qemu-kvm stopping the machine: the action never completes.
  const w = this.run(instructionAction(text));
  if (w.state === 'done') throw new Error(`"${text}" completed: the VM did not stop`);
});

/** The guest writes a word to each of N consecutive pages: one `writel` a page. */
Given(/^the guest (?:has written|writes) to (\d+) pages? from (0x[0-9a-fA-F]+)$/, { doc: 'one `writel` per 4 KiB page from that guest-physical address (so their EPT entries exist); as a When, the action under test', example: 'the guest has written to 4 pages from 0x1000000' }, function (this: ExitpathWorld, n: string, from: string) {
  const base = Number(from);
  const program = Array.from({ length: Number(n) }, (_, i) => `writel 0x${(base + i * 4096).toString(16)} 0x1`).join('; ');
  this.run(instructionAction(program));
});

When('qemu-kvm starts logging the guest\'s dirty pages', { doc: 'migration\'s start: KVM_SET_USER_MEMORY_REGION with KVM_MEM_LOG_DIRTY_PAGES on guest RAM (kvm_log_start)' }, function (this: ExitpathWorld) {
  // Migration's start (memory_global_dirty_log_start), run by qemu's main loop.
  const q = this.stack.qemu;
  q.mainLoop.qemu_bh_schedule(() => q.memory_global_dirty_log_start());
  this.run(nop);
});

/** What the last dirty-bitmap sync found, by scenario. */
const dirtyPages = new WeakMap<ExitpathWorld, number>();

When('qemu-kvm syncs the dirty bitmap', { doc: 'migration\'s bitmap sync: KVM_GET_DIRTY_LOG (kvm_physical_sync_dirty_bitmap)' }, function (this: ExitpathWorld) {
  // Migration's bitmap sync (migration_bitmap_sync → kvm_physical_sync_dirty_bitmap) in qemu's main loop.
  const q = this.stack.qemu;
  q.mainLoop.qemu_bh_schedule(() => { dirtyPages.set(this, q.kvm_physical_sync_dirty_bitmap()); });
  this.run(nop);
});

Then('KVM_GET_DIRTY_LOG reports {int} dirty page(s)', { doc: 'the pages set in the bitmap of the last `qemu-kvm syncs the dirty bitmap`' }, function (this: ExitpathWorld, n: number) {
  const got = dirtyPages.get(this);
  expect(got, 'qemu-kvm has not synced the dirty bitmap').to.not.equal(undefined);
  expect(got).to.equal(n);
});
