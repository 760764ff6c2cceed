// A compact, append-only trace store: columns of typed arrays in fixed-size chunks, so recording
// an event is six stores and no allocation; decoding into objects happens only on read.

import type { Clock } from '../sim/clock';
import { eventType, type Tracer, type Layer, type Kind } from './events';

const CHUNK = 1 << 16;

/** Hex as C prints an unsigned 64-bit value: negative numbers are two's complement. */
export function hex(v: number): string {
  return '0x' + (v < 0 ? BigInt.asUintN(64, BigInt(Math.trunc(v))).toString(16) : v.toString(16));
}

interface Chunk { t: Float64Array; type: Uint16Array; vcpu: Int8Array; a: Float64Array }

function newChunk(): Chunk {
  return { t: new Float64Array(CHUNK), type: new Uint16Array(CHUNK), vcpu: new Int8Array(CHUNK), a: new Float64Array(CHUNK * 4) };
}

/** A decoded event, DESIGN §3. */
export interface TraceEvent {
  seq: number;
  t_ns: number;
  vcpu: number;
  from: Layer;
  to: Layer;
  kind: Kind;
  name: string;
  stage?: number;
  detail: Record<string, string | number>;
}

export class TraceRecorder implements Tracer {
  on = false;
  private chunks: Chunk[] = [];
  private cur: Chunk | undefined;
  private pos = CHUNK;
  /** Events recorded so far. */
  length = 0;
  private strings: string[] = [];
  private stringIds = new Map<string, number>();
  /** Called with each event as it is recorded, when streaming (e.g. --trace-out). */
  onEvent: ((r: TraceRecorder, seq: number) => void) | undefined;

  constructor(private readonly clock: Clock) {}

  rec(type: number, vcpu: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
    if (this.pos === CHUNK) { this.cur = newChunk(); this.chunks.push(this.cur); this.pos = 0; }
    const c = this.cur!;
    const i = this.pos++;
    c.t[i] = this.clock.now;
    c.type[i] = type;
    c.vcpu[i] = vcpu;
    const j = i << 2;
    c.a[j] = a0; c.a[j + 1] = a1; c.a[j + 2] = a2; c.a[j + 3] = a3;
    this.length++;
    if (this.onEvent) this.onEvent(this, this.length - 1);
  }

  str(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) { id = this.strings.length; this.strings.push(s); this.stringIds.set(s, id); }
    return id;
  }

  typeAt(seq: number): number { return this.chunks[seq >>> 16]!.type[seq & (CHUNK - 1)]!; }
  argAt(seq: number, k: number): number { return this.chunks[seq >>> 16]!.a[((seq & (CHUNK - 1)) << 2) + k]!; }

  /** Decode one event. */
  get(seq: number): TraceEvent {
    const c = this.chunks[seq >>> 16];
    if (!c || seq >= this.length || seq < 0) throw new RangeError(`no event ${seq}`);
    const i = seq & (CHUNK - 1);
    const ty = eventType(c.type[i]!);
    const detail: Record<string, string | number> = {};
    ty.args.forEach((spec, k) => {
      const v = c.a[(i << 2) + k]!;
      const f = spec.fmt;
      detail[spec.name] = f === 'dec' ? v : f === 'hex' ? hex(v)
        : f === 'str' ? (this.strings[v] ?? `?${v}`) : f(v);
    });
    return { seq, t_ns: c.t[i]!, vcpu: c.vcpu[i]!, from: ty.from, to: ty.to, kind: ty.kind, name: ty.name, detail };
  }

  /** Decode events [from, to). */
  slice(from = 0, to = this.length): TraceEvent[] {
    const out: TraceEvent[] = [];
    for (let s = from; s < to; s++) out.push(this.get(s));
    return out;
  }

  /** Bytes held by the store (for the benchmark's bytes/event). */
  residentBytes(): number {
    return this.chunks.length * CHUNK * (8 + 2 + 1 + 32);
  }
}
