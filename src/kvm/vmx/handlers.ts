// arch/x86/kvm/vmx/vmx.c (Linux 6.1): kvm_vmx_exit_handlers[] and the handlers it names. The
// table of each era comes from kvm/profile.ts (6.1 entry for entry, or the 2.6.36-3.0 table of the
// seed's era); each name selects the behaviour below, which follows the real handler in its
// essentials. Return 1 = handled, re-enter the guest; 0 = kvm_run filled, exit to userspace.

import { defineEvent } from '../../trace/events';
import { EXIT_REASON, VMX_IO_IN, VMX_IO_PORT_SHIFT, VMX_IO_SIZE_MASK, VMX_IO_STRING, type ExitReasonName } from '../../uapi/vmx';
import { KVM_EXIT, KVM_INTERNAL_ERROR_EMULATION, KVM_INTERNAL_ERROR_SIMUL_EX, KVM_NOTIFY_CONTEXT_INVALID, KVM_X86_NOTIFY_VMEXIT_USER } from '../../uapi/kvm';
import { AC_VECTOR, DB_VECTOR, MC_VECTOR, UD_VECTOR as CPU_UD_VECTOR } from '../../vmx/exceptions';
import {
  CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_MOV_DR_EXITING, CPU_BASED_NMI_WINDOW_EXITING, GUEST_INTR_STATE_NMI,
  INTR_INFO_DELIVER_CODE_MASK, INTR_INFO_INTR_TYPE_MASK, INTR_INFO_UNBLOCK_NMI, INTR_INFO_VALID_MASK, INTR_INFO_VECTOR_MASK,
  INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, INTR_TYPE_NMI_INTR, INTR_TYPE_SOFT_INTR, VMCS,
} from '../../vmx/vmcs';
import {
  guest_cpuid_has, kvm_complete_insn_gp, kvm_emulate_invd, kvm_emulate_monitor, kvm_emulate_mwait,
  kvm_emulate_rdpmc, kvm_emulate_wbinvd, kvm_emulate_xsetbv, kvm_get_cr8, kvm_handle_invalid_op,
  kvm_require_dr, kvm_set_cr0, kvm_set_cr4, kvm_set_cr8, trace_kvm_cr, x86_emulate_instruction, EMULTYPE_NONE, EMULTYPE_TRAP_UD,
} from '../emulate';
import { KVM_DEBUGREG_WONT_EXIT, KVM_REQ_EVENT } from '../kvm_host';
import { APIC_EOI, apic_set_eoi, kvm_apic_set_eoi_accelerated, kvm_apic_update_ppr, kvm_apic_write_nodecode } from '../lapic';
import { handle_ept_misconfig, handle_ept_violation, kvm_mmu_invlpg } from '../mmu';
import type { KvmEra } from '../profile';
import { LINUX_6_1 } from '../profile';
import type { KvmVcpu } from '../vcpu';
import {
  kvm_emulate_cpuid, kvm_emulate_halt, kvm_emulate_hypercall, kvm_emulate_rdmsr,
  kvm_emulate_wrmsr, kvm_fast_pio, emulator_pio_in_emulated, kvm_queue_exception, kvm_skip_emulated_instruction,
} from '../x86';
import { KVM_DEFAULT_PLE_WINDOW_GROW, KVM_VMX_DEFAULT_PLE_WINDOW, KVM_VMX_DEFAULT_PLE_WINDOW_MAX } from './capabilities';
import { to_vmx } from './vcpu_vmx';

type Handler = (vcpu: KvmVcpu) => number;

const EV_PLE = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_ple_window_update', ['vcpu_id', 'new', 'old']);
const EV_ON_SPIN = defineEvent('call', 'kvm', 'kvm', 'kvm_vcpu_on_spin', []);
const EV_INVLPG = defineEvent('call', 'kvm', 'kvm', 'kvm_mmu_invlpg', ['gva:hex']);
const EV_TASK_SWITCH = defineEvent('call', 'kvm', 'kvm', 'kvm_task_switch', ['tss_selector:hex', 'reason']);
const EV_PML_FULL = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_pml_full', []);

const spendEmulate = (vcpu: KvmVcpu): void => vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);
const exitQual = (vcpu: KvmVcpu): number => vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);

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
  // 3.x: `if (string || in) return emulate_instruction(vcpu, 0) == EMULATE_DONE;`
  if (isIn && vcpu.vm.env.era.pioInEmulated) return emulator_pio_in_emulated(vcpu, size, port);
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


/**
 * handle_fastpath_preemption_timer: an expired hv timer is the guest's LAPIC timer; a soft-disabled
 * timer (armed at 0xffffffff ticks because no hv timer is in use) has nothing to deliver.
 */
export function handle_fastpath_preemption_timer(vcpu: KvmVcpu): boolean {
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
export function exitTable(era: KvmEra): (Entry | undefined)[] {
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
