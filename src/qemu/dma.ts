// Every access the device models make to guest RAM goes through here: address_space_map of a
// guest-physical range to qemu's own mapping of guest RAM. A range outside RAM is refused and
// counted, never served: the guard rail that shows a hostile guest cannot make qemu step outside.

import type { Mm } from '../host/mm';

export class GuestMemory {
  /** Accesses that were refused because they fell outside guest RAM. */
  violations = 0;
  constructor(readonly mm: Mm, readonly ramHva: number, readonly ramSize: number) {}

  /** address_space_map: qemu's address for [gpa, gpa+len), or undefined (and a violation) if outside RAM. */
  map(gpa: number, len: number): number | undefined {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(len) || gpa < 0 || len < 0 || gpa + len > this.ramSize) {
      this.violations++;
      return undefined;
    }
    return this.ramHva + gpa;
  }

  // lduw_le_phys / ldl_le_phys / ldq_le_phys / stw_le_phys ...: callers pass in-bounds addresses they
  // have validated; an out-of-range one is a model bug and throws.
  private at(gpa: number, len: number): number {
    const h = this.map(gpa, len);
    if (h === undefined) throw new Error(`qemu: guest-physical access 0x${gpa.toString(16)}+${len} outside RAM`);
    return h;
  }
  lduw(gpa: number): number { return this.mm.u16(this.at(gpa, 2)); }
  ldl(gpa: number): number { return this.mm.u32(this.at(gpa, 4)); }
  ldq(gpa: number): number { return this.mm.u64(this.at(gpa, 8)); }
  stw(gpa: number, v: number): void { this.mm.setU16(this.at(gpa, 2), v); }
  stl(gpa: number, v: number): void { this.mm.setU32(this.at(gpa, 4), v); }
}
