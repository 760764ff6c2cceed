// arch/x86/kvm/cpuid.c: kvm_cpuid over the vcpu's CPUID entries (vcpu->arch.cpuid_entries), which
// userspace sets with KVM_SET_CPUID2 (qemu: qemu/cpu_x86.ts). Until it does, there are none.
//
// A leaf above the class's maximum returns the highest basic leaf (Intel behaviour,
// get_out_of_range_cpuid_entry); a leaf inside the range that has no entry reads as zeros.

import type { KvmVcpu } from './vcpu';

export interface CpuidResult {
  eax: number; ebx: number; ecx: number; edx: number; found: boolean; usedMaxBasic: boolean;
  /** The entry the registers came from (the same array for every lookup of it), or null: zeros. */
  entry: readonly [number, number, number, number] | null;
}

/** `function:index` (index -1 = any index) → [eax, ebx, ecx, edx] */
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
const entriesOf = new WeakMap<KvmVcpu, CpuidEntries>();

/** kvm_vcpu_ioctl_set_cpuid2 → kvm_set_cpuid: the vcpu's entries from now on. */
export function kvm_set_cpuid(vcpu: KvmVcpu, entries: CpuidEntries): void { entriesOf.set(vcpu, entries); }

/** kvm_find_cpuid_entry_index: an entry without KVM_CPUID_FLAG_SIGNIFCANT_INDEX matches any index. */
function find(vcpu: KvmVcpu, func: number, index: number): readonly [number, number, number, number] | undefined {
  const e = entriesOf.get(vcpu);
  return e?.get(cpuidKey(func, index)) ?? e?.get(cpuidKey(func, -1));
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
  return { eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0, found, usedMaxBasic, entry: e ?? null };
}
