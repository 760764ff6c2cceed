import { test } from 'node:test';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, applySet, loadConfigFile, parseConfig } from '../src/config';
import { umountAction, writeAction } from '../src/guest/actions';
import { mkfsExt2 } from '../src/ext2/mkfs';
import { Ext2Image } from '../src/ext2/image';
import { Stack } from '../src/stack';

test('configuration errors name the file, line, column, key and what was expected', () => {
  const bad = (text: string) => { try { parseConfig(text, 'vm.yaml'); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as Error).message; } throw new Error('accepted'); };
  expect(bad('vcpus: 1\ndisk:\n  backnd: threads\n')).to.match(/^vm\.yaml:3:3: unknown key 'disk\.backnd' \(expected one of: transport, io_base, size_mib, backend, image\b.*\)$/);
  expect(bad('irqchip: kernl\n')).to.match(/^vm\.yaml:1:10: 'irqchip' must be one of "kernel", "split", "userspace"$/);
  expect(bad('memory_mib: lots\n')).to.match(/^vm\.yaml:1:13: 'memory_mib' must be integer$/);
  expect(bad('vcpus: [1\n')).to.match(/^vm\.yaml:\d+:\d+: YAML syntax error/);
  expect(applySet(DEFAULT_CONFIG, 'disk.size_mib=128').disk.size_mib).to.equal(128);
  expect(() => loadConfigFile('/nonexistent/vm.yaml')).to.throw(ConfigError, /^\/nonexistent\/vm\.yaml: cannot read configuration file \(ENOENT\)$/);
});

test('disk.image: a real raw file on the host receives the bytes', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-')), 'disk.raw');
  fs.writeFileSync(file, Buffer.alloc(1 << 20));
  // An ext2 the guest can mount, made by the model's mkfs.
  const wfd = fs.openSync(file, 'r+');
  mkfsExt2(1 << 20, (o, d) => fs.writeSync(wfd, d, 0, d.length, o), { blockSize: 4096 });
  fs.closeSync(wfd);
  const s = new Stack(applySet(DEFAULT_CONFIG, `disk.image=${file}`));
  expect(s.run(writeAction(new TextEncoder().encode('on the host'), '/a')).result.value).to.equal(11);
  expect(s.run(umountAction()).result.value).to.equal(0);
  s.image.close();
  // The file's bytes are in the host's file, where the guest's ext2 put them.
  const fd = fs.openSync(file, 'r');
  const img = new Ext2Image((o, l) => { const b = new Uint8Array(l); fs.readSync(fd, b, 0, l, o); return b; });
  expect(new TextDecoder().decode(img.cat('/a'))).to.equal('on the host');
  fs.closeSync(fd);
});

test('disk.image: a file that holds no ext2 is refused with one line naming it', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-')), 'disk.raw');
  fs.writeFileSync(file, Buffer.alloc(1 << 20));
  expect(() => applySet(DEFAULT_CONFIG, `disk.image=${file}`)).to.throw(ConfigError, /is not an ext2 file system the guest can mount: no ext2 superblock/);
});
