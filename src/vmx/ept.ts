// Extended page tables, as far as the VM-exit decision needs them: per guest frame, either absent
// (an access exits with EPT_VIOLATION), mapped to host memory with permissions, or deliberately
// misconfigured (kvm marks MMIO frames so that later accesses exit with EPT_MISCONFIG).
// The host frame a mapping points at is the offset into the memslot's host buffer.

export const EPT_READ = 1;
export const EPT_WRITE = 2;
export const EPT_EXEC = 4;
/** kvm's MMIO SPTE: write+execute without read is a misconfiguration (arch/x86/kvm/mmu/spte.c). */
export const EPT_MISCONFIG_WX = EPT_WRITE | EPT_EXEC;

export class Ept {
  private readonly e = new Map<number, number>();
  lookup(gfn: number): number { return this.e.get(gfn) ?? 0; }
  set(gfn: number, perms: number): void { this.e.set(gfn, perms); }
  isMisconfig(perms: number): boolean { return (perms & 7) === EPT_MISCONFIG_WX; }
  get size(): number { return this.e.size; }
}
