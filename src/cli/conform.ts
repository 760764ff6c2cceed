// exitpath conform SIMULATED REAL: the kvm-level walk of a simulated action (an ACTION run on a fresh
// VM, or the JSON of `exitpath explain --format json`) against a host's trace of the same action.
// Status 0 when they agree, 1 when they differ, 2 on bad input (one line).

import * as fs from 'node:fs';
import { ConfigError, DEFAULT_CONFIG, applySets, loadConfigFile, notModelled, type VmConfig } from '../config';
import { importTrace } from '../trace/import';
import { conform } from '../trace/import/conform';
import type { TraceEvent } from '../trace/recorder';
import { explain } from '../walk';

export class ConformUsageError extends Error {}

export const CONFORM_USAGE = 'usage: exitpath conform ACTION|EXPLAIN.json HOST-TRACE [--set KEY=VALUE]... [--config FILE] [--vcpu N]';

export function conformCommand(argv: readonly string[]): { text: string; same: boolean } {
  const pos: string[] = [];
  const set: string[] = [];
  let config: string | undefined;
  let vcpu = 0;
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i]!;
    const value = () => { const v = argv[++i]; if (v === undefined) throw new ConformUsageError(`${o} needs a value`); return v; };
    if (o === '--set') set.push(value());
    else if (o === '--config') config = value();
    else if (o === '--vcpu') { const v = value(); if (!/^\d+$/.test(v)) throw new ConformUsageError(`--vcpu ${v}: expected a vCPU number`); vcpu = Number(v); }
    else if (o.startsWith('--')) throw new ConformUsageError(`conform: unknown option ${o}`);
    else pos.push(o);
  }
  if (pos.length !== 2) throw new ConformUsageError('conform takes a simulated action (ACTION, or explain --format json output) and a host trace: exitpath conform "inl 0x1234" host.txt');
  const [sim, real] = pos as [string, string];
  let events: TraceEvent[];
  let label: string;
  if (fs.existsSync(sim) && sim.endsWith('.json')) {
    let parsed: { events?: TraceEvent[] };
    try { parsed = JSON.parse(fs.readFileSync(sim, 'utf8')) as { events?: TraceEvent[] }; } catch (e) {
      throw new ConformUsageError(`${sim}: not the JSON of exitpath explain --format json (${(e as Error).message.split('\n')[0]})`);
    }
    if (!Array.isArray(parsed.events)) throw new ConformUsageError(`${sim}: expected { "events": [...] } (exitpath explain --format json)`);
    events = parsed.events;
    label = `${sim} (simulated)`;
  } else {
    let c: VmConfig = config ? loadConfigFile(config) : DEFAULT_CONFIG;
    c = applySets(c, set);
    const nm = notModelled(c);
    if (nm) throw new ConfigError(`${config ?? '--set'}: ${nm} is not modelled yet`);
    events = explain(c, sim, { vcpu }).events;
    label = `exitpath explain "${sim}" (profile ${c.profile}, simulated)`;
  }
  const host = importTrace({ file: real });
  const bad = host.read.malformedTotal ? `; ${host.read.malformedTotal} unread line(s), first: line ${host.read.malformed[0]!.line}: ${host.read.malformed[0]!.why}` : '';
  const r = conform(events, host.walk.events, [label, `${real} (host trace: ${host.read.format}${bad})`]);
  return { text: r.text, same: r.same };
}
