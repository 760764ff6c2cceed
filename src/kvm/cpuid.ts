// arch/x86/kvm/cpuid.c: kvm_cpuid over the vcpu's CPUID entries. The entries are a Skylake-SP
// guest's as qemu -cpu host would set them with KVM_SET_CPUID2, reduced to the leaves a guest
// kernel reads at boot; a leaf above the maximum returns the highest basic leaf (Intel behaviour).

export interface CpuidResult { eax: number; ebx: number; ecx: number; edx: number; found: boolean; usedMaxBasic: boolean }

const ENTRIES = new Map<number, [number, number, number, number]>([
  [0x0, [0xd, 0x756e6547, 0x6c65746e, 0x49656e69]],                // "GenuineIntel"
  [0x1, [0x50654, 0x00010800, 0xfffa3203 | 0, 0x0f8bfbff]],          // ecx bit 21 x2APIC, bit 31 hypervisor
  [0x7, [0, 0xd19f4fbb | 0, 0x0000000c, 0]],
  [0xd, [0x2e7, 0x2c0, 0xa88, 0]],
  [0x40000000, [0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d]],       // "KVMKVMKVM"
  [0x40000001, [0x01007afb, 0, 0, 0]],
  [0x80000000, [0x80000008, 0, 0, 0]],
  [0x80000001, [0, 0, 0x121, 0x2c100800]],
  [0x80000008, [0x3030, 0, 0, 0]],
]);

export function kvm_cpuid(func: number, _index: number): CpuidResult {
  let e = ENTRIES.get(func >>> 0);
  let usedMaxBasic = false;
  if (!e) {
    usedMaxBasic = (func >>> 0) < 0x40000000 || (func >>> 0) >= 0x80000000;
    e = usedMaxBasic ? ENTRIES.get(0xd)! : [0, 0, 0, 0];
  }
  return { eax: e[0] >>> 0, ebx: e[1] >>> 0, ecx: e[2] >>> 0, edx: e[3] >>> 0, found: !usedMaxBasic && ENTRIES.has(func >>> 0), usedMaxBasic };
}
