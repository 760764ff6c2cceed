// A few plain words under each crossing of the diagram, for a reader who does not know the names
// yet: "ISR read", "EOI", "interrupt injected", "the guest wakes". The words come from what the walk
// shows around the crossing — the guest function that ran just before it, the kvm tracepoint just
// after it, the crossing's own values — never from the scenario. ①–⑩ take the seed talk's words.
// English, or Japanese in the talk's vocabulary (`--lang ja`).

import type { TraceEvent } from './recorder';

export type CaptionLang = 'en' | 'ja';

/** The talk's name for each of ①–⑩. */
const STAGE: Record<number, [string, string]> = {
  1: ['system call', 'システムコール'],
  2: ['sensitive instruction', 'センシティブ命令'],
  3: ['VM exit', 'VMExit'],
  4: ['ioctl(KVM_RUN) returns', 'ioctl の return'],
  5: ['system call', 'システムコール'],
  6: ['the system call returns', 'システムコールの return'],
  7: ['ioctl(KVM_RUN) again', 'ioctl'],
  8: ['VM entry', 'VMEnter'],
  9: ['emulation complete', 'センシティブ命令のエミュレーション完'],
  10: ['the system call returns', 'システムコールの return'],
};

const W = {
  halt: ['idle: the vCPU halts', 'アイドル: vCPU が hlt で止まる'],
  haltExit: ['HLT exit: kvm blocks the vCPU', 'HLT の VMExit: kvm が vCPU を眠らせる'],
  aioWakes: ['the AIO completion wakes {p}', 'AIO の完了で {p} が起きる'],
  wakes: ['{p}\'s main loop wakes', '{p} のメインループが起きる'],
  waits: ['the main loop waits again', 'メインループがまた待つ'],
  eventfd: ['reads the eventfd\'s counter', 'eventfd のカウンタを読む'],
  getevents: ['collects the finished request', '終わった要求を受け取る'],
  submit: ['submits the I/O (Linux AIO)', 'Linux AIO で I/O を頼む'],
  raise: ['raises the interrupt line', '割り込み線を上げる'],
  lower: ['lowers the interrupt line', '割り込み線を下げる'],
  irqLine: ['sets the interrupt line', '割り込み線を操作する'],
  injected: ['interrupt injected', '割り込みを注入'],
  nmiInjected: ['NMI injected', 'NMI を注入'],
  excInjected: ['exception injected', '例外を注入'],
  launch: ['first VM entry', '最初の VMEnter'],
  entry: ['VM entry: back to the guest', 'VMEnter: ゲストに戻る'],
  guestWakes: ['the guest wakes', 'ゲストが起きる'],
  completes: ['the instruction completes', '命令の完了'],
  handler: ['the guest\'s interrupt handler runs', 'ゲストの割り込みハンドラが動く'],
  nmi: ['the guest\'s NMI handler runs', 'ゲストの NMI ハンドラが動く'],
  exception: ['an exception in the guest', 'ゲストに例外'],
  isr: ['ISR read', 'ISR の読み出し'],
  eoi: ['EOI: the interrupt is done', 'EOI: 割り込み処理の終わり'],
  ipi: ['sends an IPI', 'IPI を送る'],
  posted: ['posted interrupt: no VM exit', 'ポステッド割り込み: VMExit なし'],
  hostIrq: ['a host interrupt arrives', 'ホストの割り込みが来る'],
  exit: ['VM exit', 'VMExit'],
  exitToQemu: ['ioctl(KVM_RUN) returns', 'ioctl(KVM_RUN) の return'],
  run: ['qemu-kvm runs the vCPU again', 'qemu-kvm が vCPU をまた動かす'],
  runFirst: ['qemu-kvm runs the vCPU', 'qemu-kvm が vCPU を動かす'],
  sensitive: ['sensitive instruction', 'センシティブ命令'],
  syscall: ['system call', 'システムコール'],
  returns: ['returns', 'return'],
  backIn: ['back in {p}', '{p} に戻る'],
  returnsToProcess: ['returns to the process', 'プロセスに戻る'],
  ioctl: ['ioctl on a kvm file', 'kvm のファイルへの ioctl'],
  hostSyscall: ['asks the host kernel', 'ホストOSに頼む'],
  signal: ['signals an eventfd', 'eventfd に通知する'],
  vhost: ['the storage daemon serves the queue', 'ストレージデーモンがキューを処理する'],
} as const satisfies Record<string, readonly [string, string]>;

type Key = keyof typeof W;

const EOI_MSR = 0x80b;
const XAPIC_EOI = 0xfee000b0;

const num = (v: string | number | undefined): number => (typeof v === 'number' ? v : v === undefined ? NaN : Number(v));

/** The guest-kernel function that ran last before event i on the same vCPU, if any. */
function guestCallBefore(events: readonly TraceEvent[], i: number): string | undefined {
  const e = events[i]!;
  for (let j = i - 1; j >= 0; j--) {
    const p = events[j]!;
    if (p.vcpu !== e.vcpu) continue;
    if (p.from === 'guest kernel' && p.to === 'guest kernel' && p.kind === 'call') return p.name;
    if (p.from !== p.to) return undefined;
  }
  return undefined;
}

/** The first event after i (up to the next crossing) that satisfies `f`. */
function after(events: readonly TraceEvent[], i: number, f: (e: TraceEvent) => boolean): TraceEvent | undefined {
  for (let j = i + 1; j < events.length; j++) {
    const n = events[j]!;
    if (f(n)) return n;
    if (n.from !== n.to && n.kind !== 'ioctl-return') return undefined;
  }
  return undefined;
}

function key(events: readonly TraceEvent[], i: number): Key | undefined {
  const e = events[i]!;
  const d = e.detail;
  switch (e.kind) {
    case 'instruction': {
      if (e.name === 'hlt') return 'halt';
      if (e.name === 'wrmsr' && num(d.msr) === EOI_MSR) return 'eoi';
      if (/^mov[bwlq]?$|^write[bwlq]$/.test(e.name) && num(d.addr ?? d.gpa) === XAPIC_EOI) return 'eoi';
      if (e.name === 'wrmsr' && num(d.msr) === 0x830) return 'ipi';
      if (/^in[bwl]$/.test(e.name) && guestCallBefore(events, i) === 'vp_interrupt') return 'isr';
      return 'sensitive';
    }
    case 'vm-exit':
      if (e.name === 'HLT' && after(events, i, (n) => n.name === 'kvm_vcpu_block')) return 'haltExit';
      return 'exit';
    case 'vm-entry': {
      const info = num(d.intrInfo);
      if (info & 0x80000000) {
        const type = (info >>> 8) & 7;
        return type === 2 ? 'nmiInjected' : type === 3 ? 'excInjected' : 'injected';
      }
      return e.name === 'VMLAUNCH' ? 'launch' : 'entry';
    }
    case 'emulation-complete':
      return e.name === 'hlt' ? 'guestWakes' : 'completes';
    case 'irq':
      if (e.to === 'guest kernel') return e.name === 'nmi' ? 'nmi' : e.name === 'exception' ? 'exception' : 'handler';
      return e.name === 'posted-interrupt notification' ? 'posted' : 'hostIrq';
    case 'ioctl':
      if (e.name === 'KVM_IRQ_LINE' || e.name === 'KVM_IRQ_LINE_STATUS') {
        const set = after(events, i, (n) => n.name === 'kvm_set_irq');
        if (!set) return 'irqLine';
        return num(set.detail.level) ? 'raise' : 'lower';
      }
      if (e.name === 'KVM_RUN') return events.slice(0, i).some((p) => p.kind === 'ioctl' && p.name === 'KVM_RUN' && p.vcpu === e.vcpu) ? 'run' : 'runFirst';
      return 'ioctl';
    case 'ioctl-return':
      return e.name.startsWith('KVM_EXIT_') ? 'exitToQemu' : 'backIn';
    case 'syscall':
      if (e.from === 'guest process') return 'syscall';
      if (e.name === 'io_submit') return 'submit';
      if (e.name === 'io_getevents') return 'getevents';
      if (e.name === 'ppoll' || e.name === 'poll' || e.name === 'epoll_wait') return 'waits';
      if (e.name === 'read' && num(d.count) === 8) return 'eventfd';
      if (e.name === 'write' && num(d.count) === 8) return 'signal';
      return e.from === 'vhost-user-blk' ? 'vhost' : 'hostSyscall';
    case 'syscall-return':
      if (e.to === 'guest process') return 'returnsToProcess';
      if (e.name === 'ppoll' || e.name === 'poll' || e.name === 'epoll_wait') {
        for (let j = i - 1; j >= 0; j--) {
          const p = events[j]!;
          if (p.kind === 'aio-complete') return 'aioWakes';
          if (p.from !== p.to) break;
        }
        return 'wakes';
      }
      return e.to === 'guest kernel' ? 'returns' : 'backIn';
    case 'eventfd':
      return 'signal';
    default:
      return undefined;
  }
}

/** The plain-words caption of crossing `i` of `events` (the whole walk, inner calls included). */
export function captionOf(events: readonly TraceEvent[], i: number, lang: CaptionLang = 'en'): string | undefined {
  const e = events[i]!;
  if (e.from === e.to) return undefined;
  const l = lang === 'ja' ? 1 : 0;
  if (e.stage !== undefined && STAGE[e.stage]) return STAGE[e.stage]![l];
  const k = key(events, i);
  // {p}: the host process the crossing returns to, or leaves from.
  return k ? W[k][l].replace('{p}', e.to === 'host kernel' || e.to === 'kvm' ? e.from : e.to) : undefined;
}
