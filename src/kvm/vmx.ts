// arch/x86/kvm/vmx/vmx.c (Linux 6.1): how kvm programs VT-x and handles a VM exit.
// The exit-handler table is kvm_vmx_exit_handlers[] of 6.1, entry for entry; the seed's era only
// renames some handlers and leaves some slots empty (kvm/profile.ts).

import { defineEvent } from '../trace/events';
import { EXIT_REASON, VMX_EXIT_REASONS_FAILED_VMENTRY, VMX_IO_IN, VMX_IO_PORT_SHIFT, VMX_IO_SIZE_MASK, VMX_IO_STRING, type ExitReasonName } from '../uapi/vmx';
import { KVM_EXIT, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON } from '../uapi/kvm';
import { ENTER_BREAK, ENTER_VMFAIL } from '../vmx/cpu';
import {
  CPU_BASED_ACTIVATE_SECONDARY_CONTROLS, CPU_BASED_CR8_LOAD_EXITING, CPU_BASED_CR8_STORE_EXITING, CPU_BASED_HLT_EXITING,
  CPU_BASED_INTR_WINDOW_EXITING, CPU_BASED_MONITOR_EXITING, CPU_BASED_MOV_DR_EXITING, CPU_BASED_MWAIT_EXITING,
  CPU_BASED_NMI_WINDOW_EXITING, CPU_BASED_RDPMC_EXITING, CPU_BASED_TPR_SHADOW, CPU_BASED_UNCOND_IO_EXITING,
  CPU_BASED_USE_MSR_BITMAPS, CPU_BASED_USE_TSC_OFFSETTING, INTR_INFO_VALID_MASK, INTR_INFO_DELIVER_CODE_MASK,
  INTR_TYPE_EXT_INTR, INTR_TYPE_HARD_EXCEPTION, PIN_BASED_EXT_INTR_MASK, PIN_BASED_NMI_EXITING, PIN_BASED_POSTED_INTR,
  PIN_BASED_VIRTUAL_NMIS, SECONDARY_EXEC_APIC_REGISTER_VIRT, SECONDARY_EXEC_ENABLE_EPT, SECONDARY_EXEC_ENABLE_INVPCID,
  SECONDARY_EXEC_ENABLE_RDTSCP, SECONDARY_EXEC_ENABLE_VPID, SECONDARY_EXEC_PAUSE_LOOP_EXITING,
  SECONDARY_EXEC_UNRESTRICTED_GUEST, SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE,
  SECONDARY_EXEC_WBINVD_EXITING, SECONDARY_EXEC_XSAVES, VMCS, X86_EFLAGS_IF,
} from '../vmx/vmcs';
import { handle_ept_misconfig, handle_ept_violation } from './mmu';
import { QEMU_KVM_2013 } from './profile';
import type { KvmVcpu } from './vcpu';
import { KVM_REQ_EVENT } from './vcpu';
import {
  GP_VECTOR, UD_VECTOR, kvm_emulate_cpuid, kvm_emulate_halt, kvm_emulate_hypercall, kvm_emulate_rdmsr,
  kvm_emulate_wrmsr, kvm_fast_pio, kvm_inject_gp, kvm_queue_exception, kvm_skip_emulated_instruction,
} from './x86';
import { VCPU_RUN_BREAK, type KvmX86Ops } from './x86_ops';

type Handler = (vcpu: KvmVcpu) => number;

const X86_CR0_TS = 0x8;
const X86_CR0_PE = 0x1;
const X86_CR0_PG = 0x80000000;
/** KVM_POSSIBLE_CR0_GUEST_BITS (6.1): only CR0.TS is guest-owned; any other change exits. */
const CR0_GUEST_OWNED = X86_CR0_TS;
/** KVM_POSSIBLE_CR4_GUEST_BITS (6.1): PVI, DE, PCE, OSFXSR, OSXMMEXCPT, PGE, TSD, FSGSBASE. */
const CR4_GUEST_OWNED = 0x2 | 0x8 | 0x100 | 0x200 | 0x400 | 0x80 | 0x4 | 0x10000;
const XFEATURE_MASK_FPSSE = 0x3;
const XFEATURES_SUPPORTED = 0x2e7;

// MSRs kvm lets the guest access without an exit (vmx_vcpu_create → vmx_disable_intercept_for_msr).
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
const PASSTHROUGH_RW = [MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP];
const PASSTHROUGH_R = [0x10 /* MSR_IA32_TSC */];

function msrBitmapClear(bm: Uint8Array, msr: number, read: boolean, write: boolean): void {
  const low = msr <= 0x1fff;
  const idx = low ? msr : msr - 0xc0000000;
  const set = (base: number) => { bm[base + (idx >>> 3)]! &= ~(1 << (idx & 7)); };
  if (read) set(low ? 0 : 0x400);
  if (write) set(low ? 0x800 : 0xc00);
}

export interface VmxOptions { apicv: boolean }

// ---------------------------------------------------------------- exit handlers

/** handle_io: decode the I/O qualification; string I/O goes to the emulator, the rest to kvm_fast_pio. */
function handle_io(vcpu: KvmVcpu): number {
  const q = vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);
  vcpu.stat.io_exits++;
  if (q & VMX_IO_STRING) throw new Error('kvm: string I/O (INS/OUTS) is not modelled');
  const port = Math.floor(q / 2 ** VMX_IO_PORT_SHIFT) & 0xffff;
  const size = (q & VMX_IO_SIZE_MASK) + 1;
  const isIn = (q & VMX_IO_IN) !== 0;
  return kvm_fast_pio(vcpu, size, port, isIn);
}

/** handle_cr: MOV to/from CR0, CR3, CR4, CR8 as the qualification describes. */
function handle_cr(vcpu: KvmVcpu): number {
  const q = vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const cr = q & 15;
  const type = (q >> 4) & 3;
  const r = vcpu.regs; // GPR (q >> 8) & 15 is RAX in the instructions the model decodes
  const v = vcpu.vmcs;
  if (type === 0) {
    const val = r.rax;
    if (cr === 0) {
      if ((val & X86_CR0_PG) && !(val & X86_CR0_PE)) { kvm_inject_gp(vcpu); return 1; }
      v.write(VMCS.CR0_READ_SHADOW, val); v.write(VMCS.GUEST_CR0, val); r.cr0 = val;
    } else if (cr === 3) r.cr3 = val;
    else if (cr === 4) { v.write(VMCS.CR4_READ_SHADOW, val); v.write(VMCS.GUEST_CR4, val); r.cr4 = val; }
    else if (cr === 8) {
      const prev = r.cr8;
      r.cr8 = val & 0xf;
      if (vcpu.apic) vcpu.apic.tpr = (val & 0xf) << 4;
      else if (val < prev) { kvm_skip_emulated_instruction(vcpu); vcpu.run.exit_reason = KVM_EXIT.SET_TPR; return 0; }
    }
  } else if (type === 1) r.rax = cr === 3 ? r.cr3 : cr === 8 ? (vcpu.apic ? vcpu.apic.tpr >> 4 : r.cr8) : 0;
  vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);
  return kvm_skip_emulated_instruction(vcpu);
}

/** handle_dr */
function handle_dr(vcpu: KvmVcpu): number {
  const q = vcpu.vmcs.read(VMCS.EXIT_QUALIFICATION);
  const dr = q & 7;
  if (q & 0x10) vcpu.regs.rax = dr === 7 ? vcpu.regs.dr7 : 0;
  else if (dr === 7) vcpu.regs.dr7 = vcpu.regs.rax;
  vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);
  return kvm_skip_emulated_instruction(vcpu);
}

function handle_triple_fault(vcpu: KvmVcpu): number { vcpu.run.exit_reason = KVM_EXIT.SHUTDOWN; return 0; }
function handle_external_interrupt(_vcpu: KvmVcpu): number { return 1; }
function handle_exception_nmi(vcpu: KvmVcpu): number {
  const info = vcpu.vmcs.read(VMCS.VM_EXIT_INTR_INFO);
  if (info & INTR_INFO_VALID_MASK) kvm_queue_exception(vcpu, info & 0xff);
  return 1;
}
function handle_interrupt_window(vcpu: KvmVcpu): number {
  vcpu.vmcs.clearBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING);
  vcpu.arch.requests |= KVM_REQ_EVENT;
  if (!vcpu.apic && vcpu.run.view.getUint8(0)) { vcpu.run.exit_reason = KVM_EXIT.IRQ_WINDOW_OPEN; return 0; }
  return 1;
}
function handle_nmi_window(vcpu: KvmVcpu): number {
  vcpu.vmcs.clearBits(VMCS.CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING);
  vcpu.arch.requests |= KVM_REQ_EVENT;
  return 1;
}
const emulateAsNop: Handler = (vcpu) => { vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate); return kvm_skip_emulated_instruction(vcpu); };
const injectUd: Handler = (vcpu) => { kvm_queue_exception(vcpu, UD_VECTOR); return 1; };
function kvm_emulate_rdpmc(vcpu: KvmVcpu): number { kvm_inject_gp(vcpu); return 1; }
function kvm_emulate_xsetbv(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const xcr0 = r.rax >>> 0;
  if ((r.rcx >>> 0) !== 0 || !(xcr0 & 1) || (xcr0 & ~XFEATURES_SUPPORTED) || ((xcr0 & 4) && (xcr0 & XFEATURE_MASK_FPSSE) !== XFEATURE_MASK_FPSSE)) {
    kvm_inject_gp(vcpu); return 1;
  }
  vcpu.arch.xcr0 = xcr0;
  return emulateAsNop(vcpu);
}
function handle_tpr_below_threshold(vcpu: KvmVcpu): number { vcpu.arch.requests |= KVM_REQ_EVENT; return 1; }
const reenter: Handler = () => 1;
function handle_bus_lock_vmexit(vcpu: KvmVcpu): number { vcpu.run.exit_reason = KVM_EXIT.X86_BUS_LOCK; return 0; }
function handle_notify(vcpu: KvmVcpu): number { vcpu.run.exit_reason = KVM_EXIT.NOTIFY; return 0; }

/** kvm_vmx_exit_handlers[] of Linux 6.1, by basic exit reason: [reason, handler name, handler]. */
export const KVM_VMX_EXIT_HANDLERS: ReadonlyArray<readonly [ExitReasonName, string, Handler]> = [
  ['EXCEPTION_NMI', 'handle_exception_nmi', handle_exception_nmi],
  ['EXTERNAL_INTERRUPT', 'handle_external_interrupt', handle_external_interrupt],
  ['TRIPLE_FAULT', 'handle_triple_fault', handle_triple_fault],
  ['NMI_WINDOW', 'handle_nmi_window', handle_nmi_window],
  ['IO_INSTRUCTION', 'handle_io', handle_io],
  ['CR_ACCESS', 'handle_cr', handle_cr],
  ['DR_ACCESS', 'handle_dr', handle_dr],
  ['CPUID', 'kvm_emulate_cpuid', kvm_emulate_cpuid],
  ['MSR_READ', 'kvm_emulate_rdmsr', kvm_emulate_rdmsr],
  ['MSR_WRITE', 'kvm_emulate_wrmsr', kvm_emulate_wrmsr],
  ['INTERRUPT_WINDOW', 'handle_interrupt_window', handle_interrupt_window],
  ['HLT', 'kvm_emulate_halt', kvm_emulate_halt],
  ['INVD', 'kvm_emulate_invd', emulateAsNop],
  ['INVLPG', 'handle_invlpg', emulateAsNop],
  ['RDPMC', 'kvm_emulate_rdpmc', kvm_emulate_rdpmc],
  ['VMCALL', 'kvm_emulate_hypercall', kvm_emulate_hypercall],
  ['VMCLEAR', 'handle_vmx_instruction', injectUd],
  ['VMLAUNCH', 'handle_vmx_instruction', injectUd],
  ['VMPTRLD', 'handle_vmx_instruction', injectUd],
  ['VMPTRST', 'handle_vmx_instruction', injectUd],
  ['VMREAD', 'handle_vmx_instruction', injectUd],
  ['VMRESUME', 'handle_vmx_instruction', injectUd],
  ['VMWRITE', 'handle_vmx_instruction', injectUd],
  ['VMOFF', 'handle_vmx_instruction', injectUd],
  ['VMON', 'handle_vmx_instruction', injectUd],
  ['TPR_BELOW_THRESHOLD', 'handle_tpr_below_threshold', handle_tpr_below_threshold],
  ['APIC_ACCESS', 'handle_apic_access', emulateAsNop],
  ['APIC_WRITE', 'handle_apic_write', reenter],
  ['EOI_INDUCED', 'handle_apic_eoi_induced', reenter],
  ['WBINVD', 'kvm_emulate_wbinvd', emulateAsNop],
  ['XSETBV', 'kvm_emulate_xsetbv', kvm_emulate_xsetbv],
  ['TASK_SWITCH', 'handle_task_switch', reenter],
  ['MCE_DURING_VMENTRY', 'handle_machine_check', reenter],
  ['GDTR_IDTR', 'handle_desc', emulateAsNop],
  ['LDTR_TR', 'handle_desc', emulateAsNop],
  ['EPT_VIOLATION', 'handle_ept_violation', handle_ept_violation],
  ['EPT_MISCONFIG', 'handle_ept_misconfig', handle_ept_misconfig],
  ['PAUSE_INSTRUCTION', 'handle_pause', emulateAsNop],
  ['MWAIT_INSTRUCTION', 'kvm_emulate_mwait', emulateAsNop],
  ['MONITOR_TRAP_FLAG', 'handle_monitor_trap', reenter],
  ['MONITOR_INSTRUCTION', 'kvm_emulate_monitor', emulateAsNop],
  ['INVEPT', 'handle_vmx_instruction', injectUd],
  ['INVVPID', 'handle_vmx_instruction', injectUd],
  ['RDRAND', 'kvm_handle_invalid_op', injectUd],
  ['RDSEED', 'kvm_handle_invalid_op', injectUd],
  ['PML_FULL', 'handle_pml_full', reenter],
  ['INVPCID', 'handle_invpcid', emulateAsNop],
  ['VMFUNC', 'handle_vmx_instruction', injectUd],
  ['PREEMPTION_TIMER', 'handle_preemption_timer', reenter],
  ['ENCLS', 'handle_encls', injectUd],
  ['BUS_LOCK', 'handle_bus_lock_vmexit', handle_bus_lock_vmexit],
  ['NOTIFY', 'handle_notify', handle_notify],
];

// ---------------------------------------------------------------- vmx_x86_ops

interface Entry { name: string; fn: Handler; ev: number }

export function makeVmxOps(opts: VmxOptions): KvmX86Ops & { handlerName(reason: number, era: 'linux-6.1' | 'qemu-kvm-2013'): string | null } {
  // Resolved lazily per era: the table is shared, names and empty slots come from the era.
  const tables = new Map<string, (Entry | undefined)[]>();
  let lastEra: unknown;
  let lastTable: (Entry | undefined)[] = [];
  const table = (vcpu: KvmVcpu): (Entry | undefined)[] => {
    const era = vcpu.vm.env.era;
    if (era === lastEra) return lastTable;
    let t = tables.get(era.era);
    if (!t) {
      t = [];
      for (const [reason, name, fn] of KVM_VMX_EXIT_HANDLERS) {
        const renamed = era.handlerNames[name];
        if (renamed === null) continue;
        const n = renamed ?? name;
        t[EXIT_REASON[reason]] = { name: n, fn, ev: defineEvent('exit-handler', 'kvm', 'kvm', n, ['reason']) };
      }
      tables.set(era.era, t);
    }
    lastEra = era;
    lastTable = t;
    return t;
  };

  return {
    handlerName(reason, era) {
      const e = KVM_VMX_EXIT_HANDLERS.find(([r]) => EXIT_REASON[r] === reason);
      if (!e) return null;
      if (era === 'linux-6.1') return e[1];
      const renamed = (era === 'qemu-kvm-2013' ? QEMU_KVM_2013_NAMES : {})[e[1]];
      return renamed === null ? null : renamed ?? e[1];
    },

    /** vmx_vcpu_create + init_vmcs + vmx_vcpu_reset: the controls kvm programs (setup_vmcs_config). */
    vcpu_create(vcpu) {
      const v = vcpu.vmcs;
      const lapic = !!vcpu.apic;
      v.write(VMCS.PIN_BASED_VM_EXEC_CONTROL, (PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING | PIN_BASED_VIRTUAL_NMIS
        | (opts.apicv ? PIN_BASED_POSTED_INTR : 0)) >>> 0);
      v.write(VMCS.CPU_BASED_VM_EXEC_CONTROL, (CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING | CPU_BASED_MOV_DR_EXITING
        | CPU_BASED_USE_TSC_OFFSETTING | CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING | CPU_BASED_RDPMC_EXITING
        | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS
        // With EPT there is no CR3 or INVLPG exiting; a TPR shadow replaces CR8 exiting.
        | (lapic ? CPU_BASED_TPR_SHADOW : CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING)) >>> 0);
      v.write(VMCS.SECONDARY_VM_EXEC_CONTROL, (SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID
        | SECONDARY_EXEC_UNRESTRICTED_GUEST | SECONDARY_EXEC_WBINVD_EXITING | SECONDARY_EXEC_PAUSE_LOOP_EXITING
        | SECONDARY_EXEC_ENABLE_RDTSCP | SECONDARY_EXEC_ENABLE_INVPCID | SECONDARY_EXEC_XSAVES
        | (opts.apicv ? SECONDARY_EXEC_APIC_REGISTER_VIRT | SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY | SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE : 0)) >>> 0);
      // 6.1 vmx_update_exception_bitmap: #UD, #MC, #DB, #AC; #PF only without EPT.
      v.write(VMCS.EXCEPTION_BITMAP, (1 << 6) | (1 << 18) | (1 << 1) | (1 << 17));
      const r = vcpu.regs;
      v.write(VMCS.CR0_GUEST_HOST_MASK, ~CR0_GUEST_OWNED >>> 0);
      v.write(VMCS.CR4_GUEST_HOST_MASK, ~CR4_GUEST_OWNED >>> 0);
      v.write(VMCS.CR0_READ_SHADOW, r.cr0);
      v.write(VMCS.CR4_READ_SHADOW, r.cr4);
      v.write(VMCS.GUEST_CR0, r.cr0);
      v.write(VMCS.GUEST_CR4, r.cr4);
      v.write(VMCS.GUEST_RIP, r.rip);
      v.write(VMCS.GUEST_RFLAGS, r.rflags);
      v.write(VMCS.VIRTUAL_PROCESSOR_ID, vcpu.id + 1);
      const bm = new Uint8Array(4096).fill(0xff);
      for (const m of PASSTHROUGH_RW) msrBitmapClear(bm, m, true, true);
      for (const m of PASSTHROUGH_R) msrBitmapClear(bm, m, true, false);
      // vmx_vcpu_load → VMPTRLD: make this VMCS current on the CPU, with its EPT and MSR bitmap.
      const cpu = vcpu.cpu;
      cpu.vmcs = v;
      cpu.ept = vcpu.vm.ept;
      cpu.msrBitmap = bm;
    },

    /** vmx_vcpu_run: VMLAUNCH the first time, VMRESUME once loaded_vmcs->launched. */
    vcpu_run(vcpu) {
      const cpu = vcpu.cpu;
      const r = vcpu.vmx.launched ? cpu.vmresume() : cpu.vmlaunch();
      if (r === ENTER_BREAK) return VCPU_RUN_BREAK;
      vcpu.vmx.fail = r === ENTER_VMFAIL;
      if (!vcpu.vmx.fail) {
        vcpu.exitReason = vcpu.vmcs.read(VMCS.VM_EXIT_REASON);
        if (!(vcpu.exitReason & VMX_EXIT_REASONS_FAILED_VMENTRY)) vcpu.vmx.launched = true;
      }
      return 0;
    },

    /** vmx_handle_exit → __vmx_handle_exit: failed entries, then the handler table. */
    handle_exit(vcpu) {
      const env = vcpu.vm.env;
      env.clock.spend(env.profile.cost.kvmExitOverhead);
      if (vcpu.vmx.fail) {
        vcpu.run.exit_reason = KVM_EXIT.FAIL_ENTRY;
        vcpu.run.setFailEntry(vcpu.vmcs.read(VMCS.VM_INSTRUCTION_ERROR), 0);
        return 0;
      }
      const reason = vcpu.exitReason;
      if (reason & VMX_EXIT_REASONS_FAILED_VMENTRY) {
        vcpu.run.exit_reason = KVM_EXIT.FAIL_ENTRY;
        vcpu.run.setFailEntry(reason & 0xffff, 0);
        return 0;
      }
      const basic = reason & 0xffff;
      const e = table(vcpu)[basic];
      if (!e) {
        if (env.era.unexpectedExit === 'internal-error') {
          vcpu.run.exit_reason = KVM_EXIT.INTERNAL_ERROR;
          vcpu.run.setInternalError(KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, [reason, 0]);
        } else {
          vcpu.run.exit_reason = KVM_EXIT.UNKNOWN;
          vcpu.run.setHardwareExitReason(reason);
        }
        return 0;
      }
      if (env.t.on) env.t.rec(e.ev, vcpu.id, basic);
      return e.fn(vcpu);
    },

    skip_emulated_instruction(vcpu) {
      const v = vcpu.vmcs;
      v.write(VMCS.GUEST_RIP, v.read(VMCS.GUEST_RIP) + v.read(VMCS.VM_EXIT_INSTRUCTION_LEN));
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

    /** vmx_interrupt_allowed: RFLAGS.IF set (no STI/MOV-SS blocking is modelled). */
    interrupt_allowed(vcpu) { return (vcpu.vmcs.read(VMCS.GUEST_RFLAGS) & X86_EFLAGS_IF) !== 0; },
  };
}

const QEMU_KVM_2013_NAMES = QEMU_KVM_2013.handlerNames;
export { GP_VECTOR };
