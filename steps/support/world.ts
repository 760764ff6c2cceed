// The scenario's world, kept small: the configuration being built, the running stack, and the
// last action's walk (its events with stages marked, and its summary).

import { World, setWorldConstructor, type IWorldOptions } from '@cucumber/cucumber';
import { DEFAULT_CONFIG, notModelled, type VmConfig } from '../../src/config';
import type { Action } from '../../src/guest/kernel';
import { Stack } from '../../src/stack';
import { errnoName } from '../../src/uapi/errno';
import { summarize, type Summary } from '../../src/trace/query';
import type { TraceEvent } from '../../src/trace/recorder';
import { walkEvents } from '../../src/walk';

export interface LastWalk { events: TraceEvent[]; summary: Summary; data?: Uint8Array }

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

  run(action: Action): LastWalk {
    const o = this.stack.run(action);
    const events = walkEvents(this.stack, o.from, o.to);
    this.lastWalk = { events, summary: summarize(events, o.result, o.cycles, errnoName), data: o.result.data };
    return this.lastWalk;
  }

  get last(): LastWalk {
    if (!this.lastWalk) throw new Error('no action has run yet: a When step must come first');
    return this.lastWalk;
  }
}

setWorldConstructor(ExitpathWorld);
