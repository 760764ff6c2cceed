// Reading a host's kvm trace as text, one line at a time, in bounded memory: the line prefixes of
// every tool that prints one (each tool's source below), then the payload readers of payload.ts.
//
//   raw ftrace (kernel/trace/trace_output.c, trace_print_context + trace_print_lat_fmt):
//       `<comm>-<pid> [(<tgid>)] [<cpu>] <flags> <secs>.<usecs>: <event>: <payload>`, the flags 4
//       characters (irqs-off, need-resched, hardirq/softirq, preempt-depth) or 5 (+ migrate-disable,
//       Linux 5.15+), none with options/noirq-info; the file header `# tracer: …`, `#  _-----=> …`.
//   trace-cmd report (tracecmd/trace-read.c: "%16s-%-5d [%03d]", " %6.1000d:", print_event_name's
//       " %s: " padded to 20 columns): no flags; `-l` prints "%8.8s-%-5d %3d" and the latency flags
//       instead of the bracketed CPU; the comm cut at its first space (saved cmdlines read with
//       "%d %s"); `cpus=N` first; `CPU:N [EVENTS DROPPED]`.
//   perf script (tools/perf/builtin-script.c, perf_sample__fprintf_start): "%16s " comm, "%7d " tid
//       (or "%7d/%-7d " pid/tid), "[%03d] " cpu, "%5lu.%06lu: " time, the event name right-aligned
//       to the longest in the session ("%*s: "), e.g. `kvm:kvm_exit: `.
//   perf top -e kvm:kvm_exit (Trace output sort key): `Samples: … of event 'kvm:kvm_exit' …`,
//       `Overhead  Trace output`, then `  36.22%  <payload>` rows.
// Also accepted: ftrace's stack-trace trigger (`<stack trace>` then ` => func` lines), lost-event
// notices, and an event whose `event: payload` a mail client wrapped onto the next line.
// A line none of these describe is reported with its number, its text and what was expected.

import { isAscii } from 'node:buffer';
import * as fs from 'node:fs';
import { Cursor, isIdent } from './scan';
import { HostEvent } from './host_event';
import { PAYLOAD_READERS, type EraHints } from './payload';

export type TraceFormat = 'ftrace' | 'trace-cmd' | 'perf-script' | 'perf-top' | 'unknown';

export interface Malformed { file?: string; line: number; text: string; why: string }

export interface ReadOptions {
  /** The first unreadable line is an error (ImportError) instead of a report entry. */
  strict?: boolean;
  /** Keep every event's payload text (the Given steps and conform do; stat does not). */
  keepText?: boolean;
  /** What the lines read so far say about the trace's era, shared with a caller that pairs as it reads. */
  hints?: EraHints;
  /** Unreadable lines kept in the report (all are counted). */
  maxMalformed?: number;
}

export interface ReadSummary {
  source: string;
  format: TraceFormat;
  lines: number;
  /** Trace events read (header, notice and blank lines are not events). */
  events: number;
  /** Of those, events of tracepoints the importer does not read (kept as opaque). */
  opaque: number;
  malformed: Malformed[];
  malformedTotal: number;
  /** Events the tracer said it lost or dropped (ring-buffer overruns). */
  lost: number;
  /** The era the formats show: Linux 5.10+ (`modern`), older, or no era-specific line. */
  era: 'modern' | 'old' | 'unknown';
  /** perf top: the header's approximate event count, for the rows' shares. */
  perfTopEventCount?: number;
}

/** A user error: the file cannot be read, or (strict) a line cannot. One line: file, line, what was expected. */
export class ImportError extends Error {}

const SPACE = 0x20;
const isDigit = (c: number) => c >= 48 && c <= 57;
/**
 * The characters ftrace's latency flags are made of (trace_print_lat_fmt, and trace-cmd's -l): `.`,
 * digits and hex digits (preempt depth), d X (irqs), N n p B (need-resched), h s H z Z (context).
 */
const FLAG = new Uint8Array(128);
for (const ch of '.0123456789abcdefdXNnpBhsHzZ') FLAG[ch.charCodeAt(0)] = 1;
const isFlag = (c: number) => c < 128 && FLAG[c] === 1;
/** 10^(9 - digits): a fraction of `digits` digits in nanoseconds. */
const FRACTION_SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 10, 1];

export class TraceReader {
  private readonly c = new Cursor();
  private readonly hints: EraHints;
  private n = 0;
  private events = 0;
  private opaque = 0;
  private lost = 0;
  private readonly malformed: Malformed[] = [];
  private malformedTotal = 0;
  /** The last event, held back until the next line shows whether stack frames follow. */
  private pending: HostEvent | null = null;
  /** A prefix whose `event: payload` went to the next line. */
  private wrapped: HostEvent | null = null;
  private readonly comms = new Map<number, string>();
  private readonly votes: Record<TraceFormat, number> = { ftrace: 0, 'trace-cmd': 0, 'perf-script': 0, 'perf-top': 0, unknown: 0 };
  private perfTopEvent = 'kvm_exit';
  private perfTopCount: number | undefined;
  private readonly maxMalformed: number;

  constructor(readonly source: string, private readonly sink: (e: HostEvent) => void, private readonly opts: ReadOptions = {}) {
    this.maxMalformed = opts.maxMalformed ?? 1000;
    this.hints = opts.hints ?? { modern: false, old: false, vcpuIds: false };
  }

  /** Feed one line (without its newline). */
  line(s: string): void { this.lineAt(s, 0, s.length); }

  /**
   * Feed the line at [from, to) of a block of text: the reader works inside the block and makes a
   * string of the line only to report it.
   */
  lineAt(s: string, from: number, to: number): void {
    const n = ++this.n;
    const c = this.c.reset(s, from, to);
    c.skipSpaces();
    if (c.done) return;
    const ch = c.peek();
    if (this.wrapped !== null) {
      const w = this.wrapped;
      this.wrapped = null;
      const prefix = w.text;
      w.text = '';
      if (startsWithEvent(c)) { this.eventAndPayload(c, w); return; }
      this.bad(w.line, prefix, 'expected "event: payload" after the timestamp (or on the next line, where a mail client wrapped it)');
    }
    if (ch === 0x23 /* # */) { this.header(s, c.i); return; }
    if (ch === 0x3d /* = */ && c.lit('=>')) {
      // A frame of the stack trace above (` => handle_io`).
      const p = this.pending;
      if (p === null) { this.bad(n, this.text(), 'a stack frame (" => func") with no event before it'); return; }
      c.skipSpaces();
      (p.stack ??= []).push(c.token());
      return;
    }
    const b = this.cpuBracket(s, c.i, c.end);
    if (b < 0) {
      // The rarer lines (notices, perf top, trace-cmd -l, trimmed excerpts) are read from a string of their own.
      const line = s.slice(from, c.end);
      this.other(line, this.c.reset(line, c.i - from));
      return;
    }
    const ev = new HostEvent();
    ev.line = n;
    if (!this.taskAndThread(s, c.i, b, ev)) { this.bad(n, this.text(), 'expected TASK-PID (ftrace, trace-cmd) or COMM TID (perf script) before the [CPU] column'); return; }
    ev.cpu = this.cpu;
    c.i = this.cpuEnd;
    c.skipSpaces();
    if (!this.timestamp(c, ev)) { this.bad(n, this.text(), 'expected the timestamp (SECONDS.MICROSECONDS:) after the [CPU] column, and at most a flags column between them'); return; }
    c.skipSpaces();
    if (c.done) { ev.text = this.text(); this.wrapped = ev; return; }
    this.eventAndPayload(c, ev);
  }

  /** The current line as a string (for reports). */
  private text(): string {
    const c = this.c;
    let from = c.end;
    // The line's start: back to the block's previous newline.
    while (from > 0 && c.s.charCodeAt(from - 1) !== 0x0a) from--;
    return c.s.slice(from, c.end);
  }

  /** Everything read: the summary. Throws ImportError (strict) for the first unreadable line. */
  finish(): ReadSummary {
    if (this.wrapped !== null) { const w = this.wrapped; this.wrapped = null; this.bad(w.line, w.text, 'expected "event: payload" after the timestamp (or on the next line, where a mail client wrapped it)'); }
    this.flush();
    const v = this.votes;
    let format: TraceFormat = 'unknown';
    let best = 0;
    for (const f of ['ftrace', 'trace-cmd', 'perf-script', 'perf-top'] as const) if (v[f] > best) { best = v[f]; format = f; }
    const r: ReadSummary = {
      source: this.source, format, lines: this.n, events: this.events, opaque: this.opaque,
      malformed: this.malformed, malformedTotal: this.malformedTotal, lost: this.lost,
      era: eraOf(this.hints),
    };
    if (this.perfTopCount !== undefined) r.perfTopEventCount = this.perfTopCount;
    return r;
  }

  // ---------------------------------------------------------------- pieces of a line

  /** The CPU and the column's end, of the last cpuBracket. */
  private cpu = 0;
  private cpuEnd = 0;

  /** The `[NNN]` CPU column: the first '[' followed by digits and ']'. */
  private cpuBracket(s: string, from: number, end: number): number {
    let b = s.indexOf('[', from);
    while (b >= 0 && b < end) {
      let i = b + 1;
      let v = 0;
      for (;;) {
        const d = s.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
        i++;
      }
      if (i > b + 1 && s.charCodeAt(i) === 0x5d) { this.cpu = v; this.cpuEnd = i + 1; return b; }
      b = s.indexOf('[', b + 1);
    }
    return -1;
  }

  /**
   * What stands before the CPU column: `comm-pid` (ftrace, trace-cmd), `comm tid` or `comm pid/tid`
   * (perf script), ftrace's `(tgid)` column, or nothing (a perf script line trimmed by hand).
   */
  private taskAndThread(s: string, start: number, b: number, ev: HostEvent): boolean {
    let e = b;
    while (e > start && s.charCodeAt(e - 1) === SPACE) e--;
    if (e > start && s.charCodeAt(e - 1) === 0x29 /* ) */) {
      const open = s.lastIndexOf('(', e);
      if (open < start) return false;
      e = open;
      while (e > start && s.charCodeAt(e - 1) === SPACE) e--;
    }
    if (e === start) return true;
    let d = e;
    let tid = 0;
    let scale = 1;
    while (d > start && isDigit(s.charCodeAt(d - 1))) { tid += (s.charCodeAt(d - 1) - 48) * scale; scale *= 10; d--; }
    if (d === e) return false;
    ev.tid = tid;
    if (d === start) { this.votes['perf-script']++; return true; }
    const sep = s.charCodeAt(d - 1);
    let commEnd = d - 1;
    if (sep === 0x2d /* - */) {
      // ftrace or trace-cmd: decided by the flags column and the event-name padding; alone, ftrace.
      this.votes.ftrace += 0.5;
    } else if (sep === SPACE || sep === 0x2f /* / */) {
      this.votes['perf-script']++;
      if (sep === 0x2f) { while (commEnd > start && isDigit(s.charCodeAt(commEnd - 1))) commEnd--; }
      while (commEnd > start && s.charCodeAt(commEnd - 1) === SPACE) commEnd--;
    } else return false;
    ev.comm = this.comm(s, start, commEnd, ev.tid);
    return true;
  }

  private lastTid = -1;
  private lastComm = '';

  /** The thread's name, made into a string once per thread. */
  private comm(s: string, from: number, to: number, tid: number): string {
    if (tid === this.lastTid && this.lastComm.length === to - from && s.startsWith(this.lastComm, from)) return this.lastComm;
    this.lastTid = tid;
    this.lastComm = this.commOf(s, from, to, tid);
    return this.lastComm;
  }

  private commOf(s: string, from: number, to: number, tid: number): string {
    const known = this.comms.get(tid);
    if (known !== undefined && known.length === to - from && s.startsWith(known, from)) return known;
    const name = s.slice(from, to);
    if (this.comms.size < 65536) this.comms.set(tid, name);
    return name;
  }

  /** `[flags] SECONDS.FRACTION:` — the fraction in µs or ns; trace-cmd without a clock prints a bare counter. */
  private timestamp(c: Cursor, ev: HostEvent): boolean {
    const s = c.s;
    // A flags column is a token with no ':' (ftrace's `d..1.`, `....`); it never starts with a digit.
    let j = c.i;
    const first = s.charCodeAt(j);
    if (first < 48 || first > 57) while (j < c.end && s.charCodeAt(j) !== SPACE && isFlag(s.charCodeAt(j))) j++;
    if (j > c.i && j < c.end && s.charCodeAt(j) === SPACE) {
      if (j - c.i < 3 || j - c.i > 6) return false;
      c.i = j;
      c.skipSpaces();
      this.votes.ftrace++;
    }
    const secs = c.dec();
    if (Number.isNaN(secs)) return false;
    if (c.lit('.')) {
      const from = c.i;
      const frac = c.dec();
      if (Number.isNaN(frac)) return false;
      const digits = c.i - from;
      ev.tsNs = secs * 1e9 + (digits <= 9 ? frac * FRACTION_SCALE[digits]! : frac / 10 ** (digits - 9));
    } else ev.tsNs = secs;
    return c.lit(':');
  }

  /** `event: payload` (`system:event:` from perf), or ftrace's `<stack trace>`. Returns false when the line was bad. */
  private eventAndPayload(c: Cursor, ev: HostEvent): boolean {
    c.skipSpaces();
    if (c.peek() === 0x3c /* < */) {
      // `<stack trace>` / `<user stack trace>`: the frames follow on ` => ` lines.
      ev.name = c.rest();
      this.emit(ev);
      return true;
    }
    let name = this.eventName(c);
    if (name === '') { this.bad(ev.line, this.text(), 'expected an event name after the timestamp'); return false; }
    if (c.peek() === 0x3a && isIdent(c.s.charCodeAt(c.i + 1))) {
      ev.system = name;
      c.i++;
      name = this.eventName(c);
    }
    ev.name = name;
    if (!c.lit(':')) {
      // The syscall tracer's own output (kernel/trace/trace_syscalls.c): print_syscall_enter's
      // `sys_io_submit(ctx_id: 7f…, nr: 1, …)` and print_syscall_exit's `sys_io_submit -> 0x1`.
      if (name.startsWith('sys_')) {
        if (c.peek() === 0x28 /* ( */) { ev.name = `sys_enter_${name.slice(4)}`; ev.text = c.rest(); this.opaque++; this.emit(ev); return true; }
        if (c.lit(' -> ')) { ev.name = `sys_exit_${name.slice(4)}`; ev.text = c.rest(); this.opaque++; this.emit(ev); return true; }
      }
      // The function tracer: `func <-parent`, no colon after the name.
      ev.text = c.s.slice(c.i, c.end).trim();
      ev.name = 'function';
      ev.f = { function: name, parent: ev.text.startsWith('<-') ? ev.text.slice(2) : ev.text };
      this.opaque++;
      this.emit(ev);
      return true;
    }
    // trace-cmd pads short names to 20 columns: two or more spaces after `name:` is its signature.
    if (name.length < 19 && c.i + 1 < c.end && c.s.charCodeAt(c.i) === SPACE && c.s.charCodeAt(c.i + 1) === SPACE && ev.system === '') this.votes['trace-cmd']++;
    if (ev.system !== '' || ev.tid < 0) this.votes['perf-script']++;
    const reader = ev.system === '' || ev.system === 'kvm' ? PAYLOAD_READERS.get(name) : undefined;
    if (reader === undefined) {
      ev.text = c.s.slice(c.i, c.end).trim();
      this.opaque++;
      this.emit(ev);
      return true;
    }
    const payloadAt = c.i;
    const why = reader(c, ev, this.hints);
    if (why !== null) { this.bad(ev.line, this.text(), `${name}: ${why}`); return false; }
    if (this.opts.keepText) ev.text = c.s.slice(payloadAt, c.end).trim();
    this.emit(ev);
    return true;
  }

  /** Event names seen, by length: most lines repeat one of a few, so the name is matched, not sliced. */
  private readonly namesByLength: string[][] = [];

  private eventName(c: Cursor): string {
    const s = c.s;
    const from = c.i;
    let end = from;
    while (end < c.end && isIdent(s.charCodeAt(end))) end++;
    const len = end - from;
    if (len === 0) return '';
    c.i = end;
    const known = this.namesByLength[len];
    if (known !== undefined) for (let k = 0; k < known.length; k++) if (s.startsWith(known[k]!, from)) return known[k]!;
    const n = s.slice(from, end);
    if (len < 64) { const list = (this.namesByLength[len] ??= []); if (list.length < 8) list.push(n); }
    return n;
  }

  private emit(ev: HostEvent): void {
    this.flush();
    this.pending = ev;
  }

  private flush(): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    this.events++;
    this.sink(p);
  }

  /** `#` lines: ftrace's header (`# tracer: nop`, the flags legend) and `##### CPU 2 buffer started ####`. */
  private header(s: string, at: number): void {
    if (s.startsWith('# tracer:', at) || s.startsWith('# entries-in-buffer', at)) this.votes.ftrace += 2;
  }

  /** Lines without a [CPU] column: notices, trace-cmd -l, perf top; else unreadable. */
  private other(s: string, c: Cursor): void {
    const at = c.i;
    const n = this.n;
    // ftrace `CPU:2 [LOST 1234 EVENTS]`, trace-cmd `CPU:2 [123 EVENTS DROPPED]` / `CPU:2 [EVENTS DROPPED]`.
    if (s.startsWith('CPU:', at)) {
      const m = s.indexOf('[', at);
      if (m >= 0 && (s.includes('LOST', m) || s.includes('DROPPED', m))) {
        c.i = m + 1;
        if (c.lit('LOST ')) this.lost += c.dec() || 0;
        else { const k = c.dec(); this.lost += Number.isNaN(k) ? 1 : k; }
        this.lostNotice();
        return;
      }
    }
    // trace-cmd report's first lines and empty CPU buffers; perf kvm stat's unknown-reason notice.
    if (s.startsWith('cpus=', at) || s.startsWith('version =', at) || (s.startsWith('CPU ', at) && s.endsWith(' is empty'))) { this.votes['trace-cmd'] += 2; return; }
    if (s.startsWith('unknown kvm exit code:', at)) return;
    // perf top: the header, the column titles, and `  36.22%  payload` rows.
    if (s.startsWith('Samples:', at) && s.includes(' of event ')) {
      this.votes['perf-top'] += 2;
      const q = s.indexOf("'", at);
      const q2 = q >= 0 ? s.indexOf("'", q + 1) : -1;
      if (q2 > q) { const ev = s.slice(q + 1, q2); this.perfTopEvent = ev.includes(':') ? ev.slice(ev.indexOf(':') + 1) : ev; }
      const k = s.indexOf('Event count (approx.):');
      if (k >= 0) { c.i = k + 22; c.skipSpaces(); const v = c.dec(); if (!Number.isNaN(v)) this.perfTopCount = v; }
      return;
    }
    if (s.startsWith('Overhead', at)) { this.votes['perf-top']++; return; }
    if (isDigit(c.peek())) {
      const from = c.i;
      const whole = c.dec();
      if (c.lit('.')) c.dec();
      if (!Number.isNaN(whole) && c.lit('%')) {
        const pct = Number(s.slice(from, c.i - 1));
        const ev = new HostEvent();
        ev.line = n;
        ev.tsNs = Number.NaN;
        ev.name = this.perfTopEvent;
        const reader = PAYLOAD_READERS.get(ev.name);
        if (reader) {
          const why = reader(c, ev, this.hints);
          if (why !== null) { this.bad(n, s, `${ev.name}: ${why}`); return; }
        } else { ev.text = c.rest(); this.opaque++; }
        ev.share = pct;
        ev.f ??= {};
        this.votes['perf-top']++;
        this.emit(ev);
        return;
      }
      c.i = from;
      if (this.timestampOnly(s, c)) return;
    }
    if (this.latencyLine(s, c)) return;
    this.bad(n, s, 'expected a trace line: TASK-PID [CPU] [FLAGS] TIMESTAMP: EVENT: PAYLOAD (ftrace, trace-cmd) or COMM TID [CPU] TIMESTAMP: kvm:EVENT: PAYLOAD (perf script)');
  }

  /** A line cut down to `SECONDS.FRACTION: event: payload` (excerpts quoted without task and CPU). */
  private timestampOnly(s: string, c: Cursor): boolean {
    const start = c.i;
    const ev = new HostEvent();
    ev.line = this.n;
    if (!this.timestamp(c, ev)) { c.i = start; return false; }
    c.skipSpaces();
    this.eventAndPayload(c, ev);
    return true;
  }

  /** trace-cmd report -l: "%8.8s-%-5d %3d" + the latency flags, then the timestamp. */
  private latencyLine(s: string, c: Cursor): boolean {
    const start = c.i;
    // The task column is "%8.8s": 8 characters, cut or right-aligned, then -pid.
    const dash = s.charCodeAt(8) === 0x2d ? 8 : s.indexOf('-', start + 1);
    if (dash < 0) return false;
    c.i = dash + 1;
    const tid = c.dec();
    if (Number.isNaN(tid)) { c.i = start; return false; }
    c.skipSpaces();
    const cpu = c.dec();
    if (Number.isNaN(cpu)) { c.i = start; return false; }
    let j = c.i;
    while (j < c.end && isFlag(s.charCodeAt(j)) && s.charCodeAt(j) !== SPACE) j++;
    if (j - c.i < 3 || j - c.i > 6) { c.i = start; return false; }
    c.i = j;
    c.skipSpaces();
    const ev = new HostEvent();
    ev.line = this.n;
    ev.tid = tid;
    ev.cpu = cpu;
    ev.comm = this.comm(s, start, dash, tid);
    if (!this.timestamp(c, ev)) { c.i = start; return false; }
    this.votes['trace-cmd']++;
    this.eventAndPayload(c, ev);
    return true;
  }

  /** Lost events break every vCPU's pairing: consumers see a notice event. */
  private lostNotice(): void {
    const ev = new HostEvent();
    ev.line = this.n;
    ev.name = '<lost events>';
    this.emit(ev);
  }

  private bad(line: number, text: string, why: string): void {
    this.malformedTotal++;
    if (this.opts.strict) throw new ImportError(`${this.source}:${line}: ${why}: ${text.trim()}`);
    if (this.malformed.length < this.maxMalformed) this.malformed.push({ line, text, why });
  }
}

/** The line starts with `event:` or `system:event:` (a wrapped event's second half). */
function startsWithEvent(c: Cursor): boolean {
  const s = c.s;
  let i = c.i;
  for (let part = 0; part < 2; part++) {
    const from = i;
    while (i < c.end && isIdent(s.charCodeAt(i))) i++;
    if (i === from || s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i >= c.end || s.charCodeAt(i) === SPACE) return true;
  }
  return false;
}

/** The era the formats show: a 5.10+ format wins (a trace has one kernel; the plugin's lines are neither). */
export function eraOf(h: EraHints): 'modern' | 'old' | 'unknown' {
  return h.modern ? 'modern' : h.old ? 'old' : 'unknown';
}

/** Read a whole text (a doc string, a small file). */
export function readTraceText(text: string, source: string, sink: (e: HostEvent) => void, opts: ReadOptions = {}): ReadSummary {
  const r = new TraceReader(source, sink, opts);
  let from = 0;
  for (;;) {
    const nl = text.indexOf('\n', from);
    if (nl < 0) { if (from < text.length) r.lineAt(text, from, text.length); break; }
    r.lineAt(text, from, nl);
    from = nl + 1;
  }
  return r.finish();
}

/** Read a file in 1 MiB blocks: memory stays bounded by the longest line, whatever the file's size. */
export function readTraceFile(file: string, sink: (e: HostEvent) => void, opts: ReadOptions = {}): ReadSummary {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch (e) {
    throw new ImportError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const r = new TraceReader(file, sink, opts);
  // Blocks are cut after their last newline, so each decodes whole (a newline never splits a UTF-8
  // character); the rest moves to the front of the buffer for the next read.
  let buf = Buffer.allocUnsafe(1 << 20);
  let kept = 0;
  try {
    for (;;) {
      if (kept === buf.length) {
        if (buf.length >= 1 << 24) throw new ImportError(`${file}: a line longer than 16 MiB: not trace text`);
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, kept);
        buf = bigger;
      }
      const got = fs.readSync(fd, buf, kept, buf.length - kept, null);
      const end = kept + got;
      if (got === 0) {
        if (end > 0) r.line(buf.toString('utf8', 0, end));
        break;
      }
      const last = buf.lastIndexOf(0x0a, end - 1);
      if (last < 0) { kept = end; continue; }
      // Trace text is almost always ASCII, which latin1 decodes the same, several times faster.
      const block = buf.subarray(0, last);
      const chunk = block.toString(isAscii(block) ? 'latin1' : 'utf8');
      let from = 0;
      for (;;) {
        const nl = chunk.indexOf('\n', from);
        if (nl < 0) { r.lineAt(chunk, from, chunk.length); break; }
        r.lineAt(chunk, from, nl);
        from = nl + 1;
      }
      kept = end - last - 1;
      buf.copy(buf, 0, last + 1, end);
    }
  } catch (e) {
    if (e instanceof ImportError) throw e;
    throw new ImportError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    fs.closeSync(fd);
  }
  return r.finish();
}
