// Given: the machine the scenario runs on. No Given means the seed's machine: 1 vCPU, 512 MiB, the
// irqchip in kvm, a legacy virtio-pci disk with INTx, Linux AIO, profile linux-6.1. Each
// configuration family has a step of its own; any key can also be set by name.

import { applySet, ConfigError, loadConfigFile, parseConfig } from '../src/config';
import { VOCABULARY as V } from '../src/report/vocabulary';
import { stepsAbout } from './support/define';
import { SpecError, type ExitpathWorld } from './support/world';

const { Given } = stepsAbout('the machine');

/** One configuration key set to a YAML scalar, validated by the configuration's schema. */
function setting(w: ExitpathWorld, key: string, value: string): void {
  w.checkName('config key', key, false);
  let next;
  try { next = applySet(w.config, `${key}=${value}`); } catch (e) {
    if (e instanceof ConfigError) throw new SpecError(e.message);
    throw e;
  }
  w.configure((c) => Object.assign(c, next));
}

Given(V.vmWith, { doc: 'vCPU 0 boots and starts the others (INIT, two start-up IPIs)' }, function (this: ExitpathWorld, vcpus: number, mib: number) {
  setting(this, 'vcpus', String(vcpus));
  setting(this, 'memory_mib', String(mib));
});

Given('the VM has {int} vCPU(s)', { doc: 'the number of vCPUs (`vcpus`, 1 to 64)' }, function (this: ExitpathWorld, n: number) {
  setting(this, 'vcpus', String(n));
});

Given(V.configuredAs, { doc: 'configuration keys as YAML (every key is listed below); errors name line and column' }, function (this: ExitpathWorld, yaml: string) {
  const next = parseConfig(yaml, 'the doc string', this.config);
  this.configure((c) => Object.assign(c, next));
});

Given(V.configFile, { doc: 'a YAML file of configuration keys, relative to the working directory' }, function (this: ExitpathWorld, path: string) {
  const next = loadConfigFile(path, this.config);
  this.configure((c) => Object.assign(c, next));
});

Given('the VM setting {string} is {string}', { doc: 'any configuration key, dotted for nested ones (`"disk.cache"` is `"writeback"`): the same as `--set KEY=VALUE`', names: ['config key'] }, function (this: ExitpathWorld, key: string, value: string) {
  setting(this, key, value);
});

Given(V.ioeventfdOn, { doc: 'kvm signals an eventfd for the kick; qemu\'s main loop serves it (`ioeventfd: true`)' }, function (this: ExitpathWorld) { setting(this, 'ioeventfd', 'true'); });
Given(V.ioeventfdOff, { doc: 'the kick exits to qemu-kvm (`ioeventfd: false`, the seed\'s path)' }, function (this: ExitpathWorld) { setting(this, 'ioeventfd', 'false'); });
Given('irqfd is enabled', { doc: 'qemu signals the completion interrupt through an eventfd kvm turns into an MSI (`irqfd: true`; needs MSI-X vectors)' }, function (this: ExitpathWorld) { setting(this, 'irqfd', 'true'); });
Given('irqfd is disabled', { doc: 'qemu raises the interrupt with an ioctl (`irqfd: false`)' }, function (this: ExitpathWorld) { setting(this, 'irqfd', 'false'); });
Given('APICv is enabled', { doc: 'virtual-interrupt delivery, virtualized EOI and posted interrupts (`apicv: true`)' }, function (this: ExitpathWorld) { setting(this, 'apicv', 'true'); });
Given('APICv is disabled', { doc: 'interrupts are injected at VM entry and EOIs exit (`apicv: false`)' }, function (this: ExitpathWorld) { setting(this, 'apicv', 'false'); });
Given(V.irqchipKernel, { doc: 'PIC, IOAPIC, PIT and LAPIC in kvm (`irqchip: kernel`)' }, function (this: ExitpathWorld) { setting(this, 'irqchip', 'kernel'); });
Given(V.irqchipUser, { doc: 'all of them in qemu-kvm (`irqchip: userspace`: KVM_EXIT_HLT, KVM_INTERRUPT, xAPIC MMIO through KVM_EXIT_MMIO)' }, function (this: ExitpathWorld) { setting(this, 'irqchip', 'userspace'); });
Given('the irqchip is split', { doc: 'the LAPIC in kvm, the PIC and IOAPIC in qemu-kvm (`irqchip: split`)' }, function (this: ExitpathWorld) { setting(this, 'irqchip', 'split'); });
Given(V.backend, { doc: 'how qemu-kvm does the disk\'s I/O: `linux-aio` (io_submit), `threads` (a worker\'s blocking pwritev), `io_uring` (io_uring_enter)' }, function (this: ExitpathWorld, backend: string) {
  setting(this, 'disk.backend', backend);
});
Given('the disk has {int} MSI-X vectors', { doc: 'qemu\'s virtio-blk-pci `vectors`: 2 gives MSI-X (config and queue), 0 the legacy INTx line (`disk.vectors`)' }, function (this: ExitpathWorld, n: number) {
  setting(this, 'disk.vectors', String(n));
});
Given('MSI-X is enabled', { doc: 'the disk\'s function has MSI-X vectors (`disk.vectors: 2`): the completion is an MSI, with no ISR read' }, function (this: ExitpathWorld) {
  setting(this, 'disk.vectors', '2');
});
Given('MSI-X is disabled', { doc: 'the disk raises the legacy INTx line (`disk.vectors: 0`, the seed\'s path)' }, function (this: ExitpathWorld) {
  setting(this, 'disk.vectors', '0');
});
Given('the disk\'s transport is {string}', { doc: '`virtio-pci-legacy` (the kick is an `outw`) or `virtio-pci-modern` (an MMIO write) (`disk.transport`)' }, function (this: ExitpathWorld, t: string) {
  setting(this, 'disk.transport', t);
});
Given('the disk\'s cache mode is {string}', { doc: 'qemu\'s `-drive cache=`: `none`, `directsync`, `writeback`, `writethrough`, `unsafe` (`disk.cache`)' }, function (this: ExitpathWorld, mode: string) {
  setting(this, 'disk.cache', mode);
});
Given('the disk\'s write error policy is {string}', { doc: 'qemu\'s `werror=`: `report`, `ignore`, `stop`, `enospc` (`disk.werror`)' }, function (this: ExitpathWorld, p: string) {
  setting(this, 'disk.werror', p);
});
Given('the disk\'s read error policy is {string}', { doc: 'qemu\'s `rerror=`: `report`, `ignore`, `stop` (`disk.rerror`)' }, function (this: ExitpathWorld, p: string) {
  setting(this, 'disk.rerror', p);
});
Given('the profile is {string}', { doc: '`linux-6.1`, or `qemu-kvm-2013`: the seed\'s era, with its kvm handler table and function names (`profile`)' }, function (this: ExitpathWorld, p: string) {
  setting(this, 'profile', p);
});
Given('the host CPU is {string}', { doc: 'the host\'s VT-x features: `skylake-sp` (the default) or `sapphire-rapids` (bus-lock detection, notify VM exits) (`host_cpu`)' }, function (this: ExitpathWorld, cpu: string) {
  setting(this, 'host_cpu', cpu);
});
Given(V.bootTraced, { doc: 'the boot (VMLAUNCH, the driver\'s set-up) is part of the first action\'s walk' }, function (this: ExitpathWorld) {
  this.configure(() => { this.traceBoot = true; });
});
