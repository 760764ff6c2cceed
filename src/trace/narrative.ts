// The walk as text, numbered like the seed talk: each crossing on a line, the ①–⑩ ones marked and
// explained, the kernel and qemu functions that decided where to go shown beneath.

import type { TraceEvent } from './recorder';
import type { Summary } from './query';

const CIRCLED = ['', '①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩'];

const WHY: Record<number, string> = {
  1: 'the process makes a system call: the guest kernel takes over',
  2: 'a sensitive instruction: the guest kernel kicks the device with port I/O',
  3: 'VT-x leaves VMX non-root mode: a VM exit; the VMCS says why',
  4: 'no device in the kernel claims it: ioctl(KVM_RUN) returns to qemu-kvm with kvm_run filled',
  5: 'qemu-kvm emulates the device and asks the host kernel to do the I/O',
  6: 'the host kernel returns to qemu-kvm',
  7: 'qemu-kvm calls ioctl(KVM_RUN) again',
  8: 'kvm enters the guest again (VM entry)',
  9: 'the instruction has completed: the guest continues after it',
  10: 'the system call returns to the process',
};

/** The same, in the words of the seed talk (QEMUとkvmとvt-x, 2013) for `--lang ja`. */
const WHY_JA: Record<number, string> = {
  1: 'システムコール: プロセスが write() を呼び、ゲストOSに処理が移る',
  2: 'センシティブ命令: ゲストOSが PORT I/O でデバイスに「queue の要求を処理しろ」と伝える',
  3: 'VMExit: vt-x が VMX non-root を抜けて kvm に戻る。理由は VMCS に書かれている',
  4: 'ioctl の return: kvm の中にこのポートのデバイスはないので、kvm_run を埋めて ioctl(KVM_RUN) が qemu-kvm に返る',
  5: 'システムコール: qemu-kvm がデバイスをエミュレートし、ホストOSに I/O を頼む',
  6: 'システムコールの return: ホストOSから qemu-kvm に戻る',
  7: 'ioctl: qemu-kvm がもう一度 ioctl(KVM_RUN) を呼ぶ',
  8: 'VMEnter: kvm がゲストに戻る (2回目以降は VMRESUME)',
  9: 'センシティブ命令のエミュレーション完: ゲストは次の命令を実行できる',
  10: 'システムコールの return: プロセスに戻る',
};

/** The boxes in the seed talk's words. */
export const LAYER_JA: Record<string, string> = {
  'guest process': 'プロセス', 'guest kernel': 'ゲストOS', 'VMX CPU': 'vt-x', kvm: 'kvm', 'qemu-kvm': 'qemu-kvm', 'host kernel': 'ホストOS',
};

export type NarrativeLang = 'en' | 'ja';

function detail(e: TraceEvent): string {
  const parts = Object.entries(e.detail).filter(([k]) => k !== 'rip').map(([k, v]) => `${k}=${v}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Stage ②'s explanation: the seed's port I/O kick, or another sensitive instruction. */
function why(stage: number, e: TraceEvent, ja: boolean): string {
  if (stage === 2 && !/^(out|in)[bwl]$/.test(e.name)) {
    return ja ? `センシティブ命令: ${e.name} は VMCS の設定によりゲストの中だけでは実行できない`
      : `a sensitive instruction: under the VMCS controls kvm set, ${e.name} cannot complete inside the guest alone`;
  }
  return (ja ? WHY_JA : WHY)[stage]!;
}

export function narrate(title: string, events: TraceEvent[], s: Summary, verbose = false, lang: NarrativeLang = 'en'): string {
  const out: string[] = [title, ''];
  const ja = lang === 'ja';
  const layer = (l: string) => (ja ? LAYER_JA[l] ?? l : l);
  // With several vCPUs, each line says whose it is (host threads with no vCPU get a blank column).
  const smp = events.some((e) => e.vcpu > 0);
  for (const e of events) {
    const crossing = e.from !== e.to;
    if (!crossing && !verbose && e.kind !== 'exit-handler') continue;
    const mark = e.stage ? CIRCLED[e.stage]! : ' ';
    const route = crossing ? `${layer(e.from)} → ${layer(e.to)}` : ja ? `  ${layer(e.from)} の中` : `  in ${e.from}`;
    const who = smp ? (e.vcpu >= 0 ? `vCPU ${e.vcpu} ` : '       ') : '';
    out.push(`${mark} ${who}${ja ? padWide(route, 24) : route.padEnd(30)} ${e.kind.padEnd(18)} ${e.name}${detail(e)}`);
    if (e.stage) out.push(`    ${why(e.stage, e, ja)}`);
  }
  const up = s.exits.filter((x) => x.handledIn === 'userspace').length;
  out.push('');
  if (ja) {
    out.push(`VMExit: ${s.exits.length} 回 (うち qemu-kvm まで届いたもの ${up} 回): ${s.exits.map((x) => `${x.reason}→${x.handler ?? 'ハンドラなし'}${x.userspaceExit ? `→${x.userspaceExit}` : ''}`).join(', ') || 'なし'}`);
    out.push(`VMEnter: ${s.entries.length} 回; ゲストへの割り込み: ${s.guestInterrupts} 回`);
    out.push(`ホストのシステムコール: ${s.hostSyscalls.map((h) => h.request ? `ioctl(${h.request})` : h.name).join(', ') || 'なし'}`);
    out.push(`ゲストでの結果: ${s.guestResult.value}${s.guestResult.errno ? ` (${s.guestResult.errno})` : ''}${s.guestResult.fault ? ` (${s.guestResult.fault} の後)` : ''}; モデル上のサイクル数: ${s.cycles}`);
    return out.join('\n') + '\n';
  }
  out.push(`VM exits: ${s.exits.length} (${up} reached qemu-kvm): ${s.exits.map((x) => `${x.reason}→${x.handler ?? 'no handler'}${x.userspaceExit ? `→${x.userspaceExit}` : ''}`).join(', ') || 'none'}`);
  out.push(`VM entries: ${s.entries.length}; guest interrupts: ${s.guestInterrupts}`);
  out.push(`host syscalls: ${s.hostSyscalls.map((h) => h.request ? `ioctl(${h.request})` : h.name).join(', ') || 'none'}`);
  out.push(`result in the guest: ${s.guestResult.value}${s.guestResult.errno ? ` (${s.guestResult.errno})` : ''}${s.guestResult.fault ? ` after ${s.guestResult.fault}` : ''}; modelled cycles: ${s.cycles}`);
  return out.join('\n') + '\n';
}

/** Pad to a display width where CJK characters take two columns. */
function padWide(s: string, width: number): string {
  let w = 0;
  for (const ch of s) w += /[\u3000-\u9fff\uff00-\uffef]/.test(ch) ? 2 : 1;
  return s + ' '.repeat(Math.max(0, width - w));
}
