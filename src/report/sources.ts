// Where the real code lives for the names a walk shows: kvm's handlers and run loop, qemu's device
// models, the host's syscalls, the guest driver. The report links each scenario to the files its walk
// went through, at the versions the profile follows: Linux 6.1 with QEMU 9.0 for `linux-6.1`, and
// the seed's Fedora 15 for `qemu-kvm-2013` — Linux 3.2 (its 2.6.42) for kvm, the host and the guest,
// and QEMU 0.14.0 for what qemu-kvm 0.14 shared with it (qemu-kvm's own qemu-kvm.c and
// posix-aio-compat glue are not linked: the fork is not on the link's host).

export type Codebase = 'linux' | 'qemu';
export type Era = 'linux-6.1' | 'qemu-kvm-2013';

interface Place { codebase: Codebase; path: string; guest?: boolean }

const L = (path: string): Place => ({ codebase: 'linux', path });
const G = (path: string): Place => ({ codebase: 'linux', path, guest: true });
const Q = (path: string): Place => ({ codebase: 'qemu', path });

/** Linux 6.1 / QEMU 9.0 paths, by the name the trace shows. */
const MODERN: Record<string, Place> = {
  // the guest (Linux 6.1 in both profiles)
  write: G('fs/read_write.c'), read: G('fs/read_write.c'), openat: G('fs/open.c'), close: G('fs/open.c'),
  fsync: G('fs/sync.c'), vfs_write: G('fs/read_write.c'), vfs_read: G('fs/read_write.c'), submit_bio: G('block/blk-core.c'),
  virtio_queue_rq: G('drivers/block/virtio_blk.c'), virtblk_done: G('drivers/block/virtio_blk.c'),
  virtblk_add_req: G('drivers/block/virtio_blk.c'), virtio_commit_rqs: G('drivers/block/virtio_blk.c'),
  blk_mq_complete_request: G('block/blk-mq.c'), virtqueue_add_sgs: G('drivers/virtio/virtio_ring.c'),
  virtqueue_kick_prepare: G('drivers/virtio/virtio_ring.c'), virtqueue_notify: G('drivers/virtio/virtio_ring.c'),
  vring_interrupt: G('drivers/virtio/virtio_ring.c'), vp_notify: G('drivers/virtio/virtio_pci_common.c'),
  vp_interrupt: G('drivers/virtio/virtio_pci_common.c'), vp_vring_interrupt: G('drivers/virtio/virtio_pci_common.c'),
  iowrite16: G('lib/iomap.c'), common_interrupt: G('arch/x86/kernel/irq.c'), default_idle: G('arch/x86/kernel/process.c'),
  sysvec_reschedule_ipi: G('arch/x86/kernel/smp.c'), smp_send_reschedule: G('arch/x86/kernel/smp.c'),
  wakeup_secondary_cpu_via_init: G('arch/x86/kernel/smpboot.c'), start_secondary: G('arch/x86/kernel/smpboot.c'),
  // the guest's file system (ext2), its caches and the block layer
  sync: G('fs/sync.c'), lseek: G('fs/read_write.c'), unlink: G('fs/namei.c'), mkdir: G('fs/namei.c'),
  rename: G('fs/namei.c'), umount2: G('fs/namespace.c'),
  ext2_file_write_iter: G('fs/ext2/file.c'), ext2_file_read_iter: G('fs/ext2/file.c'), ext2_fsync: G('fs/ext2/file.c'),
  ext2_get_block: G('fs/ext2/inode.c'), ext2_iget: G('fs/ext2/inode.c'), ext2_write_inode: G('fs/ext2/inode.c'),
  ext2_truncate_blocks: G('fs/ext2/inode.c'), ext2_evict_inode: G('fs/ext2/inode.c'),
  ext2_new_blocks: G('fs/ext2/balloc.c'), ext2_free_blocks: G('fs/ext2/balloc.c'), read_block_bitmap: G('fs/ext2/balloc.c'),
  ext2_new_inode: G('fs/ext2/ialloc.c'), ext2_free_inode: G('fs/ext2/ialloc.c'), read_inode_bitmap: G('fs/ext2/ialloc.c'),
  ext2_lookup: G('fs/ext2/namei.c'), ext2_create: G('fs/ext2/namei.c'), ext2_mkdir: G('fs/ext2/namei.c'),
  ext2_unlink: G('fs/ext2/namei.c'), ext2_rename: G('fs/ext2/namei.c'),
  ext2_add_link: G('fs/ext2/dir.c'), ext2_delete_entry: G('fs/ext2/dir.c'),
  ext2_fill_super: G('fs/ext2/super.c'), ext2_sync_super: G('fs/ext2/super.c'),
  generic_perform_write: G('mm/filemap.c'), file_write_and_wait_range: G('mm/filemap.c'), generic_write_sync: G('include/linux/fs.h'),
  mpage_writepages: G('fs/mpage.c'), mpage_readahead: G('fs/mpage.c'), do_blockdev_direct_IO: G('fs/direct-io.c'),
  __bread: G('fs/buffer.c'), mark_buffer_dirty: G('fs/buffer.c'), sync_dirty_buffer: G('fs/buffer.c'),
  sync_mapping_buffers: G('fs/buffer.c'), sync_blockdev: G('block/bdev.c'), sync_inode_metadata: G('fs/fs-writeback.c'),
  writeback_inodes_sb: G('fs/fs-writeback.c'), drop_caches_sysctl_handler: G('fs/drop_caches.c'), blkdev_issue_flush: G('block/blk-flush.c'),
  generic_file_fsync: G('fs/libfs.c'), mpage_read_folio: G('fs/mpage.c'), process_one_work: G('kernel/workqueue.c'),
  virtqueue_kick: G('drivers/virtio/virtio_ring.c'),
  blk_mq_flush_plug_list: G('block/blk-mq.c'), blk_mq_get_tag: G('block/blk-mq-tag.c'), blk_mq_stop_hw_queue: G('block/blk-mq.c'),
  blk_mq_start_stopped_hw_queues: G('block/blk-mq.c'), blk_mq_run_work_fn: G('block/blk-mq.c'),
  block_rq_issue: G('block/blk-mq.c'), block_rq_requeue: G('block/blk-mq.c'),
  // VT-x entry and exit, and kvm
  VMLAUNCH: L('arch/x86/kvm/vmx/vmenter.S'), VMRESUME: L('arch/x86/kvm/vmx/vmenter.S'),
  KVM_RUN: L('virt/kvm/kvm_main.c'), KVM_IRQ_LINE: L('arch/x86/kvm/x86.c'), KVM_IRQ_LINE_STATUS: L('arch/x86/kvm/x86.c'), kvm_set_irq: L('arch/x86/kvm/irq_comm.c'),
  kvm_pio: L('arch/x86/kvm/x86.c'), kvm_msr: L('arch/x86/kvm/x86.c'), kvm_inj_virq: L('arch/x86/kvm/vmx/vmx.c'),
  kvm_vcpu_block: L('virt/kvm/kvm_main.c'), kvm_eoi: L('arch/x86/kvm/lapic.c'), kvm_mmio: L('arch/x86/kvm/x86.c'),
  kvm_vcpu_wakeup: L('virt/kvm/kvm_main.c'), kvm_apic_ipi: L('arch/x86/kvm/lapic.c'), kvm_apic_accept_irq: L('arch/x86/kvm/lapic.c'),
  kvm_apicv_accept_irq: L('arch/x86/kvm/vmx/vmx.c'), handle_fastpath_set_msr_irqoff: L('arch/x86/kvm/x86.c'),
  kvm_vcpu_reset: L('arch/x86/kvm/x86.c'), kvm_vcpu_deliver_sipi_vector: L('arch/x86/kvm/x86.c'),
  kvm_page_fault: L('arch/x86/kvm/mmu/mmu.c'), kvm_tdp_mmu_map: L('arch/x86/kvm/mmu/tdp_mmu.c'),
  kvm_emulate_cpuid: L('arch/x86/kvm/cpuid.c'), kvm_emulate_halt: L('arch/x86/kvm/x86.c'),
  kvm_emulate_rdmsr: L('arch/x86/kvm/x86.c'), kvm_emulate_wrmsr: L('arch/x86/kvm/x86.c'),
  kvm_emulate_hypercall: L('arch/x86/kvm/x86.c'), kvm_emulate_invd: L('arch/x86/kvm/x86.c'),
  kvm_emulate_wbinvd: L('arch/x86/kvm/x86.c'), kvm_emulate_xsetbv: L('arch/x86/kvm/x86.c'),
  kvm_emulate_rdpmc: L('arch/x86/kvm/x86.c'), kvm_emulate_mwait: L('arch/x86/kvm/x86.c'),
  kvm_emulate_monitor: L('arch/x86/kvm/x86.c'), kvm_handle_invalid_op: L('arch/x86/kvm/x86.c'),
  // qemu
  kvm_run_exit: Q('accel/kvm/kvm-all.c'), kvm_cpu_exec: Q('accel/kvm/kvm-all.c'), kvm_handle_io: Q('accel/kvm/kvm-all.c'),
  address_space_rw: Q('system/physmem.c'), bql_lock: Q('system/cpus.c'), bql_unlock: Q('system/cpus.c'),
  memory_region_dispatch_write: Q('system/memory.c'), memory_region_dispatch_read: Q('system/memory.c'),
  virtio_queue_notify: Q('hw/virtio/virtio.c'), virtqueue_pop: Q('hw/virtio/virtio.c'), virtqueue_flush: Q('hw/virtio/virtio.c'),
  virtio_pci_notify: Q('hw/virtio/virtio-pci.c'), virtio_pci_config_write: Q('hw/virtio/virtio-pci.c'),
  virtio_ioport_write: Q('hw/virtio/virtio-pci.c'), virtio_ioport_read: Q('hw/virtio/virtio-pci.c'),
  virtio_blk_handle_vq: Q('hw/block/virtio-blk.c'), virtio_blk_submit_multireq: Q('hw/block/virtio-blk.c'),
  virtio_blk_handle_output: Q('hw/block/virtio-blk.c'), virtio_blk_handle_write: Q('hw/block/virtio-blk.c'),
  virtio_blk_handle_read: Q('hw/block/virtio-blk.c'), virtio_blk_rw_complete: Q('hw/block/virtio-blk.c'),
  virtio_blk_req_complete: Q('hw/block/virtio-blk.c'),
  blk_aio_pwritev: Q('block/block-backend.c'), blk_aio_preadv: Q('block/block-backend.c'), blk_aio_flush: Q('block/block-backend.c'),
  laio_co_submit: Q('block/linux-aio.c'), qemu_laio_completion_cb: Q('block/linux-aio.c'),
  // the host kernel
  io_submit: L('fs/aio.c'), io_getevents: L('fs/aio.c'), io_setup: L('fs/aio.c'), aio_complete: L('fs/aio.c'),
  eventfd2: L('fs/eventfd.c'), ppoll: L('fs/select.c'), pwritev: L('fs/read_write.c'), preadv: L('fs/read_write.c'),
  fdatasync: L('fs/sync.c'), ioctl: L('fs/ioctl.c'),
};

/** What moved by 2013 (Linux 3.2, QEMU 0.14); null = not in that tree under a name worth linking. */
const SEED_ERA: Record<string, Place | null> = {
  // the guest: Fedora 15's Linux 3.2
  do_virtblk_request: G('drivers/block/virtio_blk.c'), do_req: G('drivers/block/virtio_blk.c'), blk_done: G('drivers/block/virtio_blk.c'),
  virtqueue_add_buf: G('include/linux/virtio.h'), virtqueue_kick: G('drivers/virtio/virtio_ring.c'),
  vp_notify: G('drivers/virtio/virtio_pci.c'), vp_interrupt: G('drivers/virtio/virtio_pci.c'), vp_vring_interrupt: G('drivers/virtio/virtio_pci.c'),
  vring_interrupt: G('drivers/virtio/virtio_ring.c'), __blk_end_request_all: G('block/blk-core.c'), do_IRQ: G('arch/x86/kernel/irq.c'),
  do_sync_write: G('fs/read_write.c'), do_sync_read: G('fs/read_write.c'), generic_file_aio_write: G('mm/filemap.c'),
  generic_file_aio_read: G('mm/filemap.c'), generic_file_buffered_write: G('mm/filemap.c'), __blockdev_direct_IO: G('fs/direct-io.c'),
  filemap_write_and_wait_range: G('mm/filemap.c'), mpage_readpages: G('fs/mpage.c'), mpage_readpage: G('fs/mpage.c'),
  generic_write_sync: G('fs/sync.c'), sync_blockdev: G('fs/block_dev.c'), blk_flush_plug_list: G('block/blk-core.c'),
  get_request_wait: G('block/blk-core.c'), blk_stop_queue: G('block/blk-core.c'), blk_start_queue: G('block/blk-core.c'),
  blk_delay_work: G('block/blk-core.c'), block_rq_issue: G('block/blk-core.c'),
  // qemu-kvm 0.14, where QEMU 0.14.0 has the same file
  cpu_outw: Q('ioport.c'), cpu_inb: Q('ioport.c'), virtio_ioport_write: Q('hw/virtio-pci.c'), virtio_ioport_read: Q('hw/virtio-pci.c'),
  virtio_pci_config_writew: Q('hw/virtio-pci.c'), virtio_pci_config_readb: Q('hw/virtio-pci.c'),
  virtio_submit_multiwrite: Q('hw/virtio-blk.c'), bdrv_aio_multiwrite: Q('block.c'), bdrv_aio_writev: Q('block.c'), bdrv_aio_readv: Q('block.c'),
  bdrv_aio_flush: Q('block.c'), paio_submit: Q('posix-aio-compat.c'), posix_aio_read: Q('posix-aio-compat.c'),
  qemu_mutex_lock_iothread: Q('cpus.c'), qemu_mutex_unlock_iothread: Q('cpus.c'), select: L('fs/select.c'),
  post_kvm_run: null, pre_kvm_run: null, kvm_run: null,
  VMLAUNCH: L('arch/x86/kvm/vmx.c'), VMRESUME: L('arch/x86/kvm/vmx.c'), kvm_inj_virq: L('arch/x86/kvm/vmx.c'),
  kvm_emulate_cpuid: null, kvm_emulate_halt: null, kvm_emulate_rdmsr: null, kvm_emulate_wrmsr: null,
  kvm_emulate_hypercall: null, kvm_emulate_invd: null, kvm_emulate_wbinvd: null, kvm_emulate_xsetbv: null,
  kvm_emulate_rdpmc: null, kvm_emulate_mwait: null, kvm_emulate_monitor: null, kvm_handle_invalid_op: null,
  kvm_page_fault: L('arch/x86/kvm/mmu.c'), kvm_tdp_mmu_map: null, kvm_set_irq: L('virt/kvm/irq_comm.c'),
  kvm_run_exit: null, kvm_cpu_exec: null, kvm_main_loop_cpu: null, kvm_handle_io: Q('kvm-all.c'),
  address_space_rw: null, memory_region_dispatch_write: null, memory_region_dispatch_read: null,
  virtio_queue_notify: Q('hw/virtio.c'), virtqueue_pop: Q('hw/virtio.c'), virtqueue_flush: Q('hw/virtio.c'),
  virtio_pci_notify: Q('hw/virtio-pci.c'),
  virtio_blk_handle_output: Q('hw/virtio-blk.c'), virtio_blk_handle_write: Q('hw/virtio-blk.c'),
  virtio_blk_handle_read: Q('hw/virtio-blk.c'), virtio_blk_rw_complete: Q('hw/virtio-blk.c'), virtio_blk_req_complete: Q('hw/virtio-blk.c'),
  blk_aio_pwritev: null, blk_aio_preadv: null, blk_aio_flush: null,
  laio_submit: Q('linux-aio.c'), laio_co_submit: null, qemu_laio_completion_cb: Q('linux-aio.c'),
};

/** 6.1 handler names live in vmx/vmx.c unless listed above; 3.2 handler names (handle_*) in vmx.c. */
function handlerPlace(name: string, era: Era): Place | undefined {
  if (!/^handle_/.test(name)) return undefined;
  return L(era === 'linux-6.1' ? 'arch/x86/kvm/vmx/vmx.c' : 'arch/x86/kvm/vmx.c');
}

export function placeOf(name: string, era: Era): Place | undefined {
  if (era === 'qemu-kvm-2013' && name in SEED_ERA) return SEED_ERA[name] ?? undefined;
  return MODERN[name] ?? handlerPlace(name, era);
}

export function sourceUrl(p: Place, era: Era): string {
  if (p.codebase === 'linux') return `https://github.com/torvalds/linux/blob/${era === 'linux-6.1' ? 'v6.1' : 'v3.2'}/${p.path}`;
  return `https://github.com/qemu/qemu/blob/${era === 'linux-6.1' ? 'v9.0.0' : 'v0.14.0'}/${p.path}`;
}

export interface SourceLink { name: string; url: string }

/**
 * One link per function the walk went through, in the order the walk met them, each named
 * `file: function` (guest functions marked "guest:") and pointing at the file at the profile's version.
 */
export function sourceLinks(names: Iterable<string>, era: Era): SourceLink[] {
  const out: SourceLink[] = [];
  const seen = new Set<string>();
  for (const n of names) {
    const p = placeOf(n, era);
    if (!p || seen.has(n)) continue;
    seen.add(n);
    out.push({ url: sourceUrl(p, era), name: `${p.guest ? 'guest: ' : ''}${p.path}: ${n}` });
  }
  return out;
}
