// Buffered I/O: writes into the guest's page cache, written back on fsync.

import { stepsAbout } from './support/define';
import { bufferedWriteAction } from '../src/guest/buffered';
import type { ExitpathWorld } from './support/world';

const { When } = stepsAbout('the guest page cache');

When('the guest process writes {string} to {string} through the page cache', { doc: 'a buffered write (neither O_DIRECT nor O_SYNC): into the page cache; the only I/O is what the file system reads to do it (a directory block, a bitmap)' }, function (this: ExitpathWorld, text: string, path: string) {
  this.run(bufferedWriteAction(new TextEncoder().encode(text), path));
});

When('the guest process writes {int} KiB of {string} to {string} through the page cache', { doc: 'the same, with generated data' }, function (this: ExitpathWorld, kib: number, ch: string, path: string) {
  if (ch.length !== 1) throw new Error(`'${ch}': expected one character to fill the data with`);
  this.run(bufferedWriteAction(new TextEncoder().encode(ch.repeat(kib * 1024)), path));
});
