// The scenario's world, kept small: the configuration being built, the running stack, and the walks
// of the actions run so far (events with stages marked, summary, the state the action ended in, and
// the kvm_run page as qemu-kvm read it at each userspace exit).

import { After, World, setWorldConstructor, type IWorldOptions } from '@cucumber/cucumber';
import { DEFAULT_CONFIG, notModelled, type VmConfig } from '../../src/config';
import type { Action } from '../../src/guest/kernel';
import { Stack, type ActionProgress, type ActionState } from '../../src/stack';
import { eventType } from '../../src/trace/events';
import { errnoName } from '../../src/uapi/errno';
import { summarize, type Summary } from '../../src/trace/query';
import type { TraceEvent } from '../../src/trace/recorder';
import { neverProduced, unknownName, type NameKind } from '../../src/vocabulary';
import { walkEvents } from '../../src/walk';
import { docsPath } from '../../runner/paths';
import { hostTraceRefusal, type StepKeyword } from './host_trace_limits';
import * as path from 'node:path';

/** Where an imported walk came from (steps/host_trace.steps.ts). */
export interface HostTraceOrigin { source: string; format: string; era: string; eraLabel: string; syscalls: boolean }

/** The kvm_run page as it was when `ioctl(KVM_RUN)` returned to qemu-kvm with a userspace exit. */
export interface RunPageSnapshot { vcpu: number; exit: string; page: Uint8Array }

export interface Walk {
  events: TraceEvent[];
  summary: Summary;
  data?: Uint8Array;
  /** done, or paused (qemu stopped the VM) / waiting (the guest waits: halted, or for the device) with the action unfinished. */
  state: ActionState;
  why?: string;
  runPages: RunPageSnapshot[];
  /** Set when the walk was imported from a host's trace, not simulated. */
  host?: HostTraceOrigin;
}
/** The walk of one action (kept under its old name for the report hooks). */
export type LastWalk = Walk;

/** What the world's parameters may say (set by `exitpath test`, or a cucumber profile). */
interface Parameters { report?: boolean; updateGolden?: boolean }

/** A user's mistake in a step (an unknown name, a step that cannot fail): one line, no stack. */
export class SpecError extends Error {
  constructor(message: string) { super(message); this.name = 'SpecError'; this.stack = `${this.name}: ${message}`; }
}

/** Whether an event type is KVM_RUN returning to qemu-kvm with an exit, by type id (decided once per type). */
const userspaceExitTypes: (boolean | undefined)[] = [];
function isUserspaceExit(type: number): boolean {
  let v = userspaceExitTypes[type];
  if (v === undefined) {
    const ty = eventType(type);
    v = userspaceExitTypes[type] = ty.kind === 'ioctl-return' && ty.name.startsWith('KVM_EXIT_');
  }
  return v;
}

export class ExitpathWorld extends World<Parameters> {
  config: VmConfig = structuredClone(DEFAULT_CONFIG);
  traceBoot = false;
  /** Which walks a count step looks at: the last action's, or all of the scenario's. Set by each step's text. */
  scope: 'action' | 'scenario' = 'action';
  /** Every action's walk, in order. */
  readonly walks: Walk[] = [];
  /** A Then step has stated how the last, unfinished action stands (paused, halted, not returned). */
  stateStated = false;
  /** A step wrote sectors of the disk behind the guest's file system (the driver's own requests). */
  rawDiskWrites = false;
  private stackInstance: Stack | undefined;
  private pages: RunPageSnapshot[] = [];

  constructor(options: IWorldOptions<Parameters>) { super(options); }

  /** The VM, created on first use from the configuration the Given steps built. */
  get stack(): Stack {
    const host = this.hostTrace;
    if (host) throw new SpecError(`this step needs the simulated machine, and this scenario reads a host trace (${host.source}), which has none`);
    if (!this.stackInstance) {
      const nm = notModelled(this.config);
      if (nm) throw new SpecError(`not modelled yet: ${nm}`);
      const s = this.stackInstance = new Stack(this.config, { traceBoot: this.traceBoot });
      // An observer of the trace, as a reader of the kvm_run page would be: at each KVM_RUN that
      // returns to qemu-kvm with an exit, keep the page as qemu-kvm reads it then.
      s.trace.onEvent = (r, seq) => {
        const type = r.typeAt(seq);
        if (!isUserspaceExit(type)) return;
        const vcpu = r.vcpuAt(seq);
        const run = s.kvm.vms[0]?.vcpus[vcpu]?.run;
        if (run) this.pages.push({ vcpu, exit: eventType(type).name, page: run.bytes.slice() });
      };
    }
    return this.stackInstance;
  }

  get running(): boolean { return this.stackInstance !== undefined; }

  configure(change: (c: VmConfig) => void): void {
    if (this.stackInstance) throw new SpecError('the VM is already running: configure it before the first When step');
    change(this.config);
  }

  /**
   * Run an action (on vCPU `cpu`, 0 by default) until it completes or nothing more can happen. An
   * action that leaves the guest halted, waiting for the device, or the VM paused ends normally with
   * that state recorded: a Then step must state it (see `stateStated`).
   */
  run(action: Action, cpu = 0): Walk {
    return this.record(this.stack.submit(action, cpu));
  }

  /** Where the hostile steps put the request's buffers (guest-physical). */
  hostileLayout: Record<string, number> | undefined;

  /** The monitor's cont: the paused VM runs again and the unfinished action goes on. */
  resume(): Walk {
    return this.record(this.stack.resume());
  }

  /** Keep the walk, then hold the run to its invariants (src/trace/invariants.ts) and guard rails. */
  private record(p: ActionProgress): Walk {
    const events = walkEvents(this.stack, p.from, p.to);
    // An unfinished action has no result yet: a step asking for one is told so (expectResult).
    const result = p.result ?? { value: Number.NaN, errno: null };
    const walk: Walk = { events, summary: summarize(events, result, p.cycles, errnoName), data: p.result?.data, state: p.state, why: p.why, runPages: this.pages };
    this.pages = [];
    this.walks.push(walk);
    this.stateStated = false;
    this.stack.assertSound();
    return walk;
  }

  /** The host trace the scenario reads, if it reads one. */
  get hostTrace(): HostTraceOrigin | undefined { return this.walks[this.walks.length - 1]?.host; }

  /** Make an imported host trace the walk the Then-steps read. */
  useHostTrace(walk: Walk): void {
    if (this.stackInstance) throw new SpecError('the simulated VM already ran: a host trace replaces the walk, so give it before any When step');
    this.walks.push(walk);
  }

  /** On a host trace, a step that needs what no host trace holds fails before it runs, in one line. */
  checkHostTrace(keyword: StepKeyword, stepPattern: string, args: readonly unknown[]): void {
    const host = this.hostTrace;
    if (host === undefined) return;
    const why = hostTraceRefusal(keyword, stepPattern, args, { syscalls: host.syscalls });
    if (why !== null) throw new SpecError(`${why} (this scenario reads a host trace)`);
  }

  /** At the end of a scenario: the machine, if one was built, kept its invariants (a boot alone included). */
  checkSound(): void {
    this.stackInstance?.assertSound();
  }

  /** The scenario is over: the machine is switched off and its memory goes back to the host (Stack.close). */
  close(): void {
    this.stackInstance?.close();
  }

  /** The last action's walk. */
  get last(): Walk {
    const w = this.walks[this.walks.length - 1];
    if (!w) throw new SpecError('no action has run yet: a When step must come first');
    return w;
  }

  /** The walk a count step looks at: the last action's, or the whole scenario's as one. */
  get scoped(): Walk {
    if (this.scope === 'action' || this.walks.length <= 1) return this.last;
    const all = this.walks;
    const s = all.map((w) => w.summary);
    const lastOne = this.last;
    return {
      events: all.flatMap((w) => w.events),
      summary: {
        ...lastOne.summary,
        exits: s.flatMap((x) => x.exits), entries: s.flatMap((x) => x.entries), hostSyscalls: s.flatMap((x) => x.hostSyscalls),
        stages: s.flatMap((x) => x.stages), guestInterrupts: s.reduce((n, x) => n + x.guestInterrupts, 0), cycles: s.reduce((n, x) => n + x.cycles, 0),
      },
      data: lastOne.data, state: lastOne.state, why: lastOne.why, runPages: all.flatMap((w) => w.runPages),
    };
  }

  /** A count step's scope in words, for its messages. */
  get scopeWords(): string { return this.scope === 'scenario' ? 'in the whole scenario' : 'in the last action'; }

  /**
   * A name a step takes, checked against the model's vocabulary for this scenario; with `negative`,
   * also a name this configuration can never produce (the step could never fail).
   */
  checkName(kind: NameKind, value: string, negative: boolean): void {
    const devices = this.stackInstance ? [...this.stackInstance.qemu.ioSpace.owners(), ...this.stackInstance.qemu.memSpace.owners()] : undefined;
    const why = unknownName(kind, value, { config: this.config, devices });
    const where = `the names are listed in ${path.relative(process.cwd(), docsPath()) || docsPath()}`;
    if (why) throw new SpecError(`${why} (${where})`);
    if (negative) {
      const never = neverProduced(kind, value, this.config);
      if (never) throw new SpecError(`this step cannot fail: ${never}, so nothing here ever produces ${value}`);
    }
  }

  /** The guest-visible result of the last action, or a clear failure when it has none yet. */
  get result(): Summary['guestResult'] {
    const w = this.last;
    if (w.state !== 'done') throw new SpecError(`the action has not returned: ${w.why ?? w.state} (state it with a step such as "Then the write has not returned")`);
    return w.summary.guestResult;
  }
}

setWorldConstructor(ExitpathWorld);

// Defined before every other After hook, so it runs after them all (cucumber runs After hooks in the
// reverse order of their definition): the checks and the reports are done with the machine by then.
// allure-cucumberjs leaves a hook of this name out of the scenario's tear-down.
After({ name: 'ALLURE_FIXTURE_IGNORE' }, function (this: ExitpathWorld) {
  this.close();
});
