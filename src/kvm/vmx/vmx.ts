// arch/x86/kvm/vmx/vmx.c (Linux 6.1): vmx_x86_ops — how kvm programs VT-x and takes a VM exit.
// Creating a vCPU's VMCS (the controls of the era), entering the guest and taking the exit,
// dispatching it through kvm_vmx_exit_handlers[] (handlers.ts), event injection, CR0/CR4, INIT/SIPI
// and dirty logging; posted interrupts are in posted_intr.ts, what the host CPU offers in
// capabilities.ts. kvm_intel module parameters are 6.1's defaults except nested=0 (there is no
// nested VMX here): ept, vpid, unrestricted_guest, flexpriority, pml, preemption_timer and fasteoi
// on, ple_gap 128, ple_window 4096 (grow ×2).

import { defineEvent } from '../../trace/events';
import { EXIT_REASON, VMX_EXIT_REASONS_FAILED_VMENTRY } from '../../uapi/vmx';
import { KVM_EXIT, KVM_INTERNAL_ERROR_DELIVERY_EV, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, KVM_RUN_X86_BUS_LOCK } from '../../uapi/kvm';
import { VMX_EPTP_AD_ENABLE_BIT, VMX_EPTP_MT_WB, VMX_EPTP_PWL_4 } from '../../vmx/ept';
import { ENTER_BREAK, ENTER_PARK, ENTER_VMFAIL } from '../../vmx/cpu';
import { AC_VECTOR, DB_VECTOR, MC_VECTOR, NMI_VECTOR, UD_VECTOR as CPU_UD_VECTOR } from '../../vmx/exceptions';
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_CR8_LOAD_EXITING, CPU_BASED_CR8_STORE_EXITING, CPU_BASED_HLT_EXITING,
  CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_MONITOR_EXITING, CPU_BASED_MOV_DR_EXITING, CPU_BASED_MWAIT_EXITING,
  CPU_BASED_NMI_WINDOW_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_TPR_SHADOW, CPU_BASED_UNCOND_IO_EXITING,
  CPU_BASED_USE_MSR_BITMAPS, CPU_BASED_USE_TSC_OFFSETTING, GUEST_INTR_STATE_MOV_SS, GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_STI,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_INTR_TYPE_MASK, INTR_INFO_VALID_MASK, INTR_INFO_VECTOR_MASK,
  INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR, PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING,
  PIN_BASED_POSTED_INTR, PIN_BASED_VIRTUAL_NMIS, PIN_BASED_VMX_PREEMPTION_TIMER, SECONDARY_EXEC_APIC_REGISTER_VIRT,
  SECONDARY_EXEC_BUS_LOCK_DETECTION, SECONDARY_EXEC_DESC, SECONDARY_EXEC_ENCLS_EXITING, SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_ENABLE_INVPCID, SECONDARY_EXEC_ENABLE_PML,
  SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_ENABLE_VPID, SECONDARY_EXEC_NOTIFY_VM_EXITING,
  SECONDARY_EXEC_PAUSE_LOOP_EXITING, SECONDARY_EXEC_RDRAND_EXITING, SECONDARY_EXEC_RDSEED_EXITING,
  SECONDARY_EXEC_UNRESTRICTED_GUEST, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES,
  SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE, SECONDARY_EXEC_WBINVD_EXITING, SECONDARY_EXEC_XSAVES,
  VM_EXIT_ACK_INTR_ON_EXIT, VM_EXIT_HOST_ADDR_SPACE_SIZE, VM_ENTRY_IA32E_MODE, VMCS, X86_EFLAGS_IF,
} from '../../vmx/vmcs';
import { X86_CR4_UMIP, guest_cpuid_has } from '../emulate';
import { KVM_DEBUGREG_WONT_EXIT } from '../kvm_host';
import { APIC_DEFAULT_PHYS_BASE, APIC_EOI, APIC_TASKPRI, LAPIC_MODE_X2APIC, LAPIC_MODE_XAPIC, apicMode } from '../lapic';
import { mark_page_dirty_in_slot } from '../mmu';
import type { KvmVcpu } from '../vcpu';
import { handle_fastpath_set_msr_irqoff } from '../x86';
import { VCPU_RUN_BREAK, VCPU_RUN_PARK, type KvmX86Ops } from '../x86_ops';
import { HOST_VMX_CAPS, KVM_DEFAULT_PLE_GAP, KVM_VMX_DEFAULT_PLE_WINDOW, type HostVmxCaps } from './capabilities';
import { exitTable, handle_fastpath_preemption_timer } from './handlers';
import { POSTED_INTR_VECTOR, vmx_deliver_interrupt, vmx_sync_pir_to_irr } from './posted_intr';
import { to_vmx, vmx_attach } from './vcpu_vmx';

const X86_CR0_TS = 0x8;
const X86_CR0_NE = 0x20;
/** KVM_POSSIBLE_CR0_GUEST_BITS (6.1): only CR0.TS is guest-owned; any other change exits. */
const CR0_GUEST_OWNED = X86_CR0_TS;
/** KVM_VM_CR4_ALWAYS_ON_UNRESTRICTED_GUEST: the guest runs with CR4.VMXE set whatever it wrote. */
const X86_CR4_VMXE = 1 << 13;

/** arch/x86/include/asm/irq_vectors.h: the host's vectors the model's host interrupts use. */
export const LOCAL_TIMER_VECTOR = 0xec;
export const RESCHEDULE_VECTOR = 0xfd;
const HOST_IRQ_HANDLERS: Record<number, string> = {
  [LOCAL_TIMER_VECTOR]: 'sysvec_apic_timer_interrupt',
  [RESCHEDULE_VECTOR]: 'sysvec_reschedule_ipi',
  [POSTED_INTR_VECTOR]: 'sysvec_kvm_posted_intr_ipi',
  0xf6: 'sysvec_irq_work',
  0xfc: 'sysvec_call_function',
};

// MSRs kvm lets the guest access without an exit (vmx_vcpu_create → vmx_disable_intercept_for_msr).
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
const PASSTHROUGH_RW = [MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP];
const MSR_IA32_TSC = 0x10;
const X2APIC_MSR = (reg: number): number => 0x800 + (reg >> 4);

/** vmx_set_intercept_for_msr on a bitmap page: read-low 0, read-high 0x400, write-low 0x800, write-high 0xc00. */
function msrBitmapSet(bm: Uint8Array, msr: number, read: boolean, write: boolean, intercept: boolean): void {
  const low = msr <= 0x1fff;
  const idx = low ? msr : msr - 0xc0000000;
  const set = (base: number) => {
    if (intercept) bm[base + (idx >>> 3)]! |= 1 << (idx & 7);
    else bm[base + (idx >>> 3)]! &= ~(1 << (idx & 7));
  };
  if (read) set(low ? 0 : 0x400);
  if (write) set(low ? 0x800 : 0xc00);
}

export interface VmxOptions {
  apicv: boolean;
  hostCaps?: HostVmxCaps;
}

const EV_HOST_IRQ = defineEvent('call', 'kvm', 'kvm', 'handle_external_interrupt_irqoff', ['vector:hex', 'handler:str']);
const EV_HOST_NMI = defineEvent('call', 'kvm', 'kvm', 'handle_exception_nmi_irqoff', ['vector:hex', 'handler:str']);
const EV_MCE = defineEvent('call', 'kvm', 'kvm', 'kvm_machine_check', []);
const EV_UNIMPL = defineEvent('call', 'kvm', 'kvm', 'vcpu_unimpl', ['msg:str']);
const EV_FLUSH_PML = defineEvent('call', 'kvm', 'kvm', 'vmx_flush_pml_buffer', ['entries']);

const exitQual = (vcpu: KvmVcpu): number => vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);

/** PML_ENTITY_NUM: the log holds 512 addresses; the CPU fills it from index 511 down. */
const PML_ENTITY_NUM = 512;

/** vmx_flush_pml_buffer: every address logged since the last flush into its slot's dirty bitmap. */
function vmx_flush_pml_buffer(vcpu: KvmVcpu): void {
  const vmx = to_vmx(vcpu);
  if (!vmx.pml_pg) return;
  const v = vcpu.vmcs;
  let idx = v.read(VMCS.GUEST_PML_INDEX);
  if (idx === PML_ENTITY_NUM - 1) return;
  // The index points at the next free entry, or is out of range once the log is full.
  idx = idx >= PML_ENTITY_NUM ? 0 : idx + 1;
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_FLUSH_PML, vcpu.id, PML_ENTITY_NUM - idx);
  for (; idx < PML_ENTITY_NUM; idx++) {
    const gpa = vmx.pml_pg[idx]!;
    mark_page_dirty_in_slot(vcpu.vm.memslotFor(gpa), Math.floor(gpa / 4096));
  }
  v.write(VMCS.GUEST_PML_INDEX, PML_ENTITY_NUM - 1);
}

// ---------------------------------------------------------------- vmx_x86_ops

export function makeVmxOps(opts: VmxOptions): KvmX86Ops {
  const caps = opts.hostCaps ?? HOST_VMX_CAPS['skylake-sp'];

  /** vmx_update_msr_bitmap_x2apic: in x2APIC mode with "virtualize x2APIC mode", the TPR MSR is passed through. */
  const updateMsrBitmapX2apic = (vcpu: KvmVcpu): void => {
    const sec = vcpu.vmcs.read(VMCS.SECONDARY_VM_EXEC_CONTROL);
    const bm = to_vmx(vcpu).msrBitmap;
    const x2 = (sec & SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE) !== 0;
    const apicv = x2 && opts.apicv;
    for (let msr = 0x800; msr <= 0x8ff; msr++) msrBitmapSet(bm, msr, true, true, true);
    msrBitmapSet(bm, X2APIC_MSR(APIC_TASKPRI), true, true, !x2);
    if (apicv) {
      // Reads of the APIC registers come from the virtual-APIC page; EOI and SELF_IPI writes are virtualized.
      for (const reg of [0x20, 0x30, 0x80, 0xa0, 0xd0, 0xf0, 0x280, 0x300, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3e0]) {
        msrBitmapSet(bm, X2APIC_MSR(reg), true, false, false);
      }
      for (let i = 0; i < 8; i++) for (const base of [0x100, 0x180, 0x200]) msrBitmapSet(bm, X2APIC_MSR(base + 0x10 * i), true, false, false);
      msrBitmapSet(bm, X2APIC_MSR(APIC_EOI), false, true, false);
      msrBitmapSet(bm, X2APIC_MSR(0x3f0), false, true, false);
    }
  };

  const ops: KvmX86Ops = {
    caps: { busLockDetection: caps.busLockDetection, notifyVmExit: caps.notifyVmExit },

    /** vmx_vcpu_create + init_vmcs + vmx_vcpu_reset: the controls kvm programs (setup_vmcs_config of the era). */
    vcpu_create(vcpu) {
      const v = vcpu.vmcs;
      const era = vcpu.vm.env.era;
      const f = era.features;
      const lapic = !!vcpu.apic;
      const apicv = opts.apicv && lapic && f.virtualizeX2apicMode;
      // vmx_pin_based_exec_ctrl
      v.write(VMCS.PIN_BASED_VM_EXEC_CONTROL, (PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS
        | (f.preemptionTimer ? PIN_BASED_VMX_PREEMPTION_TIMER : 0) | (apicv ? PIN_BASED_POSTED_INTR : 0)) >>> 0);
      // vmx_exec_control: with EPT there is no CR3 or INVLPG exiting; a TPR shadow replaces CR8 exiting.
      v.write(VMCS.CPU_BASED_VM_EXEC_CONTROL, (CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING | CPU_BASED_MOV_DR_EXITING
        | CPU_BASED_USE_TSC_OFFSETTING | CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING
        | (f.rdpmcExiting ? CPU_BASED_RDPMC_EXITING : 0) | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS
        | (lapic ? CPU_BASED_TPR_SHADOW : CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING)) >>> 0);
      // vmx_secondary_exec_control: RDRAND/RDSEED exiting only when the guest's CPUID lacks them;
      // APIC-access virtualization while the LAPIC is in xAPIC mode (vmx_set_virtual_apic_mode);
      // descriptor-table exiting later, when the guest sets CR4.UMIP (vmx_set_cr4).
      v.write(VMCS.SECONDARY_VM_EXEC_CONTROL, (SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID
        | SECONDARY_EXEC_UNRESTRICTED_GUEST | SECONDARY_EXEC_WBINVD_EXITING | SECONDARY_EXEC_PAUSE_LOOP_EXITING
        | SECONDARY_EXEC_ENABLE_RDTSCP | (f.invpcid ? SECONDARY_EXEC_ENABLE_INVPCID : 0) | (f.xsaves ? SECONDARY_EXEC_XSAVES : 0)
        | (lapic ? SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES : 0)
        | (guest_cpuid_has(vcpu, 1, 0, 'ecx', 30) ? 0 : SECONDARY_EXEC_RDRAND_EXITING)
        | (guest_cpuid_has(vcpu, 7, 0, 'ebx', 18) ? 0 : SECONDARY_EXEC_RDSEED_EXITING)
        | (apicv ? SECONDARY_EXEC_APIC_REGISTER_VIRT | SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY : 0)
        | (caps.busLockDetection && vcpu.vm.busLockDetectionEnabled ? SECONDARY_EXEC_BUS_LOCK_DETECTION : 0)
        | (caps.notifyVmExit && vcpu.vm.notifyVmexitFlags ? SECONDARY_EXEC_NOTIFY_VM_EXITING : 0)
        | (caps.enclsExiting ? SECONDARY_EXEC_ENCLS_EXITING : 0)
        // PML only while some memslot logs dirty pages (kvm->arch.cpu_dirty_logging_count).
        | (f.pml && vcpu.vm.cpuDirtyLoggingCount > 0 ? SECONDARY_EXEC_ENABLE_PML : 0)) >>> 0);
      // vmx_write_encls_bitmap: no SGX in the guest's CPUID, so every ENCLS leaf exits.
      if (caps.enclsExiting) v.write(VMCS.ENCLS_EXITING_BITMAP, -1);
      v.write(VMCS.VM_EXIT_CONTROLS, VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT);
      v.write(VMCS.VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
      // vmx_update_exception_bitmap: #UD, #MC, #DB (and #AC from 4.4); #PF only without EPT.
      v.write(VMCS.EXCEPTION_BITMAP, (1 << CPU_UD_VECTOR) | (1 << MC_VECTOR) | (1 << DB_VECTOR) | (f.interceptAc ? 1 << AC_VECTOR : 0));
      v.write(VMCS.PLE_GAP, KVM_DEFAULT_PLE_GAP);
      v.write(VMCS.PLE_WINDOW, KVM_VMX_DEFAULT_PLE_WINDOW);
      v.write(VMCS.XSS_EXIT_BITMAP, 0);
      v.write(VMCS.TPR_THRESHOLD, 0);
      v.write(VMCS.NOTIFY_WINDOW, vcpu.vm.notifyWindow);
      // allocate_vpid: the first free VPID; 0 is the host's.
      v.write(VMCS.VIRTUAL_PROCESSOR_ID, vcpu.id + 1);
      const r = vcpu.regs;
      v.write(VMCS.CR0_GUEST_HOST_MASK, ~CR0_GUEST_OWNED >>> 0);
      v.write(VMCS.CR4_GUEST_HOST_MASK, ~era.cr4GuestOwned >>> 0);
      v.write(VMCS.CR0_READ_SHADOW, r.cr0);
      v.write(VMCS.CR4_READ_SHADOW, r.cr4);
      v.write(VMCS.GUEST_CR0, (r.cr0 | X86_CR0_NE) >>> 0);
      v.write(VMCS.GUEST_CR4, (r.cr4 | X86_CR4_VMXE) >>> 0);
      v.write(VMCS.GUEST_RIP, r.rip);
      v.write(VMCS.GUEST_RFLAGS, r.rflags);
      v.write(VMCS.GUEST_DR7, r.dr7);
      v.write(VMCS.GUEST_IDTR_BASE, r.idtrBase);
      v.write(VMCS.GUEST_IDTR_LIMIT, r.idtrLimit);
      v.write(VMCS.GUEST_GDTR_BASE, r.gdtrBase);
      v.write(VMCS.GUEST_GDTR_LIMIT, r.gdtrLimit);
      v.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, 0);
      // The VMX-preemption timer, soft-disabled until an hv timer is armed (vmx_update_hv_timer).
      v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 0xffffffff);
      const bm = new Uint8Array(4096).fill(0xff);
      for (const m of PASSTHROUGH_RW) msrBitmapSet(bm, m, true, true, false);
      if (f.tscReadPassthrough) msrBitmapSet(bm, MSR_IA32_TSC, true, false, false);
      // vmx_vcpu_create: with enable_pml, a zeroed page for the log, and the index at its top.
      const pml_pg = f.pml ? new Float64Array(PML_ENTITY_NUM) : undefined;
      if (pml_pg) { v.write(VMCS.PML_ADDRESS, 2); v.write(VMCS.GUEST_PML_INDEX, PML_ENTITY_NUM - 1); }
      // vmx_load_mmu_pgd → construct_eptp: write-back, 4 levels, accessed/dirty flags (enable_ept_ad_bits).
      // The model's EPT is the VM's (cpu.ept below), so no root address goes in.
      v.write(VMCS.EPT_POINTER, VMX_EPTP_MT_WB | VMX_EPTP_PWL_4 | VMX_EPTP_AD_ENABLE_BIT);
      const pi_desc = new DataView(new ArrayBuffer(64));
      vmx_attach(vcpu, { msrBitmap: bm, ple_window: KVM_VMX_DEFAULT_PLE_WINDOW, ple_window_dirty: false,
        hv_timer_soft_disabled: true, bus_lock_detected: false, last_vmentry_cpu: vcpu.cpu.id, pml_pg, pi_desc });
      if (lapic) {
        // The virtual-APIC page is the LAPIC's register page; the APIC-access page is a private
        // memslot at the APIC's default base (kvm_alloc_apic_access_page). The model identifies the
        // access page's host frame by that guest-physical address.
        v.write(VMCS.VIRTUAL_APIC_PAGE_ADDR, 1);
        v.write(VMCS.APIC_ACCESS_ADDR, APIC_DEFAULT_PHYS_BASE);
        vcpu.vm.allocApicAccessPage();
      }
      if (apicv) {
        // kvm_apicv_init: no inhibit reason: the APIC-access page is mapped, interrupts go through RVI.
        vcpu.vm.apicvInhibitReasons = 0;
        // init_vmcs: the notification vector and the descriptor (the model names the host page 3).
        v.write(VMCS.POSTED_INTR_NV, POSTED_INTR_VECTOR);
        v.write(VMCS.POSTED_INTR_DESC_ADDR, 3);
        for (const f2 of [VMCS.EOI_EXIT_BITMAP0, VMCS.EOI_EXIT_BITMAP1, VMCS.EOI_EXIT_BITMAP2, VMCS.EOI_EXIT_BITMAP3]) v.write(f2, 0);
        v.write(VMCS.GUEST_INTR_STATUS, 0);
      }
      // vmx_vcpu_load → VMPTRLD: make this VMCS current on the CPU, with its EPT, MSR bitmap and virtual-APIC page.
      const cpu = vcpu.cpu;
      cpu.vmcs = v;
      cpu.ept = vcpu.vm.ept;
      cpu.msrBitmap = bm;
      cpu.virtualApic = vcpu.apic?.regs;
      cpu.pml = pml_pg;
      cpu.piDesc = apicv ? pi_desc : undefined;
    },

    /** vmx_vcpu_run: VMLAUNCH the first time, VMRESUME once loaded_vmcs->launched; the work right after the exit. */
    vcpu_run(vcpu) {
      const cpu = vcpu.cpu;
      const vmx = to_vmx(vcpu);
      const v = vcpu.vmcs;
      if (vmx.ple_window_dirty) { vmx.ple_window_dirty = false; v.write(VMCS.PLE_WINDOW, vmx.ple_window); }
      vmx.last_vmentry_cpu = cpu.id;
      const r = vcpu.vmx.launched ? cpu.vmresume() : cpu.vmlaunch();
      if (r === ENTER_BREAK) return VCPU_RUN_BREAK;
      if (r === ENTER_PARK) return VCPU_RUN_PARK;
      vcpu.vmx.fail = r === ENTER_VMFAIL;
      if (vcpu.vmx.fail) return 0;
      vcpu.exitReason = v.read(VMCS.VM_EXIT_REASON);
      const basic = vcpu.exitReason & 0xffff;
      const t = vcpu.vm.env.t;
      if (basic === EXIT_REASON.MCE_DURING_VMENTRY) { if (t.on) t.rec(EV_MCE, vcpu.id); }
      if (vcpu.exitReason & VMX_EXIT_REASONS_FAILED_VMENTRY) return 0;
      vcpu.vmx.launched = true;
      // vmx_handle_exit_irqoff: the host's own interrupt or NMI runs now, with interrupts still off.
      const info = v.read(VMCS.VM_EXIT_INTR_INFO);
      if (basic === EXIT_REASON.EXTERNAL_INTERRUPT) {
        const vec = info & INTR_INFO_VECTOR_MASK;
        if (t.on) t.rec(EV_HOST_IRQ, vcpu.id, vec, t.str(HOST_IRQ_HANDLERS[vec] ?? 'common_interrupt'));
      } else if (basic === EXIT_REASON.EXCEPTION_NMI && (info & INTR_INFO_INTR_TYPE_MASK) === INTR_TYPE_NMI_INTR) {
        if (t.on) t.rec(EV_HOST_NMI, vcpu.id, NMI_VECTOR, t.str('asm_exc_nmi_noist'));
      }
      return 0;
    },

    /** vmx_handle_exit → __vmx_handle_exit: failed entries, event-delivery checks, then the handler table. */
    handle_exit(vcpu) {
      const env = vcpu.vm.env;
      const run = vcpu.run;
      const vmx = to_vmx(vcpu);
      env.clock.spend(env.profile.cost.kvmExitOverhead);
      const reason = vcpu.exitReason;
      // __vmx_handle_exit: the PML buffer first, whatever the exit, so the dirty bitmap is current.
      if (!vcpu.vmx.fail) vmx_flush_pml_buffer(vcpu);
      if (!vcpu.vmx.fail && reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
        run.exit_reason = KVM_EXIT.FAIL_ENTRY;
        run.setFailEntry(reason >>> 0, vmx.last_vmentry_cpu);
        return 0;
      }
      if (vcpu.vmx.fail) {
        run.exit_reason = KVM_EXIT.FAIL_ENTRY;
        run.setFailEntry(vcpu.vmcs.read(VMCS.VM_INSTRUCTION_ERROR), vmx.last_vmentry_cpu);
        return 0;
      }
      const basic = reason & 0xffff;
      const vectoring = vcpu.vmcs.read(VMCS.IDT_VECTORING_INFO_FIELD);
      if (vectoring & INTR_INFO_VALID_MASK && basic !== EXIT_REASON.EXCEPTION_NMI && basic !== EXIT_REASON.EPT_VIOLATION
        && basic !== EXIT_REASON.PML_FULL && basic !== EXIT_REASON.APIC_ACCESS && basic !== EXIT_REASON.TASK_SWITCH) {
        run.exit_reason = KVM_EXIT.INTERNAL_ERROR;
        run.setInternalError(KVM_INTERNAL_ERROR_DELIVERY_EV, [vectoring, reason, exitQual(vcpu), vmx.last_vmentry_cpu]);
        return 0;
      }
      // vmx_exit_handlers_fastpath: an expired hv timer re-enters without the table; so does (in 6.1,
      // EXIT_FASTPATH_EXIT_HANDLED) a WRMSR that sends a fixed IPI through the x2APIC ICR.
      if (basic === EXIT_REASON.PREEMPTION_TIMER && handle_fastpath_preemption_timer(vcpu)) return 1;
      if (basic === EXIT_REASON.MSR_WRITE && env.era.features.fastpathIcr) {
        if (handle_fastpath_set_msr_irqoff(vcpu)) return 1;
      }
      const e = exitTable(env.era)[basic];
      let ret: number;
      if (!e) {
        const t = env.t;
        if (env.era.unexpectedExit === 'internal-error') {
          // 6.1 says so (vcpu_unimpl); the seed's era's vmx_handle_exit set KVM_EXIT_UNKNOWN silently.
          if (t.on) t.rec(EV_UNIMPL, vcpu.id, t.str(`vmx: unexpected exit reason 0x${(reason >>> 0).toString(16)}`));
          run.exit_reason = KVM_EXIT.INTERNAL_ERROR;
          run.setInternalError(KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, [reason >>> 0, vmx.last_vmentry_cpu]);
        } else {
          run.exit_reason = KVM_EXIT.UNKNOWN;
          run.setHardwareExitReason(reason >>> 0);
        }
        return 0;
      }
      if (env.t.on) env.t.rec(e.ev, vcpu.id, basic);
      ret = e.fn(vcpu);
      // vmx_handle_exit: a bus lock was detected: tell userspace, whatever the handler decided.
      if (vmx.bus_lock_detected) {
        vmx.bus_lock_detected = false;
        if (ret > 0) run.exit_reason = KVM_EXIT.X86_BUS_LOCK;
        run.flags |= KVM_RUN_X86_BUS_LOCK;
        ret = 0;
      }
      return ret;
    },

    /** vmx_skip_emulated_instruction: RIP past the instruction; it also ends STI/MOV-SS blocking. */
    skip_emulated_instruction(vcpu) {
      const v = vcpu.vmcs;
      v.write(VMCS.GUEST_RIP, v.read(VMCS.GUEST_RIP) + v.read(VMCS.VM_EXIT_INSTRUCTION_LEN));
      v.clearBits(VMCS.GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
    },

    get_rflags(vcpu) { return vcpu.vmcs.read(VMCS.GUEST_RFLAGS); },

    /** vmx_inject_irq */
    inject_irq(vcpu, vector) {
      vcpu.vmcs.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, (vector | INTR_TYPE_EXT_INTR | INTR_INFO_VALID_MASK) >>> 0);
    },

    /** vmx_inject_exception */
    inject_exception(vcpu) {
      const ex = vcpu.arch.exception!;
      vcpu.vmcs.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, (ex.vector | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_VALID_MASK
        | (ex.hasError ? INTR_INFO_DELIVER_CODE_MASK : 0)) >>> 0);
      vcpu.vmcs.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, ex.errorCode);
    },

    /** vmx_enable_irq_window */
    enable_irq_window(vcpu) { vcpu.vmcs.setBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING); },

    /** vmx_interrupt_allowed → !__vmx_interrupt_blocked: RFLAGS.IF and no STI/MOV-SS blocking. */
    interrupt_allowed(vcpu) {
      const v = vcpu.vmcs;
      return (v.read(VMCS.GUEST_RFLAGS) & X86_EFLAGS_IF) !== 0
        && (v.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) === 0;
    },

    /** vmx_inject_nmi */
    inject_nmi(vcpu) {
      vcpu.stat.nmi_injections++;
      vcpu.vmcs.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, (NMI_VECTOR | INTR_TYPE_NMI_INTR | INTR_INFO_VALID_MASK) >>> 0);
    },

    /** vmx_nmi_allowed → !vmx_nmi_blocked */
    nmi_allowed(vcpu) {
      return (vcpu.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & (GUEST_INTR_STATE_MOV_SS | GUEST_INTR_STATE_STI | GUEST_INTR_STATE_NMI)) === 0;
    },

    /** vmx_enable_nmi_window: NMI-window exiting, or the interrupt window while STI blocks. */
    enable_nmi_window(vcpu) {
      if (vcpu.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_STATE_STI) { ops.enable_irq_window(vcpu); return; }
      vcpu.vmcs.setBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING);
    },

    /** vmx_set_cr0: the guest reads what it wrote; VT-x runs with CR0.NE forced on (unrestricted guest). */
    set_cr0(vcpu, cr0) {
      vcpu.vmcs.write(VMCS.CR0_READ_SHADOW, cr0);
      vcpu.vmcs.write(VMCS.GUEST_CR0, (cr0 | X86_CR0_NE) >>> 0);
      vcpu.regs.cr0 = (cr0 | X86_CR0_NE) >>> 0;
    },

    /**
     * vmx_set_cr4: on a host CPU without UMIP, kvm emulates it: CR4.UMIP turns on descriptor-table
     * exiting and is kept out of the CR4 VT-x runs with. CR4.VMXE is always on in non-root mode.
     */
    set_cr4(vcpu, cr4) {
      let hw = (cr4 | X86_CR4_VMXE) >>> 0;
      if (vcpu.vm.env.era.features.umipEmulation && !caps.umip) {
        if (cr4 & X86_CR4_UMIP) { vcpu.vmcs.setBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_DESC); hw = (hw & ~X86_CR4_UMIP) >>> 0; }
        else vcpu.vmcs.clearBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_DESC);
      }
      vcpu.vmcs.write(VMCS.CR4_READ_SHADOW, cr4);
      vcpu.vmcs.write(VMCS.GUEST_CR4, hw);
      vcpu.regs.cr4 = hw;
    },

    /**
     * vmx_set_virtual_apic_mode: xAPIC mode virtualizes the APIC-access page; x2APIC mode instead
     * virtualizes the x2APIC MSRs (TPR through the MSR bitmap), so the two are never on together.
     */
    set_virtual_apic_mode(vcpu) {
      const apic = vcpu.apic;
      if (!apic) return;
      const v = vcpu.vmcs;
      v.clearBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES | SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE);
      const mode = apicMode(apic.apicBase);
      if (mode === LAPIC_MODE_XAPIC) v.setBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES);
      else if (mode === LAPIC_MODE_X2APIC && vcpu.vm.env.era.features.virtualizeX2apicMode) v.setBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE);
      updateMsrBitmapX2apic(vcpu);
    },

    /** vmx_update_cr8_intercept: exit when the TPR drops below the class of the highest pending vector. */
    update_cr8_intercept(vcpu, tpr, irr) {
      vcpu.vmcs.write(VMCS.TPR_THRESHOLD, irr === -1 || tpr < irr ? 0 : irr);
    },

    /**
     * vmx_vcpu_after_set_cpuid → vmx_secondary_exec_control: an "exiting" control is set exactly
     * when the guest's CPUID lacks the feature (vmx_adjust_sec_exec_exiting).
     */
    vcpu_after_set_cpuid(vcpu) {
      const v = vcpu.vmcs;
      const adjust = (has: boolean, bit: number) => { if (has) v.clearBits(VMCS.SECONDARY_VM_EXEC_CONTROL, bit); else v.setBits(VMCS.SECONDARY_VM_EXEC_CONTROL, bit); };
      adjust(guest_cpuid_has(vcpu, 1, 0, 'ecx', 30), SECONDARY_EXEC_RDRAND_EXITING);
      adjust(guest_cpuid_has(vcpu, 7, 0, 'ebx', 18), SECONDARY_EXEC_RDSEED_EXITING);
    },

    /**
     * kvm_vcpu_reset / vmx_vcpu_reset(init_event): RIP 0xfff0 (with CS.base 0xffff0000: the reset
     * vector), RFLAGS 0x2 (interrupts off), no blocking, nothing to inject. (Simplification: the model
     * keeps no segment registers and leaves CR0/CR4 as the loader set them; see
     * kvm_vcpu_deliver_sipi_vector.)
     */
    vcpu_reset(vcpu) {
      const v = vcpu.vmcs;
      v.write(VMCS.GUEST_RIP, 0xfff0);
      v.write(VMCS.GUEST_RFLAGS, 0x2);
      v.write(VMCS.GUEST_INTERRUPTIBILITY_INFO, 0);
      v.write(VMCS.VM_ENTRY_INTR_INFO_FIELD, 0);
      vcpu.cpu.initSignalReset();
    },

    /**
     * kvm_vcpu_deliver_sipi_vector: CS.selector = vector << 8, CS.base = vector << 12, RIP = 0 — the AP
     * starts in real mode at the vector's page. The model has no segment state: the page's address
     * goes to RIP, the linear address the AP fetches from.
     */
    deliver_sipi_vector(vcpu, vector) {
      vcpu.vmcs.write(VMCS.GUEST_RIP, vector << 12);
    },

    /** vmx_update_cpu_dirty_logging */
    update_cpu_dirty_logging(vcpu) {
      if (!to_vmx(vcpu).pml_pg) return;
      if (vcpu.vm.cpuDirtyLoggingCount > 0) vcpu.vmcs.setBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_ENABLE_PML);
      else vcpu.vmcs.clearBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_ENABLE_PML);
    },

    /** vmx_deliver_interrupt (posted_intr.ts) */
    deliver_interrupt: vmx_deliver_interrupt,

    /** vmx_sync_pir_to_irr (posted_intr.ts) */
    sync_pir_to_irr: vmx_sync_pir_to_irr,

    flush_pml_buffer(vcpu) { vmx_flush_pml_buffer(vcpu); },

    /** vmx_sync_dirty_debug_regs */
    sync_dirty_debug_regs(vcpu) {
      vcpu.arch.switch_db_regs &= ~KVM_DEBUGREG_WONT_EXIT;
      vcpu.vmcs.setBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MOV_DR_EXITING);
    },
  };
  return ops;
}
