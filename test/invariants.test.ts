import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG, parseConfig } from '../src/config';
import { writeAction } from '../src/guest/actions';
import { Stack } from '../src/stack';
import { Clock } from '../src/sim/clock';
import { defineEvent } from '../src/trace/events';
import { InvariantChecker } from '../src/trace/invariants';
import { TraceRecorder } from '../src/trace/recorder';

test('the seed write and an I/O error that stops and resumes the VM keep every invariant', () => {
  const s = new Stack(DEFAULT_CONFIG);
  s.run(writeAction(new TextEncoder().encode('hello'), '/hello.txt'));
  expect(s.invariants.checked).to.be.greaterThan(50);
  expect(s.violations()).to.deep.equal({ dma: 0, image: 0, invariants: [] });

  // The write's first request is a read (the directory's block, ext2_lookup): rerror decides it.
  const stop = new Stack(parseConfig('disk:\n  werror: stop\n  rerror: stop\n', 'test'));
  stop.host.aio.faults.complete = { errno: 5, count: 1 };
  const p = stop.submit(writeAction(new TextEncoder().encode('hello'), '/hello.txt'));
  expect(p.state).to.equal('paused');
  const r = stop.resume();
  expect(r.state).to.equal('done');
  expect(r.result?.value).to.equal(5);
  expect(stop.violations()).to.deep.equal({ dma: 0, image: 0, invariants: [] });
});

const EV_ENTRY = defineEvent('vm-entry', 'kvm', 'VMX CPU', 'VMRESUME', ['rip:hex', 'intrInfo:hex']);
const EV_EXIT = defineEvent('vm-exit', 'VMX CPU', 'kvm', 'HLT', ['reasonNumber', 'qualification:hex', 'rip:hex', 'instructionLength']);
const EV_STOP = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'vm_stop', ['reason:str']);
const EV_START = defineEvent('tracepoint', 'qemu-kvm', 'qemu-kvm', 'vm_start', []);
const EV_POP = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_pop', ['head', 'out_num', 'in_num', 'queue']);
const EV_FILL = defineEvent('call', 'qemu-kvm', 'qemu-kvm', 'virtqueue_fill', ['id', 'len', 'idx', 'queue']);
const EV_SUBMIT = defineEvent('call', 'host kernel', 'host kernel', 'io_submit_one', ['obj:hex', 'opcode', 'offset:hex']);
const EV_COMPLETE = defineEvent('aio-complete', 'host kernel', 'host kernel', 'aio_complete', ['opcode', 'offset:hex', 'res', 'obj:hex']);
const EV_SKIP = defineEvent('syscall', 'guest process', 'kvm', 'a-crossing-that-skips-boxes', []);

function rules(build: (r: TraceRecorder) => void): string[] {
  const r = new TraceRecorder(new Clock(1));
  r.on = true;
  build(r);
  return new InvariantChecker().check(r).map((v) => v.rule);
}

test('each invariant catches the trace that breaks it', () => {
  expect(rules((r) => { r.rec(EV_ENTRY, 0); r.rec(EV_EXIT, 0); r.rec(EV_ENTRY, 0); r.rec(EV_EXIT, 0); })).to.deep.equal([]);
  expect(rules((r) => { r.rec(EV_ENTRY, 0); r.rec(EV_ENTRY, 0); })).to.deep.equal(['exit-entry']);
  expect(rules((r) => { r.rec(EV_EXIT, 0); r.rec(EV_EXIT, 0); })).to.deep.equal(['exit-entry']);
  expect(rules((r) => { r.rec(EV_EXIT, 0); r.rec(EV_STOP, -1); r.rec(EV_ENTRY, 0); })).to.deep.equal(['stopped']);
  expect(rules((r) => { r.rec(EV_EXIT, 0); r.rec(EV_STOP, -1); r.rec(EV_START, -1); r.rec(EV_ENTRY, 0); })).to.deep.equal([]);
  expect(rules((r) => { r.rec(EV_SKIP, 0); })).to.deep.equal(['neighbours']);
  expect(rules((r) => { r.rec(EV_POP, -1, 3, 1, 1, 0); r.rec(EV_FILL, -1, 3, 1, 0, 0); })).to.deep.equal([]);
  expect(rules((r) => { r.rec(EV_POP, -1, 3, 1, 1, 0); r.rec(EV_FILL, -1, 4, 1, 0, 0); })).to.deep.equal(['used-ring']);
  expect(rules((r) => { r.rec(EV_POP, -1, 3, 1, 1, 0); r.rec(EV_FILL, -1, 3, 1, 0, 0); r.rec(EV_FILL, -1, 3, 1, 0, 0); })).to.deep.equal(['used-ring']);
  expect(rules((r) => { r.rec(EV_SUBMIT, -1, 0x1000, 8, 0); r.rec(EV_COMPLETE, -1, 8, 0, 512, 0x1000); })).to.deep.equal([]);
  expect(rules((r) => { r.rec(EV_COMPLETE, -1, 8, 0, 512, 0x1000); })).to.deep.equal(['aio']);
});
