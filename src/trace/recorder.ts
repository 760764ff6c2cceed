// A compact, append-only trace store: columns of typed arrays in fixed-size chunks, so recording
// an event is a handful of stores and no allocation; decoding into objects happens only on read.
// An event takes 28 bytes: time (float64), type (uint16), vcpu (int8), four int32 arguments and a
// tag byte that says, two bits an argument, how to read each one back: as an int32, as a uint32
// (0x80000000..0xffffffff: exit qualifications, 32-bit register values), or from the chunk's
// escape list, which keeps anything else exactly (a 64-bit address, a fraction, -0).

import type { Clock } from '../sim/clock';
import { eventType, type Tracer, type Layer, type Kind } from './events';

const CHUNK_BITS = 16;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;
/** Argument tags. */
const AS_INT32 = 0;
const AS_UINT32 = 1;
const ESCAPED = 2;
/** Bytes per event in the columns. */
export const COLUMN_BYTES = 8 + 2 + 1 + 4 * 4 + 1;

/** Hex as C prints an unsigned 64-bit value: negative numbers are two's complement. */
export function hex(v: number): string {
  return '0x' + (v < 0 ? BigInt.asUintN(64, BigInt(Math.trunc(v))).toString(16) : v.toString(16));
}

class Chunk {
  readonly t = new Float64Array(CHUNK);
  readonly type = new Uint16Array(CHUNK);
  readonly vcpu = new Int8Array(CHUNK);
  readonly a = new Int32Array(CHUNK * 4);
  readonly tag = new Uint8Array(CHUNK);
  /** Escaped argument slots (event index * 4 + k), ascending, and their values. */
  readonly escSlot: number[] = [];
  readonly escVal: number[] = [];

  arg(j: number): number {
    const tag = (this.tag[j >>> 2]! >>> ((j & 3) << 1)) & 3;
    if (tag === AS_INT32) return this.a[j]!;
    if (tag === AS_UINT32) return this.a[j]! >>> 0;
    const s = this.escSlot;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const m = (lo + hi) >>> 1;
      const x = s[m]!;
      if (x === j) return this.escVal[m]!;
      if (x < j) lo = m + 1; else hi = m - 1;
    }
    throw new Error(`trace store: escaped argument ${j} is missing`);
  }
}

/**
 * Chunks of cleared stores, kept for the next store to fill: writing into memory the process has
 * touched before costs a fraction of taking fresh pages from the kernel. At most SPARE_CHUNKS.
 */
const spare: Chunk[] = [];
const SPARE_CHUNKS = 32;

/** Let the engine have the spare chunks back (the next store starts on fresh memory). */
export function releaseSpareChunks(): void {
  spare.length = 0;
}

function takeChunk(): Chunk {
  const c = spare.pop();
  if (c === undefined) return new Chunk();
  c.tag.fill(0);
  c.escSlot.length = 0;
  c.escVal.length = 0;
  return c;
}

/** How an argument is kept: as an int32 (not -0), as a uint32 above the int32 range, or escaped. */
function tagOf(v: number): number {
  if ((v | 0) === v) return v !== 0 || 1 / v > 0 ? AS_INT32 : ESCAPED;
  return (v >>> 0) === v ? AS_UINT32 : ESCAPED;
}

/** A decoded event: `{ seq, t_ns, vcpu, from, to, kind, name, stage?, detail }` (the trace's contract). */
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

/** Per event type: the JSON of its fixed part and its argument keys, for jsonLine (null: use JSON.stringify). */
interface LineFormat { head: string; keys: string[] }
const lineFormats: (LineFormat | null | undefined)[] = [];
function lineFormat(type: number): LineFormat | null {
  let f = lineFormats[type];
  if (f !== undefined) return f;
  const t = eventType(type);
  const names = t.args.map((a) => a.name);
  // Keys that JSON.stringify would reorder (array indices) or merge (duplicates) go the slow way.
  if (new Set(names).size !== names.length || names.some((n) => /^(0|[1-9]\d*)$/.test(n))) f = null;
  else f = { head: `,"from":${JSON.stringify(t.from)},"to":${JSON.stringify(t.to)},"kind":${JSON.stringify(t.kind)},"name":${JSON.stringify(t.name)},"detail":{`, keys: names.map((n) => JSON.stringify(n) + ':') };
  lineFormats[type] = f;
  return f;
}
/** A number as JSON.stringify writes it. */
const jsonNumber = (v: number): string => (Number.isFinite(v) ? String(v) : 'null');

export class TraceRecorder implements Tracer {
  on = false;
  /** The chunks; a released one (its events written out and no longer needed) is undefined. */
  private chunks: (Chunk | undefined)[] = [];
  private cur: Chunk | undefined;
  private colT = new Float64Array(0);
  private colType = new Uint16Array(0);
  private colVcpu = new Int8Array(0);
  private colA = new Int32Array(0);
  private pos = CHUNK;
  /** Events recorded so far. */
  length = 0;
  private escapes = 0;
  private strings: string[] = [];
  private stringChars = 0;
  private stringIds = new Map<string, number>();
  /** Called with each event as it is recorded, when someone follows the trace live. */
  onEvent: ((r: TraceRecorder, seq: number) => void) | undefined;
  /**
   * Called when a chunk is full, before the next event is stored: a reader that streams the trace
   * takes the events so far and may release the chunks it no longer needs.
   */
  onChunkFull: ((r: TraceRecorder) => void) | undefined;

  constructor(private readonly clock: Clock) {}

  rec(type: number, vcpu: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): void {
    if (this.pos === CHUNK) this.grow();
    const i = this.pos++;
    this.colT[i] = this.clock.now;
    this.colType[i] = type;
    this.colVcpu[i] = vcpu;
    const a = this.colA;
    const j = i << 2;
    a[j] = a0;
    a[j + 1] = a1;
    a[j + 2] = a2;
    a[j + 3] = a3;
    // The common case, four int32 arguments: the tag stays 0 (the column is zeroed).
    if (a[j] !== a0 || a[j + 1] !== a1 || a[j + 2] !== a2 || a[j + 3] !== a3
      || Object.is(a0, -0) || Object.is(a1, -0) || Object.is(a2, -0) || Object.is(a3, -0)) {
      const tag = tagOf(a0) | (tagOf(a1) << 2) | (tagOf(a2) << 4) | (tagOf(a3) << 6);
      if (tag !== 0) this.retag(j, tag, a0, a1, a2, a3);
    }
    this.length++;
    if (this.onEvent !== undefined) this.onEvent(this, this.length - 1);
  }

  /** Start a new chunk; the current one's columns are kept on the recorder so `rec` reaches them directly. */
  private grow(): void {
    if (this.onChunkFull !== undefined && this.chunks.length > 0) this.onChunkFull(this);
    const c = this.cur = takeChunk();
    this.chunks.push(c);
    this.colT = c.t;
    this.colType = c.type;
    this.colVcpu = c.vcpu;
    this.colA = c.a;
    this.pos = 0;
  }

  /** An event with an argument that is not a plain int32: tag it, and keep escaped values aside. */
  private retag(j: number, tag: number, a0: number, a1: number, a2: number, a3: number): void {
    const c = this.cur!;
    c.tag[j >>> 2] = tag;
    for (let k = 0; k < 4; k++) {
      if (((tag >>> (k << 1)) & 3) !== ESCAPED) continue;
      c.a[j + k] = 0;
      c.escSlot.push(j + k);
      c.escVal.push(k === 0 ? a0 : k === 1 ? a1 : k === 2 ? a2 : a3);
      this.escapes++;
    }
  }

  str(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
      this.stringChars += s.length;
    }
    return id;
  }

  /**
   * Drop every recorded event (interned strings stay, so ids handed out remain valid). The chunks
   * are kept for reuse by the next store that needs one, unless `keepMemory` is false.
   */
  clear(keepMemory = true): void {
    if (keepMemory) for (const c of this.chunks) if (c && spare.length < SPARE_CHUNKS) spare.push(c);
    this.chunks = [];
    this.cur = undefined;
    this.colT = new Float64Array(0);
    this.colType = new Uint16Array(0);
    this.colVcpu = new Int8Array(0);
    this.colA = new Int32Array(0);
    this.pos = CHUNK;
    this.length = 0;
    this.escapes = 0;
  }

  /**
   * Let go of the events before `before` (whole chunks only): a reader that has written them out
   * keeps the store's memory bounded. Their seq numbers stay taken; reading one is an error.
   */
  release(before: number): void {
    const end = Math.min(before, this.length) >>> CHUNK_BITS;
    let i = this.releasedChunks;
    for (; i < end; i++) {
      const c = this.chunks[i];
      if (c === this.cur) break;             // the chunk being filled goes at a later call
      this.chunks[i] = undefined;
      if (c !== undefined && spare.length < SPARE_CHUNKS) spare.push(c);
    }
    this.releasedChunks = i;
  }
  private releasedChunks = 0;

  private chunk(seq: number): Chunk {
    const c = this.chunks[seq >>> CHUNK_BITS];
    if (!c || seq >= this.length || seq < 0) throw new RangeError(`no event ${seq}`);
    return c;
  }

  typeAt(seq: number): number { return this.chunk(seq).type[seq & MASK]!; }
  timeAt(seq: number): number { return this.chunk(seq).t[seq & MASK]!; }
  vcpuAt(seq: number): number { return this.chunk(seq).vcpu[seq & MASK]!; }
  argAt(seq: number, k: number): number { return this.chunk(seq).arg(((seq & MASK) << 2) + k); }

  /** Decode one event. */
  get(seq: number): TraceEvent {
    const c = this.chunk(seq);
    const i = seq & MASK;
    const ty = eventType(c.type[i]!);
    const detail: Record<string, string | number> = {};
    const args = ty.args;
    for (let k = 0; k < args.length; k++) {
      const spec = args[k]!;
      const v = c.arg((i << 2) + k);
      const f = spec.fmt;
      detail[spec.name] = f === 'dec' ? v : f === 'hex' ? hex(v)
        : f === 'str' ? (this.strings[v] ?? `?${v}`) : f(v);
    }
    return { seq, t_ns: c.t[i]!, vcpu: c.vcpu[i]!, from: ty.from, to: ty.to, kind: ty.kind, name: ty.name, detail };
  }

  /**
   * Event `seq` as one line of JSON, exactly as JSON.stringify(get(seq)) writes it (with `stage`
   * last when given), without building the event object: how a long run is written out.
   */
  jsonLine(seq: number, stage?: number): string {
    const c = this.chunk(seq);
    const i = seq & MASK;
    const type = c.type[i]!;
    const f = lineFormat(type);
    if (f === null) {
      const e = this.get(seq);
      if (stage !== undefined) e.stage = stage;
      return JSON.stringify(e);
    }
    const args = eventType(type).args;
    let out = `{"seq":${seq},"t_ns":${jsonNumber(c.t[i]!)},"vcpu":${c.vcpu[i]!}${f.head}`;
    for (let k = 0; k < args.length; k++) {
      const v = c.arg((i << 2) + k);
      const fmt = args[k]!.fmt;
      const val = fmt === 'dec' ? jsonNumber(v) : fmt === 'hex' ? `"${hex(v)}"` : fmt === 'str' ? JSON.stringify(this.strings[v] ?? `?${v}`) : JSON.stringify(fmt(v));
      out += (k === 0 ? '' : ',') + f.keys[k]! + val;
    }
    return stage === undefined ? out + '}}' : `${out}},"stage":${stage}}`;
  }

  /** Decode events [from, to). */
  slice(from = 0, to = this.length): TraceEvent[] {
    const out: TraceEvent[] = [];
    for (let s = from; s < to; s++) out.push(this.get(s));
    return out;
  }

  /**
   * The store's own accounting of what it holds: the columns of every chunk allocated, the escaped
   * arguments (slot and value), and the interned strings (UTF-16). Engine overhead is not included;
   * the benchmark measures that separately.
   */
  residentBytes(): { columns: number; escapes: number; strings: number; total: number } {
    const columns = this.chunks.filter((c) => c !== undefined).length * CHUNK * COLUMN_BYTES;
    const escapes = this.escapes * (4 + 8);
    const strings = this.stringChars * 2;
    return { columns, escapes, strings, total: columns + escapes + strings };
  }
}
