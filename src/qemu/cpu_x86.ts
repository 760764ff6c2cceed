// target/i386/cpu.c + kvm_arch_init_vcpu (target/i386/kvm/kvm.c): the CPUID the vCPU gets. `-cpu
// host` takes what kvm supports (KVM_GET_SUPPORTED_CPUID on a Skylake-SP host, reduced to the
// leaves a guest kernel reads at boot and the ones kvm's exit handlers consult), `-cpu host,-flag`
// takes a feature away, and without an in-kernel irqchip qemu hides x2APIC (its userspace APIC
// model is an xAPIC). qemu hands the entries to kvm with KVM_SET_CPUID2.

import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX, KVM_SET_CPUID2, kvm_cpuid2, kvm_cpuid_entry2 } from '../uapi/kvm';
import type { HostKernel } from '../host/kernel';
import type { HostProcess } from '../host/process';
import type { Heap } from './heap';

export interface CpuidEntry { function: number; index: number; flags: number; regs: [number, number, number, number] }

/** The leaves of `-cpu host` on the modelled host. */
const HOST: CpuidEntry[] = [
  { function: 0x0, index: 0, flags: 0, regs: [0xd, 0x756e6547, 0x6c65746e, 0x49656e69] },          // "GenuineIntel", max basic leaf 0xd
  { function: 0x1, index: 0, flags: 0, regs: [0x50654, 0x00010800, 0xfffa3203, 0x0f8bfbff] },       // ECX: 21 x2APIC, 30 RDRAND, 31 hypervisor; no MONITOR (3)
  { function: 0x7, index: 0, flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX, regs: [0, 0xd19f4fbb, 0x0000000c, 0] }, // EBX: 18 RDSEED, 10 INVPCID; ECX: 2 UMIP (kvm emulates it), 3 PKU
  { function: 0xa, index: 0, flags: 0, regs: [0x07300404, 0, 0, 0x603] },                          // PMU v4: 4 GP + 3 fixed counters, 48 bits
  { function: 0xd, index: 0, flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX, regs: [0x2e7, 0x2c0, 0xa88, 0] }, // XCR0: x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU
  { function: 0x40000000, index: 0, flags: 0, regs: [0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d] },    // "KVMKVMKVM"
  // KVM_CPUID_FEATURES: clocksource(2), nop-io-delay, async PF, steal time, PV EOI (bit 6), PV unhalt, PV TLB flush, PV IPIs, ...
  { function: 0x40000001, index: 0, flags: 0, regs: [0x01007afb, 0, 0, 0] },
  { function: 0x80000000, index: 0, flags: 0, regs: [0x80000008, 0, 0, 0] },
  { function: 0x80000001, index: 0, flags: 0, regs: [0, 0, 0x121, 0x2c100800] },
  { function: 0x80000008, index: 0, flags: 0, regs: [0x3030, 0, 0, 0] },
];

/** Feature names `-cpu host,-name` understands: where the bit lives (FeatureWordInfo). */
export const CPU_FLAGS: Readonly<Record<string, { function: number; reg: 0 | 1 | 2 | 3; bit: number }>> = {
  x2apic: { function: 1, reg: 2, bit: 21 },
  rdrand: { function: 1, reg: 2, bit: 30 },
  rdseed: { function: 7, reg: 1, bit: 18 },
  invpcid: { function: 7, reg: 1, bit: 10 },
  umip: { function: 7, reg: 2, bit: 2 },
  pku: { function: 7, reg: 2, bit: 3 },
  xsave: { function: 1, reg: 2, bit: 26 },
};

/**
 * qemu-kvm 0.14's KVM_CPUID_FEATURES (target-i386/kvm.c get_para_features): clocksource,
 * nop-io-delay and async PF, as a Linux 3.2 kvm reports them — no PV EOI, which came with Linux
 * 3.6 and QEMU 1.3.
 */
const KVM_FEATURES_0_14 = 0x13;

/** x86_cpu_expand_features / kvm_arch_get_supported_cpuid, with the flags taken away. */
export function cpuidEntries(removed: readonly string[], era: 'linux-6.1' | 'qemu-kvm-2013' = 'linux-6.1'): CpuidEntry[] {
  const out = HOST.map((e) => ({ ...e, regs: [...e.regs] as [number, number, number, number] }));
  if (era === 'qemu-kvm-2013') out.find((e) => e.function === 0x40000001)!.regs[0] = KVM_FEATURES_0_14;
  for (const name of removed) {
    const f = CPU_FLAGS[name];
    if (!f) throw new Error(`-cpu host,-${name}: not a feature the model knows (${Object.keys(CPU_FLAGS).join(', ')})`);
    const e = out.find((x) => x.function === f.function)!;
    e.regs[f.reg] = (e.regs[f.reg]! & ~(1 << f.bit)) >>> 0;
  }
  return out;
}

/** kvm_arch_init_vcpu → KVM_SET_CPUID2 with struct kvm_cpuid2 and its entries in qemu's memory. */
export function kvm_set_cpuid2(host: HostKernel, proc: HostProcess, heap: Heap, vcpufd: number, entries: readonly CpuidEntry[]): number {
  const mm = proc.mm;
  const size = kvm_cpuid2.sizeof + entries.length * kvm_cpuid_entry2.sizeof;
  const a = heap.alloc(size);
  mm.slice(a, size).fill(0);
  mm.setU32(a + kvm_cpuid2.nent, entries.length);
  entries.forEach((e, i) => {
    const p = a + kvm_cpuid2.entries + i * kvm_cpuid_entry2.sizeof;
    mm.setU32(p + kvm_cpuid_entry2.function, e.function);
    mm.setU32(p + kvm_cpuid_entry2.index, e.index);
    mm.setU32(p + kvm_cpuid_entry2.flags, e.flags);
    mm.setU32(p + kvm_cpuid_entry2.eax, e.regs[0]);
    mm.setU32(p + kvm_cpuid_entry2.ebx, e.regs[1]);
    mm.setU32(p + kvm_cpuid_entry2.ecx, e.regs[2]);
    mm.setU32(p + kvm_cpuid_entry2.edx, e.regs[3]);
  });
  const r = host.ioctlNow(proc, vcpufd, KVM_SET_CPUID2, a);
  heap.release(a);
  return r;
}
