// The scenario's world, kept small: the configuration being built, the running stack, and the
// last action's walk (its events with stages marked, and its summary).

import { World, setWorldConstructor, type IWorldOptions } from '@cucumber/cucumber';
import { DEFAULT_CONFIG, notModelled, type VmConfig } from '../../src/config';
import type { Action } from '../../src/guest/kernel';
import { Stack, type ActionProgress, type ActionState } from '../../src/stack';
import { errnoName } from '../../src/uapi/errno';
import { summarize, type Summary } from '../../src/trace/query';
import type { TraceEvent } from '../../src/trace/recorder';
import { walkEvents } from '../../src/walk';

export interface LastWalk {
  events: TraceEvent[];
  summary: Summary;
  data?: Uint8Array;
  /** done, or paused (qemu stopped the VM) / waiting (the guest waits for the device) with the action unfinished. */
  state: ActionState;
  why?: string;
}

export class ExitpathWorld extends World {
  config: VmConfig = structuredClone(DEFAULT_CONFIG);
  traceBoot = false;
  private stackInstance: Stack | undefined;
  private lastWalk: LastWalk | undefined;

  constructor(options: IWorldOptions) { super(options); }

  /** The VM, created on first use from the configuration the Given steps built. */
  get stack(): Stack {
    if (!this.stackInstance) {
      const nm = notModelled(this.config);
      if (nm) throw new Error(`not modelled yet: ${nm}`);
      this.stackInstance = new Stack(this.config, { traceBoot: this.traceBoot });
    }
    return this.stackInstance;
  }

  configure(change: (c: VmConfig) => void): void {
    if (this.stackInstance) throw new Error('the VM is already running: configure it before the first When step');
    change(this.config);
  }

  /** Run an action to completion (on vCPU `cpu`, 0 by default); one that cannot complete fails the step (unless `start` ran it). */
  run(action: Action, cpu = 0): LastWalk {
    const walk = this.record(this.stack.submit(action, cpu));
    if (walk.state !== 'done' && !this.faultsInjected && !this.unfinishedExpected) {
      throw new Error(`the action did not complete: ${walk.why ?? walk.state}`);
    }
    return walk;
  }

  /** Run an action that may leave the guest unfinished: the VM paused, or the guest waiting for the device. */
  start(action: Action): LastWalk {
    this.unfinishedExpected = true;
    try { return this.run(action); } finally { this.unfinishedExpected = false; }
  }
  private unfinishedExpected = false;
  /** Where the hostile steps put the request's buffers (guest-physical). */
  hostileLayout: Record<string, number> | undefined;
  /** Set by the steps that inject a host fault: from then on an action may end unfinished, and the Then steps say how. */
  faultsInjected = false;

  /** The monitor's cont: the paused VM runs again and the unfinished action goes on. */
  resume(): LastWalk {
    return this.record(this.stack.resume());
  }

  /** Keep the walk, then hold the run to its invariants (src/trace/invariants.ts) and guard rails. */
  private record(p: ActionProgress): LastWalk {
    const events = walkEvents(this.stack, p.from, p.to);
    // An unfinished action has no result yet: a step asking for one gets NaN and says so.
    const result = p.result ?? { value: Number.NaN, errno: null };
    this.lastWalk = { events, summary: summarize(events, result, p.cycles, errnoName), data: p.result?.data, state: p.state, why: p.why };
    this.stack.assertSound();
    return this.lastWalk;
  }

  /** At the end of a scenario: the machine, if one was built, kept its invariants (a boot alone included). */
  checkSound(): void {
    this.stackInstance?.assertSound();
  }

  get last(): LastWalk {
    if (!this.lastWalk) throw new Error('no action has run yet: a When step must come first');
    return this.lastWalk;
  }
}

setWorldConstructor(ExitpathWorld);
