// arch/x86/kvm/mmu/mmu.c (Linux 6.1), reduced to the decisions that matter: a fault on RAM maps the
// page and re-enters (the instruction restarts); a fault on an address with no memslot installs an
// MMIO SPTE (an EPT misconfiguration, so later accesses exit as EPT_MISCONFIG) and emulates the
// access (emulate.ts: an in-kernel device, or KVM_EXIT_MMIO to userspace). The APIC-access page's
// private memslot is mapped only while APICv is active; otherwise each access is emulated against
// the in-kernel local APIC (kvm_faultin_pfn: RET_PF_EMULATE, no MMIO SPTE).

import { defineEvent } from '../trace/events';
import { EPT_EXEC, EPT_MISCONFIG_WX, EPT_READ, EPT_WRITE } from '../vmx/ept';
import { VMCS } from '../vmx/vmcs';
import { EMULTYPE_NONE, x86_emulate_instruction } from './emulate';
import type { KvmVcpu } from './vcpu';
import { APIC_ACCESS_PAGE_PRIVATE_MEMSLOT } from './vm';
import { kvm_skip_emulated_instruction } from './x86';

const EV_PAGE_FAULT = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_page_fault', ['address:hex', 'errorCode:hex']);
const EV_FAST_MMIO = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_fast_mmio', ['gpa:hex']);
const EV_MAP = defineEvent('call', 'kvm', 'kvm', 'kvm_tdp_mmu_map', ['gfn:hex']);

export const PFERR_PRESENT_MASK = 1 << 0;
export const PFERR_WRITE_MASK = 1 << 1;
export const PFERR_USER_MASK = 1 << 2;
export const PFERR_RSVD_MASK = 1 << 3;
export const PFERR_FETCH_MASK = 1 << 4;
export const PFERR_GUEST_FINAL_MASK = 2 ** 32;
export const PFERR_GUEST_PAGE_MASK = 2 ** 33;

// EPT-violation exit qualification (arch/x86/include/asm/vmx.h).
const EPT_VIOLATION_ACC_READ = 1 << 0;
const EPT_VIOLATION_ACC_WRITE = 1 << 1;
const EPT_VIOLATION_ACC_INSTR = 1 << 2;
const EPT_VIOLATION_RWX_MASK = 7 << 3;
const EPT_VIOLATION_GVA_TRANSLATED = 1 << 8;

/** kvm_mmu_page_fault → kvm_tdp_page_fault: map RAM; emulate everything else. */
export function kvm_mmu_page_fault(vcpu: KvmVcpu, gpa: number, errorCode: number): number {
  const vm = vcpu.vm;
  const env = vm.env;
  const gfn = Math.floor(gpa / 4096);
  const slot = vm.memslotFor(gpa);
  if (slot && !(slot.slot === APIC_ACCESS_PAGE_PRIVATE_MEMSLOT && vm.apicvInhibitReasons !== 0)) {
    env.clock.spend(env.profile.cost.kvmEmulate);
    vm.ept.set(gfn, EPT_READ | EPT_WRITE | EPT_EXEC);
    if (env.t.on) env.t.rec(EV_MAP, vcpu.id, gfn);
    return 1;
  }
  if (!slot) vm.ept.set(gfn, EPT_MISCONFIG_WX);
  return x86_emulate_instruction(vcpu, EMULTYPE_NONE, gpa);
}

/** handle_ept_violation: the qualification's access and permission bits become a #PF-style error code. */
export function handle_ept_violation(vcpu: KvmVcpu): number {
  const q = vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const gpa = vcpu.vmcs.read(VMCS.GUEST_PHYSICAL_ADDRESS);
  const env = vcpu.vm.env;
  if (env.t.on) env.t.rec(EV_PAGE_FAULT, vcpu.id, gpa, q);
  const errorCode = (q & EPT_VIOLATION_ACC_READ ? PFERR_USER_MASK : 0) | (q & EPT_VIOLATION_ACC_WRITE ? PFERR_WRITE_MASK : 0)
    | (q & EPT_VIOLATION_ACC_INSTR ? PFERR_FETCH_MASK : 0) | (q & EPT_VIOLATION_RWX_MASK ? PFERR_PRESENT_MASK : 0);
  return kvm_mmu_page_fault(vcpu, gpa, errorCode + (q & EPT_VIOLATION_GVA_TRANSLATED ? PFERR_GUEST_FINAL_MASK : PFERR_GUEST_PAGE_MASK));
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

/**
 * kvm_mmu_invlpg: drop a guest virtual address from kvm's shadow page tables. With EPT there are
 * none for the guest's own mappings, and INVLPG does not exit in the first place.
 */
export function kvm_mmu_invlpg(_vcpu: KvmVcpu, _gva: number): void {}
