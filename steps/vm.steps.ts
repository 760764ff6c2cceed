// Given: the machine the scenario runs on. No Given means the seed's machine.

import { Given } from '@cucumber/cucumber';
import { loadConfigFile, parseConfig } from '../src/config';
import type { ExitpathWorld } from './support/world';

Given('a VM with {int} vCPU(s) and {int} MiB of memory', function (this: ExitpathWorld, vcpus: number, mib: number) {
  this.configure((c) => { c.vcpus = vcpus; c.memory_mib = mib; });
});

Given('the VM is configured as:', function (this: ExitpathWorld, yaml: string) {
  const next = parseConfig(yaml, 'the doc string', this.config);
  this.configure((c) => Object.assign(c, next));
});

Given('the VM configuration file {string}', function (this: ExitpathWorld, path: string) {
  const next = loadConfigFile(path, this.config);
  this.configure((c) => Object.assign(c, next));
});

Given('ioeventfd is enabled', function (this: ExitpathWorld) { this.configure((c) => { c.ioeventfd = true; }); });
Given('ioeventfd is disabled', function (this: ExitpathWorld) { this.configure((c) => { c.ioeventfd = false; }); });
Given('the irqchip is in the kernel', function (this: ExitpathWorld) { this.configure((c) => { c.irqchip = 'kernel'; }); });
Given('the irqchip is in userspace', function (this: ExitpathWorld) { this.configure((c) => { c.irqchip = 'userspace'; }); });
Given('the host block backend is {string}', function (this: ExitpathWorld, backend: string) {
  if (!['linux-aio', 'threads', 'io_uring'].includes(backend)) throw new Error(`'${backend}' is not a block backend (linux-aio, threads, io_uring)`);
  this.configure((c) => { c.disk.backend = backend as typeof c.disk.backend; });
});
Given('the boot is traced', function (this: ExitpathWorld) {
  this.configure(() => { this.traceBoot = true; });
});
