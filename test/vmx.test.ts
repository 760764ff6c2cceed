import { test } from 'node:test';
import { expect } from 'chai';
import { Clock } from '../src/sim/clock';
import { SKYLAKE_SP } from '../src/sim/costs';
import { NULL_TRACER } from '../src/trace/events';
import { ENTER_BREAK, ENTER_EXITED, VmxCpu, type GuestCode } from '../src/vmx/cpu';
import { OP } from '../src/vmx/insn';
import { CPU_BASED_HLT_EXITING, CPU_BASED_UNCOND_IO_EXITING, VMCS, Vmcs } from '../src/vmx/vmcs';
import { EXIT_REASON, encodeIoQualification } from '../src/uapi/vmx';

test('I/O qualification is encoded as the SDM says: size-1, direction bit 3, port in bits 31:16', () => {
  expect(encodeIoQualification(2, false, 0xc050)).to.equal(0xc0500001);
  expect(encodeIoQualification(1, true, 0xe9)).to.equal(0xe90008);   // a real kvm_exit sample: "info e90008"
  expect(encodeIoQualification(1, true, 0x64)).to.equal(0x640008);
  expect(encodeIoQualification(4, true, 0x1234)).to.equal(0x1234000b);
});

function cpuWith(controls: number, code: () => GuestCode): { cpu: VmxCpu; v: Vmcs } {
  const cpu = new VmxCpu(0, new Clock(2.5), SKYLAKE_SP, NULL_TRACER);
  const v = new Vmcs();
  v.write(VMCS.CPU_BASED_VM_EXEC_CONTROL, controls);
  v.write(VMCS.GUEST_RIP, 0x1000);
  v.write(VMCS.GUEST_RFLAGS, 0x2);
  v.write(VMCS.GUEST_CR0, 0x80050033);
  cpu.vmcs = v;
  cpu.reset(code(), { handler: () => undefined }, 0x1000);
  return { cpu, v };
}

test('outw exits with IO_INSTRUCTION only because unconditional I/O exiting is set', () => {
  const guest = function* (): GuestCode { const r = cpu.regs; r.rdx = 0xc050; r.rax = 0; yield OP.OUTW; yield OP.BREAK; };
  let { cpu, v } = cpuWith(CPU_BASED_UNCOND_IO_EXITING, guest);
  expect(cpu.vmlaunch()).to.equal(ENTER_EXITED);
  expect(v.read(VMCS.VM_EXIT_REASON)).to.equal(EXIT_REASON.IO_INSTRUCTION);
  expect(v.read(VMCS.EXIT_QUALIFICATION)).to.equal(0xc0500001);
  expect(v.read(VMCS.VM_EXIT_INSTRUCTION_LEN)).to.equal(2);
  expect(v.read(VMCS.GUEST_RIP)).to.equal(0x1000);
  ({ cpu, v } = cpuWith(0, guest));
  expect(cpu.vmlaunch()).to.equal(ENTER_BREAK);  // no exit: the instruction ran natively
});

test('an exiting instruction completes only when the host skips it; otherwise it restarts', () => {
  let executed = 0;
  const { cpu, v } = cpuWith(CPU_BASED_HLT_EXITING, function* () { executed++; yield OP.HLT; executed++; yield OP.BREAK; });
  expect(cpu.vmlaunch()).to.equal(ENTER_EXITED);
  expect(v.read(VMCS.VM_EXIT_REASON)).to.equal(EXIT_REASON.HLT);
  // Re-enter without advancing RIP: the hlt executes again.
  expect(cpu.vmresume()).to.equal(ENTER_EXITED);
  expect(executed).to.equal(1);
  v.write(VMCS.GUEST_RIP, v.read(VMCS.GUEST_RIP) + v.read(VMCS.VM_EXIT_INSTRUCTION_LEN));
  expect(cpu.vmresume()).to.equal(ENTER_BREAK);
  expect(executed).to.equal(2);
});

test('VMRESUME on a clear VMCS fails with VM-instruction error 5', () => {
  const { cpu, v } = cpuWith(0, function* () { yield OP.BREAK; });
  expect(cpu.vmresume()).to.equal(2);
  expect(v.read(VMCS.VM_INSTRUCTION_ERROR)).to.equal(5);
});
