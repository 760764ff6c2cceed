// `exitpath stat`: perf kvm stat report for any kvm trace, real or simulated, and what it does not
// show — for each exit reason, how many exits went to userspace and as which KVM_EXIT_*, and kvm's
// handler (inferred for a host trace).
//
// The table is perf's (tools/perf/builtin-kvm.c, print_result, perf 3.14 – 6.3: name column 20 wide;
// the header line keeps its trailing space):
//     "Analyze events for all VMs, " + "all VCPUs:" | "VCPU %d:"
//     header  "%20s " name "%10s " Samples "%9s " Samples% "%9s " Time% "%11s " Min Time "%11s " Max Time "%16s " Avg time
//     row     "%20s " key "%10llu " "%8.2f%% " "%8.2f%% " "%9.2fus " "%9.2fus " "%9.2fus ( +-%7.2f%% )"
//     footer  "\nTotal Samples:%" PRIu64 ", Total events handled time:%.2fus.\n\n"
// and its keys (tools/perf/arch/x86/util/kvm-stat.c): vmexit = the exit reason, from kvm_exit to the
// next kvm_entry; ioport = "%#llx:POUT|PIN", from kvm_pio to kvm_entry; mmio = "%#lx:W|R", a write
// from kvm_mmio to kvm_entry, a read from kvm_exit to its kvm_mmio read. Rows sorted by samples
// (--key sample) or total time (--key time), largest first; "( +- x% )" is the relative standard
// error of the mean (util/stat.c rel_stddev_stats). Times are µs, as perf prints them.

import type { HostEvent } from './host_event';
import { inferHandler } from './handlers';
import type { PairedExit } from './pairing';
import type { Malformed } from './reader';

export type StatEvent = 'vmexit' | 'ioport' | 'mmio';
export type StatKey = 'sample' | 'time';

export interface StatOptions { event: StatEvent; vcpu?: number; key: StatKey }

class Welford {
  n = 0; mean = 0; m2 = 0; min = Infinity; max = -Infinity; total = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.total += x;
  }
  /** rel_stddev_stats(stddev_stats(), avg_stats()): the standard error of the mean, in % of the mean. */
  relStddev(): number {
    if (this.n < 2 || this.mean === 0) return 0;
    return 100 * Math.sqrt(this.m2 / (this.n - 1) / this.n) / this.mean;
  }
}

interface Row {
  count: number;
  time: Welford;
  userspace: Map<string, number>;
  handlers: Map<string, number>;
  handlerHow: string;
}

export interface StatJson {
  source: string;
  format: string;
  lines: number;
  malformed: Malformed[];
  events: number;
  exits: {
    total: number;
    byReason: Record<string, { count: number; userspace: Record<string, number>; handler: string | null; minUs: number | null; maxUs: number | null; avgUs: number | null }>;
  };
  vcpus: { id: number; exits: number }[];
  userspaceExits: Record<string, number>;
  [more: string]: unknown;
}

/** What the statistics were read from. */
export interface StatSource {
  source: string; format: string; lines: number; malformed: Malformed[]; events: number;
  malformedTotal?: number; lost?: number; era?: string;
  /** perf top: the header's approximate event count. */
  perfTopEventCount?: number;
}

export class StatAggregator {
  private readonly rows = new Map<string, Row>();
  private readonly vcpus = new Map<number, number>();
  private readonly userspaceTotals = new Map<string, number>();
  private exitsTotal = 0;
  private unpaired = 0;
  private perfTopShare = new Map<string, number>();

  constructor(private readonly opts: StatOptions, private readonly era: () => 'modern' | 'old' | 'unknown') {}

  /** One kvm_exit line of a perf top capture: its share of the samples. */
  perfTopRow(e: HostEvent): void {
    const r = String(e.f!.reason);
    this.perfTopShare.set(r, (this.perfTopShare.get(r) ?? 0) + e.share);
  }

  /** A kvm_userspace_exit outside any exit (KVM_RUN returned without entering the guest). */
  strayUserspace(e: HostEvent, vcpu: number): void {
    if (!this.wanted(vcpu)) return;
    const k = userspaceName(e);
    this.userspaceTotals.set(k, (this.userspaceTotals.get(k) ?? 0) + 1);
  }

  exit(x: PairedExit): void {
    if (!this.wanted(x.vcpu)) return;
    const f = x.exit.f!;
    const reason = String(f.reason);
    this.exitsTotal++;
    this.vcpus.set(x.vcpu, (this.vcpus.get(x.vcpu) ?? 0) + 1);
    const up = x.userspace !== null ? userspaceName(x.userspace) : null;
    if (up !== null) this.userspaceTotals.set(up, (this.userspaceTotals.get(up) ?? 0) + 1);
    if (x.entry === null) this.unpaired++;
    const t0 = x.exit.tsNs;
    if (this.opts.event === 'vmexit') {
      const row = this.row(reason);
      row.count++;
      if (x.entry !== null) row.time.add(x.entry.tsNs - t0);
      if (up !== null) row.userspace.set(up, (row.userspace.get(up) ?? 0) + 1);
      const inf = inferHandler(reason, String(f.isa), x.inner, this.era());
      const h = inf.handler ?? '(none)';
      row.handlers.set(h, (row.handlers.get(h) ?? 0) + 1);
      row.handlerHow = inf.observed ? inf.how : 'inferred';
      return;
    }
    for (const e of x.inner) {
      if (this.opts.event === 'ioport' && e.name === 'kvm_pio' && e.f !== null) {
        const row = this.row(`0x${Number(e.f.port).toString(16)}:${e.f.rw ? 'POUT' : 'PIN'}`);
        row.count++;
        if (x.entry !== null) row.time.add(x.entry.tsNs - e.tsNs);
      } else if (this.opts.event === 'mmio' && e.name === 'kvm_mmio' && e.f !== null && (e.f.type === 1 || e.f.type === 2)) {
        const write = e.f.type === 2;
        const row = this.row(`0x${Number(e.f.gpa).toString(16)}:${write ? 'W' : 'R'}`);
        row.count++;
        if (write) { if (x.entry !== null) row.time.add(x.entry.tsNs - e.tsNs); } else row.time.add(e.tsNs - t0);
      }
    }
  }

  private wanted(vcpu: number): boolean { return this.opts.vcpu === undefined || this.opts.vcpu === vcpu; }

  private row(k: string): Row {
    let r = this.rows.get(k);
    if (r === undefined) { r = { count: 0, time: new Welford(), userspace: new Map(), handlers: new Map(), handlerHow: '' }; this.rows.set(k, r); }
    return r;
  }

  private sorted(): [string, Row][] {
    const by = this.opts.key === 'time' ? (r: Row) => r.time.total : (r: Row) => r.count;
    return [...this.rows].sort((a, b) => by(b[1]) - by(a[1]) || (a[0] < b[0] ? -1 : 1));
  }

  // ---------------------------------------------------------------- output

  /**
   * perf top shows shares, not events: each reason's count is its share of the header's approximate
   * event count (or of 100 samples when the header is missing), marked as estimated.
   */
  private perfTopRows(read: StatSource): void {
    if (this.perfTopShare.size === 0 || this.exitsTotal > 0) return;
    const n = read.perfTopEventCount ?? 100;
    for (const [reason, pct] of this.perfTopShare) {
      const row = this.row(reason);
      row.count = Math.round((pct * n) / 100);
      this.exitsTotal += row.count;
    }
    this.perfTopShare.clear();
    this.estimated = true;
  }
  private estimated = false;

  json(read: StatSource): StatJson {
    this.perfTopRows(read);
    const byReason: StatJson['exits']['byReason'] = {};
    for (const [k, r] of this.sorted()) {
      const paired = r.time.n > 0;
      byReason[k] = {
        count: r.count,
        userspace: Object.fromEntries(r.userspace),
        handler: this.opts.event === 'vmexit' ? handlerText(r) : null,
        minUs: paired ? round2(r.time.min / 1e3) : null,
        maxUs: paired ? round2(r.time.max / 1e3) : null,
        avgUs: paired ? round2(r.time.mean / 1e3) : null,
      };
    }
    const out: StatJson = {
      source: read.source,
      format: read.format,
      lines: read.lines,
      malformed: read.malformed,
      events: read.events,
      exits: { total: this.exitsTotal, byReason },
      vcpus: [...this.vcpus].sort((a, b) => a[0] - b[0]).map(([id, exits]) => ({ id, exits })),
      userspaceExits: Object.fromEntries([...this.userspaceTotals].sort((a, b) => b[1] - a[1])),
    };
    // Beyond the contract: what a reader needs to trust the numbers.
    out.event = this.opts.event;
    if (this.opts.vcpu !== undefined) out.vcpu = this.opts.vcpu;
    out.unpaired = this.unpaired;
    if (read.malformedTotal !== undefined && read.malformedTotal > read.malformed.length) out.malformedTotal = read.malformedTotal;
    if (read.lost) out.lost = read.lost;
    if (read.era) out.era = read.era;
    if (this.estimated) out.estimated = `perf top shows each reason's share: counts are shares of its approximate event count (${read.perfTopEventCount ?? 'none printed: of 100'})`;
    return out;
  }

  text(head: string[], read?: StatSource): string {
    if (read) this.perfTopRows(read);
    const name = this.opts.event === 'vmexit' ? 'VM-EXIT' : this.opts.event === 'ioport' ? 'IO Port Access' : 'MMIO Access';
    const totalCount = [...this.rows.values()].reduce((a, r) => a + r.count, 0);
    const totalTime = [...this.rows.values()].reduce((a, r) => a + r.time.total, 0);
    const L: string[] = [...head, '', ''];
    L.push(`Analyze events for all VMs, ${this.opts.vcpu === undefined ? 'all VCPUs:' : `VCPU ${this.opts.vcpu}:`}`, '');
    L.push(`${name.padStart(20)} ${'Samples'.padStart(10)} ${'Samples%'.padStart(9)} ${'Time%'.padStart(9)} ${'Min Time'.padStart(11)} ${'Max Time'.padStart(11)} ${'Avg time'.padStart(16)} `, '');
    const us = (ns: number) => `${(ns / 1e3).toFixed(2).padStart(9)}us`;
    for (const [k, r] of this.sorted()) {
      const t = r.time;
      const pct = (a: number, b: number) => `${(b > 0 ? (a / b) * 100 : 0).toFixed(2).padStart(8)}%`;
      L.push(`${k.padStart(20)} ${String(r.count).padStart(10)} ${pct(r.count, totalCount)} ${pct(t.total, totalTime)} `
        + `${us(t.n ? t.min : 0)} ${us(t.n ? t.max : 0)} ${us(t.n ? t.mean : 0)} ( +-${t.relStddev().toFixed(2).padStart(7)}% )`);
    }
    L.push('', `Total Samples:${totalCount}, Total events handled time:${(totalTime / 1e3).toFixed(2)}us.`, '');
    if (this.opts.event === 'vmexit' && this.rows.size > 0 && !this.estimated) {
      L.push('Where each exit went, and kvm\'s handler (what perf kvm stat does not show):', '');
      L.push(`${'VM-EXIT'.padStart(20)} ${'Samples'.padStart(10)} ${'in kernel'.padStart(10)}  ${'to userspace'.padEnd(28)} handler`);
      for (const [k, r] of this.sorted()) {
        const up = [...r.userspace].map(([x, n]) => `${n} ${x}`).join(', ');
        const inKernel = r.count - [...r.userspace.values()].reduce((a, n) => a + n, 0);
        L.push(`${k.padStart(20)} ${String(r.count).padStart(10)} ${String(inKernel).padStart(10)}  ${(up || '-').padEnd(28)} ${handlerText(r) ?? '(none)'}${r.handlerHow === 'inferred' ? ' (inferred)' : ''}`);
      }
      L.push('');
    }
    if (this.estimated) L.push('perf top shows shares, not events: the samples are each share of its approximate event count, and there are no times.', '');
    if (this.unpaired > 0 && !this.estimated) L.push(`${this.unpaired} exit(s) had no kvm_entry after them (the trace ended, or events were lost): counted, not timed.`, '');
    return L.join('\n') + '\n';
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function handlerText(r: Row): string | null {
  const hs = [...r.handlers].sort((a, b) => b[1] - a[1]).filter(([h]) => h !== '(none)');
  if (hs.length === 0) return null;
  return hs.length === 1 ? hs[0]![0] : hs.map(([h, n]) => `${h} (${n})`).join(', ');
}

/** KVM_EXIT_IO for a reason, `restart (EINTR)` / `error (N)` for KVM_RUN's error returns. */
function userspaceName(e: HostEvent): string {
  const f = e.f!;
  if (f.reason === 'restart') return 'restart (EINTR)';
  if (f.reason === 'error') return `error (${f.errno})`;
  return String(f.reason);
}
