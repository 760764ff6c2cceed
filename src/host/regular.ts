// A regular file opened by a process: here, the disk image qemu opens with O_DIRECT.

import type { HostFile } from './file';
import type { ImageFile } from './disk';

export class RegularFile implements HostFile {
  readonly owner = 'host kernel';
  constructor(readonly name: string, readonly image: ImageFile, readonly direct: boolean) {}
}
