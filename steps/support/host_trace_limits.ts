// What a host's kvm trace cannot show, step by step (qemu-kvm's syscalls only when the trace has no
// syscalls tracepoints). A scenario that reads a host trace (`Given the
// host trace …`) runs the model's Then-steps on what kvm's tracepoints printed: exits, kvm's side of
// them, the returns to qemu-kvm and back, injections. A step that needs anything else — the guest's
// own view, qemu-kvm's insides, the host's syscalls, the simulated machine's state — fails before it
// runs, with one line saying what is missing and what would show it.

/** The crossings a kvm trace shows (src/trace/import/walk.ts): the kvm-level part of the walk. */
const KVM_LEVEL: readonly [string, string, (name: string) => boolean][] = [
  ['VMX CPU', 'kvm', () => true],
  ['kvm', 'VMX CPU', () => true],
  ['kvm', 'qemu-kvm', (n) => n.startsWith('KVM_EXIT_') || n === 'KVM_RUN'],
  ['qemu-kvm', 'kvm', (n) => n === 'KVM_RUN'],
  ['VMX CPU', 'guest kernel', (n) => n === 'interrupt' || n === 'exception'],
];

const SYSCALLS = /^the host (calls|does not call|makes)\b|^(qemu-kvm|the vhost-user-blk backend) makes no syscall$|^the vhost-user-blk backend calls /;

const LIMITS: readonly [RegExp, string][] = [
  [SYSCALLS, 'a host kvm trace holds no syscalls: qemu-kvm\'s (io_submit, ppoll, …) need a syscall trace of it (record the syscalls:* events with kvm:*)'],
  [/^the (write|read|call|instruction) returns |^the call fails with |^the process reads /,
    'a host kvm trace holds no guest results: what a guest call returned is known inside the guest only'],
  [/^the walk passes through stages /,
    'the seed\'s stages ①–⑩ span the guest process and qemu-kvm; a host kvm trace shows only ③④⑦⑧ (exit, KVM_EXIT_*, KVM_RUN, entry)'],
  [/^qemu-kvm dispatches it to the /, 'qemu-kvm\'s device dispatch happens inside qemu-kvm; a host kvm trace ends at KVM_EXIT_* (qemu\'s own trace events would show it)'],
  [/^the guest kicks the device /, 'the guest driver\'s kicks are guest code; a host kvm trace shows the exits they cause (an IO_INSTRUCTION, kvm_pio)'],
  [/^the guest's own handler takes |^the guest takes an NMI$|^the guest takes a \S+ fault$/,
    'what the guest\'s own IDT handled is invisible to kvm unless kvm injected it (kvm_inj_virq, kvm_inj_exception)'],
  [/^the trace matches the golden file /, 'a golden trace is the whole walk, guest and qemu-kvm included; a host kvm trace holds its kvm-level part only (use `the walk matches the host trace` from a simulated scenario)'],
  [/takes the BQL|^no vCPU thread takes the BQL$/, 'the BQL is qemu-kvm\'s lock; a host kvm trace does not see it'],
  [/^the device (reports|completes|writes)|^qemu logs the guest error |^nothing outside guest RAM/, 'the device model is inside qemu-kvm; a host kvm trace does not see it'],
];

/**
 * Why a step cannot run on a host trace, or null when it can. `table` is the step's data table, for
 * `the walk crosses, in order:` (rows outside the kvm-level crossings are refused).
 */
export function hostTraceRefusal(stepText: string, table?: readonly (readonly string[])[], trace: { syscalls?: boolean } = {}): string | null {
  for (const [re, why] of LIMITS) {
    // With the syscalls tracepoints in the trace, qemu-kvm's syscalls are there to check.
    if (trace.syscalls && re === SYSCALLS) continue;
    if (re.test(stepText)) return `"${stepText}": ${why}`;
  }
  if (stepText === 'the walk crosses, in order:' && table && table.length > 1) {
    const head = table[0]!.map((h) => h.trim());
    const [fi, ti, ni] = [head.indexOf('from'), head.indexOf('to'), head.indexOf('name')];
    for (const [k, row] of table.slice(1).entries()) {
      const [from, to, name] = [row[fi] ?? '', row[ti] ?? '', row[ni] ?? ''];
      const syscall = trace.syscalls && ((from === 'qemu-kvm' && to === 'host kernel') || (from === 'host kernel' && to === 'qemu-kvm'));
      if (!syscall && !KVM_LEVEL.some(([f, t, ok]) => f === from && t === to && ok(name))) {
        return `row ${k + 1} (${from} | ${to} | ${name}): a host kvm trace holds no such crossing; it shows VMX CPU ↔ kvm (exits, entries), kvm → qemu-kvm (KVM_EXIT_*, KVM_RUN errors), qemu-kvm → kvm (KVM_RUN) and injected interrupts`;
      }
    }
  }
  return null;
}
