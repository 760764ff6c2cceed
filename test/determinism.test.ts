import { test } from 'node:test';
import { expect } from 'chai';
import fc from 'fast-check';
import { DEFAULT_CONFIG, parseConfig, type VmConfig } from '../src/config';
import { fsyncAction, instructionAction, readAction, writeAction } from '../src/guest/actions';
import type { Action } from '../src/guest/kernel';
import { Stack } from '../src/stack';
import { summarize } from '../src/trace/query';
import { errnoName } from '../src/uapi/errno';
import { walkEvents } from '../src/walk';

/** One step a scenario can take, as data (so the same sequence can be run twice). */
type Step =
  | { kind: 'write'; text: string; path: string }
  | { kind: 'read'; n: number; path: string }
  | { kind: 'fsync'; path: string }
  | { kind: 'insn'; text: string };

const paths = fc.constantFrom('/a', '/b', '/c.txt');
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), text: fc.string({ minLength: 1, maxLength: 40 }), path: paths }),
  fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 0, max: 9000 }), path: paths }),
  fc.record({ kind: fc.constant('fsync' as const), path: paths }),
  fc.record({ kind: fc.constant('insn' as const), text: fc.constantFrom('cpuid 0x0', 'cpuid 0x1', 'rdmsr 0x1b', 'inl 0x1234', 'rdtsc', 'vmcall', 'wrmsr 0x80b 0x0', 'inb 0xc052') }),
);
const configs: VmConfig[] = [
  DEFAULT_CONFIG,
  parseConfig('disk:\n  backend: threads\n  cache: writeback\n', 'determinism'),
  parseConfig('disk:\n  cache: directsync\n  werror: report\n', 'determinism'),
];

function action(s: Step): Action {
  switch (s.kind) {
    case 'write': return writeAction(new TextEncoder().encode(s.text), s.path);
    case 'read': return readAction(s.n, s.path);
    case 'fsync': return fsyncAction(s.path);
    case 'insn': return instructionAction(s.text);
  }
}

/** The trace JSON of a whole run: every action's events (with stages) and summary, as explain prints them. */
function traceJson(config: VmConfig, steps: Step[]): string {
  const stack = new Stack(config);
  const walks = steps.map((s) => {
    const o = stack.run(action(s));
    const events = walkEvents(stack, o.from, o.to);
    return { events, summary: summarize(events, o.result, o.cycles, errnoName) };
  });
  expect(stack.violations()).to.deep.equal({ dma: 0, image: 0, invariants: [] });
  return JSON.stringify({ config, walks });
}

test('determinism: the same configuration and actions give a byte-identical trace JSON (random action sequences)', () => {
  fc.assert(fc.property(fc.constantFrom(0, 1, 2), fc.array(stepArb, { minLength: 1, maxLength: 6 }), (ci, steps) => {
    const a = traceJson(configs[ci]!, steps);
    const b = traceJson(configs[ci]!, steps);
    expect(a.length).to.be.greaterThan(100);
    return a === b;
  }), { numRuns: 25, seed: 42 });
});
