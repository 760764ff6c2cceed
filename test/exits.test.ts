// The handlers of kvm_vmx_exit_handlers[] that kvm's own VMCS controls never let the model's guest
// reach: INVLPG and INVPCID exit only with INVLPG exiting, which kvm sets only with ept=0 (shadow
// paging, not modelled), and a task switch needs a guest outside IA-32e mode. These tests set the
// control, or forge the exit, to check that the CPU encodes the qualification and the handler
// decodes it as the SDM and arch/x86/kvm/vmx/vmx.c say.

import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { instructionAction } from '../src/guest/actions';
import { Stack } from '../src/stack';
import { summarize } from '../src/trace/query';
import { errnoName } from '../src/uapi/errno';
import { KVM_EXIT, KVM_INTERNAL_ERROR_EMULATION } from '../src/uapi/kvm';
import { EXIT_REASON } from '../src/uapi/vmx';
import { walkEvents } from '../src/walk';
import { CPU_BASED_INVLPG_EXITING, VMCS } from '../src/vmx/vmcs';

function withInvlpgExiting(text: string) {
  const stack = new Stack(structuredClone(DEFAULT_CONFIG), {});
  const v = stack.kvm.vms[0]!.vcpus[0]!.vmcs;
  // vmx_exec_control with enable_ept = 0 keeps CPU_BASED_INVLPG_EXITING.
  v.setBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INVLPG_EXITING);
  const p = stack.submit(instructionAction(text));
  const events = walkEvents(stack, p.from, p.to);
  return { p, events, summary: summarize(events, p.result ?? { value: NaN, errno: null }, p.cycles, errnoName) };
}

test('INVLPG with INVLPG exiting: the linear address is the qualification, handle_invlpg flushes it and skips', () => {
  const { p, events, summary } = withInvlpgExiting('invlpg 0x7f0000001000');
  expect(p.state).to.equal('done');
  expect(summary.exits.map((x) => [x.reason, x.qualification, x.handler])).to.deep.equal([['INVLPG', '0x7f0000001000', 'handle_invlpg']]);
  const flush = events.find((e) => e.name === 'kvm_mmu_invlpg');
  expect(flush?.detail.gva).to.equal('0x7f0000001000');
});

test('INVPCID with INVLPG exiting and "enable INVPCID": handle_invpcid', () => {
  const { p, summary } = withInvlpgExiting('invpcid 0x0');
  expect(p.state).to.equal('done');
  expect(summary.exits.map((x) => [x.reason, x.handler])).to.deep.equal([['INVPCID', 'handle_invpcid']]);
});

test('a task switch by CALL: handle_task_switch skips the CALL and hands the TSS selector to kvm_task_switch', () => {
  const stack = new Stack(structuredClone(DEFAULT_CONFIG), {});
  const vcpu = stack.kvm.vms[0]!.vcpus[0]!;
  const v = vcpu.vmcs;
  // The exit a CALL to TSS selector 0x28 would cause (qualification bits 31:30 = 0, CALL).
  const rip = v.read(VMCS.GUEST_RIP);
  v.write(VMCS.VM_EXIT_REASON, EXIT_REASON.TASK_SWITCH);
  v.write(VMCS.EXIT_QUALIFICATION, 0x28);
  v.write(VMCS.VM_EXIT_INSTRUCTION_LEN, 7);
  v.write(VMCS.IDT_VECTORING_INFO_FIELD, 0);
  vcpu.exitReason = EXIT_REASON.TASK_SWITCH;
  const from = stack.trace.length;
  stack.trace.on = true;
  expect(vcpu.vm.ops.handle_exit(vcpu)).to.equal(0);
  stack.trace.on = false;
  expect(v.read(VMCS.GUEST_RIP)).to.equal(rip + 7);
  const ev = walkEvents(stack, from, stack.trace.length).find((e) => e.name === 'kvm_task_switch');
  expect(ev?.detail).to.deep.include({ tss_selector: '0x28', reason: 0 });
  // The model has no TSS to switch to: emulator_task_switch fails, as for an unusable TSS.
  expect(vcpu.run.exit_reason).to.equal(KVM_EXIT.INTERNAL_ERROR);
  expect(vcpu.run.view.getUint32(32, true)).to.equal(KVM_INTERNAL_ERROR_EMULATION);
});
