// One action on a fresh VM, as `exitpath explain` and the report show it: the configuration, the
// recorded events with the seed's stages marked, and the summary.

import type { VmConfig } from './config';
import { parseAction } from './guest/actions';
import { errnoName } from './uapi/errno';
import { Stack } from './stack';
import type { TraceEvent } from './trace/recorder';
import { markStages, summarize, type Summary } from './trace/query';

export interface Walk { config: VmConfig; action: string; events: TraceEvent[]; summary: Summary }

export function walkEvents(stack: Stack, from: number, to: number): TraceEvent[] {
  const events = stack.trace.slice(from, to);
  markStages(events);
  return events;
}

export function explain(config: VmConfig, actionText: string, opts: { traceBoot?: boolean } = {}): Walk {
  const action = parseAction(actionText);
  const stack = new Stack(config, opts);
  const o = stack.run(action);
  const events = walkEvents(stack, o.from, o.to);
  return { config, action: actionText, events, summary: summarize(events, o.result, o.cycles, errnoName) };
}
