import { test } from 'node:test';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, applySet, applySets, loadConfigFile, parseConfig } from '../src/config';
import { umountAction, writeAction } from '../src/guest/actions';
import { mkfsExt2 } from '../src/ext2/mkfs';
import { Ext2Image } from '../src/ext2/image';
import { Stack } from '../src/stack';

test('configuration errors name the file, line, column, key and what was expected', () => {
  const bad = (text: string) => { try { parseConfig(text, 'vm.yaml'); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as Error).message; } throw new Error('accepted'); };
  expect(bad('vcpus: 1\ndisk:\n  backnd: threads\n')).to.match(/^vm\.yaml:3:3: unknown key 'disk\.backnd' \(expected one of: transport, io_base, size_mib, backend, image\b.*\) — did you mean backend\?$/);
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

test('--set errors name the --set argument and the key, not a position in a document', () => {
  const bad = (a: string) => { try { applySet(DEFAULT_CONFIG, a); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as Error).message; } throw new Error('accepted'); };
  expect(bad('disk.cahce=none')).to.equal("--set disk.cahce=none: unknown key 'cahce' in disk — did you mean cache?");
  expect(bad('vcpu=2')).to.equal("--set vcpu=2: unknown key 'vcpu' — did you mean vcpus?");
  expect(bad('disk.zzz=1')).to.match(/^--set disk\.zzz=1: unknown key 'zzz' in disk \(expected one of: transport, /);
  expect(bad('memory_mib=lots')).to.equal("--set memory_mib=lots: 'memory_mib' must be integer");
  expect(bad('vcpus.x=1')).to.equal("--set vcpus.x=1: 'vcpus' has no keys below it (it takes a value: --set vcpus=VALUE)");
  expect(bad('vcpus')).to.equal('--set vcpus: expected KEY=VALUE, e.g. --set disk.backend=threads');
  expect(bad('disk.cache=writeback')).to.match(/^--set disk\.cache=writeback: 'disk\.cache' writeback needs 'disk\.backend' threads or io_uring/);
});

test('the --sets of a command are one document: their order does not matter, a later one wins, and an error names the --set of its key', () => {
  const sets = ['preset=qemu-default', 'disk.backend=linux-aio', 'disk.cache=none'];
  const forward = applySets(DEFAULT_CONFIG, sets);
  expect([forward.disk.backend, forward.disk.cache, forward.ioeventfd]).to.deep.equal(['linux-aio', 'none', true]);
  expect(applySets(DEFAULT_CONFIG, [...sets].reverse())).to.deep.equal(forward);
  expect(applySets(DEFAULT_CONFIG, ['disk.cache=writeback', 'disk.backend=threads', 'disk.cache=none']).disk.cache).to.equal('none');
  const bad = (a: string[]) => { try { applySets(DEFAULT_CONFIG, a); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as Error).message; } throw new Error('accepted'); };
  expect(bad(['disk.backend=linux-aio', 'disk.cache=writeback'])).to.match(/^--set disk\.cache=writeback: 'disk\.cache' writeback needs 'disk\.backend' threads or io_uring/);
  expect(bad(['profile=qemu-kvm-2013', 'apicv=true'])).to.match(/^--set apicv=true: 'apicv' does not exist with profile qemu-kvm-2013/);
  expect(bad(['vcpus=2', 'memory_mib=lots'])).to.equal("--set memory_mib=lots: 'memory_mib' must be integer");
});

test('YAML anchors and aliases are refused with one line, in a file and in --set (an alias bomb never expands)', () => {
  const bad = (f: () => unknown) => { try { f(); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as Error).message; } throw new Error('accepted'); };
  expect(bad(() => parseConfig('memory_mib: *b\n', 'vm.yaml'))).to.equal('vm.yaml:1:13: YAML anchors and aliases are not accepted in a configuration (*b): write the value itself');
  expect(bad(() => applySet(DEFAULT_CONFIG, 'vcpus=*a'))).to.equal('--set vcpus=*a: YAML anchors and aliases are not accepted (*a): write the value itself');
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
  expect(bad(() => parseConfig(bomb, 'bomb.yaml'))).to.match(/^bomb\.yaml:1:7: YAML anchors and aliases are not accepted in a configuration \(&a\)/);
});

test('halt_poll_ns: an integer from 0; it does not exist with the seed-era profile', () => {
  expect(applySet(DEFAULT_CONFIG, 'halt_poll_ns=0').halt_poll_ns).to.equal(0);
  expect(() => applySet(DEFAULT_CONFIG, 'halt_poll_ns=-1')).to.throw(ConfigError, /'halt_poll_ns' must be >= 0/);
  expect(() => parseConfig('profile: qemu-kvm-2013\nhalt_poll_ns: 100\n', 'vm.yaml'))
    .to.throw(ConfigError, /^vm\.yaml:2:15: 'halt_poll_ns' does not exist with profile qemu-kvm-2013 \(halt polling came with Linux 4\.0\)$/);
});

test('preset: qemu-default is QEMU 9.0\'s virtio-blk-pci on kvm; preset starts over, its own document applies on top', () => {
  const q = applySet(applySet(DEFAULT_CONFIG, 'memory_mib=1024'), 'preset=qemu-default');
  expect([q.ioeventfd, q.irqfd, q.disk.vectors, q.disk.transport, q.disk.backend, q.disk.cache])
    .to.deep.equal([true, true, 2, 'virtio-pci-modern', 'threads', 'writeback']);
  expect(q.memory_mib, 'an earlier --set is replaced').to.equal(512);
  const own = parseConfig('preset: qemu-default\ndisk:\n  cache: none\n  backend: linux-aio\n', 'vm.yaml');
  expect([own.disk.backend, own.disk.cache, own.disk.vectors]).to.deep.equal(['linux-aio', 'none', 2]);
  expect(applySet(q, 'preset=seed')).to.deep.equal({ ...DEFAULT_CONFIG, preset: 'seed' });
});

test('the 2013 profile refuses what Linux 3.2 and qemu-kvm 0.14 did not have', () => {
  const era = (more: string) => () => parseConfig(`profile: qemu-kvm-2013\n${more}`, 'vm.yaml');
  expect(era('irqchip: split\n')).to.throw(ConfigError, /^vm\.yaml:2:10: 'irqchip' split does not exist with profile qemu-kvm-2013/);
  expect(era('apicv: true\n')).to.throw(ConfigError, /'apicv' does not exist/);
  expect(era('irqfd: true\ndisk:\n  vectors: 2\n')).to.throw(ConfigError, /qemu-kvm 0\.14 gave irqfds to vhost only/);
  expect(era('disk:\n  transport: virtio-pci-modern\n')).to.throw(ConfigError, /virtio 1\.0 came with Linux 4\.0/);
  expect(era('disk:\n  backend: io_uring\n')).to.throw(ConfigError, /io_uring came with Linux 5\.1/);
  expect(era('disk:\n  event_idx: true\n')).to.throw(ConfigError, /VIRTIO_RING_F_EVENT_IDX came with QEMU 0\.15/);
  expect(era('disk:\n  backend: threads\n  cache: writethrough\n')).to.throw(ConfigError, /not modelled/);
  // What the era had is accepted: ioeventfd, MSI-X vectors, aio=threads, a userspace irqchip.
  expect(era('ioeventfd: true\nirqchip: userspace\ndisk:\n  vectors: 2\n  backend: threads\n  cache: writeback\n')()).to.include({ ioeventfd: true });
});
