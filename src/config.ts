// The VM configuration: YAML, validated against a JSON schema (ajv). Every error names the file,
// line and column, the key, and what was expected.

import * as fs from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isScalar, visit, type Document, type Node } from 'yaml';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, superblockProblem } from './ext2/layout';

export interface VmConfig {
  /**
   * A machine to start from: `seed` (the defaults: the talk's path) or `qemu-default` (what QEMU 9.0
   * gives a virtio-blk-pci disk when nothing is said: PRESETS). It replaces what earlier documents
   * (an earlier --set) configured; the other keys of its own document apply on top of it.
   */
  preset?: 'seed' | 'qemu-default';
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
  /**
   * The host kvm module's halt_poll_ns: how long a halted vCPU may poll before it blocks (absent:
   * KVM_HALT_POLL_NS_DEFAULT, 200000 on x86); 0 turns halt polling off. Linux 4.0 and later only.
   */
  halt_poll_ns?: number;
  /** What qemu does when the guest resets itself (a triple fault): reset the machine (absent), or with -no-reboot shut down. */
  on_triple_fault?: 'reset' | 'shutdown';
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
    /**
     * qemu's `event_idx` property: offer VIRTIO_RING_F_EVENT_IDX (absent: on, as in QEMU 9.0;
     * qemu-kvm 0.14 of the 2013 profile had no such feature).
     */
    event_idx?: boolean;
    /** The block size the model's mkfs.ext2 formats a fresh in-memory disk with (absent: 4096). */
    ext2_block_size?: 1024 | 4096;
  };
}

/**
 * The software each profile runs, as `explain` names it: the kvm, guest kernel and qemu whose code
 * and names the walk follows.
 */
export const PROFILE_STACK: Readonly<Record<VmConfig['profile'], string>> = {
  'linux-6.1': 'Linux 6.1 host and guest, QEMU 9.0',
  'qemu-kvm-2013': 'Fedora 15: Linux 3.0 kvm, Linux 3.2 guest, qemu-kvm 0.14',
};

export const DEFAULT_CONFIG: VmConfig = {
  profile: 'linux-6.1',
  vcpus: 1,
  memory_mib: 512,
  irqchip: 'kernel',
  ioeventfd: false,
  irqfd: false,
  apicv: false,
  disk: { transport: 'virtio-pci-legacy', io_base: 0xc040, size_mib: 64, backend: 'linux-aio', image: null, vectors: 0, device: 'virtio-blk' },
};

/**
 * The machines `preset` names. `seed` is the talk's path (DEFAULT_CONFIG: legacy virtio-pci, INTx, no
 * ioeventfd, aio=native with cache=none). `qemu-default` is what QEMU 9.0 does for
 * `-drive file=IMG,if=none,id=d -device virtio-blk-pci,drive=d` on kvm when nothing more is said:
 * virtio-pci's ioeventfd property on, vectors = num-queues + 1 (one queue for one vCPU: 2), the
 * transitional device bound by Linux through its modern interface (virtio_pci_modern_probe
 * first), the vectors delivered through irqfd (virtio_blk_start_ioeventfd sets the guest notifiers,
 * kvm_msi_via_irqfd_enabled), and the drive's defaults cache=writeback and aio=threads.
 */
export const PRESETS: Readonly<Record<NonNullable<VmConfig['preset']>, Record<string, unknown>>> = {
  seed: {},
  'qemu-default': {
    ioeventfd: true, irqfd: true,
    disk: { transport: 'virtio-pci-modern', vectors: 2, backend: 'threads', cache: 'writeback' },
  },
};

export const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    preset: { enum: ['seed', 'qemu-default'] },
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
    halt_poll_ns: { type: 'integer', minimum: 0, maximum: 0xffffffff },
    on_triple_fault: { enum: ['reset', 'shutdown'] },
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

/** The configuration's JSON schema: every key, its type and allowed values. */
export const CONFIG_SCHEMA = SCHEMA;

/** Every configuration key, dotted for nested ones (`disk.backend`). */
export function configKeys(): string[] {
  const out: string[] = [];
  const walk = (props: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(props)) {
      const sub = (v as { properties?: Record<string, unknown> }).properties;
      if (sub) walk(sub, `${prefix}${k}.`);
      else out.push(prefix + k);
    }
  };
  walk(SCHEMA.properties, '');
  return out;
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile(SCHEMA);

/** A user error in configuration: printed as one line, exit code 2. */
export class ConfigError extends Error {}


/** Settings that exist in the schema but whose mechanism is not modelled yet: refused, not ignored. */
const NOT_MODELLED: [(c: VmConfig) => boolean, string | ((c: VmConfig) => string)][] = [
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
  // MSI-X messages are signalled to kvm (KVM_SIGNAL_MSI, irqfd routes); qemu's own APIC taking them
  // (apic_send_msi, kernel_irqchip=off) is not modelled.
  [(c) => c.disk.vectors > 0 && c.irqchip === 'userspace', 'disk.vectors: 2 (MSI-X) with irqchip: userspace (MSI delivery to qemu\'s own APIC)'],
  // APICv needs the LAPIC in kvm.
  [(c) => c.apicv && c.irqchip === 'userspace', "apicv: true with irqchip: userspace (APICv needs kvm's local APIC)"],
];

/**
 * What profile qemu-kvm-2013 refuses: settings of a later kernel or qemu than the seed's Linux 3.2
 * (Fedora 15's 2.6.42) and qemu-kvm 0.14 — and one of theirs the model does not run.
 */
const NOT_IN_2013: [key: string, test: (c: VmConfig) => boolean, why: string][] = [
  ['halt_poll_ns', (c) => c.halt_poll_ns !== undefined, "'halt_poll_ns' does not exist with profile qemu-kvm-2013 (halt polling came with Linux 4.0)"],
  ['irqchip', (c) => c.irqchip === 'split', "'irqchip' split does not exist with profile qemu-kvm-2013 (KVM_CAP_SPLIT_IRQCHIP came with Linux 4.4)"],
  ['apicv', (c) => c.apicv, "'apicv' does not exist with profile qemu-kvm-2013 (kvm used APIC virtualization from Linux 3.9)"],
  ['irqfd', (c) => c.irqfd, "'irqfd' with profile qemu-kvm-2013: qemu-kvm 0.14 gave irqfds to vhost only; virtio-blk raised its MSI-X vectors with KVM_IRQ_LINE_STATUS"],
  ['accel', (c) => c.accel !== undefined, "'accel' does not exist with profile qemu-kvm-2013 (bus-lock-ratelimit and notify-vmexit came with QEMU 7)"],
  ['disk.transport', (c) => c.disk.transport === 'virtio-pci-modern', "'disk.transport' virtio-pci-modern does not exist with profile qemu-kvm-2013 (virtio 1.0 came with Linux 4.0 and QEMU 2.4)"],
  ['disk.backend', (c) => c.disk.backend === 'io_uring', "'disk.backend' io_uring does not exist with profile qemu-kvm-2013 (io_uring came with Linux 5.1)"],
  ['disk.device', (c) => c.disk.device === 'vhost-user-blk', "'disk.device' vhost-user-blk does not exist with profile qemu-kvm-2013 (it came with QEMU 2.12)"],
  ['disk.event_idx', (c) => c.disk.event_idx === true, "'disk.event_idx' does not exist with profile qemu-kvm-2013 (VIRTIO_RING_F_EVENT_IDX came with QEMU 0.15 and Linux 3.0)"],
  ['disk.cache', (c) => c.disk.cache === 'directsync', "'disk.cache' directsync does not exist with profile qemu-kvm-2013 (it came with QEMU 1.0)"],
  ['disk.cache', (c) => c.disk.cache === 'writethrough', "'disk.cache' writethrough with profile qemu-kvm-2013 is not modelled (qemu-kvm 0.14 opened the image O_DSYNC)"],
];

export function notModelled(c: VmConfig): string | undefined {
  const m = NOT_MODELLED.find(([test]) => test(c))?.[1];
  return typeof m === 'function' ? m(c) : m;
}

function merge(base: VmConfig, over: Record<string, unknown>): VmConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    if ((k === 'disk' || k === 'accel') && v && typeof v === 'object') out[k] = { ...(out[k] as object | undefined), ...(v as object) };
    else out[k] = v;
  }
  return out as unknown as VmConfig;
}

/** The keys the schema allows under `parent` ('' for the top level). */
function keysOf(parent: string): string[] {
  return Object.keys(parent === 'disk' ? SCHEMA.properties.disk.properties : parent === 'accel' ? SCHEMA.properties.accel.properties : SCHEMA.properties);
}

/** Edit distance with adjacent transpositions counted as one edit (optimal string alignment), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to a misspelt one, if it is close enough to be what was meant. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) { best = k; bestD = d; }
  }
  return best !== undefined && bestD <= (best.length >= 5 ? 2 : 1) ? best : undefined;
}

function describe(e: ErrorObject, key: string): string {
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const parent = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
      const props = keysOf(parent);
      const near = closestKey(extra, props);
      return `unknown key '${parent ? parent + '.' : ''}${extra}' (expected one of: ${props.join(', ')})${near ? ` — did you mean ${near}?` : ''}`;
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

/** Where a key (or its value) is, for a message: "vm.yaml:3:5", or "--set disk.cache=none". */
type Locate = (path: string[], what: 'key' | 'value') => string;

/** Parse and validate configuration text; `where` names it in errors (a file path). */
export function parseConfig(text: string, where: string, base: VmConfig = DEFAULT_CONFIG): VmConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const pos = (offset: number) => { const p = lc.linePos(offset); return `${where}:${p.line}:${p.col}`; };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`${pos(e.pos[0])}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  const alias = firstAlias(doc);
  if (alias) throw new ConfigError(`${pos(alias.offset)}: YAML anchors and aliases are not accepted in a configuration (${alias.text}): write the value itself`);
  const locate: Locate = (path, what) => {
    if (what === 'key' && path.length > 0) {
      // An unknown key: point at the key itself.
      const parent = path.length > 1 ? nodeAt(doc, path.slice(0, -1)) : doc.contents;
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === path[path.length - 1]);
        if (pair && isScalar(pair.key) && pair.key.range) return pos(pair.key.range[0]);
      }
    }
    for (let n = path.length; n >= 1; n--) {
      const node = nodeAt(doc, path.slice(0, n));
      if (node?.range) return pos(node.range[0]);
    }
    return `${where}:1:1`;
  };
  return validateConfig(doc.toJS() as unknown, base, locate);
}

/** The schema's checks alone: every key known, every value of its type and range. */
function checkSchema(data: unknown, locate: Locate): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(`${locate([], 'value')}: expected a mapping of configuration keys`);
  if (!validate(data)) {
    const e = validate.errors![0]!;
    const path = e.instancePath.split('/').filter(Boolean);
    const extra = e.keyword === 'additionalProperties' ? [(e.params as { additionalProperty: string }).additionalProperty] : [];
    throw new ConfigError(`${extra.length ? locate([...path, ...extra], 'key') : locate(path, 'value')}: ${describe(e, path.join('.'))}`);
  }
}

/** Check configuration data against the schema and the combinations qemu refuses; merge it over `base`. */
function validateConfig(data: unknown, base: VmConfig, locate: Locate): VmConfig {
  if (data === null || data === undefined) return base;
  checkSchema(data, locate);
  const given = data as { disk?: Record<string, unknown> };
  // A preset starts over from its machine; the document's other keys apply to it.
  const preset = (data as { preset?: VmConfig['preset'] }).preset;
  const merged = merge(preset ? merge(DEFAULT_CONFIG, PRESETS[preset]) : base, data as Record<string, unknown>);
  // block/file-posix.c raw_open_common: Linux AIO needs O_DIRECT, which only cache=none|directsync give.
  const cache = merged.disk.cache ?? 'none';
  if (merged.disk.backend === 'linux-aio' && cache !== 'none' && cache !== 'directsync') {
    throw new ConfigError(`${locate(given.disk?.cache !== undefined ? ['disk', 'cache'] : ['disk', 'backend'], 'value')}: 'disk.cache' ${cache} needs 'disk.backend' threads or io_uring: `
      + 'qemu refuses aio=native without O_DIRECT (cache.direct=on: cache none or directsync)');
  }
  // The 2013 profile is one era: Linux 3.2 and qemu-kvm 0.14, with nothing they did not have.
  if (merged.profile === 'qemu-kvm-2013') {
    for (const [key, test, why] of NOT_IN_2013) {
      if (!test(merged)) continue;
      // Point at the key when the document set it, else at the profile that rules it out.
      const k = key.split('.');
      const set = k.reduce<unknown>((o, part) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[part] : undefined), data) !== undefined;
      throw new ConfigError(`${locate(set ? k : ['profile'], 'value')}: ${why}`);
    }
  }
  // -drive file=: qemu cannot start without its image ("Could not open '…': No such file or directory").
  if (merged.disk.image && given.disk?.image) {
    let problem: string | undefined;
    try { if (!fs.statSync(merged.disk.image).isFile()) problem = 'not a regular file'; } catch (e) { problem = (e as NodeJS.ErrnoException).code ?? String(e); }
    if (problem) throw new ConfigError(`${locate(['disk', 'image'], 'value')}: 'disk.image' ${merged.disk.image} cannot be opened (${problem})`);
    // The guest mounts the disk as its ext2 root: an image it cannot mount is refused here.
    const notExt2 = ext2Problem(merged.disk.image);
    if (notExt2) {
      throw new ConfigError(`${locate(['disk', 'image'], 'value')}: 'disk.image' ${merged.disk.image} is not an ext2 file system the guest can mount: `
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

/**
 * The first anchor (&a) or alias (*a) in a document, if any. A configuration is a handful of plain
 * values: aliases only serve to write one value twice, and expanding them unchecked lets a few lines
 * of YAML stand for an enormous document (an alias bomb), so they are refused before anything is built.
 */
function firstAlias(doc: Document): { offset: number; text: string } | undefined {
  let found: { offset: number; text: string } | undefined;
  visit(doc, {
    Alias(_k, n) { found = { offset: n.range?.[0] ?? 0, text: `*${n.source}` }; return visit.BREAK; },
    Node(_k, n) {
      if (n.anchor) { found = { offset: n.range?.[0] ?? 0, text: `&${n.anchor}` }; return visit.BREAK; }
      return undefined;
    },
  });
  return found;
}

export function loadConfigFile(path: string, base: VmConfig = DEFAULT_CONFIG): VmConfig {
  let text: string;
  try { text = fs.readFileSync(path, 'utf8'); } catch (e) {
    throw new ConfigError(`${path}: cannot read configuration file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseConfig(text, path, base);
}

/**
 * `--set disk.backend=threads`: one key, dotted, and a YAML value. Errors name the `--set` argument
 * and the key, not a position: `--set disk.cahce=none: unknown key 'cahce' in disk — did you mean cache?`.
 */
export function applySet(base: VmConfig, assignment: string): VmConfig {
  return applySets(base, [assignment]);
}

/** One `--set KEY=VALUE`: its keys (checked one level at a time) and its value as a nested document. */
function parseSet(assignment: string): { keys: string[]; data: Record<string, unknown> } {
  const where = `--set ${assignment}`;
  const m = /^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)=(.*)$/s.exec(assignment);
  if (!m) throw new ConfigError(`${where}: expected KEY=VALUE, e.g. --set disk.backend=threads`);
  const keys = m[1]!.split('.');
  // The keys first, one level at a time: a misspelt one is named with its section.
  for (let i = 0; i < keys.length; i++) {
    const parent = keys.slice(0, i).join('.');
    if (i > 0 && parent !== 'disk' && parent !== 'accel') throw new ConfigError(`${where}: '${parent}' has no keys below it (it takes a value: --set ${parent}=VALUE)`);
    const known = keysOf(parent);
    if (!known.includes(keys[i]!)) {
      const near = closestKey(keys[i]!, known);
      throw new ConfigError(`${where}: unknown key '${keys[i]}'${parent ? ` in ${parent}` : ''}${near ? ` — did you mean ${near}?` : ` (expected one of: ${known.join(', ')})`}`);
    }
  }
  const doc = parseDocument(m[2]!, { prettyErrors: false });
  if (doc.errors.length > 0) throw new ConfigError(`${where}: '${m[2]}' is not a YAML value (${doc.errors[0]!.message.split('\n')[0]})`);
  const alias = firstAlias(doc);
  if (alias) throw new ConfigError(`${where}: YAML anchors and aliases are not accepted (${alias.text}): write the value itself`);
  let data: unknown = doc.toJS();
  for (let i = keys.length - 1; i >= 0; i--) data = { [keys[i]!]: data };
  return { keys, data: data as Record<string, unknown> };
}

/**
 * Every `--set` of a command line, as one document: each is checked alone (its key, its value's
 * type), then they are merged (a later one wins for the same key) and the whole is checked as a
 * configuration file is — so `--set disk.backend=linux-aio --set disk.cache=none` is the same
 * machine in either order, and `--set preset=…` starts from the preset whatever its place. An error
 * names the `--set` of the key it is about.
 */
export function applySets(base: VmConfig, assignments: readonly string[]): VmConfig {
  if (assignments.length === 0) return base;
  const sets = assignments.map((a) => ({ a, ...parseSet(a) }));
  for (const x of sets) checkSchema(x.data, () => `--set ${x.a}`);
  const doc: Record<string, unknown> = {};
  for (const { data } of sets) {
    for (const [k, v] of Object.entries(data)) {
      const d = doc[k];
      doc[k] = v && typeof v === 'object' && !Array.isArray(v) && d && typeof d === 'object' ? { ...(d as object), ...(v as object) } : v;
    }
  }
  // The --set a path comes from: the last one whose key is the path or a part of it (or contains it).
  const locate: Locate = (path) => {
    const p = path.join('.');
    const hit = [...sets].reverse().find((x) => { const k = x.keys.join('.'); return p === k || p.startsWith(`${k}.`) || k.startsWith(`${p}.`); });
    return hit ? `--set ${hit.a}` : sets.map((x) => `--set ${x.a}`).join(' ');
  };
  return validateConfig(doc, base, locate);
}
