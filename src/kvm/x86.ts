// arch/x86/kvm/x86.c (Linux 6.1): the KVM_RUN loop and the emulation helpers vendor handlers call.

import { FREEZE, PARK, type Block } from '../sim/scheduler';
import { defineEvent } from '../trace/events';
import { hex } from '../trace/recorder';
import { ERRNO } from '../uapi/errno';
import { KVM_EXIT, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT, KVM_MSR_EXIT_REASON_FILTER } from '../uapi/kvm';
import { EXIT_REASON } from '../uapi/vmx';
import { VMCS, X86_EFLAGS_IF } from '../vmx/vmcs';
import { insnBytes } from '../vmx/insn';
import { kvm_cpuid, type CpuidResult } from './cpuid';
import { KVM_DEBUGREG_WONT_EXIT, KVM_REQ_NMI, KVM_REQ_UPDATE_CPU_DIRTY_LOGGING } from './kvm_host';
import { KvmRunPage } from './run_page';
import {
  MSR_KVM_PV_EOI_EN, apic_sync_pv_eoi_to_guest, kvm_lapic_set_pv_eoi, kvm_lapic_sync_from_vapic,
  APIC_BASE_MSR, APIC_DEST_MASK, APIC_DEST_NOSHORT, APIC_DEST_PHYSICAL, APIC_DM_FIXED, APIC_ICR, APIC_MODE_MASK, APIC_SHORT_MASK,
  KVM_APIC_INIT, KVM_APIC_SIPI, MSR_IA32_APICBASE, MSR_IA32_APICBASE_BSP, X2APIC_BROADCAST, X2APIC_ENABLE, kvm_lapic_reg_write,
  kvm_set_apic_base, kvm_x2apic_icr_write,
} from './lapic';
import { KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED, KVM_REQ_EVENT } from './kvm_host';
import type { KvmVcpu } from './vcpu';
import { VCPU_RUN_BREAK, VCPU_RUN_PARK } from './x86_ops';

const EV_PIO = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_pio', ['rw', 'port:hex', 'size', 'val:hex']);
const EV_INJ_VIRQ = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_inj_virq', ['vector:hex']);
const EV_INJ_EXCEPTION = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_inj_exception', ['vector:hex', 'errorCode:hex']);
const EV_MSR = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_msr', ['write', 'msr:hex', 'data:hex', 'gp']);
// trace_kvm_cpuid(function, index, eax, ebx, ecx, edx, found, used_max_basic): eight fields in four
// arguments — the registers as one interned string (`rax rbx rcx rdx`, hex), the two flags as the
// words the tracepoint prints after "cpuid entry".
const CPUID_ENTRY = (n: number): string => `${n & 1 ? 'found' : 'not found'}${n & 2 ? ', used max basic' : ''}`;
const EV_CPUID = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_cpuid', ['function:hex', 'index:hex', { name: 'entry', fmt: CPUID_ENTRY }, 'regs:str']);
// trace_kvm_hypercall(nr, a0, a1, a2, a3): a2 and a3 together, as one interned string.
const EV_HYPERCALL = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_hypercall', ['nr:hex', 'a0:hex', 'a1:hex', 'a2a3:str']);
// trace_kvm_fpu(load): 1 load, 0 unload (kvm_fpu_load_symbol).
const EV_FPU = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_fpu', ['load']);
const EV_BLOCK = defineEvent('call', 'kvm', 'kvm', 'kvm_vcpu_block', []);
const EV_WAKEUP = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_vcpu_wakeup', ['ns', 'waited', 'valid']);
const EV_HALT_POLL_NS = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_halt_poll_ns', ['grow', 'vcpu_id', 'new', 'old']);
const EV_INJ_NMI = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_inj_nmi', []);
const EV_USERSPACE_MSR = defineEvent('call', 'kvm', 'kvm', 'kvm_msr_user_space', ['msr:hex', 'reason']);
// trace_kvm_emulate_insn(vcpu, failed): RIP, CS base, the fetched bytes and the mode flags
// (KVM_EMUL_INSN_F_*; the guest runs in 64-bit mode: CR0.PE | CS.L = prot64), `failed` in bit 8.
const KVM_EMUL_INSN_F_CR0_PE = 1 << 0;
const KVM_EMUL_INSN_F_CS_L = 1 << 3;
const EV_EMULATE_INSN = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_emulate_insn', ['rip:hex', 'csbase:hex', 'insn:str', 'flags:hex']);

/** trace_kvm_emulate_insn (arch/x86/kvm/trace.h), as x86_emulate_instruction fires it for the instruction it decoded. */
export function trace_kvm_emulate_insn(vcpu: KvmVcpu, op: number, failed: boolean): void {
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_EMULATE_INSN, vcpu.id, vcpu.vmcs.read(VMCS.GUEST_RIP), 0, t.str(insnBytes(op) ?? ''), KVM_EMUL_INSN_F_CR0_PE | KVM_EMUL_INSN_F_CS_L | (failed ? 0x100 : 0));
}

/**
 * The guest's FPU state in and out of the CPU, as kvm_fpu traces it. 6.1 swaps it once per KVM_RUN
 * (kvm_arch_vcpu_ioctl_run: kvm_load_guest_fpu before the loop, kvm_put_guest_fpu on the way out).
 * 3.x loaded it lazily at the first vcpu_enter_guest (guest_fpu_loaded) and put it back from
 * kvm_arch_vcpu_put — when the thread sleeps, and at vcpu_put after kvm_userspace_exit.
 */
const guestFpuLoaded = new WeakSet<KvmVcpu>();
export function kvm_load_guest_fpu(vcpu: KvmVcpu): void {
  if (guestFpuLoaded.has(vcpu)) return;
  guestFpuLoaded.add(vcpu);
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_FPU, vcpu.id, 1);
}
export function kvm_put_guest_fpu(vcpu: KvmVcpu): void {
  if (!guestFpuLoaded.delete(vcpu)) return;
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_FPU, vcpu.id, 0);
}
const lazyFpu = (vcpu: KvmVcpu): boolean => vcpu.vm.env.era.era === 'qemu-kvm-2013';

/** kvm_vcpu_ioctl(KVM_RUN) → kvm_arch_vcpu_ioctl_run. */
export function* kvm_arch_vcpu_ioctl_run(vcpu: KvmVcpu): Generator<Block, number, void> {
  if (lazyFpu(vcpu)) return yield* vcpu_ioctl_run(vcpu);
  kvm_load_guest_fpu(vcpu);
  try { return yield* vcpu_ioctl_run(vcpu); } finally { kvm_put_guest_fpu(vcpu); }
}

function* vcpu_ioctl_run(vcpu: KvmVcpu): Generator<Block, number, void> {
  const cui = vcpu.arch.complete_userspace_io;
  if (cui) {
    vcpu.arch.complete_userspace_io = null;
    const r = cui(vcpu);
    if (r <= 0) return r;
  }
  // An application processor waits for INIT and SIPI before it ever runs: block until they come,
  // accept them, and return -EAGAIN; userspace calls KVM_RUN again and the vCPU starts.
  if (vcpu.arch.mp_state === KVM_MP_STATE_UNINITIALIZED) {
    if (vcpu.run.immediate_exit) { vcpu.run.exit_reason = KVM_EXIT.INTR; return -ERRNO.EINTR; }
    yield* kvm_vcpu_block(vcpu);
    kvm_apic_accept_events(vcpu);
    post_kvm_run_save(vcpu);
    if (vcpu.sigpending) { vcpu.sigpending = false; vcpu.run.exit_reason = KVM_EXIT.INTR; return -ERRNO.EINTR; }
    return -ERRNO.EAGAIN;
  }
  if (vcpu.run.immediate_exit) { vcpu.run.exit_reason = KVM_EXIT.INTR; return -ERRNO.EINTR; }
  const r = yield* vcpu_run(vcpu);
  post_kvm_run_save(vcpu);
  return r;
}

/** post_kvm_run_save: IF, "ready for injection", CR8 and the APIC base, for a userspace irqchip. */
function post_kvm_run_save(vcpu: KvmVcpu): void {
  const ifFlag = (vcpu.vm.ops.get_rflags(vcpu) & X86_EFLAGS_IF) !== 0;
  const cr8 = vcpu.apic ? vcpu.apic.tpr >> 4 : vcpu.regs.cr8;
  vcpu.run.setPostRun(ifFlag, kvm_vcpu_ready_for_interrupt_injection(vcpu), cr8, vcpu.apic ? vcpu.apic.apicBase : vcpu.arch.apic_base);
}

/** kvm_vcpu_ready_for_interrupt_injection: userspace may KVM_INTERRUPT now (no LAPIC in the kernel). */
function kvm_vcpu_ready_for_interrupt_injection(vcpu: KvmVcpu): boolean {
  return !vcpu.apic && vcpu.vm.ops.interrupt_allowed(vcpu) && vcpu.arch.interrupt < 0;
}

/** dm_request_for_irq_injection: userspace asked to be told when the guest can take an interrupt. */
function dm_request_for_irq_injection(vcpu: KvmVcpu): boolean {
  return vcpu.run.request_interrupt_window !== 0 && !vcpu.apic;
}

/** The run loop's name by era: `vcpu_run`, or `__vcpu_run` (2.6.x-3.x). */
const EV_VCPU_RUN: Record<string, number> = {
  vcpu_run: defineEvent('call', 'kvm', 'kvm', 'vcpu_run', []),
  __vcpu_run: defineEvent('call', 'kvm', 'kvm', '__vcpu_run', []),
};

/** vcpu_run (`__vcpu_run` before 4.x): enter the guest until a handler returns <= 0; block while halted. */
function* vcpu_run(vcpu: KvmVcpu): Generator<Block, number, void> {
  vcpu.run.exit_reason = KVM_EXIT.UNKNOWN;
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_VCPU_RUN[vcpu.vm.env.era.vcpuRunName]!, vcpu.id);
  for (;;) {
    let r: number;
    if (vcpu.arch.mp_state === KVM_MP_STATE_RUNNABLE) {
      r = vcpu_enter_guest(vcpu);
      // The simulator's breakpoint: this vCPU stops while its guest is in non-root mode (in guest
      // mode: an IPI for its CPU makes its thread run again, see kick.ts).
      if (r === VCPU_RUN_BREAK) { vcpu.thread = vcpu.vm.env.sched.current; yield FREEZE; continue; }
      // Still in guest mode, computing, while the host's other threads run (their IPIs reach it as such).
      if (r === VCPU_RUN_PARK) { vcpu.thread = vcpu.vm.env.sched.current; yield PARK; continue; }
    } else {
      r = yield* vcpu_block(vcpu);
    }
    if (r <= 0) return r;
    // xfer_to_guest_mode_handle_work: a signal for this thread ends KVM_RUN with -EINTR.
    if (vcpu.sigpending) {
      vcpu.sigpending = false;
      vcpu.run.exit_reason = KVM_EXIT.INTR;
      return -ERRNO.EINTR;
    }
    if (dm_request_for_irq_injection(vcpu) && kvm_vcpu_ready_for_interrupt_injection(vcpu)) {
      vcpu.run.exit_reason = KVM_EXIT.IRQ_WINDOW_OPEN;
      vcpu.stat.request_irq_exits++;
      return 0;
    }
  }
}

/** vcpu_enter_guest: inject pending events, run the guest, handle the exit. */
function vcpu_enter_guest(vcpu: KvmVcpu): number {
  const ops = vcpu.vm.ops;
  if (vcpu.arch.requests & KVM_REQ_UPDATE_CPU_DIRTY_LOGGING) {
    vcpu.arch.requests &= ~KVM_REQ_UPDATE_CPU_DIRTY_LOGGING;
    ops.update_cpu_dirty_logging(vcpu);
  }
  // After a breakpoint or a park the guest never left non-root mode: there is nothing to inject.
  const frozen = vcpu.cpu.frozen;
  const apic = vcpu.apic;
  if (!frozen && (vcpu.arch.requests & (KVM_REQ_EVENT | KVM_REQ_NMI) || vcpu.arch.exception || apic
    || vcpu.arch.interrupt >= 0 || vcpu.arch.nmi_pending > 0)) {
    // KVM_REQ_EVENT: an INIT or SIPI first (kvm_apic_accept_events); a vCPU INIT put in wait-for-SIPI does not enter.
    if (apic !== undefined && apic.pending_events !== 0) {
      kvm_apic_accept_events(vcpu);
      if (vcpu.arch.mp_state === KVM_MP_STATE_INIT_RECEIVED) return 1;
    }
    const reqEvent = (vcpu.arch.requests & KVM_REQ_EVENT) !== 0;
    vcpu.arch.requests &= ~KVM_REQ_EVENT;
    kvm_check_and_inject_events(vcpu);
    // if (kvm_lapic_enabled(vcpu)) kvm_lapic_sync_to_vapic(vcpu), in the KVM_REQ_EVENT block.
    if (reqEvent && apic !== undefined && vcpu.arch.pv_eoi_msr_val !== 0) apic_sync_pv_eoi_to_guest(vcpu);
  }
  // KVM_REQ_IOAPIC_EOI_EXIT: a level-triggered EOI for userspace's IOAPIC (split irqchip).
  if (vcpu.arch.pending_ioapic_eoi >= 0) {
    vcpu.run.exit_reason = KVM_EXIT.IOAPIC_EOI;
    vcpu.run.setIoapicEoi(vcpu.arch.pending_ioapic_eoi);
    vcpu.arch.pending_ioapic_eoi = -1;
    return 0;
  }
  // With a userspace irqchip, ask for an exit when the guest can take the interrupt userspace has.
  if (dm_request_for_irq_injection(vcpu) && !ops.interrupt_allowed(vcpu)) ops.enable_irq_window(vcpu);
  // APICv: the CPU delivers the LAPIC's interrupts itself (RVI; vmx_sync_pir_to_irr), and exits on
  // the EOI of the vectors an IOAPIC must hear about (vcpu_load_eoi_exitmap).
  if (!frozen && apic !== undefined) {
    if (vcpu.vm.apicvInhibitReasons === 0) ops.sync_pir_to_irr(vcpu);
    else update_cr8_intercept(vcpu);
  }
  if (lazyFpu(vcpu)) kvm_load_guest_fpu(vcpu);
  const f = ops.vcpu_run(vcpu);
  if (f === VCPU_RUN_BREAK || f === VCPU_RUN_PARK) return f;
  vcpu.stat.exits++;
  if (vcpu.arch.apic_attention !== 0) kvm_lapic_sync_from_vapic(vcpu);
  // The guest owned DR7 since handle_dr let MOV DR through: take it back and intercept again.
  if (vcpu.arch.switch_db_regs & KVM_DEBUGREG_WONT_EXIT) ops.sync_dirty_debug_regs(vcpu);
  return ops.handle_exit(vcpu);
}

/** kvm_vcpu_apicv_active: an in-kernel LAPIC and APICv not inhibited for the VM. */
export function kvm_vcpu_apicv_active(vcpu: KvmVcpu): boolean {
  return !!vcpu.apic && vcpu.vm.apicvInhibitReasons === 0;
}

/** update_cr8_intercept: the TPR threshold tracks the highest pending vector the TPR masks. */
function update_cr8_intercept(vcpu: KvmVcpu): void {
  const apic = vcpu.apic!;
  let irr = apic.highestIrr();
  if (irr !== -1) irr >>= 4;
  vcpu.vm.ops.update_cr8_intercept(vcpu, apic.tpr >> 4, irr);
}

/** kvm_check_and_inject_events: a queued exception first, then the highest-priority interrupt. */
function kvm_check_and_inject_events(vcpu: KvmVcpu): void {
  const ops = vcpu.vm.ops;
  const t = vcpu.vm.env.t;
  const ex = vcpu.arch.exception;
  if (ex) {
    if (t.on) t.rec(EV_INJ_EXCEPTION, vcpu.id, ex.vector, ex.errorCode);
    ops.inject_exception(vcpu);
    vcpu.arch.exception = null;
    return;
  }
  // process_nmi: at most two NMIs pending (one running, one latched); then NMIs before interrupts.
  if (vcpu.arch.requests & KVM_REQ_NMI) {
    vcpu.arch.requests &= ~KVM_REQ_NMI;
    const limit = ops.nmi_allowed(vcpu) ? 2 : 1;
    vcpu.arch.nmi_pending = Math.min(vcpu.arch.nmi_pending + vcpu.arch.nmi_queued, limit);
    vcpu.arch.nmi_queued = 0;
  }
  if (vcpu.arch.nmi_pending > 0) {
    if (ops.nmi_allowed(vcpu)) {
      vcpu.arch.nmi_pending--;
      vcpu.arch.nmi_injected = true;
      if (t.on) t.rec(EV_INJ_NMI, vcpu.id);
      ops.inject_nmi(vcpu);
      if (vcpu.arch.nmi_pending > 0) ops.enable_nmi_window(vcpu);
      return;
    }
    ops.enable_nmi_window(vcpu);
  }
  // KVM_INTERRUPT from userspace (no in-kernel LAPIC): inject it when the guest can take it.
  if (!vcpu.apic && vcpu.arch.interrupt >= 0) {
    if (ops.interrupt_allowed(vcpu)) {
      vcpu.stat.irq_injections++;
      if (t.on) t.rec(EV_INJ_VIRQ, vcpu.id, vcpu.arch.interrupt);
      ops.inject_irq(vcpu, vcpu.arch.interrupt);
      vcpu.arch.interrupt = -1;
    } else ops.enable_irq_window(vcpu);
    return;
  }
  const apic = vcpu.apic;
  if (!apic || kvm_vcpu_apicv_active(vcpu)) return;
  const vector = apic.hasInterrupt();
  if (vector < 0) return;
  if (ops.interrupt_allowed(vcpu)) {
    apic.ack(vector);
    vcpu.stat.irq_injections++;
    if (t.on) t.rec(EV_INJ_VIRQ, vcpu.id, vector);
    ops.inject_irq(vcpu, vector);
  } else ops.enable_irq_window(vcpu);
}

/**
 * vcpu_block: a halted vCPU waits in kvm_vcpu_halt (one waiting for SIPI in kvm_vcpu_block) until
 * an event makes it runnable; then INIT/SIPI are accepted, and a halted vCPU runs again. (The
 * seed's era, before halt polling came with Linux 4.0, always blocked: __vcpu_run → kvm_vcpu_block.)
 */
function* vcpu_block(vcpu: KvmVcpu): Generator<Block, number, void> {
  if (!kvm_arch_vcpu_runnable(vcpu)) {
    if (vcpu.arch.mp_state === KVM_MP_STATE_HALTED && vcpu.vm.env.era.features.haltPoll) yield* kvm_vcpu_halt(vcpu);
    else { yield* kvm_vcpu_block(vcpu); if (kvm_arch_vcpu_runnable(vcpu)) spendWakeup(vcpu); }
    if (!kvm_arch_vcpu_runnable(vcpu)) return 1; // woken by a signal: still halted
  }
  kvm_apic_accept_events(vcpu);
  if (vcpu.arch.mp_state === KVM_MP_STATE_HALTED) vcpu.arch.mp_state = KVM_MP_STATE_RUNNABLE;
  return 1;
}

/** Module parameters of kvm (virt/kvm/kvm_main.c, 6.1): the polling window's growth. */
const HALT_POLL_NS_GROW = 2;
const HALT_POLL_NS_GROW_START = 10_000;
const HALT_POLL_NS_SHRINK = 0;

/** A blocked vCPU thread, woken, is scheduled back in: the trip through the scheduler polling avoids. */
function spendWakeup(vcpu: KvmVcpu): void {
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.vcpuWakeup);
}

/**
 * kvm_vcpu_halt (kvm_main.c, 6.1): poll for a wake-up for up to vcpu->halt_poll_ns before giving the
 * CPU up (kvm_vcpu_block). The window starts at 0 and adapts to the halts it sees: a halt shorter
 * than halt_poll_ns (the module parameter, the cap) grows it (×2, at least 10 µs:
 * grow_halt_poll_ns); a longer one shrinks it to 0 (shrink_halt_poll_ns); a wake inside the window
 * leaves it. kvm_vcpu_wakeup says whether the vCPU waited or polled. A poll spins on the vCPU's
 * own host CPU, so the host's other threads go on meanwhile; what it saves is the scheduler trip
 * of a blocked thread's wake-up.
 */
function* kvm_vcpu_halt(vcpu: KvmVcpu): Generator<Block, void, void> {
  const env = vcpu.vm.env;
  const max = env.haltPollNs;
  if (vcpu.halt_poll_ns > max) vcpu.halt_poll_ns = max;
  const start = env.clock.now;
  const doPoll = vcpu.halt_poll_ns > 0;
  let waited = false;
  if (doPoll) {
    // kvm_vcpu_check_block until the window closes (kvm_vcpu_can_poll); a wake of the wait queue
    // is what makes the poller look again.
    const stop = start + vcpu.halt_poll_ns;
    const timer = env.sched.at(stop, () => { vcpu.wq.wakeAll(); });
    while (!kvm_arch_vcpu_runnable(vcpu) && !vcpu.sigpending && env.clock.now < stop) yield vcpu.wq;
    env.sched.cancel(timer);
  }
  if (!kvm_arch_vcpu_runnable(vcpu) && !vcpu.sigpending) {
    yield* kvm_vcpu_block(vcpu);
    waited = true;
    if (kvm_arch_vcpu_runnable(vcpu)) spendWakeup(vcpu);
  }
  const haltNs = env.clock.now - start;
  // The window adapts (halt_poll_allowed: the guest did not turn host polling off with
  // MSR_KVM_POLL_CONTROL; vcpu_valid_wakeup is always true on x86).
  if (max > 0) {
    if (haltNs <= vcpu.halt_poll_ns) { /* a wake inside the window: keep it */ } else if (vcpu.halt_poll_ns && haltNs > max) shrink_halt_poll_ns(vcpu);
    else if (vcpu.halt_poll_ns < max && haltNs < max) grow_halt_poll_ns(vcpu);
  } else vcpu.halt_poll_ns = 0;
  if (env.t.on) env.t.rec(EV_WAKEUP, vcpu.id, Math.round(haltNs), waited ? 1 : 0, 1);
}

/** grow_halt_poll_ns: ×halt_poll_ns_grow, at least halt_poll_ns_grow_start. */
function grow_halt_poll_ns(vcpu: KvmVcpu): void {
  const old = vcpu.halt_poll_ns;
  let val = old * HALT_POLL_NS_GROW;
  if (val < HALT_POLL_NS_GROW_START) val = HALT_POLL_NS_GROW_START;
  vcpu.halt_poll_ns = val;
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_HALT_POLL_NS, vcpu.id, 1, vcpu.id, val, old);
}

/** shrink_halt_poll_ns: with halt_poll_ns_shrink 0 (the default), back to no polling. */
function shrink_halt_poll_ns(vcpu: KvmVcpu): void {
  const old = vcpu.halt_poll_ns;
  let val = HALT_POLL_NS_SHRINK === 0 ? 0 : Math.floor(old / HALT_POLL_NS_SHRINK);
  if (val < HALT_POLL_NS_GROW_START) val = 0;
  vcpu.halt_poll_ns = val;
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_HALT_POLL_NS, vcpu.id, 0, vcpu.id, val, old);
}

/** kvm_vcpu_block (kvm_main.c): sleep on the vCPU's wait queue until it is runnable or has a signal. */
function* kvm_vcpu_block(vcpu: KvmVcpu): Generator<Block, void, void> {
  const env = vcpu.vm.env;
  if (env.t.on) env.t.rec(EV_BLOCK, vcpu.id);
  // 3.x: schedule() → kvm_sched_out → kvm_arch_vcpu_put puts the guest FPU back.
  if (lazyFpu(vcpu) && !kvm_arch_vcpu_runnable(vcpu)) kvm_put_guest_fpu(vcpu);
  while (!kvm_arch_vcpu_runnable(vcpu) && !vcpu.sigpending) yield vcpu.wq;
}

/**
 * kvm_arch_vcpu_runnable: running, or an event it must take — an INIT or SIPI, an exception, an NMI,
 * an interrupt the guest can take now. With APICv the posted-interrupt descriptor is looked at first
 * (apic_has_interrupt_for_ppr → vmx_sync_pir_to_irr).
 */
export function kvm_arch_vcpu_runnable(vcpu: KvmVcpu): boolean {
  if (vcpu.arch.mp_state === KVM_MP_STATE_RUNNABLE || vcpu.arch.exception) return true;
  const apic = vcpu.apic;
  if (apic && apic.pending_events & ((1 << KVM_APIC_INIT) | (1 << KVM_APIC_SIPI))) return true;
  if (vcpu.arch.nmi_pending > 0 || vcpu.arch.nmi_queued > 0) return true;
  if (!apic || vcpu.arch.mp_state !== KVM_MP_STATE_HALTED) return false;
  if (kvm_vcpu_apicv_active(vcpu)) vcpu.vm.ops.sync_pir_to_irr(vcpu);
  return apic.hasInterrupt() >= 0 && vcpu.vm.ops.interrupt_allowed(vcpu);
}

const EV_FASTPATH_WRMSR = defineEvent('exit-handler', 'kvm', 'kvm', 'handle_fastpath_set_msr_irqoff', ['reason']);
const EV_SIPI = defineEvent('call', 'kvm', 'kvm', 'kvm_vcpu_deliver_sipi_vector', ['vector:hex']);
const EV_INIT = defineEvent('call', 'kvm', 'kvm', 'kvm_vcpu_reset', ['init_event']);

/**
 * kvm_apic_accept_events (lapic.c): an INIT resets the vCPU (kvm_vcpu_reset(vcpu, true)) — the BSP
 * runs on, an AP waits for SIPI (INIT_RECEIVED); a SIPI in that state starts the AP at the vector's
 * page (kvm_vcpu_deliver_sipi_vector), and is dropped in any other state (the second SIPI of the
 * INIT-SIPI-SIPI sequence).
 */
export function kvm_apic_accept_events(vcpu: KvmVcpu): void {
  const apic = vcpu.apic;
  if (!apic || apic.pending_events === 0) return;
  const t = vcpu.vm.env.t;
  if (apic.pending_events & (1 << KVM_APIC_INIT)) {
    apic.pending_events &= ~(1 << KVM_APIC_INIT);
    if (t.on) t.rec(EV_INIT, vcpu.id, 1);
    kvm_vcpu_reset(vcpu);
    vcpu.arch.mp_state = apic.apicBase & MSR_IA32_APICBASE_BSP ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_INIT_RECEIVED;
  }
  if (apic.pending_events & (1 << KVM_APIC_SIPI)) {
    apic.pending_events &= ~(1 << KVM_APIC_SIPI);
    if (vcpu.arch.mp_state === KVM_MP_STATE_INIT_RECEIVED) {
      if (t.on) t.rec(EV_SIPI, vcpu.id, apic.sipi_vector);
      vcpu.vm.ops.deliver_sipi_vector(vcpu, apic.sipi_vector);
      vcpu.arch.mp_state = KVM_MP_STATE_RUNNABLE;
    }
  }
}

/**
 * kvm_vcpu_reset(vcpu, init_event = true): what INIT leaves of a vCPU — no pending exception, NMI or
 * injected interrupt, nothing requested or in service at its local APIC (kvm_lapic_reset clears
 * IRR, ISR and TMR; for an INIT it keeps the APIC base and so the x2APIC mode); the vendor part
 * (vmx_vcpu_reset) resets the guest state in the VMCS. (Simplification: the other APIC registers —
 * LVTs, TPR, SPIV — keep their values.)
 */
function kvm_vcpu_reset(vcpu: KvmVcpu): void {
  vcpu.arch.exception = null;
  vcpu.arch.nmi_pending = 0;
  vcpu.arch.nmi_queued = 0;
  vcpu.arch.interrupt = -1;
  vcpu.apic?.clearVectors();
  vcpu.vm.ops.vcpu_reset(vcpu);
}

/**
 * handle_fastpath_set_msr_irqoff (6.1): right after the exit, with interrupts still off, a WRMSR to
 * the x2APIC ICR that sends a fixed IPI to one physical destination is done here
 * (handle_fastpath_set_x2apic_icr_irqoff → kvm_x2apic_icr_write) and the instruction skipped:
 * EXIT_FASTPATH_EXIT_HANDLED, so vmx_handle_exit returns 1 without the handler table. Any other
 * ICR write (INIT, SIPI, NMI, a shorthand, logical mode, broadcast) takes the slow path, handle_wrmsr.
 */
export function handle_fastpath_set_msr_irqoff(vcpu: KvmVcpu): boolean {
  const r = vcpu.regs;
  const msr = r.rcx >>> 0;
  if (msr !== APIC_BASE_MSR + (APIC_ICR >> 4)) return false;
  const apic = vcpu.apic;
  if (!apic?.x2apic) return false;
  const lo = r.rax >>> 0;
  const hi = r.rdx >>> 0;
  if ((lo & APIC_SHORT_MASK) !== APIC_DEST_NOSHORT || (lo & APIC_DEST_MASK) !== APIC_DEST_PHYSICAL
    || (lo & APIC_MODE_MASK) !== APIC_DM_FIXED || hi === X2APIC_BROADCAST) return false;
  const data = hi * 0x100000000 + lo;
  const env = vcpu.vm.env;
  // Recorded where the handler table's entry would be: the fastpath runs instead of handle_wrmsr.
  if (env.t.on) env.t.rec(EV_FASTPATH_WRMSR, vcpu.id, EXIT_REASON.MSR_WRITE);
  kvm_x2apic_icr_write(vcpu, data);
  if (env.t.on) env.t.rec(EV_MSR, vcpu.id, 1, msr, data, 0);
  kvm_skip_emulated_instruction(vcpu);
  return true;
}

export function kvm_skip_emulated_instruction(vcpu: KvmVcpu): number {
  vcpu.vm.ops.skip_emulated_instruction(vcpu);
  return 1;
}

export function kvm_queue_exception(vcpu: KvmVcpu, vector: number, errorCode?: number): void {
  vcpu.arch.exception = { vector, hasError: errorCode !== undefined, errorCode: errorCode ?? 0 };
}
export const UD_VECTOR = 6;
export const GP_VECTOR = 13;
export const kvm_inject_gp = (vcpu: KvmVcpu, err = 0): void => kvm_queue_exception(vcpu, GP_VECTOR, err);

// ---------------------------------------------------------------- port I/O

/** kvm_fast_pio: OUT/IN with the port in the exit qualification, no instruction decode. */
export function kvm_fast_pio(vcpu: KvmVcpu, size: number, port: number, isIn: boolean): number {
  return isIn ? kvm_fast_pio_in(vcpu, size, port) : kvm_fast_pio_out(vcpu, size, port);
}

const sizeMask = (size: number): number => (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);

function kvm_fast_pio_out(vcpu: KvmVcpu, size: number, port: number): number {
  const val = vcpu.regs.rax & sizeMask(size);
  const era = vcpu.vm.env.era;
  if (era.pioSkipsBeforeUserspace) kvm_skip_emulated_instruction(vcpu);
  const ret = emulator_pio_in_out(vcpu, size, port, val, 1, false);
  if (ret) return era.pioSkipsBeforeUserspace ? 1 : kvm_skip_emulated_instruction(vcpu);
  vcpu.arch.cui_linear_rip = vcpu.vmcs.read(VMCS.GUEST_RIP);
  vcpu.arch.complete_userspace_io = complete_fast_pio_out;
  return 0;
}

/** complete_fast_pio_out: on the next KVM_RUN, skip the OUT unless userspace moved RIP. */
function complete_fast_pio_out(vcpu: KvmVcpu): number {
  vcpu.arch.pio.count = 0;
  if (vcpu.vm.env.era.pioSkipsBeforeUserspace || vcpu.vmcs.read(VMCS.GUEST_RIP) !== vcpu.arch.cui_linear_rip) return 1;
  return kvm_skip_emulated_instruction(vcpu);
}

function kvm_fast_pio_in(vcpu: KvmVcpu, size: number, port: number): number {
  const val = vcpu.vm.pioBus.read(port, size);
  const t = vcpu.vm.env.t;
  if (val !== undefined) {
    vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmIoBusDevice);
    if (t.on) t.rec(EV_PIO, vcpu.id, 0, port, size, val);
    vcpu.regs.rax = mergeIn(vcpu.regs.rax, val, size);
    return kvm_skip_emulated_instruction(vcpu);
  }
  const era = vcpu.vm.env.era;
  if (era.pioSkipsBeforeUserspace) kvm_skip_emulated_instruction(vcpu);
  userspace_io(vcpu, size, port, 1, true);
  vcpu.arch.cui_linear_rip = vcpu.vmcs.read(VMCS.GUEST_RIP);
  vcpu.arch.complete_userspace_io = complete_fast_pio_in;
  return 0;
}

/**
 * Linux 3.2's IN: handle_io → emulate_instruction(vcpu, 0) → x86_emulate_instruction (decode,
 * trace_kvm_emulate_insn_start) → em_in → emulator_pio_in_emulated: trace_kvm_pio — with no value,
 * which the model records as 0 — then kernel_pio; a port no in-kernel device has exits to userspace
 * with the instruction not retired (writeback = false: RIP stays on the IN). The next KVM_RUN
 * finishes it (complete_emulated_pio_in).
 */
export function emulator_pio_in_emulated(vcpu: KvmVcpu, size: number, port: number): number {
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.kvmEmulator);
  if (env.t.on) { trace_kvm_emulate_insn(vcpu, vcpu.cpu.pendingInsn(), false); env.t.rec(EV_PIO, vcpu.id, 0, port, size, 0); }
  const val = vcpu.vm.pioBus.read(port, size);
  if (val !== undefined) {
    env.clock.spend(env.profile.cost.kvmIoBusDevice);
    vcpu.regs.rax = mergeIn(vcpu.regs.rax, val, size);
    return kvm_skip_emulated_instruction(vcpu);
  }
  userspace_io(vcpu, size, port, 1, true);
  vcpu.arch.complete_userspace_io = complete_emulated_pio_in;
  return 0;
}

/**
 * kvm_arch_vcpu_ioctl_run of 3.2 with vcpu->arch.pio.count set: emulate_instruction(vcpu,
 * EMULTYPE_NO_DECODE) runs em_in again, emulator_pio_in_emulated finds the data (data_avail), and
 * the writeback retires the IN.
 */
function complete_emulated_pio_in(vcpu: KvmVcpu): number {
  const { size } = vcpu.arch.pio;
  vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);
  const d = vcpu.run.view;
  const o = KvmRunPage.PIO_DATA;
  const val = size === 1 ? d.getUint8(o) : size === 2 ? d.getUint16(o, true) : d.getUint32(o, true);
  vcpu.regs.rax = mergeIn(vcpu.regs.rax, val, size);
  vcpu.arch.pio.count = 0;
  return kvm_skip_emulated_instruction(vcpu);
}

/** complete_fast_pio_in → complete_emulator_pio_in: the value userspace left in the PIO page goes to RAX. */
function complete_fast_pio_in(vcpu: KvmVcpu): number {
  const { size, port } = vcpu.arch.pio;
  const d = vcpu.run.view;
  const o = KvmRunPage.PIO_DATA;
  const val = size === 1 ? d.getUint8(o) : size === 2 ? d.getUint16(o, true) : d.getUint32(o, true);
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_PIO, vcpu.id, 0, port, size, val);
  vcpu.regs.rax = mergeIn(vcpu.regs.rax, val, size);
  vcpu.arch.pio.count = 0;
  if (vcpu.vm.env.era.pioSkipsBeforeUserspace) return 1;
  return kvm_skip_emulated_instruction(vcpu);
}

/** An IN writes AL/AX and keeps the upper bits; a 32-bit IN zero-extends into RAX. */
function mergeIn(rax: number, val: number, size: number): number {
  if (size === 4) return val >>> 0;
  const m = sizeMask(size);
  return rax - (rax % (m + 1)) + (val & m);
}

/** emulator_pio_in_out for OUT: trace_kvm_pio, then the in-kernel devices on KVM_PIO_BUS, else userspace. */
function emulator_pio_in_out(vcpu: KvmVcpu, size: number, port: number, val: number, count: number, isIn: boolean): number {
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_PIO, vcpu.id, 1, port, size, val);
  const d = vcpu.run.view;
  const o = KvmRunPage.PIO_DATA;
  if (size === 1) d.setUint8(o, val); else if (size === 2) d.setUint16(o, val, true); else d.setUint32(o, val >>> 0, true);
  if (vcpu.vm.pioBus.write(port, size, val) >= 0) {
    vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmIoBusDevice);
    return 1;
  }
  userspace_io(vcpu, size, port, count, isIn);
  return 0;
}

/** The `userspace_io:` label: describe the access in kvm_run for qemu. */
function userspace_io(vcpu: KvmVcpu, size: number, port: number, count: number, isIn: boolean): void {
  vcpu.arch.pio.port = port;
  vcpu.arch.pio.in = isIn;
  vcpu.arch.pio.count = count;
  vcpu.arch.pio.size = size;
  vcpu.run.exit_reason = KVM_EXIT.IO;
  vcpu.run.setIo(isIn ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT, size, port, count);
}

// ---------------------------------------------------------------- HLT, CPUID, hypercalls

/** kvm_emulate_halt → __kvm_emulate_halt: block in the kernel with an in-kernel LAPIC, else KVM_EXIT_HLT. */
export function kvm_emulate_halt(vcpu: KvmVcpu): number {
  kvm_skip_emulated_instruction(vcpu);
  vcpu.stat.halt_exits++;
  vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);
  if (vcpu.apic) { vcpu.arch.mp_state = KVM_MP_STATE_HALTED; return 1; }
  vcpu.run.exit_reason = KVM_EXIT.HLT;
  return 0;
}

export function kvm_emulate_cpuid(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const func = r.rax >>> 0;
  const index = r.rcx >>> 0;
  const res = kvm_cpuid(vcpu, func, index);
  r.rax = res.eax; r.rbx = res.ebx; r.rcx = res.ecx; r.rdx = res.edx;
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.kvmEmulate);
  // kvm_cpuid → trace_kvm_cpuid(orig_function, index, *eax, *ebx, *ecx, *edx, exact, used_max_basic)
  if (env.t.on) env.t.rec(EV_CPUID, vcpu.id, func, index, (res.found ? 1 : 0) | (res.usedMaxBasic ? 2 : 0), env.t.str(cpuidRegsText(res)));
  return kvm_skip_emulated_instruction(vcpu);
}

/** The four registers of a CPUID result as kvm_cpuid prints them (%lx), made once per CPUID entry. */
const regsTextOf = new WeakMap<object, string>();
const NO_ENTRY = {};
function cpuidRegsText(res: CpuidResult): string {
  const key = res.entry ?? NO_ENTRY;
  let t = regsTextOf.get(key);
  if (t === undefined) {
    t = `${res.eax.toString(16)} ${res.ebx.toString(16)} ${res.ecx.toString(16)} ${res.edx.toString(16)}`;
    regsTextOf.set(key, t);
  }
  return t;
}

export const KVM_ENOSYS = 1000;
export const KVM_HC_VAPIC_POLL_IRQ = 1;
export const KVM_HC_KICK_CPU = 5;
export function kvm_emulate_hypercall(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const nr = r.rax;
  const env = vcpu.vm.env;
  // trace_kvm_hypercall(nr, a0 = rbx, a1 = rcx, a2 = rdx, a3 = rsi)
  if (env.t.on) env.t.rec(EV_HYPERCALL, vcpu.id, nr, r.rbx, r.rcx, env.t.str(`${hex(r.rdx)} ${hex(r.rsi)}`));
  env.clock.spend(env.profile.cost.kvmEmulate);
  // -KVM_ENOSYS in RAX: negative numbers stand for 64-bit two's complement.
  r.rax = nr === KVM_HC_VAPIC_POLL_IRQ ? 0 : -KVM_ENOSYS;
  vcpu.stat.hypercalls++;
  return kvm_skip_emulated_instruction(vcpu);
}

// ---------------------------------------------------------------- MSRs

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_IA32_CR_PAT = 0x277;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
export const MSR_EFER = 0xc0000080;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
const EMULATED_MSRS = [MSR_IA32_MISC_ENABLE, MSR_IA32_CR_PAT, MSR_IA32_TSC_DEADLINE, MSR_EFER, MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW];

/** kvm_get_msr_common: the value, or undefined for an MSR kvm does not emulate (→ #GP). */
function kvm_get_msr(vcpu: KvmVcpu, msr: number): number | undefined {
  if (msr === MSR_IA32_TSC) return vcpu.vm.env.clock.cycles;
  if (msr === MSR_IA32_APICBASE) return vcpu.apic?.apicBase ?? vcpu.arch.apic_base;
  if (msr >= APIC_BASE_MSR && msr <= APIC_BASE_MSR + 0xff) {
    // kvm_x2apic_msr_read → kvm_lapic_reg_read
    const apic = vcpu.apic;
    if (!apic?.x2apic) return undefined;
    return apic.readReg((msr - APIC_BASE_MSR) << 4);
  }
  if (EMULATED_MSRS.includes(msr)) return vcpu.arch.msrs.get(msr) ?? 0;
  return undefined;
}

/** kvm_set_msr_common: false for an MSR kvm does not emulate or a value it refuses (→ #GP). */
function kvm_set_msr(vcpu: KvmVcpu, msr: number, data: number): boolean {
  const apic = vcpu.apic;
  if (msr === MSR_IA32_APICBASE) return kvm_set_apic_base(vcpu, data, ((kvm_cpuid(vcpu, 1, 0).ecx >>> 21) & 1) === 1) === 0;
  if (msr >= APIC_BASE_MSR && msr <= APIC_BASE_MSR + 0xff) {
    // kvm_x2apic_msr_write: the ICR as one 64-bit register (kvm_x2apic_icr_write), the rest through kvm_lapic_reg_write
    if (!apic?.x2apic) return false;
    if (msr === APIC_BASE_MSR + (APIC_ICR >> 4)) return kvm_x2apic_icr_write(vcpu, data) === 0;
    return kvm_lapic_reg_write(vcpu, (msr - APIC_BASE_MSR) << 4, data) === 0;
  }
  if (EMULATED_MSRS.includes(msr)) { vcpu.arch.msrs.set(msr, data); return true; }
  // kvm_set_msr_common: MSR_KVM_PV_EOI_EN (Linux 3.6; the seed's era has no such MSR: #GP).
  if (msr === MSR_KVM_PV_EOI_EN && vcpu.apic && vcpu.vm.env.era.features.pvEoi) return kvm_lapic_set_pv_eoi(vcpu, data) === 0;
  return false;
}

/**
 * kvm_emulate_rdmsr: an MSR userspace's filter denies (KVM_X86_SET_MSR_FILTER) goes to userspace as
 * KVM_EXIT_X86_RDMSR when it asked for filter exits (KVM_CAP_X86_USER_SPACE_MSR); else #GP.
 */
export function kvm_emulate_rdmsr(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const msr = r.rcx >>> 0;
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.kvmEmulate);
  if (vcpu.vm.msrFilterDenyRead.has(msr)) {
    // kvm_get_msr_with_filter → KVM_MSR_RET_FILTERED → kvm_msr_user_space
    if (vcpu.vm.userSpaceMsrMask & KVM_MSR_EXIT_REASON_FILTER) {
      if (env.t.on) env.t.rec(EV_USERSPACE_MSR, vcpu.id, msr, KVM_MSR_EXIT_REASON_FILTER);
      vcpu.run.exit_reason = KVM_EXIT.X86_RDMSR;
      vcpu.run.setMsr(KVM_MSR_EXIT_REASON_FILTER, msr, 0);
      vcpu.arch.complete_userspace_io = complete_fast_rdmsr;
      return 0;
    }
    if (env.t.on) env.t.rec(EV_MSR, vcpu.id, 0, msr, 0, 1);
    kvm_inject_gp(vcpu);
    return 1;
  }
  const data = kvm_get_msr(vcpu, msr);
  if (env.t.on) env.t.rec(EV_MSR, vcpu.id, 0, msr, data ?? 0, data === undefined ? 1 : 0);
  if (data === undefined) { kvm_inject_gp(vcpu); return 1; }
  r.rax = data % 0x100000000;
  r.rdx = Math.floor(data / 0x100000000);
  return kvm_skip_emulated_instruction(vcpu);
}

/** complete_fast_rdmsr: the value userspace put in kvm_run->msr.data, or #GP if it set msr.error. */
function complete_fast_rdmsr(vcpu: KvmVcpu): number {
  const run = vcpu.run;
  const env = vcpu.vm.env;
  if (env.t.on) env.t.rec(EV_MSR, vcpu.id, 0, vcpu.regs.rcx >>> 0, run.msrData, run.msrError ? 1 : 0);
  if (run.msrError) { kvm_inject_gp(vcpu); return 1; }
  vcpu.regs.rax = run.msrData % 0x100000000;
  vcpu.regs.rdx = Math.floor(run.msrData / 0x100000000);
  return kvm_skip_emulated_instruction(vcpu);
}

export function kvm_emulate_wrmsr(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const msr = r.rcx >>> 0;
  const data = (r.rdx >>> 0) * 0x100000000 + (r.rax >>> 0);
  const ok = kvm_set_msr(vcpu, msr, data);
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.kvmEmulate);
  if (env.t.on) env.t.rec(EV_MSR, vcpu.id, 1, msr, data, ok ? 0 : 1);
  if (!ok) { kvm_inject_gp(vcpu); return 1; }
  return kvm_skip_emulated_instruction(vcpu);
}

export { X2APIC_ENABLE };
