// block/block-backend.c → block/file-posix.c (raw_co_prw): a request on the drive becomes a host
// I/O on the image file through the configured backend (aio=native: Linux AIO).

import { defineEvent, type Tracer } from '../../trace/events';
import type { IoVec } from '../virtio';
import type { Completion, LinuxAioState } from './linux_aio';

const EV_PWRITEV = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_pwritev', ['offset:hex', 'bytes']);
const EV_PREADV = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_preadv', ['offset:hex', 'bytes']);
const EV_FLUSH = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'blk_aio_flush', []);

export class BlockBackend {
  constructor(readonly fd: number, readonly size: number, private readonly aio: LinuxAioState, private readonly t: Tracer) {}

  blk_aio_pwritev(offset: number, qiov: IoVec[], cb: Completion): void {
    if (this.t.on) this.t.rec(EV_PWRITEV, -1, offset, qiov.reduce((s, v) => s + v.len, 0));
    this.raw_co_prw(offset, qiov, 'write', cb);
  }
  blk_aio_preadv(offset: number, qiov: IoVec[], cb: Completion): void {
    if (this.t.on) this.t.rec(EV_PREADV, -1, offset, qiov.reduce((s, v) => s + v.len, 0));
    this.raw_co_prw(offset, qiov, 'read', cb);
  }
  blk_aio_flush(cb: Completion): void {
    if (this.t.on) this.t.rec(EV_FLUSH, -1);
    this.raw_co_prw(0, [], 'flush', cb);
  }

  /** raw_co_prw with aio=native → laio_co_submit; a failed submission completes at once with its error. */
  private raw_co_prw(offset: number, qiov: IoVec[], type: 'write' | 'read' | 'flush', cb: Completion): void {
    const r = this.aio.submit(this.fd, offset, qiov, type, cb);
    if (r < 0) cb(r);
  }
}
