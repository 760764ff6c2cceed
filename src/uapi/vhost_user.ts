// Not a Linux UAPI header: the protocol qemu and vhost-user backends share (not in the ABI test).
// The vhost-user protocol (qemu docs/interop/vhost-user.rst, hw/virtio/vhost-user.c): a 12-byte
// header {request, flags, size} and a payload, over a unix socket, with file descriptors passed
// alongside (SCM_RIGHTS) for memory regions and the kick/call eventfds.

export const VHOST_USER_GET_FEATURES = 1;
export const VHOST_USER_SET_FEATURES = 2;
export const VHOST_USER_SET_OWNER = 3;
export const VHOST_USER_SET_MEM_TABLE = 5;
export const VHOST_USER_SET_VRING_NUM = 8;
export const VHOST_USER_SET_VRING_ADDR = 9;
export const VHOST_USER_SET_VRING_BASE = 10;
export const VHOST_USER_SET_VRING_KICK = 12;
export const VHOST_USER_SET_VRING_CALL = 13;
export const VHOST_USER_SET_VRING_ENABLE = 18;
export const VHOST_USER_VERSION = 0x1;

export const VHOST_USER_HDR_SIZE = 12;
/** VhostUserMsg header fields. */
export const hdr = { request: 0, flags: 4, size: 8 } as const;
/** VhostUserMemory: nregions, padding, then regions of {guest_phys_addr, memory_size, userspace_addr, mmap_offset}. */
export const memory = { nregions: 0, regions: 8, regionSize: 32, gpa: 0, size: 8, uaddr: 16, mmapOffset: 24 } as const;
/** struct vhost_vring_state {index, num}. */
export const vringState = { index: 0, num: 4, sizeof: 8 } as const;
/** struct vhost_vring_addr {index, flags, desc_user_addr, used_user_addr, avail_user_addr, log_guest_addr}. */
export const vringAddr = { index: 0, flags: 4, desc: 8, used: 16, avail: 24, log: 32, sizeof: 40 } as const;

export const NAMES: Record<number, string> = {
  [VHOST_USER_GET_FEATURES]: 'VHOST_USER_GET_FEATURES', [VHOST_USER_SET_FEATURES]: 'VHOST_USER_SET_FEATURES',
  [VHOST_USER_SET_OWNER]: 'VHOST_USER_SET_OWNER', [VHOST_USER_SET_MEM_TABLE]: 'VHOST_USER_SET_MEM_TABLE',
  [VHOST_USER_SET_VRING_NUM]: 'VHOST_USER_SET_VRING_NUM', [VHOST_USER_SET_VRING_ADDR]: 'VHOST_USER_SET_VRING_ADDR',
  [VHOST_USER_SET_VRING_BASE]: 'VHOST_USER_SET_VRING_BASE', [VHOST_USER_SET_VRING_KICK]: 'VHOST_USER_SET_VRING_KICK',
  [VHOST_USER_SET_VRING_CALL]: 'VHOST_USER_SET_VRING_CALL', [VHOST_USER_SET_VRING_ENABLE]: 'VHOST_USER_SET_VRING_ENABLE',
};
