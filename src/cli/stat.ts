// exitpath stat FILE… | --action ACTION: perf kvm stat report for a host trace (raw ftrace, trace-cmd
// report, perf script, perf top text) or a simulated action, plus where each exit went and kvm's
// handler. Usage errors are one line and exit status 2.

import { DEFAULT_CONFIG, applySets, loadConfigFile, notModelled, ConfigError, type VmConfig } from '../config';
import { hostEventsOfWalk, statEvents, statFiles, type StatEvent, type StatKey, type StatJson } from '../trace/import';
import type { ReadSummary } from '../trace/import/reader';
import type { StatSource } from '../trace/import/stat';
import { explain } from '../walk';

export class StatUsageError extends Error {}

export const STAT_USAGE = 'usage: exitpath stat FILE... | --action ACTION [--set KEY=VALUE]... [--config FILE] [--event vmexit|ioport|mmio] [--vcpu N] [--key sample|time] [--format text|json] [--strict]';

interface StatArgs {
  files: string[]; action?: string; set: string[]; config?: string; event: StatEvent; vcpu?: number; key: StatKey; format: 'text' | 'json'; strict: boolean;
}

function parse(argv: readonly string[]): StatArgs {
  const a: StatArgs = { files: [], set: [], event: 'vmexit', key: 'sample', format: 'text', strict: false };
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new StatUsageError(`${o} needs a value`);
      return v;
    };
    const [flag, inline] = o.startsWith('--') && o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : [o, undefined];
    const v = () => inline ?? value();
    switch (flag) {
      case '--action': a.action = v(); break;
      case '--set': a.set.push(v()); break;
      case '--config': a.config = v(); break;
      case '--strict': a.strict = true; break;
      case '--event': {
        const e = v();
        if (e !== 'vmexit' && e !== 'ioport' && e !== 'mmio') throw new StatUsageError(`--event ${e}: expected vmexit, ioport or mmio`);
        a.event = e;
        break;
      }
      case '--key': {
        const k = v();
        if (k !== 'sample' && k !== 'time') throw new StatUsageError(`--key ${k}: expected sample or time`);
        a.key = k;
        break;
      }
      case '--format': {
        const f = v();
        if (f !== 'text' && f !== 'json') throw new StatUsageError(`--format ${f}: expected text or json`);
        a.format = f;
        break;
      }
      case '--vcpu': {
        const n = v();
        if (!/^\d+$/.test(n)) throw new StatUsageError(`--vcpu ${n}: expected a vCPU number (0, 1, ...)`);
        a.vcpu = Number(n);
        break;
      }
      default:
        if (o.startsWith('--')) throw new StatUsageError(`stat: unknown option ${o}`);
        a.files.push(o);
    }
  }
  if (a.action !== undefined && a.files.length > 0) throw new StatUsageError('stat takes FILE... or --action ACTION, not both');
  if (a.action === undefined && a.files.length === 0) throw new StatUsageError('stat needs a trace FILE (ftrace, trace-cmd report, perf script or perf top text) or --action ACTION');
  if (a.action === undefined && (a.set.length > 0 || a.config !== undefined)) throw new StatUsageError('--set and --config go with --action');
  return a;
}

/** Run `exitpath stat`; returns the text to print. Throws StatUsageError, ConfigError or ImportError on bad input. */
export function statCommand(argv: readonly string[]): string {
  const a = parse(argv);
  const opts = { event: a.event, key: a.key, ...(a.vcpu !== undefined ? { vcpu: a.vcpu } : {}) };
  if (a.action !== undefined) {
    let c: VmConfig = a.config ? loadConfigFile(a.config) : DEFAULT_CONFIG;
    c = applySets(c, a.set);
    const nm = notModelled(c);
    if (nm) throw new ConfigError(`${a.config ?? '--set'}: ${nm} is not modelled yet`);
    const w = explain(c, a.action);
    const host = hostEventsOfWalk(w.events);
    const stat = statEvents(host, opts);
    const read: StatSource = { source: `exitpath explain "${a.action}" (profile ${c.profile})`, format: 'simulated', lines: 0, malformed: [], events: host.length };
    return a.format === 'json' ? JSON.stringify(stat.json(read), null, 2) + '\n' : stat.text([`${read.source}: ${host.length} kvm events of the simulated walk; handlers as the model ran them`]);
  }
  const { stat, reads } = statFiles(a.files, { ...opts, strict: a.strict });
  const merged = merge(reads);
  if (a.format === 'json') return JSON.stringify(stat.json(merged), null, 2) + '\n';
  return stat.text(headLines(reads), merged);
}

function merge(reads: readonly ReadSummary[]): StatSource {
  const many = reads.length > 1;
  const formats = [...new Set(reads.map((r) => r.format))];
  const eras = [...new Set(reads.map((r) => r.era))];
  return {
    source: reads.map((r) => r.source).join(', '),
    format: formats.join(', '),
    lines: reads.reduce((n, r) => n + r.lines, 0),
    events: reads.reduce((n, r) => n + r.events, 0),
    malformed: reads.flatMap((r) => r.malformed.map((m) => (many ? { file: r.source, ...m } : m))),
    malformedTotal: reads.reduce((n, r) => n + r.malformedTotal, 0),
    lost: reads.reduce((n, r) => n + r.lost, 0),
    era: eras.join(', '),
    ...(reads.some((r) => r.perfTopEventCount !== undefined) ? { perfTopEventCount: reads.reduce((n, r) => n + (r.perfTopEventCount ?? 0), 0) } : {}),
  };
}

function headLines(reads: readonly ReadSummary[]): string[] {
  const out: string[] = [];
  for (const r of reads) {
    const era = r.era === 'modern' ? 'Linux 5.10+ formats' : r.era === 'old' ? 'pre-5.10 formats' : 'no era-specific format';
    out.push(`${r.source}: ${r.format}, ${era}; ${r.lines} lines, ${r.events} events${r.opaque ? ` (${r.opaque} of tracepoints not read)` : ''}, ${r.malformedTotal} unread line${r.malformedTotal === 1 ? '' : 's'}${r.lost ? `, ${r.lost} events lost by the tracer` : ''}`);
    for (const m of r.malformed.slice(0, 20)) out.push(`  line ${m.line}: ${m.why}: ${m.text.trim()}`);
    if (r.malformedTotal > 20) out.push(`  … and ${r.malformedTotal - 20} more (--format json lists ${Math.min(r.malformed.length, 1000)})`);
  }
  return out;
}

export type { StatJson };
