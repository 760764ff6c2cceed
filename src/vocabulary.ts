// The names a specification may use, as the model knows them: host syscalls and KVM ioctls, exit
// reasons and kvm's exit handlers, KVM_EXIT_* codes, trace events, qemu's threads and devices,
// errnos, kvm_run fields, vCPUs, configuration keys. A step checks every name it takes against this
// before asserting anything, so a misspelt name fails with the closest known ones instead of making
// a negative check pass vacuously. What a configuration can never produce is known here too, where
// the model's mechanism says so (a backend's syscalls, an era's handler table, an irqchip's ioctls).

import type { VmConfig } from './config';
import { configKeys } from './config';
import { editDistance } from './edit_distance';
import { HOST_SYSCALL_NAMES } from './host/kernel';
import { kvmEra, LINUX_6_1, QEMU_KVM_2013 } from './kvm/profile';
import { MAIN_LOOP_THREAD } from './qemu/main_loop';
import { eventNames } from './trace/events';
import { ERRNO } from './uapi/errno';
import { KVM_EXIT_NAMES, KVM_IOCTL_NAMES, kvm_run } from './uapi/kvm';
import { EXIT_REASON } from './uapi/vmx';

export const NAME_KINDS = [
  'host syscall', 'KVM ioctl', 'exit reason', 'exit handler', 'userspace exit', 'event', 'thread', 'device',
  'errno', 'kvm_run field', 'VM entry', 'vCPU', 'stage', 'config key', 'layer',
] as const;
export type NameKind = (typeof NAME_KINDS)[number];

/** What a check needs to know of the scenario: its configuration, and the devices its qemu-kvm has. */
export interface NameContext { config: VmConfig; devices?: readonly string[] }

/** The handlers an era's table names, with the 6.1 fastpath recorded where the table entry would be. */
function eraHandlers(config: VmConfig): string[] {
  const era = kvmEra(config.profile);
  const names = new Set(Object.values(era.exitHandlers) as string[]);
  if (era.features.fastpathIcr) names.add('handle_fastpath_set_msr_irqoff');
  return [...names];
}

const allHandlers = (): string[] => [...new Set([LINUX_6_1, QEMU_KVM_2013].flatMap((e) => Object.values(e.exitHandlers) as string[]).concat('handle_fastpath_set_msr_irqoff'))];

const LAYER_NAMES = ['guest process', 'guest kernel', 'VMX CPU', 'kvm', 'qemu-kvm', 'vhost-user-blk', 'host kernel'];

/** Every name of a kind the model knows (for this configuration where it matters), sorted. */
export function knownNames(kind: NameKind, ctx: NameContext): string[] {
  const c = ctx.config;
  const list = ((): string[] => {
    switch (kind) {
      case 'host syscall': return [...HOST_SYSCALL_NAMES, ...KVM_IOCTL_NAMES.values()];
      case 'KVM ioctl': return [...KVM_IOCTL_NAMES.values()];
      case 'exit reason': return Object.keys(EXIT_REASON);
      case 'exit handler': return eraHandlers(c);
      case 'userspace exit': return [...KVM_EXIT_NAMES.values()].map((n) => `KVM_EXIT_${n}`);
      case 'event': return [...eventNames(), ...KVM_IOCTL_NAMES.values()].filter((n) => !n.includes(' '));
      case 'thread': return [MAIN_LOOP_THREAD, ...Array.from({ length: c.vcpus }, (_, i) => `CPU ${i}/KVM`)];
      case 'device': return [...(ctx.devices ?? []), 'unassigned'];
      case 'errno': return Object.keys(ERRNO);
      case 'kvm_run field': return Object.keys(kvm_run);
      case 'VM entry': return ['VMLAUNCH', 'VMRESUME'];
      case 'vCPU': return Array.from({ length: c.vcpus }, (_, i) => String(i));
      case 'stage': return Array.from({ length: 10 }, (_, i) => String(i + 1));
      case 'config key': return configKeys();
      case 'layer': return LAYER_NAMES;
    }
  })();
  return [...new Set(list)].sort();
}

/** Up to three known names close to `value`, closest first. */
export function closestNames(value: string, known: readonly string[]): string[] {
  const limit = Math.max(2, Math.ceil(value.length / 4));
  return known.map((k) => ({ k, d: editDistance(value.toLowerCase(), k.toLowerCase()) })).filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k)).slice(0, 3).map((x) => x.k);
}

/**
 * Why `value` is not a name of this kind in this scenario, in one line, or null when it is. A name the
 * model knows only in another configuration says which (a handler of the other era, a vCPU the VM
 * does not have).
 */
export function unknownName(kind: NameKind, value: string, ctx: NameContext): string | null {
  const known = knownNames(kind, ctx);
  if (known.includes(value)) return null;
  const c = ctx.config;
  if (kind === 'vCPU') return `there is no vCPU ${value}: the VM has ${c.vcpus} (vCPU 0${c.vcpus > 1 ? ` to ${c.vcpus - 1}` : ''})`;
  if (kind === 'stage') return `there is no stage ${value}: the walk's stages are 1 to 10`;
  if (kind === 'thread') {
    const m = /^CPU (\d+)\/KVM$/.exec(value);
    if (m) return `there is no thread '${value}': the VM has ${c.vcpus} vCPU thread(s) (${known.filter((k) => k.startsWith('CPU')).join(', ')})`;
  }
  if (kind === 'exit handler' && allHandlers().includes(value)) {
    const era = kvmEra(c.profile);
    const other = c.profile === 'linux-6.1' ? QEMU_KVM_2013 : LINUX_6_1;
    const reasons = Object.entries(other.exitHandlers).filter(([, h]) => h === value).map(([r]) => r);
    const here = [...new Set(reasons.map((r) => era.exitHandlers[r as keyof typeof era.exitHandlers]).filter((h): h is string => !!h))];
    return `'${value}' is not in kvm's exit-handler table under profile ${c.profile}${here.length ? ` — there ${reasons.join('/')} is handled by ${here.join(', ')}` : ''}`;
  }
  const near = closestNames(value, known);
  return `unknown ${kind} '${value}'${near.length ? ` — did you mean ${near.join(', ')}?` : ''}`;
}

/**
 * Why this configuration can never produce `value` (so a step saying it is absent, or counting it,
 * could never fail), or null. Only where the mechanism decides it outright.
 */
export function neverProduced(kind: NameKind, value: string, config: VmConfig): string | null {
  if (kind !== 'host syscall' && kind !== 'KVM ioctl' && kind !== 'event') return null;
  const backend = config.disk.device === 'vhost-user-blk' ? null : config.disk.backend;
  if (/^io_uring_/.test(value) && backend !== 'io_uring') {
    return `${value} is io_uring's, and this VM's disk uses ${config.disk.device === 'vhost-user-blk' ? 'a vhost-user-blk backend' : `disk.backend ${config.disk.backend}`}`;
  }
  if (['io_setup', 'io_submit', 'io_getevents'].includes(value) && backend !== null && backend !== 'linux-aio') {
    return `${value} is Linux AIO's, and this VM's disk uses disk.backend ${backend}`;
  }
  if (value === 'KVM_INTERRUPT' && config.irqchip !== 'userspace') return `KVM_INTERRUPT is how qemu injects with irqchip userspace; this VM's irqchip is ${config.irqchip}`;
  return null;
}
