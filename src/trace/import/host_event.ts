// One event of a host's trace, as the importer read it: where it came from (line, host CPU, thread),
// when, which tracepoint, and its payload's fields. The fields carry the names the model's own
// tracepoints use (src/kvm: `port`, `gpa`, `msr`, …), so the model's Then-steps read both alike.

export type Fields = Record<string, string | number>;

/** How kvm_exit's payload was printed (arch/x86/kvm/trace.h TRACE_EVENT(kvm_exit), or libtraceevent's plugin_kvm.c): decides the era of the trace. */
export type ExitForm =
  /** `reason %s rip 0x%lx` (2.6.31–2.6.3x) */
  | 'E1'
  /** `[vcpu %u ]reason %s rip 0x%lx info %llx %llx` (2.6.3x–5.9, and libtraceevent's plugin on every kernel) */
  | 'info'
  /** `vcpu %u reason %s rip 0x%lx info1 0x%016llx info2 … intr_info … error_code …` (5.10+) */
  | 'E5'
  /** E5 + ` requests 0x%016llx` (~6.14+) */
  | 'E6';

/** How kvm_entry was printed (arch/x86/kvm/trace.h TRACE_EVENT(kvm_entry), or plugin_kvm.c's kvm_entry_handler). */
export type EntryForm = 'N1' | 'N2' | 'N3' | 'NP';

export class HostEvent {
  /** Line number in the file (1-based). */
  line = 0;
  /** Timestamp in nanoseconds (the tool printed µs or ns). */
  tsNs = 0;
  /** Host CPU, or -1 when the line had none. */
  cpu = -1;
  /** Thread id (ftrace's PID column, perf's TID), or -1. */
  tid = -1;
  /** The task name as printed (cut at a space by trace-cmd, `<...>` when ftrace lost it). */
  comm = '';
  /** The trace system (`kvm`), when the tool printed it (perf), else ''. */
  system = '';
  /** The tracepoint: `kvm_exit`, `kvm_pio`, … (or `<stack trace>`, or the function of a function-tracer line). */
  name = '';
  /** vCPU id from the payload (`vcpu %u`, `apicid` of kvm_eoi is not one), or -1. */
  vcpu = -1;
  /** The payload's fields, for the tracepoints the importer reads; null for others (opaque events). */
  f: Fields | null = null;
  /** The payload text as printed (kept for opaque events, and when the reader is asked to keep it). */
  text = '';
  /** Frames of a stack trace that followed the event (`=> handle_io`), innermost first. */
  stack: string[] | null = null;
  /** A perf top row: the payload's share of the samples in percent (no event in time); else -1. */
  share = -1;
}
