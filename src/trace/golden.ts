// Golden traces: a walk, normalised so that it survives changes that do not change the walk, written
// as YAML, and compared crossing by crossing with a readable diff (appeared, vanished, changed).
//
// What is kept: every crossing of a layer boundary (from ≠ to) and every kvm exit handler (the
// decision kvm's table made), in order, each with its vCPU, stage ①–⑩, kind, name and detail.
// What is normalised away:
//   - seq and t_ns: positions and simulated time belong to the cost model, not to the walk;
//   - function-level events inside one layer (calls, tracepoints) other than exit handlers: they are
//     how a box works inside, and `--verbose`/the trace JSON show them;
//   - detail `rip` (guest instruction pointers: they move whenever guest code is laid out anew) and
//     `haltedNs` (a duration);
//   - host user-space pointers (qemu's heap and mmap area, 0x7f0000000000–0x7fffffffffff: AIO
//     context ids, ioctl argument structs) become "<ptr>": their value says nothing about the walk;
//   - qemu-kvm's file descriptors (`fd` of its syscalls and ioctls) become "<fd>": their numbers
//     follow from how many files qemu opened while setting up, which other features change.
// The guest's file descriptors, ports, values, sectors, results and exit qualifications are kept:
// they are the walk.

import { LineCounter, parseDocument, Document, isMap, isSeq, type Node, YAMLSeq, YAMLMap } from 'yaml';
import { LAYERS, type Kind, type Layer } from './events';
import type { TraceEvent } from './recorder';

export interface GoldenEntry {
  vcpu: number;
  stage?: number;
  from: Layer;
  to: Layer;
  kind: Kind;
  name: string;
  detail: Record<string, string | number>;
}

export interface GoldenTrace {
  /** Where the walk came from (a scenario's name, or an action). Not compared. */
  title?: string;
  /** The VM configuration the walk ran on. Compared: a different machine is a different walk. */
  config?: unknown;
  walk: GoldenEntry[];
}

export const VOLATILE_DETAIL_KEYS: readonly string[] = ['rip', 'haltedNs'];
export const POINTER = '<ptr>';
export const HOST_FD = '<fd>';

/** A hex value in the host user-space mmap range, where the model places qemu's heap and mappings. */
export function isHostPointer(v: string | number): boolean {
  if (typeof v !== 'string' || !/^0x[0-9a-f]+$/i.test(v)) return false;
  const n = BigInt(v);
  return n >= 0x7f0000000000n && n < 0x800000000000n;
}

/** Which events a golden trace keeps: crossings and kvm's exit-handler decisions. */
export const keptInGolden = (e: { from: string; to: string; kind: string }): boolean => e.from !== e.to || e.kind === 'exit-handler';

export function normalise(events: readonly TraceEvent[]): GoldenEntry[] {
  const out: GoldenEntry[] = [];
  for (const e of events) {
    if (!keptInGolden(e)) continue;
    const detail: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(e.detail)) {
      if (VOLATILE_DETAIL_KEYS.includes(k)) continue;
      detail[k] = isHostPointer(v) ? POINTER : k === 'fd' && e.from === 'qemu-kvm' ? HOST_FD : v;
    }
    const g: GoldenEntry = { vcpu: e.vcpu, from: e.from, to: e.to, kind: e.kind, name: e.name, detail };
    if (e.stage !== undefined) g.stage = e.stage;
    out.push(g);
  }
  return out;
}

// ------------------------------------------------------------------ YAML

const HEADER = `# A golden trace of exitpath: the walk, normalised (the crossings and kvm's exit handlers in order;
# no times, guest RIPs, host pointers or qemu-kvm fd numbers), and the configuration keys its
# scenario changed from the defaults. Regenerate after an intended change
# with \`exitpath test FEATURE --update-golden\` (or UPDATE_GOLDEN=1), and review the diff.
`;

export function goldenToYaml(g: GoldenTrace): string {
  const doc = new Document({ title: g.title, ...(g.config !== undefined ? { config: g.config } : {}), walk: g.walk.map(orderKeys) });
  const walk = doc.get('walk', true) as YAMLSeq;
  for (const item of walk.items) (item as YAMLMap).flow = true;
  const cfg = doc.get('config', true);
  if (cfg && isMap(cfg)) (cfg as YAMLMap).flow = false;
  return HEADER + doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function orderKeys(e: GoldenEntry): Record<string, unknown> {
  const o: Record<string, unknown> = { vcpu: e.vcpu };
  if (e.stage !== undefined) o.stage = e.stage;
  Object.assign(o, { from: e.from, to: e.to, kind: e.kind, name: e.name });
  if (Object.keys(e.detail).length) o.detail = e.detail;
  return o;
}

export class GoldenFormatError extends Error {}

/**
 * Read a trace: a golden YAML file, `exitpath explain --format json` output ({ events }), or a JSON
 * array of events. Errors name the file and line and say what was expected.
 */
export function parseTraceFile(text: string, file: string): GoldenTrace {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineOf = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const fail = (n: Node | null | undefined, msg: string): never => { throw new GoldenFormatError(`${file}:${lineOf(n)}: ${msg}`); };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new GoldenFormatError(`${file}:${e.linePos?.[0]?.line ?? 1}: not YAML or JSON: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const root = doc.contents;
  let seq: Node | null = null;
  let title: string | undefined;
  let config: unknown;
  if (isSeq(root)) seq = root;
  else if (isMap(root)) {
    const w = root.get('walk', true) ?? root.get('events', true);
    if (!w) fail(root, "expected a 'walk:' list (a golden file) or 'events:' (exitpath explain --format json)");
    seq = w as Node;
    const t = root.get('title');
    if (typeof t === 'string') title = t;
    const c = root.get('config', true) as Node | undefined;
    if (c) config = (c as { toJSON(): unknown }).toJSON();
  } else fail(root, 'expected a golden trace (walk:), explain JSON ({ events }) or a list of events');
  if (!isSeq(seq)) return fail(seq, 'expected a list of events');
  const events: GoldenEntry[] = [];
  for (const [i, item] of seq.items.entries()) {
    if (!isMap(item)) fail(item as Node, `event ${i + 1}: expected a mapping with from, to, kind and name`);
    const m = item as YAMLMap;
    const str = (k: string): string => {
      const v = m.get(k);
      if (typeof v !== 'string' || v === '') fail(m, `event ${i + 1}: expected '${k}' to be a non-empty string`);
      return v as string;
    };
    const from = str('from');
    const to = str('to');
    for (const l of [from, to]) if (!(LAYERS as readonly string[]).includes(l)) fail(m, `event ${i + 1}: '${l}' is not a layer (${LAYERS.join(', ')})`);
    const vcpu = m.get('vcpu') ?? 0;
    if (typeof vcpu !== 'number') fail(m, `event ${i + 1}: expected 'vcpu' to be a number`);
    const stage = m.get('stage');
    if (stage !== undefined && (typeof stage !== 'number' || stage < 1 || stage > 10)) fail(m, `event ${i + 1}: expected 'stage' to be 1–10`);
    const d = m.get('detail', true) as Node | undefined;
    if (d !== undefined && !isMap(d)) fail(d, `event ${i + 1}: expected 'detail' to be a mapping`);
    const detail = (d ? (d as YAMLMap).toJSON() : {}) as Record<string, string | number>;
    const e = { vcpu: vcpu as number, from: from as Layer, to: to as Layer, kind: str('kind') as Kind, name: str('name'), detail,
      ...(stage !== undefined ? { stage: stage as number } : {}) };
    events.push(e as GoldenEntry);
  }
  // A raw trace (explain JSON) is normalised here; normalising a golden walk again changes nothing.
  return { title, config, walk: normalise(events.map((e, seqNo) => ({ seq: seqNo, t_ns: 0, ...e }))) };
}

// ------------------------------------------------------------------ diff

export type DiffOp =
  | { op: 'same'; a: number; b: number; entry: GoldenEntry }
  | { op: 'vanished'; a: number; entry: GoldenEntry }
  | { op: 'appeared'; b: number; entry: GoldenEntry }
  | { op: 'changed'; a: number; b: number; before: GoldenEntry; after: GoldenEntry };

const identity = (e: GoldenEntry) => `${e.vcpu}|${e.from}|${e.to}|${e.kind}|${e.name}`;
const fullKey = (e: GoldenEntry) => `${identity(e)}|${e.stage ?? ''}|${JSON.stringify(e.detail)}`;

/** Longest common subsequence of two key lists, as index pairs. */
function lcs(a: readonly string[], b: readonly string[]): [number, number][] {
  // The common head and tail need no table (walks that differ in one place stay cheap to compare).
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const mid = lcsTable(a.slice(head, a.length - tail), b.slice(head, b.length - tail));
  const pairs: [number, number][] = [];
  for (let k = 0; k < head; k++) pairs.push([k, k]);
  for (const [x, y] of mid) pairs.push([x + head, y + head]);
  for (let k = tail; k > 0; k--) pairs.push([a.length - k, b.length - k]);
  return pairs;
}

function lcsTable(a: readonly string[], b: readonly string[]): [number, number][] {
  const n = a.length, m = b.length;
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i * w + j] = a[i] === b[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
    }
  }
  const pairs: [number, number][] = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { pairs.push([i, j]); i++; j++; }
    else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) i++;
    else j++;
  }
  return pairs;
}

/**
 * Compare two normalised walks. Identical events anchor the alignment; between anchors, events with
 * the same route, kind and name are paired as "changed" (their detail or stage differs), and the rest
 * vanished (only in `a`) or appeared (only in `b`).
 */
export function diffWalks(a: readonly GoldenEntry[], b: readonly GoldenEntry[]): DiffOp[] {
  const anchors = lcs(a.map(fullKey), b.map(fullKey));
  anchors.push([a.length, b.length]);
  const ops: DiffOp[] = [];
  let i = 0, j = 0;
  for (const [ai, bj] of anchors) {
    const ga = a.slice(i, ai), gb = b.slice(j, bj);
    const pairs = lcs(ga.map(identity), gb.map(identity));
    let x = 0, y = 0;
    for (const [px, py] of [...pairs, [ga.length, gb.length] as [number, number]]) {
      for (; x < px; x++) ops.push({ op: 'vanished', a: i + x, entry: ga[x]! });
      for (; y < py; y++) ops.push({ op: 'appeared', b: j + y, entry: gb[y]! });
      if (px < ga.length) { ops.push({ op: 'changed', a: i + px, b: j + py, before: ga[px]!, after: gb[py]! }); x++; y++; }
    }
    if (ai < a.length) ops.push({ op: 'same', a: ai, b: bj, entry: a[ai]! });
    i = ai + 1; j = bj + 1;
  }
  return ops;
}

const CIRCLED = ['', '①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩'];

const detailText = (d: Record<string, string | number>) => Object.entries(d).map(([k, v]) => `${k}=${v}`).join(' ');

/** One line for an event, as the narrative shows it. */
export function entryLine(e: GoldenEntry): string {
  const route = e.from === e.to ? `in ${e.from}` : `${e.from} → ${e.to}`;
  const d = detailText(e.detail);
  return `${e.stage ? CIRCLED[e.stage] : ' '} ${route.padEnd(29)} ${e.kind.padEnd(18)} ${e.name}${d ? `  ${d}` : ''}`;
}

function changeText(x: GoldenEntry, y: GoldenEntry): string {
  const parts: string[] = [];
  if (x.stage !== y.stage) parts.push(`stage ${x.stage ? CIRCLED[x.stage] : 'none'} → ${y.stage ? CIRCLED[y.stage] : 'none'}`);
  const keys = [...new Set([...Object.keys(x.detail), ...Object.keys(y.detail)])];
  for (const k of keys) {
    const u = x.detail[k], v = y.detail[k];
    if (u !== v) parts.push(`${k} ${u ?? '(none)'} → ${v ?? '(none)'}`);
  }
  return parts.join(', ');
}

export interface DiffSummary { vanished: number; appeared: number; changed: number; configChanged: string[] }

export function summariseDiff(ops: readonly DiffOp[]): DiffSummary {
  const c = { vanished: 0, appeared: 0, changed: 0 };
  for (const o of ops) if (o.op !== 'same') c[o.op]++;
  return { ...c, configChanged: [] };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What a configuration changes from the defaults: only the keys whose values differ, nested maps key
 * by key (undefined when nothing differs). A golden file records this, so a setting added to the
 * model later, at its default, changes no golden file.
 */
export function changedFrom(defaults: unknown, config: unknown): unknown {
  if (isObject(defaults) && isObject(config)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
      const d = changedFrom(defaults[k], v);
      if (d !== undefined) out[k] = d;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return JSON.stringify(defaults) === JSON.stringify(config) ? undefined : config;
}

/** The changes recorded in a golden file laid over the defaults: the whole configuration again. */
export function withDefaults(defaults: unknown, changes: unknown): unknown {
  if (!isObject(defaults) || !isObject(changes)) return changes === undefined ? defaults : changes;
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(changes)) out[k] = withDefaults(defaults[k], v);
  return out;
}

/**
 * Configuration keys (dotted) whose values differ. A key present on one side only is a setting added
 * to the model since the golden was written, at its default: not a change of the machine.
 */
export function diffConfig(a: unknown, b: unknown, prefix = ''): string[] {
  if (a === undefined || b === undefined) return [];
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = Object.keys(a).filter((k) => k in b);
    return keys.flatMap((k) => diffConfig((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return a === b ? [] : [`${prefix}: ${JSON.stringify(a)} → ${JSON.stringify(b)}`];
}

/**
 * The diff as text: a summary line, then each change with up to `context` unchanged events around
 * it. `-` vanished, `+` appeared, `~` changed; the numbers are positions in the before/after walks.
 */
export function formatDiff(before: GoldenTrace, after: GoldenTrace, labels: [string, string], context = 2): { same: boolean; text: string } {
  const ops = diffWalks(before.walk, after.walk);
  const s = summariseDiff(ops);
  const cfg = diffConfig(before.config, after.config);
  if (s.vanished + s.appeared + s.changed === 0 && cfg.length === 0) return { same: true, text: `the walks are the same (${before.walk.length} events)\n` };
  const out: string[] = [];
  out.push(`--- ${labels[0]}`, `+++ ${labels[1]}`);
  const counts = [`${s.vanished} vanished`, `${s.appeared} appeared`, `${s.changed} changed`];
  out.push(`the walk changed: ${counts.join(', ')} (of ${before.walk.length} → ${after.walk.length} crossings and exit handlers)`);
  for (const c of cfg) out.push(`  config ${c}`);
  const show = new Array<boolean>(ops.length).fill(false);
  ops.forEach((o, k) => {
    if (o.op === 'same') return;
    for (let d = -context; d <= context; d++) if (k + d >= 0 && k + d < ops.length) show[k + d] = true;
  });
  const pos = (n: number | undefined) => (n === undefined ? '   ' : String(n + 1).padStart(3));
  let gap = false;
  ops.forEach((o, k) => {
    if (!show[k]) { gap = true; return; }
    if (gap) { out.push('  …'); gap = false; }
    if (o.op === 'same') out.push(`  ${pos(o.a)} ${pos(o.b)}   ${entryLine(o.entry)}`);
    else if (o.op === 'vanished') out.push(`- ${pos(o.a)} ${pos(undefined)}   ${entryLine(o.entry)}`);
    else if (o.op === 'appeared') out.push(`+ ${pos(undefined)} ${pos(o.b)}   ${entryLine(o.entry)}`);
    else out.push(`~ ${pos(o.a)} ${pos(o.b)}   ${entryLine(o.after)}\n                ${changeText(o.before, o.after)}`);
  });
  if (gap) out.push('  …');
  return { same: false, text: out.join('\n') + '\n' };
}
