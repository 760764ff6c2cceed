// The step vocabulary as the conformance matrix reads it: which steps specify an exit reason, a kvm
// handler, a KVM_EXIT_* code, a host syscall or a kvm tracepoint, in English (steps/*.steps.ts) and in Japanese
// (steps/ja/, which registers its phrasings from here, so the two cannot drift apart).

export type RowKind = 'exit reason' | 'KVM_EXIT' | 'handler' | 'host syscall' | 'tracepoint';

/** What one matched step says must happen (or must not). */
export interface Specified { kind: RowKind; name: string; negated?: boolean }

/** How a step's captured arguments (and its table or golden file) turn into specified items. */
export type Specifier =
  | { from: 'arg'; kind: RowKind; arg: number; negated?: boolean }
  | { from: 'crossings' }
  | { from: 'golden'; arg: number };

export interface Phrase {
  en: string;
  ja: string;
  specifies?: Specifier;
  /** When the Japanese names the arguments in another order: for each English argument, the Japanese one's index. */
  jaOrder?: readonly number[];
}

/** Cucumber expressions (or regular expressions, written /…/) of each step, by concept. */
export const VOCABULARY = {
  vmWith: { en: 'a VM with {int} vCPU(s) and {int} MiB of memory', ja: 'vCPU {int} 個、メモリ {int} MiB の VM' },
  configuredAs: { en: 'the VM is configured as:', ja: 'VM の設定は次のとおり:' },
  configFile: { en: 'the VM configuration file {string}', ja: 'VM の設定ファイル {string}' },
  ioeventfdOn: { en: 'ioeventfd is enabled', ja: 'ioeventfd が有効' },
  ioeventfdOff: { en: 'ioeventfd is disabled', ja: 'ioeventfd が無効' },
  irqchipKernel: { en: 'the irqchip is in the kernel', ja: 'irqchip はカーネルの中にある' },
  irqchipUser: { en: 'the irqchip is in userspace', ja: 'irqchip はユーザ空間にある' },
  backend: { en: 'the host block backend is {string}', ja: 'ホストのブロックバックエンドは {string}' },
  bootTraced: { en: 'the boot is traced', ja: 'ブートもトレースする' },

  writes: { en: 'the guest process writes {string} to {string}', ja: 'ゲストのプロセスが {string} に {string} を write する', jaOrder: [1, 0] },
  reads: { en: 'the guest process reads {int} bytes from {string}', ja: 'ゲストのプロセスが {string} から {int} バイト read する', jaOrder: [1, 0] },
  fsync: { en: 'the guest process calls fsync on {string}', ja: 'ゲストのプロセスが {string} を fsync する' },
  executes: { en: 'the guest executes {string}', ja: 'ゲストOSが {string} を実行する' },

  exitReason: { en: 'the VM exit reason is {exitReason}', ja: 'VMExit の理由は {exitReason}', specifies: { from: 'arg', kind: 'exit reason', arg: 0 } },
  handler: { en: 'kvm handles the exit with {word}', ja: 'kvm は {word} で VMExit を処理する', specifies: { from: 'arg', kind: 'handler', arg: 0 } },
  inKernel: { en: 'the exit is handled in the kernel', ja: 'VMExit は kvm の中で処理される' },
  reachesQemu: { en: 'the exit reaches qemu-kvm as {word}', ja: 'VMExit は {word} として qemu-kvm に届く', specifies: { from: 'arg', kind: 'KVM_EXIT', arg: 0 } },
  dispatches: { en: 'qemu-kvm dispatches it to the {string} device', ja: 'qemu-kvm はそれを {string} デバイスに渡す' },
  hostCalls: { en: 'the host calls {word}', ja: 'ホストOSで {word} が呼ばれる', specifies: { from: 'arg', kind: 'host syscall', arg: 0 } },
  hostDoesNotCall: { en: 'the host does not call {word}', ja: 'ホストOSで {word} は呼ばれない', specifies: { from: 'arg', kind: 'host syscall', arg: 0, negated: true } },
  hostCallsTimes: { en: 'the host calls {word} {int} time(s)', ja: 'ホストOSで {word} が {int} 回呼ばれる', specifies: { from: 'arg', kind: 'host syscall', arg: 0 } },
  hostNoSyscall: { en: 'the host makes no syscall', ja: 'ホストOSのシステムコールは呼ばれない' },
  exitsCount: { en: '/^there (?:is|are) (\\d+) VM exits?$/', ja: 'VMExit は {int} 回' },
  userspaceCount: { en: '/^(\\d+) exits? reach(?:es)? userspace$/', ja: 'qemu-kvm まで届く VMExit は {int} 回' },
  noExit: { en: 'there is no VM exit', ja: 'VMExit は起きない' },
  interrupts: { en: '/^the guest takes (\\d+) interrupts?$/', ja: 'ゲストへの割り込みは {int} 回' },
  syscallCount: { en: '/^the host makes (\\d+) syscalls?$/', ja: 'ホストOSのシステムコールは {int} 回' },
  firstEntry: { en: 'the first VM entry is {word}', ja: '最初の VMEnter は {word}' },
  laterEntries: { en: 'every later VM entry is {word}', ja: '2回目以降の VMEnter はすべて {word}' },
  everyEntry: { en: 'every VM entry is {word}', ja: 'VMEnter はすべて {word}' },
  crosses: { en: 'the walk crosses, in order:', ja: '処理は次の順に境界を越える:', specifies: { from: 'crossings' } },
  stagesRange: { en: 'the walk passes through stages {int} to {int} in order', ja: '処理はステージ {int} から {int} を順に通る' },
  stagesList: { en: 'the walk passes through stages {string}', ja: '処理はステージ {string} を通る' },
  diskHolds: { en: 'the disk image holds {string} at byte {int}', ja: 'ディスクイメージの {int} バイト目から {string} が書かれている', jaOrder: [1, 0] },
  returns: { en: '/^the (?:write|read|call|instruction) returns (\\d+)$/', ja: '/^(?:write|read|呼び出し|命令) ?は (\\d+) を返す$/' },
  returnsHex: { en: '/^the instruction returns (0x[0-9a-fA-F]+)$/', ja: '/^命令 ?は (0x[0-9a-fA-F]+) を返す$/' },
  fails: { en: 'the call fails with {word}', ja: '呼び出しは {word} で失敗する' },
  fault: { en: 'the guest takes a {word} fault', ja: 'ゲストに {word} 例外が起きる' },
  processReads: { en: 'the process reads {string}', ja: 'プロセスは {string} を読む' },
  // An event by name: the matrix counts it for a kvm tracepoint (kvm_pio, kvm_vcpu_wakeup, …); a
  // function or a crossing of the same step is specified by the walk's other rows, not here.
  walkIncludes: { en: 'the walk includes {word}', ja: '処理に {word} が含まれる', specifies: { from: 'arg', kind: 'tracepoint', arg: 0 } },
  walkExcludes: { en: 'the walk does not include {word}', ja: '処理に {word} は含まれない', specifies: { from: 'arg', kind: 'tracepoint', arg: 0, negated: true } },
  walkIncludesWith: { en: 'the walk includes {word} with {word} {word}', ja: '処理に {word} が含まれ、その {word} は {word}', specifies: { from: 'arg', kind: 'tracepoint', arg: 0 } },
  golden: { en: 'the trace matches the golden file {string}', ja: 'トレースはゴールデンファイル {string} と一致する', specifies: { from: 'golden', arg: 0 } },
} as const satisfies Record<string, Phrase>;

export type Concept = keyof typeof VOCABULARY;

/** A cucumber step pattern from the table: a string expression, or a RegExp when written /…/. */
export function pattern(p: string): string | RegExp {
  return p.startsWith('/') && p.endsWith('/') ? new RegExp(p.slice(1, -1)) : p;
}

/** The specifier for a step definition's pattern source, as cucumber's messages report it. */
export function specifierFor(source: string): Specifier | undefined {
  // A step with a scope suffix ("… in the whole scenario") specifies what the step without it does.
  source = source.replace(/ in the (?:last action|whole scenario)(\$?)$/, '$1');
  for (const p of Object.values(VOCABULARY) as Phrase[]) {
    if (!p.specifies) continue;
    for (const s of [p.en, p.ja]) if (s === source || (s.startsWith('/') && s.slice(1, -1) === source)) return p.specifies;
  }
  return undefined;
}

/** Layer names in Japanese, for tables written in Japanese (the seed's words). */
export const LAYER_JA: Record<string, string> = {
  'プロセス': 'guest process', 'ゲストのプロセス': 'guest process', 'ゲストOS': 'guest kernel', 'vt-x': 'VMX CPU',
  'VMX CPU': 'VMX CPU', kvm: 'kvm', 'qemu-kvm': 'qemu-kvm', 'ホストOS': 'host kernel',
};
