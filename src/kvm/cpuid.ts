// arch/x86/kvm/cpuid.c: kvm_cpuid over the vcpu's CPUID entries (vcpu->arch.cpuid_entries), which
// userspace sets with KVM_SET_CPUID2 (qemu: qemu/cpu_x86.ts). Until it does, there are none.
//
// A leaf above the class's maximum returns the highest basic leaf (Intel behaviour,
// get_out_of_range_cpuid_entry); a leaf inside the range that has no entry reads as zeros.

import type { KvmVcpu } from './vcpu';

export interface CpuidResult {
  readonly eax: number; readonly ebx: number; readonly ecx: number; readonly edx: number;
  readonly found: boolean; readonly usedMaxBasic: boolean;
  /** The entry the registers came from (the same array for every lookup of it), or null: zeros. */
  readonly entry: readonly [number, number, number, number] | null;
  /** The four registers as trace_kvm_cpuid prints them (%lx), space-separated. */
  readonly regsText: string;
  /**
   * regsText interned in the trace store of the vCPU the result is kept for (-1 until first
   * recorded): a vCPU records into one store, so a kept result interns its text once.
   */
  regsStr: number;
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

/**
 * A vCPU's CPUID entries (vcpu->arch.cpuid_entries) and, the model's own, the results looked up so
 * far: kvm_cpuid gives the same answer for the same (function, index) until KVM_SET_CPUID2 replaces
 * the entries, which drops them. Invisible in a trace: a cached result is the one the lookup makes.
 */
interface VcpuCpuid { entries: CpuidEntries; results: Map<number, CpuidResult> }
const cpuidOf = new WeakMap<KvmVcpu, VcpuCpuid>();
/** Results kept per vCPU (a guest that walks every leaf and subleaf does not grow it without end). */
const MAX_RESULTS = 1024;
const NO_ENTRIES: VcpuCpuid = { entries: new Map(), results: new Map() };

/** kvm_vcpu_ioctl_set_cpuid2 → kvm_set_cpuid: the vcpu's entries from now on. */
export function kvm_set_cpuid(vcpu: KvmVcpu, entries: CpuidEntries): void { cpuidOf.set(vcpu, { entries, results: new Map() }); }

/** kvm_find_cpuid_entry_index: an entry without KVM_CPUID_FLAG_SIGNIFCANT_INDEX matches any index. */
function find(e: CpuidEntries, func: number, index: number): readonly [number, number, number, number] | undefined {
  return e.get(cpuidKey(func, index)) ?? e.get(cpuidKey(func, -1));
}

/** kvm_cpuid: the entry for (function, index); out of the class's range, the max basic leaf. */
export function kvm_cpuid(vcpu: KvmVcpu, func: number, index: number): CpuidResult {
  func >>>= 0;
  index >>>= 0;
  const c = cpuidOf.get(vcpu) ?? NO_ENTRIES;
  // (function, index) as one exact number: index below 2^21 (every leaf's subleaves are).
  const key = index < 0x200000 ? index * 0x100000000 + func : -1;
  const known = key >= 0 ? c.results.get(key) : undefined;
  if (known !== undefined) return known;
  const entries = c.entries;
  let e = find(entries, func, index);
  const found = e !== undefined;
  let usedMaxBasic = false;
  if (!e) {
    const basic = find(entries, 0, 0);
    const classBase = func >= 0x40000000 && func <= 0x4fffffff ? func & 0xffffff00 : func >= 0xc0000000 ? 0xc0000000 : func & 0x80000000;
    const cls = find(entries, classBase >>> 0, 0);
    if (basic && !(cls && func <= cls[0] >>> 0)) {
      e = find(entries, basic[0], index);
      usedMaxBasic = e !== undefined;
    }
  }
  const [eax, ebx, ecx, edx] = e ?? [0, 0, 0, 0];
  const r: CpuidResult = {
    eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0, found, usedMaxBasic, entry: e ?? null,
    regsText: `${(eax >>> 0).toString(16)} ${(ebx >>> 0).toString(16)} ${(ecx >>> 0).toString(16)} ${(edx >>> 0).toString(16)}`,
    regsStr: -1,
  };
  if (key >= 0 && c !== NO_ENTRIES && c.results.size < MAX_RESULTS) c.results.set(key, r);
  return r;
}
