// Event types are declared once per name: a second declaration must say the same thing, or the
// trace of one walk would depend on which walk ran first in the process.

import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { defineEvent } from '../src/trace/events';
import { explain } from '../src/walk';

test('declaring an event again with the same arguments gives the same id; with other arguments it is refused', () => {
  const a = defineEvent('tracepoint', 'kvm', 'kvm', 'events_test_twice', ['x', 'y:hex']);
  expect(defineEvent('tracepoint', 'kvm', 'kvm', 'events_test_twice', ['x', 'y:hex'])).to.equal(a);
  expect(() => defineEvent('tracepoint', 'kvm', 'kvm', 'events_test_twice', ['x', 'y'])).to.throw(/events_test_twice.*declared twice/);
  expect(() => defineEvent('tracepoint', 'kvm', 'kvm', 'events_test_twice', ['y:hex'])).to.throw(/declared twice/);
});

test('a read of CR3 after a write of it shows the read\'s own operands (MOV from CR has no value operand)', () => {
  const detailOf = (action: string, kind: string) => explain(DEFAULT_CONFIG, action).events.find((e) => e.kind === kind)!;
  const write = detailOf('mov cr3 0x2000', 'instruction');
  const read = detailOf('mov rax cr3', 'instruction');
  expect(Object.keys(write.detail)).to.deep.equal(['value', 'rip']);
  expect(write.detail.value).to.equal('0x2000');
  expect(Object.keys(read.detail)).to.deep.equal(['rip']);
  expect(read.name).not.to.equal(write.name);
  // The same for the debug registers.
  expect(Object.keys(detailOf('mov dr7 0x400', 'instruction').detail)).to.deep.equal(['value', 'rip']);
  expect(Object.keys(detailOf('mov rax dr7', 'instruction').detail)).to.deep.equal(['rip']);
});

test('every instruction\'s events are declared when the CPU module loads: a clash would stop it loading', async () => {
  const { eventType } = await import('../src/trace/events');
  await import('../src/vmx/cpu');
  // Both moves of every control register are declared, under their own names.
  const names = new Set<string>();
  for (let id = 0; ; id++) { try { names.add(`${eventType(id).kind} ${eventType(id).name}`); } catch { break; } }
  for (const n of [0, 3, 4, 8]) {
    expect(names.has(`instruction mov cr${n}`) && names.has(`instruction mov rax cr${n}`), `mov cr${n}`).to.equal(true);
  }
});
