// The walk as an SVG sequence diagram, drawn like the seed's picture: one lifeline per box (guest
// process, guest kernel, VMX CPU, kvm, qemu-kvm, host kernel), one arrow per crossing in trace order,
// the seed's steps numbered ①–⑩, the guest's side shaded as VMX non-root and the host's as VMX root.
// The VMX CPU's bar shows which mode the processor is in at each moment: non-root from a VM entry to
// the next VM exit. Kvm's exit-handler decisions appear as notes on its lifeline.
//
// The markup is stable for tools: each lifeline is `<g class="lifeline" data-layer="…">`, each arrow
// `<g class="arrow" data-kind="…" data-name="…">` with `data-stage="N"` when it is one of ①–⑩.

import { LAYERS, type Layer } from './events';
import type { TraceEvent } from './recorder';

export interface SvgOptions {
  title?: string;
  /** At most this many rows are drawn; the rest is summarised in one line. */
  maxRows?: number;
}

const COL = 170;
const X0 = 104;
const TOP = 120;
const ROW = 30;
const STAGE_COLOUR = '#b3261e';
const NON_ROOT = '#e6f4ea';
const ROOT = '#e8eef9';

const SUBTITLE: Record<string, string> = {
  'guest process': 'ring 3 in the guest',
  'guest kernel': 'ring 0 in the guest',
  'VMX CPU': 'VT-x: VMCS, exits, entries',
  kvm: 'kvm.ko in the host kernel',
  'qemu-kvm': 'a host process',
  'host kernel': 'syscalls, AIO, files',
};

/** The seed's six boxes are always drawn; a box the model adds later is drawn when a walk enters it. */
const CORE: readonly string[] = ['guest process', 'guest kernel', 'VMX CPU', 'kvm', 'qemu-kvm', 'host kernel'];

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const isPointer = (v: string | number) => typeof v === 'string' && /^0x7f[0-9a-f]{10}$/i.test(v);

/** The short label over an arrow: the real name, and the few values that say what happened. */
export function arrowLabel(e: TraceEvent): string {
  const d = e.detail;
  const vals = Object.entries(d).filter(([k, v]) => k !== 'rip' && !isPointer(v));
  const args = vals.map(([k, v]) => `${k} ${v}`).join(', ');
  switch (e.kind) {
    case 'vm-exit': return `${e.name}${d.reasonNumber !== undefined ? ` (${d.reasonNumber})` : ''}`;
    case 'vm-entry': return e.name;
    case 'ioctl': return `ioctl(${e.name})`;
    case 'ioctl-return': return e.name.startsWith('KVM_EXIT_') ? e.name : `${e.name} returns ${d.result ?? ''}`;
    case 'syscall': return `${e.name}(${vals.map(([, v]) => v).join(', ')})`;
    case 'syscall-return': return `${e.name} returns ${d.result ?? ''}`;
    case 'emulation-complete': return `${e.name} completes${typeof d.rax === 'string' && /^in|^rd|cpuid/.test(e.name) ? `, rax ${d.rax}` : ''}`;
    case 'instruction': return `${e.name} ${vals.map(([, v]) => v).join(' ')}`.trim();
    default: return args ? `${e.name} (${args})` : e.name;
  }
}

/** A second, smaller line under the arrow for the facts a reader looks up next. */
export function arrowNote(e: TraceEvent): string {
  const d = e.detail;
  switch (e.kind) {
    case 'vm-exit': return `VM exit${d.qualification !== undefined && d.qualification !== '0x0' ? `, qualification ${d.qualification}` : ''}`;
    case 'vm-entry': return typeof d.intrInfo === 'string' && d.intrInfo !== '0x0' ? `VM entry, injecting ${d.intrInfo}` : 'VM entry';
    case 'ioctl-return': return e.name.startsWith('KVM_EXIT_') ? 'ioctl(KVM_RUN) returns' : '';
    default: return '';
  }
}

const isReturn = (k: string) => k === 'syscall-return' || k === 'ioctl-return' || k === 'emulation-complete';

function circled(cx: number, cy: number, n: number): string {
  return `<circle cx="${cx}" cy="${cy}" r="9" fill="${STAGE_COLOUR}"/>` +
    `<text x="${cx}" y="${cy + 4}" text-anchor="middle" class="num">${n}</text>`;
}

export function sequenceSvg(events: readonly TraceEvent[], opts: SvgOptions = {}): string {
  const max = opts.maxRows ?? 400;
  const all = events.filter((e) => e.from !== e.to || e.kind === 'exit-handler');
  const rows = all.slice(0, max);
  const hidden = all.length - rows.length;
  const used = new Set<string>(rows.flatMap((e) => [e.from, e.to]));
  const lanes: Layer[] = LAYERS.filter((l) => CORE.includes(l) || used.has(l));
  const x = (l: Layer) => X0 + COL * lanes.indexOf(l);
  const WIDTH = X0 * 2 + COL * (lanes.length - 1);
  const bottom = TOP + rows.length * ROW + 16;
  const height = bottom + 92;
  const t0 = rows[0]?.t_ns ?? 0;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<title>${esc(opts.title ?? 'the walk')}</title>`);
  o.push('<style>.lbl{fill:#1f1f1f}.stage .lbl{fill:' + STAGE_COLOUR + ';font-weight:bold}.num{fill:#fff;font-size:11px;font-weight:bold}' +
    '.lbl,.note2{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.note2{fill:#555;font-size:10px}' +
    '.t{fill:#777;font-size:10px}.hdr{font-weight:bold;font-size:13px}.sub{fill:#555;font-size:10px}.band{font-size:11px;font-weight:bold;fill:#4d4d4d}</style>');
  o.push('<defs>' +
    `<marker id="ah" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>` +
    `<marker id="ahs" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${STAGE_COLOUR}"/></marker>` +
    '</defs>');
  o.push(`<rect width="${WIDTH}" height="${height}" fill="#fff"/>`);
  // The two modes of the processor, as the seed draws them: the guest's boxes run in VMX non-root
  // mode, kvm, qemu-kvm and the host kernel in VMX root mode; the VMX CPU is the boundary.
  const split = (x('guest kernel') + x('VMX CPU')) / 2;
  const split2 = (x('VMX CPU') + x('kvm')) / 2;
  o.push(`<g class="modes"><rect x="0" y="44" width="${split}" height="${bottom - 44}" fill="${NON_ROOT}"/>`);
  o.push(`<rect x="${split2}" y="44" width="${WIDTH - split2}" height="${bottom - 44}" fill="${ROOT}"/>`);
  o.push(`<text x="10" y="60" class="band">VMX non-root (the guest)</text>`);
  o.push(`<text x="${WIDTH - 10}" y="60" text-anchor="end" class="band">VMX root (the host)</text></g>`);
  o.push(`<text x="${WIDTH / 2}" y="26" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title ?? 'the walk')}</text>`);

  for (const l of lanes) {
    const cx = x(l);
    o.push(`<g class="lifeline" data-layer="${esc(l)}">`);
    o.push(`<rect x="${cx - 74}" y="70" width="148" height="38" rx="5" fill="#fff" stroke="#444"/>`);
    o.push(`<text x="${cx}" y="86" text-anchor="middle" class="hdr">${esc(l)}</text>`);
    o.push(`<text x="${cx}" y="100" text-anchor="middle" class="sub">${esc(SUBTITLE[l] ?? '')}</text>`);
    o.push(`<line x1="${cx}" y1="108" x2="${cx}" y2="${bottom}" stroke="#888" stroke-dasharray="4 3"/>`);
    o.push('</g>');
  }

  // The processor's mode over time: non-root from each VM entry to the next VM exit. With several
  // vCPUs each row's bar is the mode of that row's vCPU, and each arrow names its vCPU.
  const smp = rows.some((e) => e.vcpu > 0);
  const cpuX = x('VMX CPU');
  const bar = (m: 'root' | 'non-root', from: number, to: number) => {
    if (to > from) o.push(`<rect class="mode ${m}" x="${cpuX - 5}" y="${from}" width="10" height="${to - from}" fill="${m === 'root' ? '#7b93c9' : '#5fae73'}"/>`);
  };
  if (!smp) {
    let mode: 'root' | 'non-root' = 'non-root';
    let since = TOP - 8;
    rows.forEach((e, i) => {
      const y = TOP + i * ROW + 8;
      if (e.kind === 'vm-exit' && mode === 'non-root') { bar(mode, since, y); mode = 'root'; since = y; }
      else if (e.kind === 'vm-entry' && mode === 'root') { bar(mode, since, y); mode = 'non-root'; since = y; }
    });
    bar(mode, since, bottom);
  } else {
    const modes = new Map<number, 'root' | 'non-root'>();
    rows.forEach((e, i) => {
      const y = TOP + i * ROW + 8;
      if (e.vcpu < 0) return;
      if (e.kind === 'vm-exit') modes.set(e.vcpu, 'root');
      else if (e.kind === 'vm-entry') modes.set(e.vcpu, 'non-root');
      bar(modes.get(e.vcpu) ?? 'non-root', y - ROW / 2, y + ROW / 2);
    });
  }

  rows.forEach((e, i) => {
    const y = TOP + i * ROW + 8;
    const dt = (e.t_ns - t0) / 1000;
    o.push(`<text x="6" y="${y + 4}" class="t">+${dt.toFixed(dt < 10 ? 2 : 1)} µs</text>`);
    if (e.from === e.to) {
      const cx = x(e.from);
      const w = Math.max(70, e.name.length * 7 + 14);
      o.push(`<g class="note" data-kind="${e.kind}" data-name="${esc(e.name)}"><rect x="${cx + 10}" y="${y - 10}" width="${w}" height="18" rx="3" fill="#fff8d6" stroke="#c9a227"/>` +
        `<text x="${cx + 17}" y="${y + 3}" class="lbl">${esc(e.name)}</text></g>`);
      return;
    }
    const x1 = x(e.from), x2 = x(e.to);
    const stage = e.stage !== undefined;
    const dir = x2 > x1 ? 1 : -1;
    const cls = stage ? 'arrow stage' : 'arrow';
    const attrs = `class="${cls}" data-kind="${e.kind}" data-name="${esc(e.name)}"${stage ? ` data-stage="${e.stage}"` : ''}`;
    const colour = stage ? STAGE_COLOUR : '#555';
    const dash = isReturn(e.kind) ? ' stroke-dasharray="6 4"' : '';
    const start = x1 + dir * (stage ? 14 : 6);
    o.push(`<g ${attrs}>`);
    o.push(`<line x1="${start}" y1="${y}" x2="${x2 - dir * 6}" y2="${y}" stroke="${colour}" stroke-width="${stage ? 2 : 1.2}"${dash} marker-end="url(#${stage ? 'ahs' : 'ah'})"/>`);
    if (stage) o.push(circled(x1, y, e.stage!));
    const mid = (x1 + x2) / 2;
    o.push(`<text x="${mid}" y="${y - 5}" text-anchor="middle" class="lbl">${esc((smp && e.vcpu >= 0 ? `vCPU ${e.vcpu}: ` : '') + arrowLabel(e))}</text>`);
    const note = arrowNote(e);
    if (note) o.push(`<text x="${mid}" y="${y + 12}" text-anchor="middle" class="note2">${esc(note)}</text>`);
    o.push('</g>');
  });
  if (hidden > 0) o.push(`<text x="${WIDTH / 2}" y="${bottom - 2}" text-anchor="middle" class="t">… ${hidden} more crossings not drawn (see the trace JSON)</text>`);

  const ly = bottom + 26;
  o.push(`<g class="legend" font-size="11">`);
  o.push(circled(20, ly - 4, 1) + `<text x="33" y="${ly}">…</text>` + circled(50, ly - 4, 10) + `<text x="64" y="${ly}">the seed's steps</text>`);
  o.push(`<line x1="170" y1="${ly - 4}" x2="210" y2="${ly - 4}" stroke="#555" marker-end="url(#ah)"/><text x="216" y="${ly}">call, instruction, exit, entry</text>`);
  o.push(`<line x1="400" y1="${ly - 4}" x2="440" y2="${ly - 4}" stroke="#555" stroke-dasharray="6 4" marker-end="url(#ah)"/><text x="446" y="${ly}">return, completion</text>`);
  o.push(`<rect x="590" y="${ly - 12}" width="70" height="16" rx="3" fill="#fff8d6" stroke="#c9a227"/><text x="596" y="${ly}">handler</text><text x="668" y="${ly}">kvm's exit handler</text>`);
  o.push(`<rect x="20" y="${ly + 12}" width="10" height="16" fill="#5fae73"/><text x="36" y="${ly + 24}">CPU in VMX non-root mode</text>`);
  o.push(`<rect x="210" y="${ly + 12}" width="10" height="16" fill="#7b93c9"/><text x="226" y="${ly + 24}">CPU in VMX root mode (after a VM exit, until the next VM entry)</text>`);
  o.push(`<text x="${WIDTH - 10}" y="${ly + 24}" text-anchor="end" class="t">left margin: simulated time since the first crossing</text>`);
  o.push('</g></svg>');
  return o.join('\n') + '\n';
}
