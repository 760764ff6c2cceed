// Extended page tables, as far as the VM-exit decision needs them: per guest frame, either absent
// (an access exits with EPT_VIOLATION), mapped to host memory with permissions, or deliberately
// misconfigured (kvm marks MMIO frames so that later accesses exit with EPT_MISCONFIG).
// The host frame a mapping points at is the offset into the memslot's host buffer.

export const EPT_READ = 1;
export const EPT_WRITE = 2;
export const EPT_EXEC = 4;
/** The accessed and dirty flags the CPU sets when EPTP enables them (SDM 28.3.5; bits 8 and 9). */
export const EPT_ACCESSED = 1 << 8;
export const EPT_DIRTY = 1 << 9;
/** EPTP bit 6: accessed and dirty flags enabled (VMX_EPTP_AD_ENABLE_BIT). */
export const VMX_EPTP_AD_ENABLE_BIT = 1 << 6;
/** EPTP: write-back paging structures, a 4-level walk (VMX_EPTP_MT_WB | VMX_EPTP_PWL_4). */
export const VMX_EPTP_MT_WB = 6;
export const VMX_EPTP_PWL_4 = 3 << 3;
/** kvm's MMIO SPTE: write+execute without read is a misconfiguration (arch/x86/kvm/mmu/spte.c). */
export const EPT_MISCONFIG_WX = EPT_WRITE | EPT_EXEC;

export class Ept {
  private readonly e = new Map<number, number>();
  lookup(gfn: number): number { return this.e.get(gfn) ?? 0; }
  set(gfn: number, perms: number): void { this.e.set(gfn, perms); }
  isMisconfig(perms: number): boolean { return (perms & 7) === EPT_MISCONFIG_WX; }
  get size(): number { return this.e.size; }
  /** Change the entries of frames [first, first + count): the walk kvm's slot-wide updates make. */
  update(first: number, count: number, fn: (perms: number) => number): void {
    for (const [gfn, perms] of this.e) if (gfn >= first && gfn < first + count) this.e.set(gfn, fn(perms));
  }
}
