// A block request queued the way the guest's virtio-blk driver queues one (virtblk_setup_cmd +
// virtblk_add_req → virtqueue_add_sgs), without the kick: the fault and hostile steps decide what
// happens between queueing and kicking.

import type { GuestKernel } from '../../src/guest/kernel';
import type { BlkRequest } from '../../src/guest/virtio_blk';
import { VIRTIO_BLK_T_OUT, virtio_blk_outhdr } from '../../src/uapi/virtio';

export interface QueuedWrite { req: BlkRequest; header: number; status: number; data: number }

/** A one-sector write of `text` (zero-padded) to `sector`: header, data and status in fresh guest pages. */
export function queueWrite(k: GuestKernel, text: string, sector: number): QueuedWrite {
  const vq = k.blk.vq;
  if (!vq) throw new Error('the guest has no virtio-blk queue');
  const header = k.userBuffer(4096);
  const status = header + virtio_blk_outhdr.sizeof;
  const data = k.userBuffer(4096);
  k.ram.bytes.fill(0, data, data + 512);
  k.ram.bytes.set(new TextEncoder().encode(text).subarray(0, 512), data);
  k.ram.setU32(header + virtio_blk_outhdr.type, VIRTIO_BLK_T_OUT);
  k.ram.setU32(header + virtio_blk_outhdr.ioprio, 0);
  k.ram.setU64(header + virtio_blk_outhdr.sector, sector);
  k.ram.setU8(status, 0xff);
  const req: BlkRequest = { op: 'write', sector, sgs: [{ gpa: data, len: 512 }], hdrGpa: header, statusGpa: status, status: -1, done: false };
  if (vq.add_sgs([{ gpa: header, len: virtio_blk_outhdr.sizeof }, { gpa: data, len: 512 }], [{ gpa: status, len: 1 }], req) < 0) {
    throw new Error('the guest\'s queue is full');
  }
  return { req, header, status, data };
}
