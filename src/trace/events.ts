// Event types of the trace. A layer declares each crossing or tracepoint it emits once,
// at module load, and records it with a small integer id and up to four numbers: no strings or
// objects are built on the hot path. Names and details are formatted only when someone reads.

/**
 * The boxes, top to bottom. The seed's six are on every walk; 'vhost-user-blk' is a separate host
 * process (a qemu-storage-daemon serving the disk over vhost-user) that appears only on that path.
 */
export const LAYERS = ['guest process', 'guest kernel', 'VMX CPU', 'kvm', 'qemu-kvm', 'vhost-user-blk', 'host kernel'] as const;
export type Layer = (typeof LAYERS)[number];

export type Kind =
  | 'syscall' | 'syscall-return' | 'instruction' | 'vm-exit' | 'exit-handler' | 'ioctl' | 'ioctl-return'
  | 'vm-entry' | 'emulation-complete' | 'irq' | 'aio-complete' | 'call' | 'tracepoint' | 'eventfd';

/** How a detail argument is shown: a number, a hex number, an interned string, or a named code. */
export type ArgFormat = 'dec' | 'hex' | 'str' | ((n: number) => string | number);
export interface ArgSpec { readonly name: string; readonly fmt: ArgFormat }

export interface EventType {
  readonly id: number;
  readonly kind: Kind;
  readonly from: Layer;
  readonly to: Layer;
  readonly name: string;
  readonly args: readonly ArgSpec[];
}

const types: EventType[] = [];
const byKey = new Map<string, EventType>();

/**
 * Declare an event type; declaring the same (kind, from, to, name) again with the same arguments
 * returns the same id. Declaring it with other arguments is a start-up error: one name, one detail
 * layout, so that how an event reads never depends on which walk declared it first.
 * `args` is a list like `['port:hex', 'size', 'device:str']`.
 */
export function defineEvent(kind: Kind, from: Layer, to: Layer, name: string,
  args: readonly (string | ArgSpec)[] = []): number {
  const key = `${kind}|${from}|${to}|${name}`;
  if (args.length > 4) throw new Error(`event ${key}: at most 4 detail arguments`);
  const specs = args.map((a): ArgSpec => {
    if (typeof a !== 'string') return a;
    const [n, f] = a.split(':');
    return { name: n!, fmt: (f as ArgFormat | undefined) ?? 'dec' };
  });
  const known = byKey.get(key);
  if (known) {
    const same = known.args.length === specs.length && known.args.every((a, i) => a.name === specs[i]!.name && a.fmt === specs[i]!.fmt);
    if (!same) {
      const show = (s: readonly ArgSpec[]) => `[${s.map((a) => (typeof a.fmt === 'string' ? `${a.name}:${a.fmt}` : `${a.name}:fn`)).join(', ')}]`;
      throw new Error(`event ${key} declared twice with different arguments: ${show(known.args)} and ${show(specs)}`);
    }
    return known.id;
  }
  const t: EventType = { id: types.length, kind, from, to, name, args: specs };
  types.push(t);
  byKey.set(key, t);
  return t.id;
}

/** The names of every event type declared so far. */
export function eventNames(): string[] {
  return [...new Set(types.map((t) => t.name))];
}

export function eventType(id: number): EventType {
  const t = types[id];
  if (!t) throw new Error(`unknown event type ${id}`);
  return t;
}

/** The sink every layer records into. `on` is false when nobody listens: then nothing is stored. */
export interface Tracer {
  on: boolean;
  rec(type: number, vcpu: number, a0?: number, a1?: number, a2?: number, a3?: number): void;
  /** Intern a string for a 'str' argument. */
  str(s: string): number;
}

export const NULL_TRACER: Tracer = { on: false, rec() {}, str() { return 0; } };
