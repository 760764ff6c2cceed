// The payloads of kvm's tracepoints, one small reader per event, every era's TP_printk of it.
// Formats, each from the kernel's TRACE_EVENT definition (the newest read in Linux 6.17-rc3):
//   arch/x86/kvm/trace.h          — Linux 3.6 (New-B/Linux3.6 @ b5154d3e), ~5.12 (torvalds/linux @ 029e8c8a),
//                                   and a 6.x tree (kvm_page_fault, kvm_inj_virq and kvm_inj_exception in
//                                   their 2022 forms: Sean Christopherson's page-fault patch of 2022-08-30,
//                                   "KVM: x86: Use u64 for address and error code in page fault tracepoint")
//   include/trace/events/kvm.h    — ~3.x (torvalds/linux @ 0730388b) and 5.14 (kvm_ioapic_set_irq `vec %u`,
//                                   kvm_msi_set_irq `dst %llx vec %u`)
//   libtraceevent plugin_kvm.c    — kvm_exit, kvm_entry, kvm_emulate_insn as trace-cmd/perf print them
//                                   (rostedt/libtraceevent @ 6643bf9a; trace-cmd's older in-tree copy)
// Each reader fills the event's fields with the names the model's tracepoints use, or returns one
// line saying what it expected. vCPU ids go to `ev.vcpu`.

import { KVM_EXIT, kvmExitName } from '../../uapi/kvm';
import { parseExitReason } from './exit_reasons';
import type { Cursor } from './scan';
import type { HostEvent, ExitForm, EntryForm } from './host_event';

/** What the file has shown so far about its era: readers of era-dependent payloads ask. */
export interface EraHints {
  /** A Linux 5.10+ format was seen (kvm_exit's info1/info2/intr_info, kvm_entry with the RIP, the 2022 injection formats). */
  modern: boolean;
  /** A pre-5.10 format was seen (kvm_entry without the RIP, kvm_exit without info or with `vcpu %u … info`). */
  old: boolean;
  /** vCPU ids in kvm_exit: Linux 5.4 or later. */
  vcpuIds: boolean;
}

export type PayloadReader = (c: Cursor, ev: HostEvent, hints: EraHints) => string | null;

const KVM_EXIT_CODES = new Map<string, number>(Object.entries(KVM_EXIT).map(([k, v]) => [`KVM_EXIT_${k}`, v]));
const DELIVERY = ['Fixed', 'LowPrio', 'SMI', 'Res3', 'NMI', 'INIT', 'SIPI', 'ExtINT'];
const SHORTHAND = ['dst', 'self', 'all', 'all-but-self'];
const EXCEPTIONS: Record<string, number> = {
  '#DE': 0, '#DB': 1, '#BP': 3, '#OF': 4, '#BR': 5, '#UD': 6, '#NM': 7, '#DF': 8, '#TS': 10, '#NP': 11, '#SS': 12,
  '#GP': 13, '#PF': 14, '#MF': 16, '#AC': 17, '#MC': 18,
};
/** kvm_trace_symbol_apic of trace.h: the local APIC register names kvm_apic prints. */
export const APIC_REGS: Record<string, number> = {
  APIC_ID: 0x20, APIC_LVR: 0x30, APIC_TASKPRI: 0x80, APIC_ARBPRI: 0x90, APIC_PROCPRI: 0xa0, APIC_EOI: 0xb0, APIC_RRR: 0xc0,
  APIC_LDR: 0xd0, APIC_DFR: 0xe0, APIC_SPIV: 0xf0, APIC_ISR: 0x100, APIC_TMR: 0x180, APIC_IRR: 0x200, APIC_ESR: 0x280,
  APIC_ICR: 0x300, APIC_ICR2: 0x310, APIC_LVTT: 0x320, APIC_LVTTHMR: 0x330, APIC_LVTPC: 0x340, APIC_LVT0: 0x350,
  APIC_LVT1: 0x360, APIC_LVTERR: 0x370, APIC_TMICT: 0x380, APIC_TMCCT: 0x390, APIC_TDCR: 0x3e0, APIC_SELF_IPI: 0x3f0,
  APIC_EFEAT: 0x400, APIC_ECTRL: 0x410,
};

const bad = (what: string) => `expected ${what}`;

/** `key ` then a hex number (with or without 0x). */
function hexAfter(c: Cursor, key: string): number {
  if (!c.word(key)) return Number.NaN;
  c.skipSpaces();
  return c.hex();
}
function decAfter(c: Cursor, key: string): number {
  if (!c.word(key)) return Number.NaN;
  c.skipSpaces();
  return c.sdec();
}

/** Text up to `stop` (exclusive), the cursor then after it; null when `stop` does not come. */
function until(c: Cursor, stop: string): string | null {
  const at = c.s.indexOf(stop, c.i);
  if (at < 0 || at > c.end) return null;
  const t = c.s.slice(c.i, at);
  c.i = at + stop.length;
  return t;
}

/** `(a|b|c)` flag groups: the words between the parentheses. */
function group(c: Cursor): string[] | null {
  c.skipSpaces();
  if (!c.lit('(')) return null;
  const t = until(c, ')');
  return t === null ? null : t.split('|');
}

// ---------------------------------------------------------------- kvm_exit, kvm_entry

/**
 * kvm_exit, every era of trace.h's TRACE_EVENT(kvm_exit): E1 `reason %s rip 0x%lx`; E2 `… info %llx %llx`; E3/E4 `vcpu %u …`;
 * E5 `vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code
 * 0x%08x`; E6 `… requests 0x%016llx`; the plugin's `reason %s rip 0x%llx[ func+off] info %llx %llx`.
 */
const kvm_exit: PayloadReader = (c, ev, hints) => {
  c.skipSpaces();
  if (c.lit('vcpu ')) {
    ev.vcpu = c.dec();
    if (Number.isNaN(ev.vcpu)) return bad('the vCPU number after "vcpu"');
    hints.vcpuIds = true;
    c.skipSpaces();
  }
  if (!c.lit('reason ')) return bad('"reason NAME rip 0x…"');
  const reasonText = until(c, ' rip ');
  if (reasonText === null) return bad('" rip 0x…" after the exit reason');
  c.skipSpaces();
  const rip = c.hex();
  if (Number.isNaN(rip)) return bad('the guest RIP after "rip"');
  let form: ExitForm = 'E1';
  let info1 = 0, info2 = 0, intrInfo = Number.NaN, errorCode = Number.NaN, requests = Number.NaN;
  c.skipSpaces();
  if (!c.done) {
    // The plugin may name the RIP's function (`add_rip_function`): one token before `info`.
    if (!c.lit('info')) { c.token(); c.skipSpaces(); if (!c.lit('info')) return bad('"info" after the RIP'); }
    if (c.lit('1 ')) {
      form = 'E5';
      hints.modern = true;
      c.skipSpaces();
      info1 = c.hex();
      info2 = hexAfter(c, 'info2');
      intrInfo = hexAfter(c, 'intr_info');
      errorCode = hexAfter(c, 'error_code');
      if ([info1, info2, intrInfo, errorCode].some(Number.isNaN)) return bad('"info1 0x… info2 0x… intr_info 0x… error_code 0x…"');
      if (!c.atEnd()) {
        requests = hexAfter(c, 'requests');
        if (Number.isNaN(requests)) return bad('"requests 0x…" or the end of the line after error_code');
        form = 'E6';
      }
    } else {
      form = 'info';
      c.skipSpaces();
      info1 = c.hex();
      c.skipSpaces();
      info2 = c.hex();
      if (Number.isNaN(info1) || Number.isNaN(info2)) return bad('two hex numbers after "info"');
    }
    if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  }
  // E1, and E3/E4 (a vCPU id with `info`), are pre-5.10; `info` without one may be the plugin on any kernel.
  if (form === 'E1' || (form === 'info' && ev.vcpu >= 0)) hints.old = true;
  const r = parseExitReason(reasonText, info1);
  if (r === null) return bad('an exit reason after "reason"');
  const f: Record<string, string | number> = {
    reason: r.name, reasonNumber: r.number, isa: r.isa, flags: r.flags, rip, qualification: info1, info2, form,
  };
  // Before 5.10, the kernel's info2 of VMX was the VM-exit interruption information (vmx_get_exit_info
  // of 3.x); 5.10+ prints that as intr_info and info2 is the IDT-vectoring information. The plugin's
  // `info A B` prints info1 and info2 of whichever kernel wrote the trace: readers decide by its era.
  if (!Number.isNaN(intrInfo)) { f.intrInfo = intrInfo; f.errorCode = errorCode; }
  if (!Number.isNaN(requests)) f.requests = requests;
  ev.f = f;
  return null;
};

/** kvm_entry, every era of trace.h's TRACE_EVENT(kvm_entry): N1 `vcpu %u`; N2 `vcpu %u, rip 0x%lx`; N3 `… intr_info 0x%08x error_code 0x%08x[ [immediate exit]]`; the plugin's ` vcpu %u rip 0x%llx`. */
const kvm_entry: PayloadReader = (c, ev, hints) => {
  c.skipSpaces();
  if (!c.lit('vcpu ')) return bad('"vcpu N"');
  ev.vcpu = c.dec();
  if (Number.isNaN(ev.vcpu)) return bad('the vCPU number after "vcpu"');
  let form: EntryForm = 'N1';
  let rip = Number.NaN;
  const f: Record<string, string | number> = {};
  if (c.lit(', rip ')) {
    form = 'N2';
    rip = c.hex();
    if (!c.atEnd()) {
      const ii = hexAfter(c, 'intr_info');
      const ec = hexAfter(c, 'error_code');
      if (Number.isNaN(ii) || Number.isNaN(ec)) return bad('"intr_info 0x… error_code 0x…" after the RIP');
      f.intrInfo = ii; f.errorCode = ec;
      if (c.word('[immediate exit]')) f.immediateExit = 1;
      form = 'N3';
    }
  } else if (c.word('rip ')) {
    form = 'NP';
    c.skipSpaces();
    rip = c.hex();
    c.skipSpaces();
    if (!c.done) c.token(); // the plugin's function name
  }
  if (form === 'N1') hints.old = true;
  else {
    hints.modern = true;
    if (Number.isNaN(rip)) return bad('the guest RIP after "rip"');
    f.rip = rip;
  }
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  f.form = form;
  ev.f = f;
  return null;
};

// ---------------------------------------------------------------- I/O: kvm_pio, kvm_mmio, kvm_fast_mmio, kvm_msr

/** kvm_pio: `pio_%s at 0x%x size %d count %d` (3.x), then `… val 0x%x %s` (`(...)` when count > 1). */
const kvm_pio: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const rw = c.lit('pio_write') ? 1 : c.lit('pio_read') ? 0 : -1;
  if (rw < 0) return bad('"pio_read" or "pio_write"');
  const port = hexAfter(c, 'at');
  const size = decAfter(c, 'size');
  const count = decAfter(c, 'count');
  if ([port, size, count].some(Number.isNaN)) return bad('"at 0x… size N count N"');
  const f: Record<string, string | number> = { rw, port, size, count };
  if (c.word('val')) {
    c.skipSpaces();
    const val = c.hex();
    if (Number.isNaN(val)) return bad('a hex value after "val"');
    f.val = val;
    c.word('(...)');
  }
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = f;
  return null;
};

const MMIO_TYPES: Record<string, number> = { 'unsatisfied-read': 0, read: 1, write: 2 };

/** kvm_mmio: `mmio %s len %u gpa 0x%llx val 0x%llx`, %s = unsatisfied-read | read | write. */
const kvm_mmio: PayloadReader = (c, ev) => {
  if (!c.word('mmio ')) return bad('"mmio read|write|unsatisfied-read"');
  c.skipSpaces();
  const type = MMIO_TYPES[c.token()];
  if (type === undefined) return bad('"read", "write" or "unsatisfied-read" after "mmio"');
  const len = decAfter(c, 'len');
  const gpa = hexAfter(c, 'gpa');
  const val = hexAfter(c, 'val');
  if ([len, gpa, val].some(Number.isNaN)) return bad('"len N gpa 0x… val 0x…"');
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = { type, len, gpa, val };
  return null;
};

/** kvm_fast_mmio: `fast mmio at gpa 0x%llx` */
const kvm_fast_mmio: PayloadReader = (c, ev) => {
  if (!c.word('fast mmio at gpa')) return bad('"fast mmio at gpa 0x…"');
  c.skipSpaces();
  const gpa = c.hex();
  if (Number.isNaN(gpa) || !c.atEnd()) return bad('a GPA after "fast mmio at gpa"');
  ev.f = { gpa };
  return null;
};

/** kvm_msr: `msr_%s %x = 0x%llx%s` (` (#GP)` when it faulted). */
const kvm_msr: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const write = c.lit('msr_write') ? 1 : c.lit('msr_read') ? 0 : -1;
  if (write < 0) return bad('"msr_read" or "msr_write"');
  c.skipSpaces();
  const msr = c.hex();
  const data = hexAfter(c, '=');
  if (Number.isNaN(msr) || Number.isNaN(data)) return bad('"MSR = 0x…"');
  const gp = c.word('(#GP)') ? 1 : 0;
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = { write, msr, data, gp };
  return null;
};

/** kvm_cpuid: 3.x `func %x rax %lx rbx %lx rcx %lx rdx %lx`; 5.x+ `func %x idx %x … rdx %lx, cpuid entry %s%s`. */
const kvm_cpuid: PayloadReader = (c, ev) => {
  const func = hexAfter(c, 'func');
  if (Number.isNaN(func)) return bad('"func LEAF"');
  const f: Record<string, string | number> = { function: func };
  if (c.word('idx')) { c.skipSpaces(); f.index = c.hex(); }
  for (const r of ['rax', 'rbx', 'rcx', 'rdx']) {
    const v = hexAfter(c, r);
    if (Number.isNaN(v)) return bad(`"${r} VALUE"`);
    f[r] = v;
  }
  if (c.lit(',')) {
    if (!c.word('cpuid entry')) return bad('", cpuid entry found|not found"');
    c.skipSpaces();
    const found = c.lit('found') ? 1 : c.lit('not found') ? 0 : -1;
    if (found < 0) return bad('"found" or "not found" after "cpuid entry"');
    f.found = found;
    f.usedMaxBasic = c.lit(', used max basic') ? 1 : 0;
  }
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = f;
  return null;
};

// ---------------------------------------------------------------- back to userspace, hypercalls, the FPU

/**
 * kvm_userspace_exit (include/trace/events/kvm.h): `reason %s (%d)` — a KVM_EXIT_* name and its
 * number, or `restart` (KVM_RUN returned -EINTR) / `error` with the positive errno.
 */
const kvm_userspace_exit: PayloadReader = (c, ev) => {
  if (!c.word('reason ')) return bad('"reason KVM_EXIT_… (N)"');
  c.skipSpaces();
  const name = c.token();
  c.skipSpaces();
  if (!c.lit('(')) return bad('"(N)" after the reason');
  const n = c.sdec();
  if (Number.isNaN(n) || !c.lit(')') || !c.atEnd()) return bad('"(N)" after the reason');
  if (name === 'restart' || name === 'error') { ev.f = { reason: name, errno: n }; return null; }
  const known = KVM_EXIT_CODES.get(name);
  // __print_symbolic prints a reason its table lacks as hex; the number in parentheses is the reason.
  ev.f = { reason: known !== undefined || !name.startsWith('0x') ? name : kvmExitName(n), exitReason: n };
  return null;
};

/** kvm_hypercall: `nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx` */
const kvm_hypercall: PayloadReader = (c, ev) => {
  const f: Record<string, number> = {};
  for (const k of ['nr', 'a0', 'a1', 'a2', 'a3']) {
    const v = hexAfter(c, k);
    if (Number.isNaN(v)) return bad(`"${k} 0x…"`);
    f[k] = v;
  }
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = f;
  return null;
};

/** kvm_fpu: `load` or `unload` (kvm_fpu_load_symbol). */
const kvm_fpu: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const load = c.lit('unload') ? 0 : c.lit('load') ? 1 : -1;
  if (load < 0 || !c.atEnd()) return bad('"load" or "unload"');
  ev.f = { load };
  return null;
};

// ---------------------------------------------------------------- interrupts

/** kvm_inj_virq: `irq %u` (decimal vector, ≤ ~5.18), `IRQ 0x%x` / `Soft/INTn 0x%x` + ` [reinjected]` (2022+). */
const kvm_inj_virq: PayloadReader = (c, ev, hints) => {
  c.skipSpaces();
  let vector: number;
  let soft = 0;
  if (c.lit('irq ')) vector = c.dec();
  else {
    if (c.lit('Soft/INTn ')) soft = 1;
    else if (!c.lit('IRQ ')) return bad('"irq N", "IRQ 0x…" or "Soft/INTn 0x…"');
    hints.modern = true;
    vector = c.hex();
  }
  if (Number.isNaN(vector)) return bad('the vector');
  const reinjected = c.word('[reinjected]') ? 1 : 0;
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = { vector, soft, reinjected };
  return null;
};

/** kvm_inj_exception: old `%s (0x%x)` (always a code), 2022+ `%s` [` (0x%x)`] [` [reinjected]`]. */
const kvm_inj_exception: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const name = c.token();
  const vector = EXCEPTIONS[name] ?? (name.startsWith('0x') ? Number(name) : Number.NaN);
  if (Number.isNaN(vector)) return bad('an exception mnemonic (#GP, #PF, …)');
  const f: Record<string, number> = { vector };
  c.skipSpaces();
  if (c.lit('(')) {
    const ec = c.hex();
    if (Number.isNaN(ec) || !c.lit(')')) return bad('"(0x…)" after the exception');
    f.errorCode = ec;
  }
  f.reinjected = c.word('[reinjected]') ? 1 : 0;
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = f;
  return null;
};

/** kvm_set_irq: `gsi %u level %d source %d` */
const kvm_set_irq: PayloadReader = (c, ev) => {
  const gsi = decAfter(c, 'gsi');
  const level = decAfter(c, 'level');
  const source = decAfter(c, 'source');
  if ([gsi, level, source].some(Number.isNaN) || !c.atEnd()) return bad('"gsi N level N source N"');
  ev.f = { gsi, level, source };
  return null;
};

/**
 * kvm_msi_set_irq: 3.x `dst %u vec %x (%s|%s|%s%s)` (vector in hex), later `dst %llx vec %u (…)`
 * (decimal; the destination with the extended ID bits). Which one a line is cannot be told from
 * the line: a file whose other lines are of Linux 5.4 or later is read as the later form. The
 * MSI's address and data are rebuilt from the printed fields (arch/x86/include/asm/msidef.h).
 */
const kvm_msi_set_irq: PayloadReader = (c, ev, hints) => {
  if (!c.word('dst')) return bad('"dst N vec N (…)"');
  c.skipSpaces();
  const later = hints.modern || hints.vcpuIds;
  const dst = later ? c.hex() : c.dec();
  if (!c.word('vec')) return bad('"vec N" after the destination');
  c.skipSpaces();
  const vec = later ? c.dec() : c.hex();
  const g = group(c);
  if (Number.isNaN(dst) || Number.isNaN(vec) || !g || g.length < 3) return bad('"dst N vec N (mode|physical|edge)"');
  const dm = DELIVERY.indexOf(g[0]!);
  const logical = g[1] === 'logical' ? 1 : 0;
  const level = g[2] === 'level' ? 1 : 0;
  const rh = g[3] === 'rh' ? 1 : 0;
  if (!c.atEnd() || dm < 0) return bad('"(DeliveryMode|physical|logical|edge|level[|rh])"');
  const address = 0xfee00000 + ((dst & 0xff) * 0x1000) + (logical << 2) + (rh << 3) + Math.floor(dst / 256) * 2 ** 40;
  ev.f = { dst, vec, address, data: vec | (dm << 8) | (level << 15) };
  return null;
};

/** kvm_ioapic_set_irq: `pin %u dst %x vec=%u (%s|%s|%s%s)%s` (3.x) / `… vec %u …` — mode, logical/physical, level/edge, |masked; ` (coalesced)`. */
const kvm_ioapic_set_irq: PayloadReader = (c, ev) => {
  const pin = decAfter(c, 'pin');
  const dst = hexAfter(c, 'dst');
  if (!c.word('vec')) return bad('"vec N"');
  c.lit('=');
  c.skipSpaces();
  const vec = c.dec();
  const g = group(c);
  if ([pin, dst, vec].some(Number.isNaN) || !g || g.length < 3) return bad('"pin N dst N vec N (mode|physical|edge)"');
  const coalesced = c.word('(coalesced)') ? 1 : 0;
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = { pin, dst, vec, deliveryMode: g[0]!, logical: g[1] === 'logical' ? 1 : 0, level: g[2] === 'level' ? 1 : 0, masked: g[3] === 'masked' ? 1 : 0, coalesced };
  return null;
};

/** kvm_pic_set_irq: `chip %u pin %u (%s%s)%s` — edge/level, |masked; ` (coalesced)`. */
const kvm_pic_set_irq: PayloadReader = (c, ev) => {
  const chip = decAfter(c, 'chip');
  const pin = decAfter(c, 'pin');
  const g = group(c);
  if (Number.isNaN(chip) || Number.isNaN(pin) || !g) return bad('"chip N pin N (edge|level)"');
  const coalesced = c.word('(coalesced)') ? 1 : 0;
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  ev.f = { chip, pin, irq: chip * 8 + pin, level: g[0] === 'level' ? 1 : 0, masked: g[1] === 'masked' ? 1 : 0, coalesced };
  return null;
};

/** kvm_apic_accept_irq / kvm_apicv_accept_irq: `apicid %x vec %u (%s|%s)` (3.6: + ` (coalesced)`). */
const accept_irq: PayloadReader = (c, ev) => {
  const apicid = hexAfter(c, 'apicid');
  const vec = decAfter(c, 'vec');
  const g = group(c);
  if (Number.isNaN(apicid) || Number.isNaN(vec) || !g || g.length !== 2) return bad('"apicid N vec N (mode|edge)"');
  const dm = DELIVERY.indexOf(g[0]!);
  if (dm < 0) return bad(`a delivery mode, not "${g[0]}"`);
  c.word('(coalesced)');
  if (!c.atEnd()) return bad(`the end of the line, not "${c.rest()}"`);
  // dm as the kernel stores it: the ICR's delivery-mode bits (10:8).
  ev.f = { apicid, dm: dm << 8, tm: g[1] === 'level' ? 1 : 0, vec };
  return null;
};

/** kvm_eoi, kvm_pv_eoi: `apicid %x vector %d` — the apicid is the vcpu_id. */
const kvm_eoi: PayloadReader = (c, ev) => {
  const apicid = hexAfter(c, 'apicid');
  const vector = decAfter(c, 'vector');
  if (Number.isNaN(apicid) || Number.isNaN(vector) || !c.atEnd()) return bad('"apicid N vector N"');
  ev.vcpu = apicid;
  ev.f = { vector };
  return null;
};

/** kvm_apic: `apic_%s %s = 0x%x` (0x%llx since the 64-bit x2APIC ICR). */
const kvm_apic: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const rw = c.lit('apic_write') ? 1 : c.lit('apic_read') ? 0 : -1;
  if (rw < 0) return bad('"apic_read" or "apic_write"');
  c.skipSpaces();
  const name = c.token();
  const reg = APIC_REGS[name] ?? (name.startsWith('0x') ? Number(name) : Number.NaN);
  const val = hexAfter(c, '=');
  if (Number.isNaN(reg) || Number.isNaN(val) || !c.atEnd()) return bad('"APIC_REG = 0x…"');
  ev.f = { rw, reg, val };
  return null;
};

/** kvm_apic_ipi: `dst %x vec %u (%s|%s|%s|%s|%s)`; the ICR's low word is rebuilt from the five flags. */
const kvm_apic_ipi: PayloadReader = (c, ev) => {
  const dst = hexAfter(c, 'dst');
  const vec = decAfter(c, 'vec');
  const g = group(c);
  if (Number.isNaN(dst) || Number.isNaN(vec) || !g || g.length !== 5 || !c.atEnd()) return bad('"dst N vec N (mode|dest|level|trigger|shorthand)"');
  const dm = DELIVERY.indexOf(g[0]!);
  const sh = SHORTHAND.indexOf(g[4]!);
  if (dm < 0 || sh < 0) return bad('a delivery mode and a shorthand in the flags');
  const icrLow = vec | (dm << 8) | (g[1] === 'logical' ? 1 << 11 : 0) | (g[2] === 'assert' ? 1 << 14 : 0) | (g[3] === 'level' ? 1 << 15 : 0) | (sh << 18);
  ev.f = { icr_low: icrLow, dest_id: dst };
  return null;
};

// ---------------------------------------------------------------- memory, emulation, halting

/** kvm_page_fault: ≤6.0 `address %lx error_code %x`; 6.1+ `vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx`. */
const kvm_page_fault: PayloadReader = (c, ev, hints) => {
  const f: Record<string, number> = {};
  if (c.word('vcpu')) {
    c.skipSpaces();
    ev.vcpu = c.dec();
    f.rip = hexAfter(c, 'rip');
    if (Number.isNaN(ev.vcpu) || Number.isNaN(f.rip)) return bad('"vcpu N rip 0x…"');
    hints.modern = true;
  }
  f.address = hexAfter(c, 'address');
  f.errorCode = hexAfter(c, 'error_code');
  if (Number.isNaN(f.address) || Number.isNaN(f.errorCode) || !c.atEnd()) return bad('"address ADDR error_code CODE"');
  ev.f = f;
  return null;
};

const EMUL_MODES = new Set(['real', 'vm16', 'prot16', 'prot32', 'prot64']);

/**
 * kvm_emulate_insn: the kernel's `%x:%llx:%s (%s)%s` (csbase, RIP, the bytes, the mode, ` failed`)
 * and the plugin's `%llx:%llx: %s%s` (the bytes or their disassembly, ` FAIL`).
 */
const kvm_emulate_insn: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const csbase = c.hex();
  if (Number.isNaN(csbase) || !c.lit(':')) return bad('"CSBASE:RIP:…"');
  const rip = c.hex();
  if (Number.isNaN(rip)) return bad('the RIP after the CS base');
  const rest = c.s.slice(c.i, c.end).replace(/\s+$/, '');
  // The kernel's form ends with the mode in parentheses, then " failed" if the emulation failed.
  const failedK = rest.endsWith(' failed');
  const body = failedK ? rest.slice(0, -7) : rest;
  const open = body.lastIndexOf(' (');
  if (body.startsWith(':') && body.endsWith(')') && open >= 0 && EMUL_MODES.has(body.slice(open + 2, -1))) {
    ev.f = { csbase, rip, insn: body.slice(1, open).trim(), mode: body.slice(open + 2, -1), failed: failedK ? 1 : 0 };
    return null;
  }
  const colon = rest.indexOf(': ');
  if (colon < 0 && !rest.startsWith(':')) return bad('"CSBASE:RIP:BYTES (MODE)" or the plugin\'s "CSBASE:RIP: INSN"');
  let insn = rest.slice(rest.indexOf(':') + 1).trim();
  const failed = insn.endsWith(' FAIL') || insn === 'FAIL' ? 1 : 0;
  if (failed) insn = insn.slice(0, -4).trim();
  ev.f = { csbase, rip, insn, mode: '', failed };
  return null;
};

/** kvm_vcpu_wakeup: `%s time %lld ns, polling %s` (`wait`/`poll`, `valid`/`invalid`). */
const kvm_vcpu_wakeup: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const waited = c.lit('wait') ? 1 : c.lit('poll') ? 0 : -1;
  const ns = decAfter(c, 'time');
  if (waited < 0 || Number.isNaN(ns) || !c.word('ns')) return bad('"wait|poll time N ns, polling valid|invalid"');
  if (c.word('(max poll')) { c.skipSpaces(); c.dec(); c.word('ns)'); }
  if (!c.word(', polling') && !c.word(',polling')) return bad('", polling valid|invalid"');
  c.skipSpaces();
  const valid = c.lit('valid') ? 1 : c.lit('invalid') ? 0 : -1;
  if (valid < 0 || !c.atEnd()) return bad('"valid" or "invalid" after "polling"');
  ev.f = { haltedNs: ns, waited, valid };
  return null;
};

/** kvm_halt_poll_ns: `vcpu %u: halt_poll_ns %u (%s %u)` (grow/shrink, the old value). */
const kvm_halt_poll_ns: PayloadReader = (c, ev) => {
  if (!c.word('vcpu')) return bad('"vcpu N: halt_poll_ns N (grow|shrink N)"');
  c.skipSpaces();
  ev.vcpu = c.dec();
  const now = c.lit(':') ? decAfter(c, 'halt_poll_ns') : Number.NaN;
  c.skipSpaces();
  const grow = c.lit('(grow') ? 1 : c.lit('(shrink') ? 0 : -1;
  c.skipSpaces();
  const old = c.dec();
  if (Number.isNaN(ev.vcpu) || Number.isNaN(now) || grow < 0 || Number.isNaN(old) || !c.lit(')') || !c.atEnd()) return bad('"vcpu N: halt_poll_ns N (grow|shrink N)"');
  ev.f = { grow, new: now, old };
  return null;
};

/** kvm_ple_window_update: `vcpu %u old %u new %u (%s)`; the older kvm_ple_window: `vcpu %u: ple_window %d (%s %d)`. */
const kvm_ple_window: PayloadReader = (c, ev) => {
  if (!c.word('vcpu')) return bad('"vcpu N …"');
  c.skipSpaces();
  ev.vcpu = c.dec();
  if (Number.isNaN(ev.vcpu)) return bad('the vCPU number');
  if (c.word('old')) {
    c.skipSpaces();
    const old = c.dec();
    const now = decAfter(c, 'new');
    if (Number.isNaN(old) || Number.isNaN(now) || !group(c) || !c.atEnd()) return bad('"old N new N (growed|shrinked)"');
    ev.f = { vcpu_id: ev.vcpu, new: now, old };
    return null;
  }
  if (!c.lit(':')) return bad('"old N new N" or ": ple_window N"');
  ev.f = { vcpu_id: ev.vcpu, text: c.rest() };
  return null;
};

/** kvm_cr: `cr_%s %x = 0x%lx` */
const kvm_cr: PayloadReader = (c, ev) => {
  c.skipSpaces();
  const rw = c.lit('cr_write') ? 1 : c.lit('cr_read') ? 0 : -1;
  c.skipSpaces();
  const cr = c.hex();
  const val = hexAfter(c, '=');
  if (rw < 0 || Number.isNaN(cr) || Number.isNaN(val) || !c.atEnd()) return bad('"cr_read|cr_write N = 0x…"');
  ev.f = { rw, cr, val };
  return null;
};

/** kvm_ack_irq: `irqchip %s pin %u` (PIC master, PIC slave, IOAPIC). */
const kvm_ack_irq: PayloadReader = (c, ev) => {
  if (!c.word('irqchip')) return bad('"irqchip NAME pin N"');
  c.skipSpaces();
  const chip = until(c, ' pin ');
  if (chip === null) return bad('" pin N" after the irqchip');
  const pin = c.dec();
  if (Number.isNaN(pin) || !c.atEnd()) return bad('the pin number');
  ev.f = { irqchip: chip, pin };
  return null;
};

/** kvm_pml_full: `vcpu %d: PML full` */
const kvm_pml_full: PayloadReader = (c, ev) => {
  if (!c.word('vcpu')) return bad('"vcpu N: PML full"');
  c.skipSpaces();
  ev.vcpu = c.dec();
  if (Number.isNaN(ev.vcpu) || !c.word(': PML full') || !c.atEnd()) return bad('"vcpu N: PML full"');
  ev.f = {};
  return null;
};

/**
 * kvm_nested_vmexit: ≤5.9 `rip: 0x%016llx reason: …`, 5.10+ kvm_exit's text, or what the plugin
 * makes of it on 5.10+ (`CAN'T FIND FIELD "rip"…` then the kernel's text). An exit of the nested
 * guest, reflected here as an event of its own; only the vCPU is read.
 */
const kvm_nested_vmexit: PayloadReader = (c, ev) => {
  const at = c.s.indexOf('vcpu ', c.i);
  if (at >= 0 && at < c.end) { c.i = at + 5; const v = c.dec(); if (!Number.isNaN(v)) ev.vcpu = v; }
  ev.f = {};
  return null;
};

/** The tracepoints the importer reads. Others are kept as opaque events. */
export const PAYLOAD_READERS: ReadonlyMap<string, PayloadReader> = new Map<string, PayloadReader>([
  ['kvm_exit', kvm_exit], ['kvm_entry', kvm_entry], ['kvm_pio', kvm_pio], ['kvm_mmio', kvm_mmio],
  ['kvm_fast_mmio', kvm_fast_mmio], ['kvm_msr', kvm_msr], ['kvm_cpuid', kvm_cpuid], ['kvm_userspace_exit', kvm_userspace_exit],
  ['kvm_hypercall', kvm_hypercall], ['kvm_fpu', kvm_fpu], ['kvm_inj_virq', kvm_inj_virq], ['kvm_inj_exception', kvm_inj_exception],
  ['kvm_set_irq', kvm_set_irq], ['kvm_msi_set_irq', kvm_msi_set_irq], ['kvm_ioapic_set_irq', kvm_ioapic_set_irq],
  ['kvm_pic_set_irq', kvm_pic_set_irq], ['kvm_apic_accept_irq', accept_irq], ['kvm_apicv_accept_irq', accept_irq],
  ['kvm_eoi', kvm_eoi], ['kvm_pv_eoi', kvm_eoi], ['kvm_apic', kvm_apic], ['kvm_apic_ipi', kvm_apic_ipi],
  ['kvm_page_fault', kvm_page_fault], ['kvm_emulate_insn', kvm_emulate_insn], ['kvm_vcpu_wakeup', kvm_vcpu_wakeup],
  ['kvm_halt_poll_ns', kvm_halt_poll_ns], ['kvm_ple_window', kvm_ple_window], ['kvm_ple_window_update', kvm_ple_window],
  ['kvm_nested_vmexit', kvm_nested_vmexit], ['kvm_cr', kvm_cr], ['kvm_ack_irq', kvm_ack_irq], ['kvm_pml_full', kvm_pml_full],
]);
