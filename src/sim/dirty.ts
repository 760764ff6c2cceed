// Which pages of a mapping were written since it was mapped: one byte a 4 KiB page, set by whoever
// writes through it — host syscalls and qemu through the process's mappings (host/mm.ts), kvm
// through its memslots, the CPU through guest RAM, the guest kernel's pages when its machine is
// closed. When anonymous memory is reused, exactly these pages are cleaned (host/anon.ts). The
// simulator's own bookkeeping, as a page table's dirty bits would be: nothing of it shows in a trace.

export const PAGE_SIZE = 4096;

/** Mark [offset, offset + len) of the mapping behind `dirty` as written (nothing when it is not tracked). */
export function markWritten(dirty: Uint8Array | undefined, offset: number, len: number): void {
  if (dirty === undefined || len <= 0) return;
  const last = Math.floor((offset + len - 1) / PAGE_SIZE);
  for (let p = Math.floor(offset / PAGE_SIZE); p <= last; p++) dirty[p] = 1;
}
