// Every constant and struct offset of src/uapi/*.ts, keyed by its real C name, with the C expression
// that yields it and the UAPI header that defines it. test/abi.test.ts compiles these expressions
// against the installed headers (linux-libc-dev) and checks each value; `exitpath constants --json`
// prints the same table.
//
// The table is built by walking the exports of the uapi modules, so a new export is picked up
// automatically. An export that is not a UAPI fact must be listed in NOT_UAPI (or DERIVED) below;
// abiUnclassified() reports anything that is neither, and the test fails on it.
//
// Left out on purpose (NOT_UAPI), because no UAPI header defines them:
//   - vmx.ts   VMX_IO_* exit-qualification bits: Intel SDM Vol. 3C Table 28-5 / kvm-unit-tests names.
//   - kvm.ts   PAGE_SIZE (the kernel's, not exported to userspace), KVM_VCPU_MMAP_SIZE (this
//              project's choice of three pages; the kernel reports its size via KVM_GET_VCPU_MMAP_SIZE).
//   - virtio.ts SECTOR_SIZE / SECTOR_SHIFT (block-layer convention, not UAPI) and the PCI ids
//              PCI_VENDOR_ID_REDHAT_QUMRANET / PCI_DEVICE_ID_VIRTIO_BLOCK (QEMU include/hw/pci/pci.h).
// Also left out (DERIVED): KVM_IOCTLS, which only re-lists the KVM_* ioctl exports already in the table.
// Functions and lookup Maps (KVM_EXIT_NAMES, VMX_EXIT_REASONS, ...) are not constants and are skipped.

import * as aio from './aio';
import * as errno from './errno';
import * as io_uring from './io_uring';
import * as kvm from './kvm';
import * as virtio from './virtio';
import * as vmx from './vmx';

export interface AbiEntry {
  /** The real C name: a macro (`KVM_RUN`), `struct.field` (`kvm_run.io.port`) or `sizeof(struct x)`. */
  name: string;
  /** The value src/uapi/*.ts uses. */
  value: number;
  /** C expression that must evaluate to `value`, e.g. `offsetof(struct kvm_run, io.port)`. */
  c: string;
  /** The UAPI header (as `#include <...>` path) that defines it. */
  header: string;
  /** Where the value lives in TypeScript: `<module>.<export>[.<key>]`, e.g. `kvm.KVM_EXIT.IO`. */
  ts: string;
}

const MODULES = { aio, errno, io_uring, kvm, virtio, vmx } as const;

/** Exports that are not defined by any Linux UAPI header, with where they do come from. */
export const NOT_UAPI: Readonly<Record<string, string>> = {
  'vmx.VMX_IO_SIZE_MASK': 'Intel SDM Vol. 3C Table 28-5 (kvm-unit-tests x86/vmx.h)',
  'vmx.VMX_IO_IN': 'Intel SDM Vol. 3C Table 28-5 (kvm-unit-tests x86/vmx.h)',
  'vmx.VMX_IO_STRING': 'Intel SDM Vol. 3C Table 28-5 (kvm-unit-tests x86/vmx.h)',
  'vmx.VMX_IO_REP': 'Intel SDM Vol. 3C Table 28-5 (kvm-unit-tests x86/vmx.h)',
  'vmx.VMX_IO_OPRAND_IMM': 'Intel SDM Vol. 3C Table 28-5 (kvm-unit-tests x86/vmx.h)',
  'vmx.VMX_IO_PORT_SHIFT': 'Intel SDM Vol. 3C Table 28-5 (kvm-unit-tests x86/vmx.h)',
  'kvm.PAGE_SIZE': 'x86 page size; the kernel does not export PAGE_SIZE to userspace',
  'kvm.KVM_VCPU_MMAP_SIZE': 'this project\'s choice (three pages); the kernel reports KVM_GET_VCPU_MMAP_SIZE',
  'virtio.SECTOR_SIZE': 'block-layer convention (include/linux/blk_types.h), not UAPI',
  'virtio.SECTOR_SHIFT': 'block-layer convention (include/linux/blk_types.h), not UAPI',
  'virtio.PCI_VENDOR_ID_REDHAT_QUMRANET': 'QEMU include/hw/pci/pci.h',
  'virtio.PCI_DEVICE_ID_VIRTIO_BLOCK': 'QEMU include/hw/pci/pci.h',
};

/** Exports that only repeat values already in the table. */
const DERIVED: ReadonlySet<string> = new Set(['kvm.KVM_IOCTLS']);

/** Objects of `<suffix>: number` whose C name is `<prefix><suffix>`. */
const PREFIXED: Readonly<Record<string, string>> = {
  'vmx.EXIT_REASON': 'EXIT_REASON_',
  'kvm.KVM_EXIT': 'KVM_EXIT_',
  'errno.ERRNO': '',
};

/** Exports whose TS name differs from the C expression. */
const RENAMED: Readonly<Record<string, string>> = {
  // ((msix_enabled) ? 24 : 20) in virtio_pci.h
  'virtio.VIRTIO_PCI_CONFIG_OFF_NO_MSIX': 'VIRTIO_PCI_CONFIG_OFF(0)',
  'virtio.VIRTIO_PCI_CONFIG_OFF_MSIX': 'VIRTIO_PCI_CONFIG_OFF(1)',
};

/** Offset tables: exported objects named like the C struct (lower-case), `sizeof` key = sizeof. */
const STRUCT_EXPORT = /^[a-z][a-z0-9_]*$/;

/** The header that defines a macro or struct, by name; undefined if unknown. */
function headerFor(mod: string, cName: string, value: number): string | undefined {
  if (mod === 'errno') {
    // asm-generic/errno-base.h holds EPERM..ERANGE (1..34); the rest are in asm-generic/errno.h.
    // (Userspace reaches both through <errno.h>; the test also includes that.)
    return value <= 34 ? 'asm-generic/errno-base.h' : 'asm-generic/errno.h';
  }
  const rules: [RegExp, string][] = [
    [/^(EXIT_REASON_|VMX_EXIT_REASONS_)/, 'asm/vmx.h'],
    [/^(kvm_regs$|KVM_PIO_PAGE_OFFSET$|KVM_COALESCED_MMIO_PAGE_OFFSET$|KVM_RUN_X86_|KVM_IRQCHIP_|KVM_CPUID_FLAG_|kvm_cpuid2$|kvm_cpuid_entry2$|KVM_MSR_FILTER_|kvm_msr_filter)/, 'asm/kvm.h'],
    [/^(KVM|kvm_)/, 'linux/kvm.h'],
    [/^VIRTIO_(PCI|MSI)_/, 'linux/virtio_pci.h'],
    [/^(VIRTIO_CONFIG_|VIRTIO_F_)/, 'linux/virtio_config.h'],
    [/^(VRING_|VIRTIO_RING_|vring_)/, 'linux/virtio_ring.h'],
    [/^(VIRTIO_BLK_|virtio_blk_)/, 'linux/virtio_blk.h'],
    [/^VIRTIO_ID_/, 'linux/virtio_ids.h'],
    [/^(IOCB_|iocb$|io_event$)/, 'linux/aio_abi.h'],
    [/^iovec$/, 'linux/uio.h'],
    [/^(IORING_|io_uring_|io_sqring_|io_cqring_)/, 'linux/io_uring.h'],
  ];
  for (const [re, h] of rules) if (re.test(cName)) return h;
  return undefined;
}

interface Walk { entries: AbiEntry[]; unclassified: string[] }

function walk(): Walk {
  const entries: AbiEntry[] = [];
  const unclassified: string[] = [];
  const scalar = (mod: string, ts: string, name: string, value: number, c = name): void => {
    const header = headerFor(mod, name, value);
    if (header === undefined) unclassified.push(`${ts} (no header known for ${name})`);
    else entries.push({ name, value, c, header, ts });
  };

  for (const [mod, ns] of Object.entries(MODULES)) {
    for (const [key, val] of Object.entries(ns as Record<string, unknown>)) {
      const ts = `${mod}.${key}`;
      if (typeof val === 'function' || val instanceof Map || val instanceof Set) continue;
      if (ts in NOT_UAPI || DERIVED.has(ts)) continue;
      if (typeof val === 'number') {
        const c = RENAMED[ts] ?? key;
        scalar(mod, ts, c, val, c);
      } else if (val !== null && typeof val === 'object' && ts in PREFIXED) {
        for (const [k, v] of Object.entries(val as Record<string, unknown>)) {
          if (typeof v === 'number') scalar(mod, `${ts}.${k}`, `${PREFIXED[ts]}${k}`, v);
          else unclassified.push(`${ts}.${k}`);
        }
      } else if (val !== null && typeof val === 'object' && STRUCT_EXPORT.test(key)) {
        const header = headerFor(mod, key, 0);
        if (header === undefined) { unclassified.push(`${ts} (no header known for struct ${key})`); continue; }
        for (const [field, v] of Object.entries(val as Record<string, unknown>)) {
          if (typeof v !== 'number') { unclassified.push(`${ts}.${field}`); continue; }
          const tsField = `${ts}.${field}`;
          if (field === 'sizeof') entries.push({ name: `sizeof(struct ${key})`, value: v, c: `sizeof(struct ${key})`, header, ts: tsField });
          else entries.push({ name: `${key}.${field}`, value: v, c: `offsetof(struct ${key}, ${field})`, header, ts: tsField });
        }
      } else {
        unclassified.push(ts);
      }
    }
  }
  // Plain code-unit order: deterministic whatever the locale.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  unclassified.sort();
  return { entries, unclassified };
}

/** Every UAPI constant and struct offset of src/uapi, keyed by real C name, sorted by name. */
export function abiTable(): AbiEntry[] {
  return walk().entries;
}

/** uapi exports that are neither in abiTable() nor documented as NOT_UAPI / derived (should be empty). */
export function abiUnclassified(): string[] {
  return walk().unclassified;
}

/** The distinct headers abiTable() draws on, sorted. */
export function abiHeaders(table: readonly AbiEntry[] = abiTable()): string[] {
  return [...new Set(table.map((e) => e.header))].sort();
}
