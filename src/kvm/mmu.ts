// arch/x86/kvm/mmu/mmu.c and the x86 emulator's MMIO path, reduced to the decisions that matter:
// a fault on RAM maps the page and re-enters (the instruction restarts); a fault on an address with
// no memslot installs an MMIO SPTE (an EPT misconfiguration, so later accesses exit as EPT_MISCONFIG)
// and emulates the access: an in-kernel device on KVM_MMIO_BUS, or KVM_EXIT_MMIO to userspace.

import { defineEvent } from '../trace/events';
import { KVM_EXIT } from '../uapi/kvm';
import { EPT_EXEC, EPT_MISCONFIG_WX, EPT_READ, EPT_WRITE } from '../vmx/ept';
import { OP, opcode, operand } from '../vmx/insn';
import { VMCS } from '../vmx/vmcs';
import type { KvmVcpu } from './vcpu';
import { kvm_skip_emulated_instruction } from './x86';

const EV_PAGE_FAULT = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_page_fault', ['address:hex', 'errorCode:hex']);
const EV_MMIO = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_mmio', ['type', 'len', 'gpa:hex', 'val:hex']);
const EV_FAST_MMIO = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_fast_mmio', ['gpa:hex']);
const EV_MAP = defineEvent('call', 'kvm', 'kvm', 'kvm_tdp_mmu_map', ['gfn:hex']);

export const PFERR_PRESENT_MASK = 1;
export const PFERR_WRITE_MASK = 2;
export const PFERR_RSVD_MASK = 8;
export const KVM_TRACE_MMIO_READ = 1;
export const KVM_TRACE_MMIO_WRITE = 2;

/** kvm_mmu_page_fault */
export function kvm_mmu_page_fault(vcpu: KvmVcpu, gpa: number, errorCode: number): number {
  const vm = vcpu.vm;
  const env = vm.env;
  if (env.t.on) env.t.rec(EV_PAGE_FAULT, vcpu.id, gpa, errorCode);
  const gfn = Math.floor(gpa / 4096);
  if (vm.memslotFor(gpa)) {
    env.clock.spend(env.profile.cost.kvmEmulate);
    vm.ept.set(gfn, EPT_READ | EPT_WRITE | EPT_EXEC);
    if (env.t.on) env.t.rec(EV_MAP, vcpu.id, gfn);
    return 1;
  }
  vm.ept.set(gfn, EPT_MISCONFIG_WX);
  return x86_emulate_mmio(vcpu, gpa);
}

/**
 * x86_emulate_instruction for an MMIO access. The real emulator fetches and decodes the bytes at
 * RIP; here the decode is the instruction the CPU was executing (opcode, size, RDI, RAX).
 */
function x86_emulate_mmio(vcpu: KvmVcpu, gpa: number): number {
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.kvmEmulator);
  const op = vcpu.cpu.pendingInsn();
  const c = opcode(op);
  if (c !== OP.MEM_READ && c !== OP.MEM_WRITE) {
    throw new Error(`kvm emulator: MMIO fault on an instruction it cannot decode (op ${op})`);
  }
  const len = operand(op);
  const isWrite = c === OP.MEM_WRITE;
  const r = vcpu.regs;
  if (isWrite) {
    const val = r.rax;
    if (env.t.on) env.t.rec(EV_MMIO, vcpu.id, KVM_TRACE_MMIO_WRITE, len, gpa, val);
    if (vcpu.vm.mmioBus.write(gpa, len, val) >= 0) {
      env.clock.spend(env.profile.cost.kvmIoBusDevice);
      return kvm_skip_emulated_instruction(vcpu);
    }
  } else {
    const val = vcpu.vm.mmioBus.read(gpa, len);
    if (val !== undefined) {
      env.clock.spend(env.profile.cost.kvmIoBusDevice);
      if (env.t.on) env.t.rec(EV_MMIO, vcpu.id, KVM_TRACE_MMIO_READ, len, gpa, val);
      r.rax = val;
      return kvm_skip_emulated_instruction(vcpu);
    }
  }
  vcpu.stat.mmio_exits++;
  vcpu.arch.mmio = { gpa, len, isWrite, needed: true };
  vcpu.run.exit_reason = KVM_EXIT.MMIO;
  vcpu.run.setMmio(gpa, len, isWrite, isWrite ? r.rax : 0);
  vcpu.arch.complete_userspace_io = complete_emulated_mmio;
  return 0;
}

/** complete_emulated_mmio: a read takes the data userspace left in kvm_run->mmio.data. */
function complete_emulated_mmio(vcpu: KvmVcpu): number {
  const m = vcpu.arch.mmio;
  m.needed = false;
  const env = vcpu.vm.env;
  if (!m.isWrite) {
    const val = vcpu.run.mmioData(m.len);
    if (env.t.on) env.t.rec(EV_MMIO, vcpu.id, KVM_TRACE_MMIO_READ, m.len, m.gpa, val);
    vcpu.regs.rax = val;
  }
  return kvm_skip_emulated_instruction(vcpu);
}

/** handle_ept_violation */
export function handle_ept_violation(vcpu: KvmVcpu): number {
  const q = vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const gpa = vcpu.vmcs.read(VMCS.GUEST_PHYSICAL_ADDRESS);
  const errorCode = (q & 2 ? PFERR_WRITE_MASK : 0) | (q & 0x38 ? PFERR_PRESENT_MASK : 0);
  return kvm_mmu_page_fault(vcpu, gpa, errorCode);
}

/** handle_ept_misconfig: the fast MMIO bus (ioeventfds of length 0) first, else emulate. */
export function handle_ept_misconfig(vcpu: KvmVcpu): number {
  const gpa = vcpu.vmcs.read(VMCS.GUEST_PHYSICAL_ADDRESS);
  const env = vcpu.vm.env;
  if (vcpu.vm.fastMmioBus.write(gpa, 0, 0) >= 0) {
    if (env.t.on) env.t.rec(EV_FAST_MMIO, vcpu.id, gpa);
    return kvm_skip_emulated_instruction(vcpu);
  }
  return kvm_mmu_page_fault(vcpu, gpa, PFERR_RSVD_MASK);
}
