// The VFS and page-cache functions a file's I/O goes through, by the guest kernel's version, where
// Linux 3.2 and 6.1 name them differently. The mechanism the model runs is the same for both; only
// the layers the walk shows are each kernel's own:
//   write(2)   6.1: vfs_write → ext2_file_write_iter (→ generic_file_write_iter);
//              3.2: vfs_write → do_sync_write → generic_file_aio_write (→ __generic_file_aio_write),
//              and for the page cache generic_file_buffered_write → generic_perform_write;
//   read(2)    6.1: ext2_file_read_iter; 3.2: do_sync_read → generic_file_aio_read;
//   O_DIRECT   6.1: do_blockdev_direct_IO; 3.2: __blockdev_direct_IO (fs/direct-io.c);
//   fsync      both: ext2_fsync → generic_file_fsync, whose data writeback is
//              file_write_and_wait_range (6.1) / filemap_write_and_wait_range (3.2);
//   readahead  mpage_readahead (6.1) / mpage_readpages (3.2); one page read by read_mapping_page:
//              mpage_read_folio (6.1) / mpage_readpage (3.2).

import { defineEvent } from '../trace/events';

const call = (name: string, args: string[] = []) => defineEvent('call', 'guest kernel', 'guest kernel', name, args);

export interface FsNames {
  /** The file's write entry points below vfs_write, outermost first. */
  write: number[];
  /** Below write: the page-cache write before generic_perform_write (3.2's generic_file_buffered_write), or 0. */
  bufferedWrite: number;
  read: number[];
  directIO: number;
  writeAndWait: number;
  readahead: number;
  readpage: number;
}

const RW = ['pos', 'count'];
const NAMES_6_1: FsNames = {
  write: [call('ext2_file_write_iter', RW)],
  bufferedWrite: 0,
  read: [call('ext2_file_read_iter', RW)],
  directIO: call('do_blockdev_direct_IO', ['pos', 'count', 'write']),
  writeAndWait: call('file_write_and_wait_range', ['ino', 'start', 'end']),
  readahead: call('mpage_readahead', ['ino', 'pages']),
  readpage: call('mpage_read_folio', ['ino']),
};
const NAMES_3_2: FsNames = {
  write: [call('do_sync_write', RW), call('generic_file_aio_write', RW)],
  bufferedWrite: call('generic_file_buffered_write', RW),
  read: [call('do_sync_read', RW), call('generic_file_aio_read', RW)],
  directIO: call('__blockdev_direct_IO', ['pos', 'count', 'write']),
  writeAndWait: call('filemap_write_and_wait_range', ['ino', 'start', 'end']),
  readahead: call('mpage_readpages', ['ino', 'pages']),
  readpage: call('mpage_readpage', ['ino']),
};

export const fsNames = (kernel: '6.1' | '3.2'): FsNames => (kernel === '3.2' ? NAMES_3_2 : NAMES_6_1);
