// arch/x86/kvm/cpuid.c: kvm_cpuid over the vcpu's CPUID entries (vcpu->arch.cpuid_entries, which
// userspace sets with KVM_SET_CPUID2). Until it does, the entries are those qemu's `-cpu host`
// passes on a Skylake-SP host (KVM_GET_SUPPORTED_CPUID, reduced to the leaves a guest kernel
// reads at boot and the ones exit handlers consult).
//
// A leaf above the class's maximum returns the highest basic leaf (Intel behaviour,
// get_out_of_range_cpuid_entry); a leaf inside the range that has no entry reads as zeros.

import type { KvmVcpu } from './vcpu';

export interface CpuidResult { eax: number; ebx: number; ecx: number; edx: number; found: boolean; usedMaxBasic: boolean }

/** `function:index` → [eax, ebx, ecx, edx] */
export type CpuidEntries = ReadonlyMap<string, readonly [number, number, number, number]>;
// Keys of index-0 lookups are kept, so a CPUID exit does not build a string (bounded: a guest that
// walks every leaf does not grow it without end).
const index0Keys = new Map<number, string>();
export const cpuidKey = (func: number, index: number): string => {
  if ((index >>> 0) !== 0) return `${func >>> 0}:${index >>> 0}`;
  let k = index0Keys.get(func >>> 0);
  if (k === undefined) {
    k = `${func >>> 0}:0`;
    if (index0Keys.size < 4096) index0Keys.set(func >>> 0, k);
  }
  return k;
};
/** Leaves whose output depends on ECX (KVM_CPUID_FLAG_SIGNIFCANT_INDEX); the others ignore the index. */
const INDEXED = new Set([0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x1f, 0x8000001d]);

export const CPUID_HOST: CpuidEntries = new Map<string, readonly [number, number, number, number]>([
  [cpuidKey(0x0, 0), [0xd, 0x756e6547, 0x6c65746e, 0x49656e69]],         // "GenuineIntel", max basic leaf 0xd
  [cpuidKey(0x1, 0), [0x50654, 0x00010800, 0xfffa3203 | 0, 0x0f8bfbff]],   // ECX: 21 x2APIC, 30 RDRAND, 31 hypervisor; no MONITOR (3)
  [cpuidKey(0x7, 0), [0, 0xd19f4fbb | 0, 0x0000000c, 0]],                // EBX: 18 RDSEED, 10 INVPCID; ECX: 2 UMIP (kvm emulates it), 3 PKU
  [cpuidKey(0xa, 0), [0x07300404, 0, 0, 0x603]],                         // PMU v4: 4 GP + 3 fixed counters, 48 bits
  [cpuidKey(0xd, 0), [0x2e7, 0x2c0, 0xa88, 0]],                          // XCR0: x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU
  [cpuidKey(0x40000000, 0), [0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d]],  // "KVMKVMKVM"
  [cpuidKey(0x40000001, 0), [0x01007afb, 0, 0, 0]],
  [cpuidKey(0x80000000, 0), [0x80000008, 0, 0, 0]],
  [cpuidKey(0x80000001, 0), [0, 0, 0x121, 0x2c100800]],
  [cpuidKey(0x80000008, 0), [0x3030, 0, 0, 0]],
]);

const entriesOf = new WeakMap<KvmVcpu, CpuidEntries>();

/** kvm_vcpu_ioctl_set_cpuid2 → kvm_set_cpuid: the vcpu's entries from now on. */
export function kvm_set_cpuid(vcpu: KvmVcpu, entries: CpuidEntries): void { entriesOf.set(vcpu, entries); }

/** kvm_find_cpuid_entry_index */
function find(vcpu: KvmVcpu, func: number, index: number): readonly [number, number, number, number] | undefined {
  const e = entriesOf.get(vcpu) ?? CPUID_HOST;
  return e.get(cpuidKey(func, INDEXED.has(func >>> 0) ? index : 0));
}

/** kvm_cpuid: the entry for (function, index); out of the class's range, the max basic leaf. */
export function kvm_cpuid(vcpu: KvmVcpu, func: number, index: number): CpuidResult {
  func >>>= 0;
  let e = find(vcpu, func, index);
  const found = e !== undefined;
  let usedMaxBasic = false;
  if (!e) {
    const basic = find(vcpu, 0, 0);
    const classBase = func >= 0x40000000 && func <= 0x4fffffff ? func & 0xffffff00 : func >= 0xc0000000 ? 0xc0000000 : func & 0x80000000;
    const cls = find(vcpu, classBase >>> 0, 0);
    if (basic && !(cls && func <= cls[0] >>> 0)) {
      e = find(vcpu, basic[0], index);
      usedMaxBasic = e !== undefined;
    }
  }
  const [eax, ebx, ecx, edx] = e ?? [0, 0, 0, 0];
  return { eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0, found, usedMaxBasic };
}
