// A host process: its address space and file descriptor table.

import type { HostFile } from './file';
import { Mm } from './mm';
import type { Layer } from '../trace/events';

export class HostProcess {
  readonly mm = new Mm();
  private readonly fds: (HostFile | undefined)[] = [];
  constructor(readonly pid: number, readonly comm: string, readonly layer: Layer = 'qemu-kvm') {}

  /** The lowest free descriptor from 3 on (0-2 are the terminal). */
  install(f: HostFile): number {
    let fd = 3;
    while (this.fds[fd]) fd++;
    this.fds[fd] = f;
    return fd;
  }
  file(fd: number): HostFile | undefined { return this.fds[fd]; }
  /** Every open file, in descriptor order. */
  openFiles(): HostFile[] { return this.fds.filter((f): f is HostFile => f !== undefined); }
  close(fd: number): boolean {
    const f = this.fds[fd];
    if (!f) return false;
    this.fds[fd] = undefined;
    f.release?.();
    return true;
  }
}
