// arch/x86/kvm/mmu/mmu.c (Linux 6.1), reduced to the decisions that matter: a fault on RAM maps the
// page and re-enters (the instruction restarts); a fault on an address with no memslot installs an
// MMIO SPTE (an EPT misconfiguration, so later accesses exit as EPT_MISCONFIG) and emulates the
// access (emulate.ts: an in-kernel device, or KVM_EXIT_MMIO to userspace). The APIC-access page's
// private memslot is mapped only while APICv is active; otherwise each access is emulated against
// the in-kernel local APIC (kvm_faultin_pfn: RET_PF_EMULATE, no MMIO SPTE). Dirty logging: the
// slot's dirty bitmap, filled by the fault path and, with PML, by the CPU's log (vmx/vmx.ts); without
// PML (before 4.0) the slot is write-protected and each first write faults.

import { defineEvent } from '../trace/events';
import { EPT_ACCESSED, EPT_DIRTY, EPT_EXEC, EPT_MISCONFIG_WX, EPT_READ, EPT_WRITE } from '../vmx/ept';
import { KVM_MEM_LOG_DIRTY_PAGES } from '../uapi/kvm';
import { VMCS } from '../vmx/vmcs';
import { EMULTYPE_NONE, x86_emulate_instruction } from './emulate';
import type { KvmVcpu } from './vcpu';
import { KVM_REQ_UPDATE_CPU_DIRTY_LOGGING } from './kvm_host';
import { APIC_ACCESS_PAGE_PRIVATE_MEMSLOT, type KvmVm, type Memslot } from './vm';
import { kvm_skip_emulated_instruction } from './x86';

const EV_PAGE_FAULT = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_page_fault', ['address:hex', 'errorCode:hex']);
const EV_FAST_MMIO = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_fast_mmio', ['gpa:hex']);
const EV_MAP = defineEvent('call', 'kvm', 'kvm', 'kvm_tdp_mmu_map', ['gfn:hex']);
/** Before the TDP MMU (5.10) the EPT fault path mapped the page with __direct_map (tdp_page_fault). */
const EV_DIRECT_MAP = defineEvent('call', 'kvm', 'kvm', '__direct_map', ['gfn:hex']);
const EV_APPLY_FLAGS = defineEvent('call', 'kvm', 'kvm', 'kvm_mmu_slot_apply_flags', ['slot', 'log_dirty_pages', 'how:str']);

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
    // make_spte: TDP maps RAM writable, and a writable SPTE is made accessed and dirty; a slot that
    // logs dirty pages marks the page there (mark_page_dirty_in_slot).
    vm.ept.set(gfn, EPT_READ | EPT_WRITE | EPT_EXEC | EPT_ACCESSED | EPT_DIRTY);
    if (env.t.on) env.t.rec(env.era.era === 'linux-6.1' ? EV_MAP : EV_DIRECT_MAP, vcpu.id, gfn);
    mark_page_dirty_in_slot(slot, gfn);
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

/** mark_page_dirty_in_slot (virt/kvm/kvm_main.c): set the page's bit in a logging slot's bitmap. */
export function mark_page_dirty_in_slot(slot: Memslot | undefined, gfn: number): void {
  const bm = slot?.dirty_bitmap;
  if (!bm) return;
  const rel = gfn - Math.floor(slot!.gpa / 4096);
  if (rel >= 0 && rel < slot!.size / 4096) bm[rel >> 3] = bm[rel >> 3]! | (1 << (rel & 7));
}

/**
 * kvm_mmu_slot_apply_flags (arch/x86/kvm/x86.c), for a flags-only change of a slot. Turning
 * KVM_MEM_LOG_DIRTY_PAGES on: with PML the CPU's log does the work, so the count that keeps PML on
 * goes up (kvm_mmu_update_cpu_dirty_logging) and the slot's SPTEs lose their dirty flags
 * (kvm_mmu_slot_leaf_clear_dirty); without PML the slot is write-protected
 * (kvm_mmu_slot_remove_write_access). Simplified: no huge pages to split or collapse.
 */
export function kvm_mmu_slot_apply_flags(vm: KvmVm, slot: Memslot, oldFlags: number): void {
  const on = ((slot.flags ?? 0) & KVM_MEM_LOG_DIRTY_PAGES) !== 0;
  if (!((oldFlags ^ (slot.flags ?? 0)) & KVM_MEM_LOG_DIRTY_PAGES)) return;
  const pml = vm.env.era.features.pml;
  if (pml) {
    vm.cpuDirtyLoggingCount += on ? 1 : -1;
    for (const v of vm.vcpus) v.arch.requests |= KVM_REQ_UPDATE_CPU_DIRTY_LOGGING;
  }
  const t = vm.env.t;
  if (t.on) t.rec(EV_APPLY_FLAGS, 0, slot.slot, on ? 1 : 0, t.str(!on ? 'stop' : pml ? 'kvm_mmu_slot_leaf_clear_dirty' : 'kvm_mmu_slot_remove_write_access'));
  if (!on) return;
  const first = Math.floor(slot.gpa / 4096);
  const pages = slot.size / 4096;
  if (pml) vm.ept.update(first, pages, (p) => p & ~EPT_DIRTY);
  else vm.ept.update(first, pages, (p) => (vm.ept.isMisconfig(p) ? p : p & ~EPT_WRITE));
}

/**
 * kvm_get_dirty_log_protect (virt/kvm/kvm_main.c) without manual protect: hand out the bitmap,
 * clear it, and re-arm logging for the pages it reported (kvm_arch_mmu_enable_log_dirty_pt_masked:
 * clear their dirty flags with PML, write-protect them without). Returns the bitmap, or undefined
 * for a slot that does not log (-ENOENT).
 */
export function kvm_get_dirty_log_protect(vm: KvmVm, id: number): Uint8Array | undefined {
  const slot = vm.memslots.find((s) => s.slot === id);
  const bm = slot?.dirty_bitmap;
  if (!slot || !bm) return undefined;
  // kvm_arch_sync_dirty_log kicks every vCPU out of guest mode, and the exit flushes its PML buffer.
  // Simplified: the model flushes here, as that exit would; between steps the vCPU waits at an
  // instruction boundary, and no exit for the kick is recorded.
  for (const v of vm.vcpus) vm.ops.flush_pml_buffer(v);
  const out = bm.slice();
  bm.fill(0);
  const first = Math.floor(slot.gpa / 4096);
  const pml = vm.env.era.features.pml;
  for (let i = 0; i < out.length; i++) {
    if (!out[i]) continue;
    for (let b = 0; b < 8; b++) {
      if (!((out[i]! >> b) & 1)) continue;
      const gfn = first + i * 8 + b;
      const p = vm.ept.lookup(gfn);
      if (p && !vm.ept.isMisconfig(p)) vm.ept.set(gfn, pml ? p & ~EPT_DIRTY : p & ~EPT_WRITE);
    }
  }
  return out;
}
