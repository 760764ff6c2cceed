// exitpath: the command-line front end. User errors print one line and exit with status 2.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, applySet, loadConfigFile, notModelled, type VmConfig } from '../config';
import { ActionError } from '../guest/actions';
import { StackError } from '../stack';
import { narrate } from '../trace/narrative';
import type { Summary } from '../trace/query';
import { explain, runWalk, writeTraceNdjson, writeWalkJson } from '../walk';
import { IO_PATHS, compare, formatTable } from '../compare';
import { ReportInputError, WALK_FORMATS, coverageCommand, diffCommand, formatWalk } from './reports';

class UsageError extends Error {}
/** A file the command cannot write: one line, status 2 (no usage text). */
class OutputFileError extends Error {}

const USAGE = `usage: exitpath explain ACTION [--config FILE] [--set KEY=VALUE]... [--vcpu N] [--format text|json|svg|ftrace] [--lang en|ja] [--trace-boot] [--verbose] [--disk-out FILE]
       exitpath diff TRACE_A TRACE_B      (golden YAML or explain JSON; status 1 when the walks differ)
       exitpath coverage [--from reports/cucumber.ndjson] [--gaps]
       exitpath compare ACTION [--set KEY=VALUE]... [--format text|json]
       exitpath constants --json

ACTION is one guest instruction ("cpuid 0x0", "outw 0xc050 0x0", "inl 0x1234", "wrmsr 0x80b 0x0")
or a guest process action on its ext2 disk: write TEXT PATH (O_SYNC) | append TEXT PATH | read N PATH |
fsync PATH | fdatasync PATH | mkdir PATH | unlink PATH | rename PATH PATH | sync | drop-caches,
or a workload in one action: loop N INSTRUCTION | write-blocks N KIB PATH (N writes of KIB KiB each),
or ipi CPU: the guest kernel wakes vCPU CPU with a reschedule IPI (smp_send_reschedule).
--vcpu N runs an instruction, a loop or an ipi on vCPU N (with --set vcpus=2 or more); a process's
syscalls and I/O run on vCPU 0.

explain --trace-out FILE writes the action's events to FILE as ndjson, one event a line, and prints
only the summary: for runs of millions of events.
explain --disk-out FILE unmounts the guest's file system after the action and writes the disk image
to FILE (e2fsck -fn FILE, debugfs -R "cat /hello.txt" FILE).`;

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  let traceOut: string | undefined;
  let diskOut: string | undefined;
  const opts: { config?: string; set: string[]; format: string; traceBoot: boolean; verbose: boolean; json: boolean; lang: string; from?: string; gaps: boolean; vcpu: number } =
    { set: [], format: 'text', traceBoot: false, verbose: false, json: false, lang: 'en', gaps: false, vcpu: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--config') opts.config = value();
    else if (a === '--set') opts.set.push(value());
    else if (a === '--format') opts.format = value();
    else if (a.startsWith('--format=')) opts.format = a.slice(9);
    else if (a === '--trace-boot') opts.traceBoot = true;
    else if (a === '--vcpu') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new UsageError(`--vcpu ${v}: expected a vCPU number (0, 1, ...)`);
      opts.vcpu = Number(v);
    }
    else if (a === '--trace-out') traceOut = value();
    else if (a === '--disk-out') diskOut = value();
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--lang') opts.lang = value();
    else if (a === '--from') opts.from = value();
    else if (a === '--gaps') opts.gaps = true;
    else if (a === '-h' || a === '--help') { process.stdout.write(USAGE + '\n'); process.exit(0); }
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  return { positional, opts, traceOut, diskOut };
}

/** A file the command will write: its directory must exist and be writable, and it must not be a directory. */
function checkWritable(option: string, file: string): void {
  const dir = path.dirname(path.resolve(file));
  try { fs.accessSync(dir, fs.constants.W_OK); } catch (e) {
    throw new OutputFileError(`${option} ${file}: cannot write there (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try { if (fs.statSync(file).isDirectory()) throw new OutputFileError(`${option} ${file}: is a directory`); } catch (e) {
    if (e instanceof OutputFileError) throw e;
  }
}

function configFrom(opts: { config?: string; set: string[] }): VmConfig {
  let c = opts.config ? loadConfigFile(opts.config) : DEFAULT_CONFIG;
  for (const s of opts.set) c = applySet(c, s);
  const nm = notModelled(c);
  if (nm) throw new ConfigError(`${opts.config ?? '--set'}: ${nm} is not modelled yet`);
  return c;
}

/** How often each distinct item occurs, in order of first appearance: `3× a, 1× b`. */
function counted(items: string[]): string {
  const n = new Map<string, number>();
  for (const x of items) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n].map(([x, k]) => `${k}× ${x}`).join(', ') || 'none';
}

/** The summary of a large run, with repeated exits, entries and syscalls counted rather than listed. */
function countedSummary(title: string, s: Summary): string {
  const up = s.exits.filter((x) => x.handledIn === 'userspace').length;
  return [
    title, '',
    `VM exits: ${s.exits.length} (${up} reached qemu-kvm): ${counted(s.exits.map((x) => `${x.reason}→${x.handler ?? 'no handler'}${x.userspaceExit ? `→${x.userspaceExit}` : ''}`))}`,
    `VM entries: ${counted(s.entries)}; guest interrupts: ${s.guestInterrupts}`,
    `host syscalls: ${counted(s.hostSyscalls.map((h) => (h.request ? `ioctl(${h.request})` : h.name)))}`,
    `result in the guest: ${s.guestResult.value}${s.guestResult.errno ? ` (${s.guestResult.errno})` : ''}${s.guestResult.fault ? ` after ${s.guestResult.fault}` : ''}; modelled cycles: ${s.cycles}`,
  ].join('\n') + '\n';
}

/**
 * explain with its events written as they are decoded: `--format json` to stdout, or with
 * `--trace-out FILE` as ndjson to FILE while stdout gets the summary alone.
 */
function explainStreamed(config: VmConfig, action: string, opts: { format: string; traceBoot: boolean; lang: string; vcpu: number }, traceOut: string | undefined, diskOut: string | undefined): number {
  if (traceOut !== undefined && opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--trace-out goes with --format text or json, not ${opts.format}`);
  let fd: number | undefined;
  if (traceOut !== undefined) {
    try { fd = fs.openSync(traceOut, 'w'); } catch (e) {
      throw new UsageError(`--trace-out ${traceOut}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
  try {
    const run = runWalk(config, action, { traceBoot: opts.traceBoot, vcpu: opts.vcpu, diskOut });
    const stdout = (s: string) => { process.stdout.write(s); };
    if (fd === undefined) { writeWalkJson(run, stdout); return 0; }
    const out = fd;
    const events = writeTraceNdjson(run, (s) => { fs.writeSync(out, s); });
    const trace = { file: traceOut!, events };
    if (opts.format === 'json') stdout(JSON.stringify({ config: run.config, trace, summary: run.summary }, null, 2) + '\n');
    else stdout(countedSummary(`exitpath explain "${action}"  (profile ${config.profile}, irqchip ${config.irqchip})`, run.summary) + `trace: ${events} events in ${traceOut}\n`);
    return 0;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function main(argv: string[]): number {
  try {
    const { positional, opts, traceOut, diskOut } = parseArgs(argv);
    const [cmd, ...rest] = positional;
    if (cmd === 'explain') {
      if (rest.length !== 1) throw new UsageError('explain takes one ACTION (quote it: exitpath explain "write hello /hello.txt")');
      if (!(WALK_FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format ${opts.format}: expected ${WALK_FORMATS.join(', ')}`);
      if (opts.lang !== 'en' && opts.lang !== 'ja') throw new UsageError(`--lang ${opts.lang}: expected en or ja`);
      if (diskOut !== undefined) checkWritable('--disk-out', diskOut);
      if (traceOut !== undefined || opts.format === 'json') return explainStreamed(configFrom(opts), rest[0]!, opts, traceOut, diskOut);
      const w = explain(configFrom(opts), rest[0]!, { traceBoot: opts.traceBoot, vcpu: opts.vcpu, diskOut });
      const other = formatWalk(w, opts.format);
      if (other !== null) process.stdout.write(other);
      else if (opts.format === 'json') process.stdout.write(JSON.stringify({ config: w.config, events: w.events, summary: w.summary }, null, 2) + '\n');
      else process.stdout.write(narrate(`exitpath explain "${w.action}"  (profile ${w.config.profile}, irqchip ${w.config.irqchip})`, w.events, w.summary, opts.verbose, opts.lang as 'en' | 'ja'));
      if (w.unfinished && other === null && opts.format !== 'json') process.stdout.write(`the action did not complete: ${w.unfinished}\n`);
      return 0;
    }
    if (cmd === 'compare') {
      if (rest.length !== 1) throw new UsageError('compare takes one ACTION (quote it: exitpath compare "write hello /hello.txt")');
      // With --set: the default machine against that configuration; without: the I/O-path ladder.
      const columns = opts.set.length > 0 ? [{ label: 'default', sets: [] }, { label: opts.set.join(' '), sets: opts.set }] : IO_PATHS;
      const base = opts.config ? loadConfigFile(opts.config) : DEFAULT_CONFIG;
      const rows = compare(rest[0]!, columns, base);
      process.stdout.write(opts.format === 'json' ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rest[0]!, rows));
      return 0;
    }
    if (cmd === 'diff') {
      if (rest.length !== 2) throw new UsageError('diff takes two trace files: exitpath diff before.yaml after.json');
      const d = diffCommand(rest[0]!, rest[1]!);
      process.stdout.write(d.text);
      return d.status;
    }
    if (cmd === 'coverage') {
      if (rest.length !== 0) throw new UsageError('coverage takes no arguments (--from FILE to read another message stream)');
      process.stdout.write(coverageCommand(opts.from ?? 'reports/cucumber.ndjson', opts.gaps, !!process.stdout.isTTY));
      return 0;
    }
    if (cmd === 'constants') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { abiTable } = require('../uapi/abi') as { abiTable(): { name: string; value: number }[] };
      const table = Object.fromEntries(abiTable().map((e) => [e.name, e.value]));
      process.stdout.write(opts.json ? JSON.stringify(table, null, 2) + '\n' : Object.entries(table).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
      return 0;
    }
    throw new UsageError(cmd ? `unknown command '${cmd}'` : 'no command given');
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`exitpath: ${e.message}\n${USAGE}\n`); return 2; }
    if (e instanceof ConfigError || e instanceof ActionError || e instanceof StackError || e instanceof ReportInputError || e instanceof OutputFileError) {
      process.stderr.write(`exitpath: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
