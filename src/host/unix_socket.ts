// net/unix: a connected pair of AF_UNIX stream sockets, with SCM_RIGHTS file-descriptor passing —
// how qemu hands a vhost-user backend its memory and eventfds (sendmsg with ancillary fds).

import type { WaitQueue } from '../sim/scheduler';
import { POLLIN, POLLOUT, wakePollers, type HostFile } from './file';

interface Message { bytes: Uint8Array; files: HostFile[] }

export class UnixSocket implements HostFile {
  readonly owner = 'host kernel';
  readonly name = 'socket:[unix]';
  readonly pollers = new Set<WaitQueue>();
  peer: UnixSocket | undefined;
  readonly queue: Message[] = [];

  static pair(): [UnixSocket, UnixSocket] {
    const a = new UnixSocket();
    const b = new UnixSocket();
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /** unix_stream_sendmsg: the bytes and the files (SCM_RIGHTS) queue on the peer. */
  deliver(bytes: Uint8Array, files: HostFile[]): void {
    const p = this.peer!;
    p.queue.push({ bytes: bytes.slice(), files });
    wakePollers(p);
  }

  poll(): number { return (this.queue.length > 0 ? POLLIN : 0) | POLLOUT; }
}

/** A memfd: anonymous memory with a file descriptor, so that another process can map the same pages. */
export class MemFd implements HostFile {
  readonly owner = 'host kernel';
  constructor(readonly name: string, readonly bytes: Uint8Array) {}
  mmap(len: number, offset = 0): Uint8Array { return this.bytes.subarray(offset, offset + len); }
}
