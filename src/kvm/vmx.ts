// arch/x86/kvm/vmx/vmx.c (Linux 6.1): how kvm programs VT-x and handles a VM exit.
// The exit-handler table is kvm_vmx_exit_handlers[] of the era (kvm/profile.ts: 6.1 entry for
// entry, or the 2.6.36-3.0 table of the seed's era); each name selects the behaviour below, which
// follows the real handler in its essentials. kvm_intel module parameters are 6.1's defaults
// except nested=0 (there is no nested VMX here): ept, vpid, unrestricted_guest, flexpriority,
// pml, preemption_timer and fasteoi on, ple_gap 128, ple_window 4096 (grow ×2).

import { defineEvent } from '../trace/events';
import { EXIT_REASON, VMX_EXIT_REASONS_FAILED_VMENTRY, VMX_IO_IN, VMX_IO_PORT_SHIFT, VMX_IO_SIZE_MASK, VMX_IO_STRING, type ExitReasonName } from '../uapi/vmx';
import { KVM_EXIT, KVM_INTERNAL_ERROR_DELIVERY_EV, KVM_INTERNAL_ERROR_EMULATION, KVM_INTERNAL_ERROR_SIMUL_EX, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, KVM_NOTIFY_CONTEXT_INVALID, KVM_RUN_X86_BUS_LOCK, KVM_X86_NOTIFY_VMEXIT_USER } from '../uapi/kvm';
import { VMX_EPTP_AD_ENABLE_BIT, VMX_EPTP_MT_WB, VMX_EPTP_PWL_4 } from '../vmx/ept';
import { ENTER_BREAK, ENTER_PARK, ENTER_VMFAIL } from '../vmx/cpu';
import { AC_VECTOR, DB_VECTOR, MC_VECTOR, NMI_VECTOR, UD_VECTOR as CPU_UD_VECTOR } from '../vmx/exceptions';
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_CR8_LOAD_EXITING, CPU_BASED_CR8_STORE_EXITING, CPU_BASED_HLT_EXITING,
  CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_MONITOR_EXITING, CPU_BASED_MOV_DR_EXITING, CPU_BASED_MWAIT_EXITING,
  CPU_BASED_NMI_WINDOW_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_TPR_SHADOW, CPU_BASED_UNCOND_IO_EXITING,
  CPU_BASED_USE_MSR_BITMAPS, CPU_BASED_USE_TSC_OFFSETTING, GUEST_INTR_STATE_MOV_SS, GUEST_INTR_STATE_NMI, GUEST_INTR_STATE_STI,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_INTR_TYPE_MASK, INTR_INFO_UNBLOCK_NMI, INTR_INFO_VALID_MASK, INTR_INFO_VECTOR_MASK,
  INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR, INTR_TYPE_SOFT_INTR, PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING,
  PIN_BASED_POSTED_INTR, PIN_BASED_VIRTUAL_NMIS, PIN_BASED_VMX_PREEMPTION_TIMER, SECONDARY_EXEC_APIC_REGISTER_VIRT,
  SECONDARY_EXEC_BUS_LOCK_DETECTION, SECONDARY_EXEC_DESC, SECONDARY_EXEC_ENCLS_EXITING, SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_ENABLE_INVPCID, SECONDARY_EXEC_ENABLE_PML,
  SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_ENABLE_VPID, SECONDARY_EXEC_NOTIFY_VM_EXITING,
  SECONDARY_EXEC_PAUSE_LOOP_EXITING, SECONDARY_EXEC_RDRAND_EXITING, SECONDARY_EXEC_RDSEED_EXITING,
  SECONDARY_EXEC_UNRESTRICTED_GUEST, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY, SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES,
  SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE, SECONDARY_EXEC_WBINVD_EXITING, SECONDARY_EXEC_XSAVES,
  VM_EXIT_ACK_INTR_ON_EXIT, VM_EXIT_HOST_ADDR_SPACE_SIZE, VM_ENTRY_IA32E_MODE, VMCS, X86_EFLAGS_IF,
} from '../vmx/vmcs';
import {
  X86_CR4_UMIP, guest_cpuid_has, kvm_complete_insn_gp, kvm_emulate_invd, kvm_emulate_monitor, kvm_emulate_mwait,
  kvm_emulate_rdpmc, kvm_emulate_wbinvd, kvm_emulate_xsetbv, kvm_get_cr8, kvm_handle_invalid_op, kvm_read_cr0,
  kvm_require_dr, kvm_set_cr0, kvm_set_cr4, kvm_set_cr8, trace_kvm_cr, x86_emulate_instruction, EMULTYPE_NONE, EMULTYPE_TRAP_UD,
} from './emulate';
import { KVM_DEBUGREG_WONT_EXIT, KVM_REQ_EVENT } from './kvm_host';
import { APIC_DEFAULT_PHYS_BASE, APIC_EOI, APIC_TASKPRI, LAPIC_MODE_X2APIC, LAPIC_MODE_XAPIC, apicMode, apic_set_eoi, kvm_apic_set_eoi_accelerated, kvm_apic_update_ppr, kvm_apic_write_nodecode } from './lapic';
import { handle_ept_misconfig, handle_ept_violation, kvm_mmu_invlpg, mark_page_dirty_in_slot } from './mmu';
import type { KvmEra } from './profile';
import { LINUX_6_1 } from './profile';
import type { KvmVcpu } from './vcpu';
import {
  handle_fastpath_set_msr_irqoff, kvm_emulate_cpuid, kvm_emulate_halt, kvm_emulate_hypercall, kvm_emulate_rdmsr,
  kvm_emulate_wrmsr, kvm_fast_pio, kvm_queue_exception, kvm_skip_emulated_instruction, kvm_vcpu_apicv_active,
} from './x86';
import { kvm_send_ipi_to_guest_mode, kvm_vcpu_wake_up } from './kick';
import { kvm_lapic_deliver_to_irr } from './lapic';
import { VCPU_RUN_BREAK, VCPU_RUN_PARK, type KvmX86Ops } from './x86_ops';

type Handler = (vcpu: KvmVcpu) => number;

const X86_CR0_TS = 0x8;
const X86_CR0_NE = 0x20;
/** KVM_POSSIBLE_CR0_GUEST_BITS (6.1): only CR0.TS is guest-owned; any other change exits. */
const CR0_GUEST_OWNED = X86_CR0_TS;
/** KVM_VM_CR4_ALWAYS_ON_UNRESTRICTED_GUEST: the guest runs with CR4.VMXE set whatever it wrote. */
const X86_CR4_VMXE = 1 << 13;

/** kvm_intel module parameters (6.1 defaults). */
export const KVM_DEFAULT_PLE_GAP = 128;
export const KVM_VMX_DEFAULT_PLE_WINDOW = 4096;
export const KVM_DEFAULT_PLE_WINDOW_GROW = 2;
export const KVM_VMX_DEFAULT_PLE_WINDOW_MAX = 0xffffffff;

/** arch/x86/include/asm/irq_vectors.h: the host's vectors the model's host interrupts use. */
export const LOCAL_TIMER_VECTOR = 0xec;
export const RESCHEDULE_VECTOR = 0xfd;
export const POSTED_INTR_VECTOR = 0xf2;
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

/** What the host CPU offers beyond what kvm needs everywhere (vmcs_config, kvm_caps, boot_cpu_has). */
export interface HostVmxCaps {
  /** SECONDARY_EXEC_BUS_LOCK_DETECTION (Sapphire Rapids and later). */
  busLockDetection: boolean;
  /** SECONDARY_EXEC_NOTIFY_VM_EXITING (Sapphire Rapids and later). */
  notifyVmExit: boolean;
  /** SGX with ENCLS exiting (kvm intercepts every ENCLS leaf the guest may not use). */
  enclsExiting: boolean;
  /** X86_FEATURE_UMIP: the CPU has UMIP itself, so kvm need not emulate it with descriptor-table exiting. */
  umip: boolean;
}
export const HOST_VMX_CAPS: Readonly<Record<'skylake-sp' | 'sapphire-rapids', HostVmxCaps>> = {
  'skylake-sp': { busLockDetection: false, notifyVmExit: false, enclsExiting: false, umip: false },
  'sapphire-rapids': { busLockDetection: true, notifyVmExit: true, enclsExiting: true, umip: true },
};

export interface VmxOptions {
  apicv: boolean;
  hostCaps?: HostVmxCaps;
}

/** struct vcpu_vmx beyond what KvmVcpu keeps: to_vmx(vcpu). */
interface VcpuVmx {
  msrBitmap: Uint8Array;
  ple_window: number;
  ple_window_dirty: boolean;
  hv_timer_soft_disabled: boolean;
  bus_lock_detected: boolean;
  /** The CPU the last VM entry ran on (vcpu->arch.last_vmentry_cpu). */
  last_vmentry_cpu: number;
  /** The page-modification log (vmx->pml_pg), with enable_pml. */
  pml_pg: Float64Array | undefined;
  /**
   * struct pi_desc (posted_intr.h), 64 bytes: PIR, 256 bits (u32 pir[8]), then the control word —
   * ON (bit 256, outstanding notification), SN (bit 257), NV (bits 279:272), NDST (bits 319:288).
   * VT-x reads it at POSTED_INTR_DESC_ADDR.
   */
  pi_desc: DataView;
}
/** pi_desc: the control word's byte offset, and its ON bit. */
const PI_CONTROL = 32;
const POSTED_INTR_ON = 1;

/** pi_test_and_set_pir */
function pi_test_and_set_pir(pi: DataView, vector: number): boolean {
  const a = (vector >> 5) << 2;
  const w = pi.getUint32(a, true);
  const bit = 1 << (vector & 31);
  pi.setUint32(a, (w | bit) >>> 0, true);
  return (w & bit) !== 0;
}
/** pi_test_and_set_on */
function pi_test_and_set_on(pi: DataView): boolean {
  const c = pi.getUint8(PI_CONTROL);
  pi.setUint8(PI_CONTROL, c | POSTED_INTR_ON);
  return (c & POSTED_INTR_ON) !== 0;
}
const vmxOf = new WeakMap<KvmVcpu, VcpuVmx>();
const to_vmx = (vcpu: KvmVcpu): VcpuVmx => vmxOf.get(vcpu)!;

const EV_PLE = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_ple_window_update', ['vcpu_id', 'new', 'old']);
const EV_HOST_IRQ = defineEvent('call', 'kvm', 'kvm', 'handle_external_interrupt_irqoff', ['vector:hex', 'handler:str']);
const EV_HOST_NMI = defineEvent('call', 'kvm', 'kvm', 'handle_exception_nmi_irqoff', ['vector:hex', 'handler:str']);
const EV_MCE = defineEvent('call', 'kvm', 'kvm', 'kvm_machine_check', []);
const EV_APICV_ACCEPT = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_apicv_accept_irq', ['apicid', 'dm:hex', 'tm', 'vec:hex']);
const EV_UNIMPL = defineEvent('call', 'kvm', 'kvm', 'vcpu_unimpl', ['msg:str']);
const EV_ON_SPIN = defineEvent('call', 'kvm', 'kvm', 'kvm_vcpu_on_spin', []);
const EV_INVLPG = defineEvent('call', 'kvm', 'kvm', 'kvm_mmu_invlpg', ['gva:hex']);
const EV_TASK_SWITCH = defineEvent('call', 'kvm', 'kvm', 'kvm_task_switch', ['tss_selector:hex', 'reason']);
const EV_PML_FULL = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_pml_full', []);
const EV_FLUSH_PML = defineEvent('call', 'kvm', 'kvm', 'vmx_flush_pml_buffer', ['entries']);

const spendEmulate = (vcpu: KvmVcpu): void => vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);
const exitQual = (vcpu: KvmVcpu): number => vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);

// ---------------------------------------------------------------- exit handlers

/**
 * handle_exception_nmi (handle_exception before 5.x): NMIs and machine checks were handled right
 * after the exit (handle_exception_nmi_irqoff); #UD goes to the emulator (handle_ud); #DB and #AC
 * are reflected into the guest; an exception while delivering another is an internal error.
 */
function handle_exception_nmi(vcpu: KvmVcpu): number {
  const v = vcpu.vmcs;
  const intrInfo = v.read(VMCS.VM_EXIT_INTR_INFO);
  const vector = intrInfo & INTR_INFO_VECTOR_MASK;
  const type = intrInfo & INTR_INFO_INTR_TYPE_MASK;
  const vectInfo = v.read(VMCS.IDT_VECTORING_INFO_FIELD);
  if ((type === INTR_TYPE_HARD_EXCEPTION && vector === MC_VECTOR) || type === INTR_TYPE_NMI_INTR) return 1;
  // handle_ud → kvm_emulate_instruction(EMULTYPE_TRAP_UD)
  if (type === INTR_TYPE_HARD_EXCEPTION && vector === CPU_UD_VECTOR) return x86_emulate_instruction(vcpu, EMULTYPE_TRAP_UD);
  const errorCode = intrInfo & INTR_INFO_DELIVER_CODE_MASK ? v.read(VMCS.VM_EXIT_INTR_ERROR_CODE) : 0;
  if (vectInfo & INTR_INFO_VALID_MASK) {
    vcpu.run.exit_reason = KVM_EXIT.INTERNAL_ERROR;
    vcpu.run.setInternalError(KVM_INTERNAL_ERROR_SIMUL_EX, [vectInfo, intrInfo, errorCode, to_vmx(vcpu).last_vmentry_cpu]);
    return 0;
  }
  if (vector === DB_VECTOR) { kvm_queue_exception(vcpu, DB_VECTOR); return 1; }
  // vmx_guest_inject_ac: without split-lock detection on the host, #AC goes back to the guest.
  if (vector === AC_VECTOR) { kvm_queue_exception(vcpu, AC_VECTOR, errorCode); return 1; }
  vcpu.run.exit_reason = KVM_EXIT.EXCEPTION;
  vcpu.run.setException(vector, errorCode);
  return 0;
}

/** handle_external_interrupt: the host's handler already ran with interrupts off; just re-enter. */
function handle_external_interrupt(vcpu: KvmVcpu): number { vcpu.stat.irq_exits++; return 1; }

/** handle_triple_fault: the guest shut itself down; userspace decides (qemu resets the machine). */
function handle_triple_fault(vcpu: KvmVcpu): number {
  vcpu.run.exit_reason = KVM_EXIT.SHUTDOWN;
  vcpu.arch.mmio.needed = false;
  return 0;
}

/** handle_nmi_window: NMIs are unblocked; stop NMI-window exiting and let event injection run. */
function handle_nmi_window(vcpu: KvmVcpu): number {
  vcpu.vmcs.clearBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING);
  vcpu.stat.nmi_window_exits++;
  vcpu.arch.requests |= KVM_REQ_EVENT;
  return 1;
}

/** handle_io: decode the I/O qualification; string I/O goes to the emulator, the rest to kvm_fast_pio. */
function handle_io(vcpu: KvmVcpu): number {
  const q = exitQual(vcpu);
  vcpu.stat.io_exits++;
  if (q & VMX_IO_STRING) return x86_emulate_instruction(vcpu, EMULTYPE_NONE);
  const port = Math.floor(q / 2 ** VMX_IO_PORT_SHIFT) & 0xffff;
  const size = (q & VMX_IO_SIZE_MASK) + 1;
  const isIn = (q & VMX_IO_IN) !== 0;
  return kvm_fast_pio(vcpu, size, port, isIn);
}

/**
 * handle_cr: MOV to CR0/CR4 (the bits the guest/host masks keep), CR8 (the TPR: without an
 * in-kernel LAPIC a lowered TPR goes to userspace as KVM_EXIT_SET_TPR), and MOV from CR3/CR8.
 * Exit qualification: CR number in 3:0, access type in 5:4, the GPR in 11:8 (SDM Table 28-3).
 */
function handle_cr(vcpu: KvmVcpu): number {
  const q = exitQual(vcpu);
  const cr = q & 15;
  const reg = (q >> 8) & 15;
  const r = vcpu.regs;
  // GPR 0 = RAX is the only register the model's instructions name.
  const readReg = () => (reg === 0 ? r.rax : 0);
  spendEmulate(vcpu);
  switch ((q >> 4) & 3) {
    case 0: { // mov to cr
      const val = readReg();
      trace_kvm_cr(vcpu, true, cr, val);
      if (cr === 0) return kvm_complete_insn_gp(vcpu, kvm_set_cr0(vcpu, val));
      if (cr === 3) { r.cr3 = val; return kvm_skip_emulated_instruction(vcpu); }
      if (cr === 4) return kvm_complete_insn_gp(vcpu, kvm_set_cr4(vcpu, val));
      if (cr === 8) {
        const prev = kvm_get_cr8(vcpu);
        const cr8 = val & 0xff;
        const ret = kvm_complete_insn_gp(vcpu, kvm_set_cr8(vcpu, cr8));
        if (vcpu.apic || prev <= cr8) return ret;
        vcpu.run.exit_reason = KVM_EXIT.SET_TPR;
        return 0;
      }
      break;
    }
    case 1: // mov from cr
      if (cr === 3) { r.rax = r.cr3; trace_kvm_cr(vcpu, false, cr, r.rax); return kvm_skip_emulated_instruction(vcpu); }
      if (cr === 8) { r.rax = kvm_get_cr8(vcpu); trace_kvm_cr(vcpu, false, cr, r.rax); return kvm_skip_emulated_instruction(vcpu); }
      break;
    default: break;
  }
  vcpu.run.exit_reason = KVM_EXIT.UNKNOWN;
  return 0;
}

/**
 * handle_dr: with no host debugger (guest_debug == 0) kvm stops intercepting MOV DR and re-enters
 * at the same instruction, which now runs natively; the next exit takes the debug registers back
 * (vmx_sync_dirty_debug_regs) and intercepts again.
 */
function handle_dr(vcpu: KvmVcpu): number {
  const q = exitQual(vcpu);
  const dr = q & 7;
  if (!kvm_require_dr(vcpu, dr)) return 1;
  const dr7 = vcpu.vmcs.read(VMCS.GUEST_DR7);
  if (dr7 & (1 << 13)) { kvm_queue_exception(vcpu, DB_VECTOR); return 1; } // DR7.GD: #DB
  vcpu.vmcs.clearBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MOV_DR_EXITING);
  vcpu.arch.switch_db_regs |= KVM_DEBUGREG_WONT_EXIT;
  return 1;
}

/** handle_interrupt_window: interrupts are open again; stop the window exits and inject. */
function handle_interrupt_window(vcpu: KvmVcpu): number {
  vcpu.vmcs.clearBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING);
  vcpu.arch.requests |= KVM_REQ_EVENT;
  vcpu.stat.irq_window_exits++;
  return 1;
}

/** handle_invlpg: flush the guest virtual address from kvm's shadow paging (reached only with ept=0). */
function handle_invlpg(vcpu: KvmVcpu): number {
  const gva = exitQual(vcpu);
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_INVLPG, vcpu.id, gva);
  kvm_mmu_invlpg(vcpu, gva);
  return kvm_skip_emulated_instruction(vcpu);
}

/** handle_vmx_instruction: with nested=0, every VMX instruction is #UD. */
function handle_vmx_instruction(vcpu: KvmVcpu): number { kvm_queue_exception(vcpu, CPU_UD_VECTOR); return 1; }

/** handle_tpr_below_threshold: the guest lowered its TPR under a pending interrupt's class. */
function handle_tpr_below_threshold(vcpu: KvmVcpu): number { kvm_apic_update_ppr(vcpu); return 1; }

/**
 * handle_apic_access: fasteoi short-circuits a write to EOI (no decode); everything else is
 * emulated against the in-kernel local APIC.
 */
function handle_apic_access(vcpu: KvmVcpu): number {
  const q = exitQual(vcpu);
  const accessType = (q >> 12) & 0xf;
  const offset = q & 0xfff;
  if (accessType === 1 /* TYPE_LINEAR_APIC_INST_WRITE */ && offset === APIC_EOI) {
    apic_set_eoi(vcpu);
    return kvm_skip_emulated_instruction(vcpu);
  }
  const apicPage = vcpu.vmcs.read(VMCS.APIC_ACCESS_ADDR) - (vcpu.vmcs.read(VMCS.APIC_ACCESS_ADDR) % 4096);
  return x86_emulate_instruction(vcpu, EMULTYPE_NONE, apicPage + offset);
}

/** handle_apic_write: trap-like; the CPU already wrote the virtual-APIC page, kvm acts on it. */
function handle_apic_write(vcpu: KvmVcpu): number { kvm_apic_write_nodecode(vcpu, exitQual(vcpu) & 0xfff); return 1; }

/** handle_apic_eoi_induced: trap-like; the EOI of a vector the EOI-exit bitmap names (a level-triggered IOAPIC pin). */
function handle_apic_eoi_induced(vcpu: KvmVcpu): number { kvm_apic_set_eoi_accelerated(vcpu, exitQual(vcpu) & 0xff); return 1; }

/** Exit qualification of a task switch: bits 31:30 the source (SDM Table 28-2). */
const TASK_SWITCH_GATE = 3;

/**
 * handle_task_switch: a hardware task switch (CALL/JMP to a TSS, IRET with NT, a task gate) — only
 * outside IA-32e mode, so the model's 64-bit guest never causes one. The source and the TSS
 * selector come from the qualification; a switch through an IDT gate drops the event being
 * delivered; an instruction-caused switch is skipped first; then kvm_task_switch emulates it.
 */
function handle_task_switch(vcpu: KvmVcpu): number {
  const v = vcpu.vmcs;
  const info = v.read(VMCS.IDT_VECTORING_INFO_FIELD);
  const idt_v = (info & INTR_INFO_VALID_MASK) !== 0;
  const type = info & INTR_INFO_INTR_TYPE_MASK;
  const q = exitQual(vcpu);
  const reason = q >>> 30;
  if (reason === TASK_SWITCH_GATE && idt_v) {
    if (type === INTR_TYPE_NMI_INTR) { vcpu.arch.nmi_injected = false; v.setBits(VMCS.GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI); }
    else if (type === INTR_TYPE_EXT_INTR || type === INTR_TYPE_SOFT_INTR) vcpu.arch.interrupt = -1;
    else vcpu.arch.exception = null;
  }
  const tss_selector = q & 0xffff;
  if (!idt_v || (type !== INTR_TYPE_HARD_EXCEPTION && type !== INTR_TYPE_EXT_INTR && type !== INTR_TYPE_NMI_INTR)) {
    vcpu.vm.ops.skip_emulated_instruction(vcpu);
  }
  return kvm_task_switch(vcpu, tss_selector, reason);
}

/**
 * kvm_task_switch (x86.c) → emulator_task_switch. Simplified: the model keeps no TSS or descriptor
 * tables in guest memory, so the emulation fails as it does in kvm for an unusable TSS:
 * KVM_EXIT_INTERNAL_ERROR with KVM_INTERNAL_ERROR_EMULATION and no data.
 */
function kvm_task_switch(vcpu: KvmVcpu, tss_selector: number, reason: number): number {
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_TASK_SWITCH, vcpu.id, tss_selector, reason);
  vcpu.run.exit_reason = KVM_EXIT.INTERNAL_ERROR;
  vcpu.run.setInternalError(KVM_INTERNAL_ERROR_EMULATION, []);
  return 0;
}

/** handle_machine_check: "handled by vmx_vcpu_run()". */
function handle_machine_check(_vcpu: KvmVcpu): number { return 1; }

/** handle_desc: descriptor-table exiting is on only to emulate CR4.UMIP; the emulator does the rest. */
function handle_desc(vcpu: KvmVcpu): number { return x86_emulate_instruction(vcpu, EMULTYPE_NONE); }

/** __grow_ple_window */
function grow(val: number, base: number, modifier: number, max: number): number {
  if (modifier < 1) return base;
  const ret = modifier < base ? val * modifier : val + modifier;
  return Math.min(ret, max);
}

/**
 * handle_pause: a PAUSE loop ran longer than ple_window: grow this vcpu's window (6.1) and give the
 * physical CPU to another vcpu of the VM that may hold the lock (kvm_vcpu_on_spin).
 */
function handle_pause(vcpu: KvmVcpu): number {
  const vmx = to_vmx(vcpu);
  if (vcpu.vm.env.era.features.pleWindowGrow) {
    const old = vmx.ple_window;
    vmx.ple_window = grow(old, KVM_VMX_DEFAULT_PLE_WINDOW, KVM_DEFAULT_PLE_WINDOW_GROW, KVM_VMX_DEFAULT_PLE_WINDOW_MAX);
    if (vmx.ple_window !== old) {
      vmx.ple_window_dirty = true;
      const t = vcpu.vm.env.t;
      if (t.on) t.rec(EV_PLE, vcpu.id, vcpu.id, vmx.ple_window, old);
    }
  }
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_ON_SPIN, vcpu.id);
  return kvm_skip_emulated_instruction(vcpu);
}

/** handle_monitor_trap: nothing to do (kvm sets MTF only for a nested guest). */
function handle_monitor_trap(_vcpu: KvmVcpu): number { return 1; }

/** handle_invpcid: exits only with INVLPG exiting, i.e. with ept=0; the guest's CPUID must have INVPCID. */
function handle_invpcid(vcpu: KvmVcpu): number {
  if (!guest_cpuid_has(vcpu, 7, 0, 'ebx', 10)) { kvm_queue_exception(vcpu, CPU_UD_VECTOR); return 1; }
  return kvm_skip_emulated_instruction(vcpu);
}

/**
 * handle_pml_full: the buffer was already flushed at the start of the exit (vmx_flush_pml_buffer);
 * if the log filled during an IRET from an NMI, NMI blocking must be restored before re-entry.
 */
function handle_pml_full(vcpu: KvmVcpu): number {
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_PML_FULL, vcpu.id);
  if (!(vcpu.vmcs.read(VMCS.IDT_VECTORING_INFO_FIELD) & INTR_INFO_VALID_MASK) && exitQual(vcpu) & INTR_INFO_UNBLOCK_NMI) {
    vcpu.vmcs.setBits(VMCS.GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI);
  }
  return 1;
}

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

/**
 * handle_fastpath_preemption_timer: an expired hv timer is the guest's LAPIC timer; a soft-disabled
 * timer (armed at 0xffffffff ticks because no hv timer is in use) has nothing to deliver.
 */
function handle_fastpath_preemption_timer(vcpu: KvmVcpu): boolean {
  return !to_vmx(vcpu).hv_timer_soft_disabled;
}

/** handle_preemption_timer: the slow path, when the fastpath declined (a soft-disabled timer expired). */
function handle_preemption_timer(vcpu: KvmVcpu): number { handle_fastpath_preemption_timer(vcpu); return 1; }

/** handle_encls: SGX is not exposed to the guest: ENCLS is #UD (sgx.c handle_encls, for any leaf). */
function handle_encls(vcpu: KvmVcpu): number { kvm_queue_exception(vcpu, CPU_UD_VECTOR); return 1; }

/** handle_bus_lock_vmexit: set the flag; vmx_handle_exit turns it into KVM_EXIT_X86_BUS_LOCK. */
function handle_bus_lock_vmexit(vcpu: KvmVcpu): number { to_vmx(vcpu).bus_lock_detected = true; return 1; }

/**
 * handle_notify: the guest stayed in a non-interruptible window longer than notify_window; with
 * KVM_X86_NOTIFY_VMEXIT_USER (or when the VM context is invalid) userspace is told.
 */
function handle_notify(vcpu: KvmVcpu): number {
  const q = exitQual(vcpu);
  const contextInvalid = (q & 1) !== 0; // NOTIFY_VM_CONTEXT_INVALID
  if (q & INTR_INFO_UNBLOCK_NMI) vcpu.vmcs.setBits(VMCS.GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI);
  if (vcpu.vm.notifyVmexitFlags & KVM_X86_NOTIFY_VMEXIT_USER || contextInvalid) {
    vcpu.run.exit_reason = KVM_EXIT.NOTIFY;
    vcpu.run.setNotify(contextInvalid ? KVM_NOTIFY_CONTEXT_INVALID : 0);
    return 0;
  }
  return 1;
}

/** Behaviour by handler name: 6.1's names and the seed era's names for the same handlers. */
const BEHAVIOUR: Readonly<Record<string, Handler>> = {
  handle_exception_nmi, handle_exception: handle_exception_nmi,
  handle_external_interrupt, handle_triple_fault, handle_nmi_window, handle_io, handle_cr, handle_dr,
  kvm_emulate_cpuid, handle_cpuid: kvm_emulate_cpuid,
  kvm_emulate_rdmsr, handle_rdmsr: kvm_emulate_rdmsr,
  kvm_emulate_wrmsr, handle_wrmsr: kvm_emulate_wrmsr,
  handle_interrupt_window,
  kvm_emulate_halt, handle_halt: kvm_emulate_halt,
  kvm_emulate_invd, handle_invd: kvm_emulate_invd,
  handle_invlpg, kvm_emulate_rdpmc,
  kvm_emulate_hypercall, handle_vmcall: kvm_emulate_hypercall,
  handle_vmx_instruction, handle_vmx_insn: handle_vmx_instruction,
  handle_tpr_below_threshold, handle_apic_access, handle_apic_write, handle_apic_eoi_induced,
  kvm_emulate_wbinvd, handle_wbinvd: kvm_emulate_wbinvd,
  kvm_emulate_xsetbv, handle_xsetbv: kvm_emulate_xsetbv,
  handle_task_switch, handle_machine_check, handle_desc, handle_ept_violation, handle_ept_misconfig, handle_pause,
  kvm_emulate_mwait, kvm_emulate_monitor, handle_invalid_op: kvm_handle_invalid_op, kvm_handle_invalid_op,
  handle_monitor_trap, handle_pml_full, handle_invpcid, handle_preemption_timer, handle_encls,
  handle_bus_lock_vmexit, handle_notify,
};

/** kvm_vmx_exit_handlers[] of Linux 6.1, by basic exit reason: [reason, handler name, handler]. */
export const KVM_VMX_EXIT_HANDLERS: ReadonlyArray<readonly [ExitReasonName, string, Handler]> =
  (Object.entries(LINUX_6_1.exitHandlers) as [ExitReasonName, string][]).map(([reason, name]) => [reason, name, BEHAVIOUR[name]!] as const);

interface Entry { name: string; fn: Handler; ev: number }
const tables = new Map<string, (Entry | undefined)[]>();
let lastEra: KvmEra | undefined;
let lastTable: (Entry | undefined)[] = [];
/** The era's table, indexed by basic exit reason (kvm_vmx_exit_handlers[]). */
function exitTable(era: KvmEra): (Entry | undefined)[] {
  if (era === lastEra) return lastTable;
  let t = tables.get(era.era);
  if (!t) {
    t = [];
    for (const [reason, name] of Object.entries(era.exitHandlers) as [ExitReasonName, string][]) {
      const fn = BEHAVIOUR[name];
      if (!fn) throw new Error(`kvm: no behaviour modelled for handler ${name}`);
      t[EXIT_REASON[reason]] = { name, fn, ev: defineEvent('exit-handler', 'kvm', 'kvm', name, ['reason']) };
    }
    tables.set(era.era, t);
  }
  lastEra = era;
  lastTable = t;
  return t;
}

/** The handler kvm of an era runs for a basic exit reason, or null when its table has none. */
export function handlerName(reason: number, era: KvmEra): string | null {
  return exitTable(era)[reason]?.name ?? null;
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
      vmxOf.set(vcpu, { msrBitmap: bm, ple_window: KVM_VMX_DEFAULT_PLE_WINDOW, ple_window_dirty: false,
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
        if (t.on) t.rec(EV_UNIMPL, vcpu.id, t.str(`vmx: unexpected exit reason 0x${(reason >>> 0).toString(16)}`));
        if (env.era.unexpectedExit === 'internal-error') {
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
     * vmx_deliver_interrupt → vmx_deliver_posted_interrupt: with APICv the vector goes to the PIR and,
     * unless a notification is already outstanding (ON), kvm_vcpu_trigger_posted_interrupt: a vCPU in
     * guest mode gets POSTED_INTR_VECTOR at its physical CPU (no VM exit: the CPU moves PIR to its
     * virtual IRR), any other is woken (the PIR is synced to IRR before its next entry). Without
     * APICv: IRR, KVM_REQ_EVENT and kvm_vcpu_kick.
     */
    deliver_interrupt(vcpu, vector, level, context) {
      const apic = vcpu.apic!;
      apic.setTmr(vector, level);
      if (!kvm_vcpu_apicv_active(vcpu)) { kvm_lapic_deliver_to_irr(vcpu, vector, level); return; }
      const t = vcpu.vm.env.t;
      if (t.on) t.rec(EV_APICV_ACCEPT, context, vcpu.id, 0, level ? 1 : 0, vector);
      const pi = to_vmx(vcpu).pi_desc;
      if (pi_test_and_set_pir(pi, vector)) return;
      if (pi_test_and_set_on(pi)) return;
      if (!kvm_send_ipi_to_guest_mode(vcpu, POSTED_INTR_VECTOR)) kvm_vcpu_wake_up(vcpu);
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

    /**
     * vmx_sync_pir_to_irr → vmx_set_rvi: a posted notification still outstanding (ON) moves the PIR
     * into IRR (kvm_apic_update_irr); RVI is the LAPIC's highest IRR vector. vcpu_load_eoi_exitmap:
     * the EOI of a vector the IOAPIC routes level-triggered (or, with a split irqchip, a level
     * MSI route) must exit (kvm_ioapic_scan_entry / kvm_scan_ioapic_routes).
     */
    sync_pir_to_irr(vcpu) {
      const v = vcpu.vmcs;
      const apic = vcpu.apic!;
      const pi = to_vmx(vcpu).pi_desc;
      if (pi.getUint8(PI_CONTROL) & POSTED_INTR_ON) {
        pi.setUint8(PI_CONTROL, pi.getUint8(PI_CONTROL) & ~POSTED_INTR_ON);
        for (let i = 0; i < 8; i++) {
          const w = pi.getUint32(i << 2, true);
          pi.setUint32(i << 2, 0, true);
          for (let b = w; b !== 0; b &= b - 1) {
            const vector = (i << 5) + 31 - Math.clz32(b & -b);
            apic.acceptIrq(vector, apic.isLevel(vector));
          }
        }
      }
      const irr = apic.highestIrr();
      v.write(VMCS.GUEST_INTR_STATUS, (v.read(VMCS.GUEST_INTR_STATUS) & 0xff00) | (irr < 0 ? 0 : irr));
      const bits = [0, 0, 0, 0];
      const level = (vec: number) => { bits[vec >> 6] = bits[vec >> 6]! + 2 ** (vec & 63); };
      const seen = new Set<number>();
      const mark = (vec: number) => { if (!seen.has(vec)) { seen.add(vec); level(vec); } };
      const io = vcpu.vm.ioapic;
      if (io) for (let pin = 0; pin < 24; pin++) { const lo = io.redtbl[2 * pin]!; if (lo & (1 << 15)) mark(lo & 0xff); }
      if (vcpu.vm.irqchipSplit) for (const r of vcpu.vm.gsiRoutes.values()) if (r.data & 0x8000) mark(r.data & 0xff);
      [VMCS.EOI_EXIT_BITMAP0, VMCS.EOI_EXIT_BITMAP1, VMCS.EOI_EXIT_BITMAP2, VMCS.EOI_EXIT_BITMAP3].forEach((f, i) => v.write(f, bits[i]!));
    },

    /** vmx_update_cpu_dirty_logging */
    update_cpu_dirty_logging(vcpu) {
      if (!to_vmx(vcpu).pml_pg) return;
      if (vcpu.vm.cpuDirtyLoggingCount > 0) vcpu.vmcs.setBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_ENABLE_PML);
      else vcpu.vmcs.clearBits(VMCS.SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_ENABLE_PML);
    },

    flush_pml_buffer(vcpu) { vmx_flush_pml_buffer(vcpu); },

    /** vmx_sync_dirty_debug_regs */
    sync_dirty_debug_regs(vcpu) {
      vcpu.arch.switch_db_regs &= ~KVM_DEBUGREG_WONT_EXIT;
      vcpu.vmcs.setBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_MOV_DR_EXITING);
    },
  };
  return ops;
}
