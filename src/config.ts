// The VM configuration (DESIGN §4): YAML, validated against a JSON schema (ajv). Every error names
// the file, line and column, the key, and what was expected.

import * as fs from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node } from 'yaml';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, superblockProblem } from './ext2/layout';

export interface VmConfig {
  profile: 'linux-6.1' | 'qemu-kvm-2013';
  vcpus: number;
  memory_mib: number;
  irqchip: 'kernel' | 'split' | 'userspace';
  /** The host CPU's VT-x features (absent: skylake-sp). The cost figures stay Skylake-SP's. */
  host_cpu?: 'skylake-sp' | 'sapphire-rapids';
  /** qemu's -cpu: `host`, or `host,-flag,...` to take CPUID features away (absent: host). */
  cpu?: string;
  /** qemu's -accel kvm options (absent: QEMU 8's defaults: bus-lock exits off, notify-vmexit=run, window 0). */
  accel?: { bus_lock_ratelimit?: number; notify_vmexit?: 'run' | 'internal-error' | 'disable'; notify_window?: number };
  ioeventfd: boolean;
  irqfd: boolean;
  apicv: boolean;
  disk: {
    transport: 'virtio-pci-legacy' | 'virtio-pci-modern';
    io_base: number;
    size_mib: number;
    backend: 'linux-aio' | 'threads' | 'io_uring';
    image: string | null;
    /** -drive cache= (absent: none, the seed's). linux-aio needs none or directsync (O_DIRECT). */
    cache?: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
    /** -drive werror= (absent: enospc, qemu's default). */
    werror?: 'report' | 'ignore' | 'stop' | 'enospc';
    /** -drive rerror= (absent: report, qemu's default). */
    rerror?: 'report' | 'ignore' | 'stop';
    /** qemu's virtio-blk-pci `vectors`: 0 = legacy INTx (the seed's path), 2 = MSI-X (config + queue). */
    vectors: number;
    /** virtio-blk (qemu serves the queue) or vhost-user-blk (a qemu-storage-daemon process does). */
    device: 'virtio-blk' | 'vhost-user-blk';
    /** qemu's `event_idx` property: offer VIRTIO_RING_F_EVENT_IDX (on by default, as in qemu). */
    event_idx: boolean;
    /** The block size the model's mkfs.ext2 formats a fresh in-memory disk with (absent: 4096). */
    ext2_block_size?: 1024 | 4096;
  };
}

export const DEFAULT_CONFIG: VmConfig = {
  profile: 'linux-6.1',
  vcpus: 1,
  memory_mib: 512,
  irqchip: 'kernel',
  ioeventfd: false,
  irqfd: false,
  apicv: false,
  disk: { transport: 'virtio-pci-legacy', io_base: 0xc040, size_mib: 64, backend: 'linux-aio', image: null, vectors: 0, device: 'virtio-blk', event_idx: true },
};

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    profile: { enum: ['linux-6.1', 'qemu-kvm-2013'] },
    vcpus: { type: 'integer', minimum: 1, maximum: 64 },
    memory_mib: { type: 'integer', minimum: 16, maximum: 4096 },
    irqchip: { enum: ['kernel', 'split', 'userspace'] },
    host_cpu: { enum: ['skylake-sp', 'sapphire-rapids'] },
    cpu: { type: 'string', pattern: '^host(,-(x2apic|rdrand|rdseed|invpcid|umip|pku|xsave))*$' },
    accel: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bus_lock_ratelimit: { type: 'integer', minimum: 0 },
        notify_vmexit: { enum: ['run', 'internal-error', 'disable'] },
        notify_window: { type: 'integer', minimum: 0, maximum: 0x7fffffff },
      },
    },
    ioeventfd: { type: 'boolean' },
    irqfd: { type: 'boolean' },
    apicv: { type: 'boolean' },
    disk: {
      type: 'object',
      additionalProperties: false,
      properties: {
        transport: { enum: ['virtio-pci-legacy', 'virtio-pci-modern'] },
        io_base: { type: 'integer', minimum: 0x100, maximum: 0xffc0, multipleOf: 0x40 },
        size_mib: { type: 'integer', minimum: 1, maximum: 65536 },
        backend: { enum: ['linux-aio', 'threads', 'io_uring'] },
        image: { type: ['string', 'null'], minLength: 1 },
        cache: { enum: ['none', 'writeback', 'writethrough', 'directsync', 'unsafe'] },
        werror: { enum: ['report', 'ignore', 'stop', 'enospc'] },
        rerror: { enum: ['report', 'ignore', 'stop'] },
        vectors: { enum: [0, 2] },
        device: { enum: ['virtio-blk', 'vhost-user-blk'] },
        event_idx: { type: 'boolean' },
        ext2_block_size: { enum: [1024, 4096] },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile(SCHEMA);

/** A user error in configuration: printed as one line, exit code 2. */
export class ConfigError extends Error {}

/** Settings that exist in the schema but whose mechanism is not modelled yet: refused, not ignored. */
const NOT_MODELLED: [(c: VmConfig) => boolean, string][] = [
  // SMP: the application processors come up by INIT/SIPI through kvm's local APICs (6.1 model).
  // qemu's own APIC models only self-IPIs, and the 2013 era's SIPI path (KVM_MP_STATE_SIPI_RECEIVED) is not modelled.
  [(c) => c.vcpus > 1 && c.irqchip === 'userspace', 'vcpus above 1 with irqchip: userspace (IPIs need kvm\'s local APICs)'],
  [(c) => c.vcpus > 1 && c.profile === 'qemu-kvm-2013', 'vcpus above 1 with profile: qemu-kvm-2013'],
  // qemu binds irqfds to MSI routes (kvm_virtio_pci_vector_use); INTx irqfd with resample is not modelled.
  [(c) => c.irqfd && c.disk.vectors === 0, 'irqfd: true with INTx (set disk.vectors: 2 for MSI-X)'],
  // The backend gets its kicks from an ioeventfd and raises interrupts through an irqfd on an MSI-X vector.
  [(c) => c.disk.device === 'vhost-user-blk' && !(c.ioeventfd && c.irqfd && c.disk.vectors === 2),
    'disk.device: vhost-user-blk without ioeventfd: true, irqfd: true and disk.vectors: 2'],
  [(c) => c.disk.device === 'vhost-user-blk' && c.disk.backend !== 'linux-aio', 'a vhost-user-blk backend other than linux-aio'],
  // APICv needs the LAPIC in kvm.
  [(c) => c.apicv && c.irqchip === 'userspace', "apicv: true with irqchip: userspace (APICv needs kvm's local APIC)"],
];

export function notModelled(c: VmConfig): string | undefined {
  return NOT_MODELLED.find(([test]) => test(c))?.[1];
}

function merge(base: VmConfig, over: Record<string, unknown>): VmConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    if ((k === 'disk' || k === 'accel') && v && typeof v === 'object') out[k] = { ...(out[k] as object | undefined), ...(v as object) };
    else out[k] = v;
  }
  return out as unknown as VmConfig;
}

function describe(e: ErrorObject, key: string): string {
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const parent = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
      const props = Object.keys(parent === 'disk' ? SCHEMA.properties.disk.properties : parent === 'accel' ? SCHEMA.properties.accel.properties : SCHEMA.properties);
      return `unknown key '${parent ? parent + '.' : ''}${extra}' (expected one of: ${props.join(', ')})`;
    }
    case 'enum': return `'${key}' must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type': return `'${key}' must be ${(e.params as { type: string | string[] }).type.toString().replace(',', ' or ')}`;
    case 'pattern': return key === 'cpu' ? `'cpu' must be host, or host followed by ,-flag for flags among x2apic, rdrand, rdseed, invpcid, umip, pku, xsave`
      : `'${key}' ${e.message ?? 'is invalid'}`;
    default: return `'${key}' ${e.message ?? 'is invalid'}`;
  }
}

function nodeAt(doc: Document, path: string[]): Node | undefined {
  let n: unknown = doc.contents;
  for (const k of path) {
    if (!isMap(n)) return undefined;
    const pair = n.items.find((p) => isScalar(p.key) && String(p.key.value) === k);
    if (!pair) return undefined;
    n = pair.value ?? pair.key;
  }
  return n as Node | undefined;
}

/** Parse and validate configuration text; `where` names it in errors (a file path or "--set"). */
export function parseConfig(text: string, where: string, base: VmConfig = DEFAULT_CONFIG): VmConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const pos = (offset: number) => { const p = lc.linePos(offset); return `${where}:${p.line}:${p.col}`; };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${pos(e.pos[0])}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  const data = doc.toJS() as unknown;
  if (data === null || data === undefined) return base;
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`${where}:1:1: expected a mapping of configuration keys`);
  if (!validate(data)) {
    const e = validate.errors![0]!;
    const path = e.instancePath.split('/').filter(Boolean);
    const extra = e.keyword === 'additionalProperties' ? [(e.params as { additionalProperty: string }).additionalProperty] : [];
    const node = nodeAt(doc, [...path, ...extra]) ?? nodeAt(doc, path);
    const key = path.join('.');
    const loc = node?.range ? pos(node.range[0]) : `${where}:1:1`;
    // For an unknown key, point at the key itself.
    let keyLoc = loc;
    if (extra.length > 0) {
      const parent = path.length ? nodeAt(doc, path) : doc.contents;
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === extra[0]);
        if (pair && isScalar(pair.key) && pair.key.range) keyLoc = pos(pair.key.range[0]);
      }
    }
    throw new ConfigError(`${keyLoc}: ${describe(e, key)}`);
  }
  const merged = merge(base, data as Record<string, unknown>);
  // block/file-posix.c raw_open_common: Linux AIO needs O_DIRECT, which only cache=none|directsync give.
  const cache = merged.disk.cache ?? 'none';
  if (merged.disk.backend === 'linux-aio' && cache !== 'none' && cache !== 'directsync') {
    const node = nodeAt(doc, ['disk', 'cache']) ?? nodeAt(doc, ['disk', 'backend']);
    const loc = node?.range ? pos(node.range[0]) : `${where}:1:1`;
    throw new ConfigError(`${loc}: 'disk.cache' ${cache} needs 'disk.backend' threads or io_uring: `
      + 'qemu refuses aio=native without O_DIRECT (cache.direct=on: cache none or directsync)');
  }
  // -drive file=: qemu cannot start without its image ("Could not open '…': No such file or directory").
  const imageNode = nodeAt(doc, ['disk', 'image']);
  if (merged.disk.image && imageNode) {
    let problem: string | undefined;
    try { if (!fs.statSync(merged.disk.image).isFile()) problem = 'not a regular file'; } catch (e) { problem = (e as NodeJS.ErrnoException).code ?? String(e); }
    if (problem) throw new ConfigError(`${imageNode.range ? pos(imageNode.range[0]) : `${where}:1:1`}: 'disk.image' ${merged.disk.image} cannot be opened (${problem})`);
    // The guest mounts the disk as its ext2 root: an image it cannot mount is refused here.
    const notExt2 = ext2Problem(merged.disk.image);
    if (notExt2) {
      throw new ConfigError(`${imageNode.range ? pos(imageNode.range[0]) : `${where}:1:1`}: 'disk.image' ${merged.disk.image} is not an ext2 file system the guest can mount: `
        + `${notExt2} (make one with mkfs.ext2 -b 4096 ${merged.disk.image} 64M)`);
    }
  }
  return merged;
}

/** Why the guest could not mount the image at `path` as ext2, or undefined. */
function ext2Problem(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
    const sb = new Uint8Array(SUPERBLOCK_SIZE);
    const n = fs.readSync(fd, sb, 0, SUPERBLOCK_SIZE, SUPERBLOCK_OFFSET);
    if (n < SUPERBLOCK_SIZE) return `it is ${fs.fstatSync(fd).size} bytes long, too short to hold an ext2 superblock`;
    return superblockProblem(sb);
  } catch (e) {
    return `it cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function loadConfigFile(path: string, base: VmConfig = DEFAULT_CONFIG): VmConfig {
  let text: string;
  try { text = fs.readFileSync(path, 'utf8'); } catch (e) {
    throw new ConfigError(`${path}: cannot read configuration file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseConfig(text, path, base);
}

/** `--set disk.backend=threads`: one key, dotted, with a YAML scalar value. */
export function applySet(base: VmConfig, assignment: string): VmConfig {
  const m = /^([A-Za-z_][\w.]*)=(.*)$/.exec(assignment);
  if (!m) throw new ConfigError(`--set ${assignment}: expected KEY=VALUE, e.g. --set disk.backend=threads`);
  const keys = m[1]!.split('.');
  const yaml = keys.map((k, i) => '  '.repeat(i) + k + ':' + (i === keys.length - 1 ? ' ' + m[2] : '')).join('\n');
  return parseConfig(yaml, `--set ${assignment}`, base);
}
