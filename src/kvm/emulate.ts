// arch/x86/kvm/x86.c (Linux 6.1), with the pieces of emulate.c and pmu.c the VMX exit handlers
// call: control and debug registers, the instructions kvm runs as a NOP, RDPMC, XSETBV, and
// x86_emulate_instruction for the exits that need a full decode (an MMIO access, the local APIC
// page, a descriptor-table instruction under emulated UMIP, an intercepted #UD).
//
// Simplified: the real emulator fetches the instruction bytes at RIP through the guest's page
// tables and decodes them (x86_decode_insn); here the decode is the instruction the CPU was
// executing, as the VMX CPU hands it over (VmxCpu.pendingInsn).

import { defineEvent } from '../trace/events';
import { KVM_EXIT, KVM_INTERNAL_ERROR_EMULATION } from '../uapi/kvm';
import { OP, opcode, operand } from '../vmx/insn';
import { VMCS } from '../vmx/vmcs';
import { kvm_cpuid } from './cpuid';
import { apic_mmio_read, apic_mmio_write, kvm_lapic_set_tpr } from './lapic';
import type { KvmVcpu } from './vcpu';
import { UD_VECTOR, kvm_inject_gp, kvm_queue_exception, kvm_skip_emulated_instruction, trace_kvm_emulate_insn } from './x86';

const EV_MMIO = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_mmio', ['type', 'len', 'gpa:hex', 'val:hex']);
const EV_CR = defineEvent('tracepoint', 'kvm', 'kvm', 'kvm_cr', ['rw', 'cr', 'val:hex']);
const EV_WARN = defineEvent('call', 'kvm', 'kvm', 'pr_warn_once', ['msg:str']);

export const KVM_TRACE_MMIO_READ_UNSATISFIED = 0;
export const KVM_TRACE_MMIO_READ = 1;
export const KVM_TRACE_MMIO_WRITE = 2;

/** x86_emulate_instruction's emulation types. */
export const EMULTYPE_NONE = 0;
export const EMULTYPE_TRAP_UD = 1 << 1;

const spendEmulate = (vcpu: KvmVcpu): void => vcpu.vm.env.clock.spend(vcpu.vm.env.profile.cost.kvmEmulate);

/** kvm_complete_insn_gp: #GP on failure, else skip the instruction. */
export function kvm_complete_insn_gp(vcpu: KvmVcpu, err: number): number {
  if (err) { kvm_inject_gp(vcpu, 0); return 1; }
  return kvm_skip_emulated_instruction(vcpu);
}

/** guest_cpuid_has: a feature bit of the vCPU's CPUID. */
export function guest_cpuid_has(vcpu: KvmVcpu, leaf: number, subleaf: number, reg: 'eax' | 'ebx' | 'ecx' | 'edx', bit: number): boolean {
  return ((kvm_cpuid(vcpu, leaf, subleaf)[reg] >>> bit) & 1) === 1;
}

// ---------------------------------------------------------------- control registers

const X86_CR0_PE = 1 << 0;
const X86_CR0_ET = 1 << 4;
const X86_CR0_NW = 1 << 29;
const X86_CR0_CD = 1 << 30;
const X86_CR0_PG = 2 ** 31;
/** CR0 bits that exist (PE MP EM TS ET NE WP AM NW CD PG); kvm_set_cr0 clears the rest. */
const CR0_DEFINED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x10000 | 0x40000 | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG;
export const X86_CR4_DE = 1 << 3;
export const X86_CR4_PAE = 1 << 5;
export const X86_CR4_UMIP = 1 << 11;
export const X86_CR4_LA57 = 1 << 12;
export const X86_CR4_VMXE = 1 << 13;
export const X86_CR4_PCIDE = 1 << 17;

/** CR4 bits a guest may set: CR4_RESERVED_BITS' complement, less what its CPUID lacks (__cr4_reserved_bits). */
function cr4ValidBits(vcpu: KvmVcpu): number {
  let ok = 0x1 | 0x2 | 0x4 | X86_CR4_DE | 0x10 | X86_CR4_PAE | 0x40 | 0x80 | 0x100 | 0x200 | 0x400;
  const has = (leaf: number, reg: 'ebx' | 'ecx' | 'edx', bit: number) => guest_cpuid_has(vcpu, leaf, 0, reg, bit);
  if (has(1, 'ecx', 26)) ok |= 1 << 18;          // XSAVE → OSXSAVE
  if (has(1, 'ecx', 17)) ok |= X86_CR4_PCIDE;    // PCID
  if (has(1, 'ecx', 5)) ok |= X86_CR4_VMXE;      // VMX (never: kvm_intel.nested=0)
  if (has(7, 'ebx', 0)) ok |= 1 << 16;           // FSGSBASE
  if (has(7, 'ebx', 7)) ok |= 1 << 20;           // SMEP
  if (has(7, 'ebx', 20)) ok |= 1 << 21;          // SMAP
  if (has(7, 'ecx', 2)) ok |= X86_CR4_UMIP;
  if (has(7, 'ecx', 3)) ok |= 1 << 22;           // PKU → PKE
  if (has(7, 'ecx', 16)) ok |= X86_CR4_LA57;
  return ok >>> 0;
}

/** kvm_read_cr0 / kvm_read_cr4: kvm's copy is what the guest reads, the read shadow. */
export const kvm_read_cr0 = (vcpu: KvmVcpu): number => vcpu.vmcs.read(VMCS.CR0_READ_SHADOW);
export const kvm_read_cr4 = (vcpu: KvmVcpu): number => vcpu.vmcs.read(VMCS.CR4_READ_SHADOW);

/** kvm_set_cr0: 1 = #GP. The guest runs in 64-bit mode, so clearing PG is refused. */
export function kvm_set_cr0(vcpu: KvmVcpu, cr0: number): number {
  if (cr0 >= 2 ** 32 || cr0 < 0) return 1;
  cr0 = ((cr0 | X86_CR0_ET) & CR0_DEFINED) >>> 0;
  if (cr0 & X86_CR0_NW && !(cr0 & X86_CR0_CD)) return 1;
  if (cr0 & X86_CR0_PG && !(cr0 & X86_CR0_PE)) return 1;
  if (!(cr0 & X86_CR0_PG)) return 1; // is_64_bit_mode
  vcpu.vm.ops.set_cr0(vcpu, cr0);
  return 0;
}

/** kvm_set_cr4 → kvm_is_valid_cr4: bits the guest's CPUID does not have are reserved; long mode keeps PAE. */
export function kvm_set_cr4(vcpu: KvmVcpu, cr4: number): number {
  if (cr4 >= 2 ** 32 || cr4 < 0 || (cr4 & ~cr4ValidBits(vcpu)) !== 0) return 1;
  const old = kvm_read_cr4(vcpu);
  if (!(cr4 & X86_CR4_PAE)) return 1;
  if ((cr4 ^ old) & X86_CR4_LA57) return 1;
  vcpu.vm.ops.set_cr4(vcpu, cr4 >>> 0);
  return 0;
}

/** kvm_set_cr8: the TPR, in the local APIC when it is in the kernel. */
export function kvm_set_cr8(vcpu: KvmVcpu, cr8: number): number {
  if (cr8 & ~0xf) return 1;
  if (vcpu.apic) kvm_lapic_set_tpr(vcpu, cr8);
  else vcpu.regs.cr8 = cr8;
  return 0;
}

/** kvm_get_cr8 */
export function kvm_get_cr8(vcpu: KvmVcpu): number {
  return vcpu.apic ? (vcpu.apic.tpr & 0xf0) >> 4 : vcpu.regs.cr8;
}

export function trace_kvm_cr(vcpu: KvmVcpu, write: boolean, cr: number, val: number): void {
  const t = vcpu.vm.env.t;
  if (t.on) t.rec(EV_CR, vcpu.id, write ? 1 : 0, cr, val);
}

// ---------------------------------------------------------------- debug registers

/** kvm_require_dr: DR4/DR5 with CR4.DE set are #UD. */
export function kvm_require_dr(vcpu: KvmVcpu, dr: number): boolean {
  if ((dr !== 4 && dr !== 5) || !(kvm_read_cr4(vcpu) & X86_CR4_DE)) return true;
  kvm_queue_exception(vcpu, UD_VECTOR);
  return false;
}

// ---------------------------------------------------------------- instructions emulated as a NOP

/** kvm_emulate_as_nop */
export function kvm_emulate_as_nop(vcpu: KvmVcpu): number {
  spendEmulate(vcpu);
  return kvm_skip_emulated_instruction(vcpu);
}

/** kvm_emulate_invd: "Treat an INVD instruction as a NOP and just skip it." */
export const kvm_emulate_invd = kvm_emulate_as_nop;

/** kvm_emulate_wbinvd: a real WBINVD only with non-coherent DMA (an assigned device); there is none. */
export function kvm_emulate_wbinvd(vcpu: KvmVcpu): number { return kvm_emulate_as_nop(vcpu); }

const warned = new WeakSet<object>();
/** kvm_emulate_monitor_mwait: KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS is on by default: a NOP, with a warning. */
function kvm_emulate_monitor_mwait(vcpu: KvmVcpu, insn: string): number {
  const t = vcpu.vm.env.t;
  if (!warned.has(vcpu) && t.on) t.rec(EV_WARN, vcpu.id, t.str(`kvm: ${insn} instruction emulated as NOP!`));
  warned.add(vcpu);
  return kvm_emulate_as_nop(vcpu);
}
export const kvm_emulate_mwait = (vcpu: KvmVcpu): number => kvm_emulate_monitor_mwait(vcpu, 'MWAIT');
export const kvm_emulate_monitor = (vcpu: KvmVcpu): number => kvm_emulate_monitor_mwait(vcpu, 'MONITOR');

/** kvm_handle_invalid_op */
export function kvm_handle_invalid_op(vcpu: KvmVcpu): number {
  kvm_queue_exception(vcpu, UD_VECTOR);
  return 1;
}

// ---------------------------------------------------------------- RDPMC (pmu.c, vmx/pmu_intel.c)

/**
 * kvm_pmu_rdpmc → intel_rdpmc_ecx_to_pmc: ECX bit 30 selects the fixed counters; the index must be
 * below the number CPUID.0AH reports. Returns the value, or undefined for #GP. Counters are not
 * programmed by the guest here, so they read 0.
 */
function kvm_pmu_rdpmc(vcpu: KvmVcpu, idx: number): number | undefined {
  const leaf = kvm_cpuid(vcpu, 0xa, 0);
  if ((leaf.eax & 0xff) === 0) return undefined; // pmu->version 0: no vPMU
  const fixed = (idx & (1 << 30)) !== 0;
  const n = idx & ~(3 << 30);
  const counters = fixed ? leaf.edx & 0x1f : (leaf.eax >> 8) & 0xff;
  return n < counters ? 0 : undefined;
}

/** kvm_emulate_rdpmc */
export function kvm_emulate_rdpmc(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const data = kvm_pmu_rdpmc(vcpu, r.rcx >>> 0);
  spendEmulate(vcpu);
  if (data === undefined) { kvm_inject_gp(vcpu, 0); return 1; }
  r.rax = data % 2 ** 32;
  r.rdx = Math.floor(data / 2 ** 32);
  return kvm_skip_emulated_instruction(vcpu);
}

// ---------------------------------------------------------------- XSETBV

const XFEATURE_MASK_FP = 1 << 0;
const XFEATURE_MASK_SSE = 1 << 1;
const XFEATURE_MASK_YMM = 1 << 2;
const XFEATURE_MASK_BNDREGS = 1 << 3;
const XFEATURE_MASK_BNDCSR = 1 << 4;
const XFEATURE_MASK_AVX512 = (1 << 5) | (1 << 6) | (1 << 7);

/** kvm_emulate_xsetbv → __kvm_set_xcr: XCR0 only, x87 always on, AVX needs SSE, AVX-512 all or none, within CPUID.0DH. */
export function kvm_emulate_xsetbv(vcpu: KvmVcpu): number {
  const r = vcpu.regs;
  const index = r.rcx >>> 0;
  const xcr0 = (r.rdx >>> 0) * 2 ** 32 + (r.rax >>> 0);
  const supported = kvm_cpuid(vcpu, 0xd, 0).eax | XFEATURE_MASK_FP;
  const lo = xcr0 % 2 ** 32;
  const bad = index !== 0 || xcr0 >= 2 ** 32 || !(lo & XFEATURE_MASK_FP) || (lo & XFEATURE_MASK_YMM && !(lo & XFEATURE_MASK_SSE))
    || (lo & ~supported) !== 0 || !(lo & XFEATURE_MASK_BNDREGS) !== !(lo & XFEATURE_MASK_BNDCSR)
    || (lo & XFEATURE_MASK_AVX512 && (!(lo & XFEATURE_MASK_YMM) || (lo & XFEATURE_MASK_AVX512) !== XFEATURE_MASK_AVX512));
  if (bad) { kvm_inject_gp(vcpu, 0); return 1; }
  vcpu.arch.xcr0 = lo;
  return kvm_emulate_as_nop(vcpu);
}

// ---------------------------------------------------------------- x86_emulate_instruction

/**
 * x86_emulate_instruction: decode the instruction at RIP and emulate it. The cases the model's
 * exits reach: memory accesses to MMIO or the local APIC page (emulator_read_write), the
 * descriptor-table instructions (em_sgdt … em_ltr), and anything under EMULTYPE_TRAP_UD, which
 * cannot be emulated and gets its #UD back. Anything else is an emulation failure
 * (handle_emulation_failure → KVM_EXIT_INTERNAL_ERROR).
 */
export function x86_emulate_instruction(vcpu: KvmVcpu, emulationType: number, gpa = vcpu.regs.rdi): number {
  const env = vcpu.vm.env;
  env.clock.spend(env.profile.cost.kvmEmulator);
  const op = vcpu.cpu.pendingInsn();
  const c = opcode(op);
  const r = vcpu.regs;
  const trace = (failed: boolean) => trace_kvm_emulate_insn(vcpu, op, failed);
  if (emulationType & EMULTYPE_TRAP_UD) {
    // The decoder does not accept what raised #UD (ud2, an instruction the CPU refused): reinject it.
    kvm_queue_exception(vcpu, UD_VECTOR);
    return 1;
  }
  if (c === OP.MEM_READ || c === OP.MEM_WRITE) { trace(false); return emulator_read_write(vcpu, gpa, operand(op), c === OP.MEM_WRITE, r.rax); }
  const v = vcpu.vmcs;
  const slot = vcpu.vm.memslotFor(r.rdi);
  switch (c) {
    case OP.SGDT: case OP.SIDT: {
      // em_sgdt / em_sidt: with CR4.UMIP, #GP at CPL > 0 (the guest kernel runs at CPL 0).
      trace(false);
      if (!slot) { kvm_inject_gp(vcpu, 0); return 1; }
      const sidt = c === OP.SIDT;
      slot.view.setUint16(r.rdi - slot.gpa, v.read(sidt ? VMCS.GUEST_IDTR_LIMIT : VMCS.GUEST_GDTR_LIMIT), true);
      slot.view.setBigUint64(r.rdi - slot.gpa + 2, BigInt.asUintN(64, BigInt(v.read(sidt ? VMCS.GUEST_IDTR_BASE : VMCS.GUEST_GDTR_BASE))), true);
      return kvm_skip_emulated_instruction(vcpu);
    }
    case OP.LGDT: case OP.LIDT: {
      trace(false);
      if (!slot) { kvm_inject_gp(vcpu, 0); return 1; }
      const lidt = c === OP.LIDT;
      v.write(lidt ? VMCS.GUEST_IDTR_LIMIT : VMCS.GUEST_GDTR_LIMIT, slot.view.getUint16(r.rdi - slot.gpa, true));
      v.write(lidt ? VMCS.GUEST_IDTR_BASE : VMCS.GUEST_GDTR_BASE, Number(BigInt.asIntN(64, slot.view.getBigUint64(r.rdi - slot.gpa + 2, true))));
      return kvm_skip_emulated_instruction(vcpu);
    }
    case OP.SLDT: trace(false); r.rax = r.ldtr; return kvm_skip_emulated_instruction(vcpu);
    case OP.STR: trace(false); r.rax = r.tr; return kvm_skip_emulated_instruction(vcpu);
    case OP.LLDT: trace(false); r.ldtr = r.rax & 0xffff; return kvm_skip_emulated_instruction(vcpu);
    case OP.LTR: trace(false); r.tr = r.rax & 0xffff; return kvm_skip_emulated_instruction(vcpu);
    default:
      // handle_emulation_failure
      trace(true);
      vcpu.run.exit_reason = KVM_EXIT.INTERNAL_ERROR;
      vcpu.run.setInternalError(KVM_INTERNAL_ERROR_EMULATION, []);
      return 0;
  }
}

/**
 * emulator_read_write → vcpu_mmio_read/vcpu_mmio_write: the in-kernel local APIC first, then the
 * devices on KVM_MMIO_BUS (the IOAPIC, ioeventfds), else KVM_EXIT_MMIO with kvm_run->mmio filled.
 */
function emulator_read_write(vcpu: KvmVcpu, gpa: number, len: number, isWrite: boolean, val: number): number {
  const env = vcpu.vm.env;
  const r = vcpu.regs;
  if (isWrite) {
    if (env.t.on) env.t.rec(EV_MMIO, vcpu.id, KVM_TRACE_MMIO_WRITE, len, gpa, val);
    if (apic_mmio_write(vcpu, gpa, len, val) === 0 || vcpu.vm.mmioBus.write(gpa, len, val) >= 0) {
      env.clock.spend(env.profile.cost.kvmIoBusDevice);
      return kvm_skip_emulated_instruction(vcpu);
    }
  } else {
    const got = apic_mmio_read(vcpu, gpa, len) ?? vcpu.vm.mmioBus.read(gpa, len);
    if (got !== undefined) {
      env.clock.spend(env.profile.cost.kvmIoBusDevice);
      if (env.t.on) env.t.rec(EV_MMIO, vcpu.id, KVM_TRACE_MMIO_READ, len, gpa, got);
      r.rax = got;
      return kvm_skip_emulated_instruction(vcpu);
    }
  }
  // read_exit_mmio: the read goes to userspace — trace_kvm_mmio(KVM_TRACE_MMIO_READ_UNSATISFIED, bytes, gpa, NULL).
  if (!isWrite && env.t.on) env.t.rec(EV_MMIO, vcpu.id, KVM_TRACE_MMIO_READ_UNSATISFIED, len, gpa, 0);
  vcpu.stat.mmio_exits++;
  vcpu.arch.mmio = { gpa, len, isWrite, needed: true };
  vcpu.run.exit_reason = KVM_EXIT.MMIO;
  vcpu.run.setMmio(gpa, len, isWrite, isWrite ? val : 0);
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
