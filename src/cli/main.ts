// exitpath: the command-line front end.
//
// Exit status: 0 done; 1 `diff` found the walks different; 2 the input was refused (one line on
// stderr naming what and where, never a stack trace); 3 the simulated run broke one of its
// invariants or tripped a guard rail (a defect of the model: the output is printed, then the
// problems); 70 (EX_SOFTWARE) anything else that went wrong inside the simulator (a defect too).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, PROFILE_STACK, applySets, loadConfigFile, notModelled, type VmConfig } from '../config';
import { ActionError, parseAction } from '../guest/actions';
import { GuestOutOfMemory } from '../guest/memory';
import { StackError } from '../stack';
import { narrate } from '../trace/narrative';
import type { CountedSummary } from '../trace/scan';
import { TooManyEventsError, checkHeldSize, explain, runWalk, streamWalk, writeWalkJson } from '../walk';
import { IO_PATHS, compare, formatTable } from '../compare';
import { ReportInputError, WALK_FORMATS, coverageCommand, diffCommand, formatWalk } from './reports';
import { STAT_USAGE, StatUsageError, statCommand } from './stat';
import { CONFORM_USAGE, ConformUsageError, conformCommand } from './conform';
import { ImportError } from '../trace/import';
import { editDistance } from '../edit_distance';

class UsageError extends Error {}
/** A file the command cannot write: one line, status 2 (no usage text). */
class OutputFileError extends Error {}

/** Exit statuses. */
export const EXIT = { OK: 0, DIFFERENT: 1, INPUT: 2, INVARIANT: 3, SOFTWARE: 70 } as const;

const USAGE = `usage: exitpath test [PATH[:LINE]...] [--tags EXPR] [--name RE] [--report DIR] [--update-golden]   (exitpath test --help)
       exitpath explain ACTION [--config FILE] [--set KEY=VALUE]... [--vcpu N] [--format text|json|svg|ftrace|trace-cmd|perf-script] [--lang en|ja] [--trace-boot] [--verbose]
                        [--trace-out FILE] [--progress|--no-progress] [--disk-out FILE]
       exitpath diff TRACE_A TRACE_B      (golden YAML or explain JSON; status 1 when the walks differ)
       exitpath coverage [--from reports/cucumber.ndjson] [--gaps]
       exitpath compare ACTION [--set KEY=VALUE]... [--format text|json]
       exitpath constants --json
       exitpath stat FILE... | --action ACTION  (perf kvm stat report for a host trace or an action; stat --help for options)
       exitpath conform ACTION HOST-TRACE      (a simulated action against a host trace of it; status 1 when they differ)

ACTION is one guest instruction ("cpuid 0x0", "outw 0xc050 0x0", "inl 0x1234", "wrmsr 0x80b 0x0")
or a guest process action on its ext2 disk: write TEXT PATH (O_SYNC) | append TEXT PATH | read N PATH |
fsync PATH | fdatasync PATH | mkdir PATH | unlink PATH | rename PATH PATH | sync | drop-caches,
or a workload in one action: loop N INSTRUCTION | write-blocks N KIB PATH (N writes of KIB KiB each),
or ipi CPU: the guest kernel wakes vCPU CPU with a reschedule IPI (smp_send_reschedule).
--vcpu N runs an instruction, a loop or an ipi on vCPU N (with --set vcpus=2 or more); a process's
syscalls and I/O run on vCPU 0.

explain holds the walk in memory, up to 1,000,000 events (a larger workload is refused up front).
explain --trace-out FILE writes the action's events to FILE as ndjson, one event a line, as they are
recorded, and prints a summary with repeats counted: any length of run in bounded memory. FILE is
written under a temporary name and renamed when the run is done. A run longer than two seconds shows
its progress on stderr when stderr is a terminal (--progress: always, --no-progress: never).
explain --disk-out FILE unmounts the guest's file system after the action and writes the disk image
to FILE (e2fsck -fn FILE, debugfs -R "cat /hello.txt" FILE).

Exit status: 0 done, 1 diff or conform found a difference (exitpath test: a scenario did not pass),
2 the input was refused, 3 the run broke an invariant of the model (a defect of exitpath), 70 an
internal error of exitpath.`;

interface Opts {
  config?: string; set: string[]; format: string; traceBoot: boolean; verbose: boolean; json: boolean; lang: string;
  from?: string; gaps: boolean; vcpu: number; progress: 'auto' | 'on' | 'off';
}

function parseArgs(argv: string[]) {
  const positional: string[] = [];
  let traceOut: string | undefined;
  let diskOut: string | undefined;
  const opts: Opts = { set: [], format: 'text', traceBoot: false, verbose: false, json: false, lang: 'en', gaps: false, vcpu: 0, progress: 'auto' };
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
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--vcpu ${v}: expected a vCPU number (0, 1, ...)`);
      opts.vcpu = Number(v);
    }
    else if (a === '--trace-out') traceOut = value();
    else if (a === '--disk-out') diskOut = value();
    else if (a === '--progress') opts.progress = 'on';
    else if (a === '--no-progress') opts.progress = 'off';
    else if (a === '--verbose') opts.verbose = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--lang') opts.lang = value();
    else if (a === '--from') opts.from = value();
    else if (a === '--gaps') opts.gaps = true;
    else if (a === '-h' || a === '--help') return { help: true as const };
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  return { help: false as const, positional, opts, traceOut, diskOut };
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
  c = applySets(c, opts.set);
  const nm = notModelled(c);
  if (nm) throw new ConfigError(`${opts.config ?? '--set'}: ${nm} is not modelled yet`);
  return c;
}

/** How often each distinct item occurs, in order of first appearance: `3× a, 1× b`. */
function counted(items: [string, number][]): string {
  const n = new Map<string, number>();
  for (const [x, k] of items) n.set(x, (n.get(x) ?? 0) + k);
  return [...n].map(([x, k]) => `${k}× ${x}`).join(', ') || 'none';
}

/** The summary of a large run, with repeated exits, entries and syscalls counted rather than listed. */
function countedText(title: string, s: CountedSummary): string {
  const exits = s.exits.reduce((n, e) => n + e.count, 0);
  const up = s.exits.filter((x) => x.handledIn === 'userspace').reduce((n, e) => n + e.count, 0);
  return [
    title, '',
    `VM exits: ${exits} (${up} reached qemu-kvm): ${counted(s.exits.map((x) => [`${x.reason}→${x.handler ?? 'no handler'}${x.userspaceExit ? `→${x.userspaceExit}` : ''}`, x.count]))}`,
    `VM entries: ${counted(s.entries.map((e) => [e.name, e.count]))}; guest interrupts: ${s.guestInterrupts}`,
    `host syscalls: ${counted(s.hostSyscalls.map((h) => [h.request ? `ioctl(${h.request})` : h.name, h.count]))}`,
    `result in the guest: ${s.guestResult.value}${s.guestResult.errno ? ` (${s.guestResult.errno})` : ''}${s.guestResult.fault ? ` after ${s.guestResult.fault}` : ''}; modelled cycles: ${s.cycles}`,
  ].join('\n') + '\n';
}

/**
 * Progress of a long run on stderr: after two seconds, and only where someone sees it — a terminal
 * (one line, redrawn), or wherever stderr goes with --progress (a line every few seconds).
 */
class Progress {
  private readonly t0 = Date.now();
  private last = 0;
  private shown = false;
  private readonly tty = !!process.stderr.isTTY;
  constructor(private readonly mode: 'auto' | 'on' | 'off') {}
  tick = (events: number): void => {
    if (this.mode === 'off' || (this.mode === 'auto' && !this.tty)) return;
    const now = Date.now();
    const ms = now - this.t0;
    if (ms < 2000 || now - this.last < (this.tty ? 250 : 5000)) return;
    this.last = now;
    this.shown = true;
    const line = `exitpath: ${events.toLocaleString('en-US')} events recorded, ${(ms / 1000).toFixed(1)} s`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  };
  done(): void { if (this.shown && this.tty) process.stderr.write('\r\x1b[K'); }
}

/** Write all of `s` to a file descriptor; a failure names the file. */
function writeAll(fd: number, s: string, name: string): void {
  const b = Buffer.from(s);
  let off = 0;
  try {
    while (off < b.length) off += fs.writeSync(fd, b, off);
  } catch (e) {
    throw new UsageError(`--trace-out ${name}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** The run broke invariants of the model: say so on stderr (after the output), status 3. */
function reportProblems(problems: string[]): number {
  if (problems.length === 0) return EXIT.OK;
  process.stderr.write(`exitpath: the simulated run broke its invariants (a defect of exitpath's model, not of the input):\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  return EXIT.INVARIANT;
}

/**
 * explain --trace-out FILE: the events go to a temporary file next to FILE as they are recorded, and
 * replace FILE only when the run is done — a refused input or a failed run leaves FILE as it was.
 */
function explainToFile(config: VmConfig, action: string, opts: Opts, traceOut: string, diskOut: string | undefined): number {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--trace-out goes with --format text or json, not ${opts.format}`);
  let isDir = false;
  try { isDir = fs.statSync(traceOut).isDirectory(); } catch { /* a new file */ }
  if (isDir) throw new UsageError(`--trace-out ${traceOut}: is a directory`);
  const tmp = path.join(path.dirname(path.resolve(traceOut)), `.${path.basename(traceOut)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try { fd = fs.openSync(tmp, 'wx'); } catch (e) {
    throw new UsageError(`--trace-out ${traceOut}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const progress = new Progress(opts.progress);
  let kept = false;
  try {
    const out = fd;
    const w = streamWalk(config, action, { traceBoot: opts.traceBoot, vcpu: opts.vcpu, diskOut }, (s) => writeAll(out, s, traceOut), progress.tick);
    progress.done();
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, traceOut);
    kept = true;
    const trace = { file: traceOut, events: w.events };
    if (opts.format === 'json') {
      process.stdout.write(JSON.stringify({ config: w.config, trace, summary: w.summary, ...(w.unfinished ? { unfinished: w.unfinished } : {}) }, null, 2) + '\n');
    } else {
      process.stdout.write(countedText(`exitpath explain "${action}"  (profile ${config.profile}: ${PROFILE_STACK[config.profile]}; irqchip ${config.irqchip})`, w.summary)
        + `trace: ${w.events} events in ${traceOut}\n` + (w.unfinished ? `the action did not complete: ${w.unfinished}\n` : ''));
    }
    return reportProblems(w.problems);
  } finally {
    progress.done();
    if (fd !== undefined) fs.closeSync(fd);
    if (!kept) fs.rmSync(tmp, { force: true });
  }
}

function explainCommand(config: VmConfig, action: string, opts: Opts, traceOut: string | undefined, diskOut: string | undefined): number {
  if (!(WALK_FORMATS as readonly string[]).includes(opts.format)) throw new UsageError(`--format ${opts.format}: expected ${WALK_FORMATS.join(', ')}`);
  if (opts.lang !== 'en' && opts.lang !== 'ja') throw new UsageError(`--lang ${opts.lang}: expected en or ja`);
  if (traceOut !== undefined) return explainToFile(config, action, opts, traceOut, diskOut);
  const wopts = { traceBoot: opts.traceBoot, vcpu: opts.vcpu, diskOut };
  checkHeldSize(config, action, wopts);
  if (opts.format === 'json') {
    const run = runWalk(config, action, wopts);
    try { writeWalkJson(run, (s) => { process.stdout.write(s); }); } finally { run.stack.close(); }
    return reportProblems(run.problems);
  }
  const w = explain(config, action, wopts);
  const other = formatWalk(w, opts.format, opts.lang as 'en' | 'ja');
  if (other !== null) process.stdout.write(other);
  else process.stdout.write(narrate(`exitpath explain "${w.action}"  (profile ${w.config.profile}: ${PROFILE_STACK[w.config.profile]}; irqchip ${w.config.irqchip})`, w.events, w.summary, opts.verbose, opts.lang as 'en' | 'ja'));
  if (w.unfinished && other === null) process.stdout.write(`the action did not complete: ${w.unfinished}\n`);
  return reportProblems(w.problems);
}

/** Errors that are the input's: printed as one line, status 2. */
const isInputError = (e: unknown): e is Error => e instanceof UsageError || e instanceof ConfigError || e instanceof ActionError
  || e instanceof StackError || e instanceof ReportInputError || e instanceof TooManyEventsError
  || e instanceof StatUsageError || e instanceof ConformUsageError || e instanceof ImportError || e instanceof OutputFileError;

let pipeHandled = false;
/** A reader that stops early (`| head`) ends the command quietly, as for any Unix filter. */
function handleClosedPipes(): void {
  if (pipeHandled) return;
  pipeHandled = true;
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(EXIT.OK); throw e; });
  }
}

/** Every command of `exitpath`, `test` (the spec runner) first. */
const COMMANDS = ['test', 'explain', 'compare', 'diff', 'coverage', 'constants', 'stat', 'conform'];

export function main(argv: string[]): number {
  handleClosedPipes();
  // Until the simulation starts, anything that goes wrong is about the input.
  let running = false;
  try {
    // stat and conform parse their own options (src/cli/stat.ts, src/cli/conform.ts).
    if (argv[0] === 'stat' || argv[0] === 'conform') {
      if (argv.includes('-h') || argv.includes('--help')) { process.stdout.write((argv[0] === 'stat' ? STAT_USAGE : CONFORM_USAGE) + '\n'); return EXIT.OK; }
      // Their input errors are their own classes (status 2); anything else is a defect.
      running = true;
      if (argv[0] === 'stat') { process.stdout.write(statCommand(argv.slice(1))); return EXIT.OK; }
      const r = conformCommand(argv.slice(1));
      process.stdout.write(r.text);
      return r.same ? EXIT.OK : EXIT.DIFFERENT;
    }
    const args = parseArgs(argv);
    if (args.help) { process.stdout.write(USAGE + '\n'); return EXIT.OK; }
    const { positional, opts, traceOut, diskOut } = args;
    const [cmd, ...rest] = positional;
    if (cmd === 'explain') {
      if (rest.length !== 1) throw new UsageError('explain takes one ACTION (quote it: exitpath explain "write hello /hello.txt")');
      const config = configFrom(opts);
      parseAction(rest[0]!, { ramBytes: config.memory_mib * 1024 * 1024 });
      if (diskOut !== undefined) checkWritable('--disk-out', diskOut);
      running = true;
      return explainCommand(config, rest[0]!, opts, traceOut, diskOut);
    }
    if (cmd === 'compare') {
      if (rest.length !== 1) throw new UsageError('compare takes one ACTION (quote it: exitpath compare "write hello /hello.txt")');
      if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format ${opts.format}: compare prints text or json`);
      // With --set: the default machine against that configuration; without: the I/O-path ladder.
      const columns = opts.set.length > 0 ? [{ label: 'default', sets: [] }, { label: opts.set.join(' '), sets: opts.set }] : IO_PATHS;
      const base = opts.config ? loadConfigFile(opts.config) : DEFAULT_CONFIG;
      parseAction(rest[0]!, { ramBytes: base.memory_mib * 1024 * 1024 });
      running = true;
      checkHeldSize(base, rest[0]!);
      const { rows, problems } = compare(rest[0]!, columns, base);
      process.stdout.write(opts.format === 'json' ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rest[0]!, rows));
      return reportProblems(problems);
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
      return EXIT.OK;
    }
    if (cmd === 'constants') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { abiTable } = require('../uapi/abi') as { abiTable(): { name: string; value: number }[] };
      const table = Object.fromEntries(abiTable().map((e) => [e.name, e.value]));
      process.stdout.write(opts.json ? JSON.stringify(table, null, 2) + '\n' : Object.entries(table).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
      return EXIT.OK;
    }
    if (!cmd) throw new UsageError('no command given');
    const near = COMMANDS.filter((c) => editDistance(cmd, c) <= 2);
    throw new UsageError(`unknown command '${cmd}'${near.length ? ` (closest: ${near.join(', ')})` : ` (the commands: ${COMMANDS.join(', ')})`}`);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`exitpath: ${e.message}; try \`exitpath --help\`\n`); return EXIT.INPUT; }
    if (isInputError(e)) { process.stderr.write(`exitpath: ${e.message}\n`); return EXIT.INPUT; }
    if (e instanceof GuestOutOfMemory) { process.stderr.write(`exitpath: the action needs more guest memory than the VM has (${e.message}): set memory_mib higher\n`); return EXIT.INPUT; }
    const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    if (!running) { process.stderr.write(`exitpath: ${message}\n`); return EXIT.INPUT; }
    process.stderr.write(`exitpath: internal error: ${message} — a defect of exitpath, not of the input; `
      + (process.env.EXITPATH_DEBUG ? `where:\n${(e as Error).stack ?? ''}\n` : 'set EXITPATH_DEBUG=1 to see where it happened\n'));
    return EXIT.SOFTWARE;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
