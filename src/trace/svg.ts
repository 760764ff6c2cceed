// The walk as an SVG sequence diagram, drawn like the seed's picture: one lifeline per box (guest
// process, guest kernel, VMX CPU, kvm, qemu-kvm, host kernel), one arrow per crossing in trace order,
// the seed's steps numbered ①–⑩, the guest's side shaded as VMX non-root and the host's as VMX root.
// The VMX CPU's bar shows which mode the processor is in at each moment: non-root from a VM entry to
// the next VM exit. Kvm's exit-handler decisions appear as notes on its lifeline. Under each arrow a
// few plain words say what happens (captions.ts), in English or Japanese.
//
// Layout: every text sits between the two lifelines it belongs to, wrapped to fit there, and each
// row is as tall as its lines; so no text crosses a lifeline, a circle or another text, and no text
// is smaller than 11 px. Text widths come from the font's metrics (textwidth.ts). A wide walk (a
// seventh box) makes a wider picture, drawn at its natural size: the page scrolls rather than
// shrinking the text.
//
// The markup is stable for tools: each lifeline is `<g class="lifeline" data-layer="…">`, each arrow
// `<g class="arrow" data-kind="…" data-name="…">` with `data-stage="N"` when it is one of ①–⑩.

import { LAYERS, type Layer } from './events';
import { captionOf, type CaptionLang } from './captions';
import { LAYER_JA } from './narrative';
import type { TraceEvent } from './recorder';
import { textWidth, wrapText } from './textwidth';

export interface SvgOptions {
  title?: string;
  /** At most this many rows are drawn; the rest is summarised in one line. */
  maxRows?: number;
  /** The language of the captions, the boxes and the legend (names from the trace stay as they are). */
  lang?: CaptionLang;
}

/** Font sizes in px: no text of the diagram is smaller than SMALL. */
const LABEL = 12;
const SMALL = 11;
const HEADER = 13;
const TITLE = 15;
/** Ascent and descent of DejaVu Sans, in em. */
const ASC = 0.93;
const DESC = 0.24;
const lineH = (size: number) => Math.ceil(size * (ASC + DESC)) + 1;
/** Space between a text and the lifelines on either side of it. */
const PAD = 8;
/** A stage number's circle: radius, and how far its centre sits from the lifeline it starts at. */
const R = 9;
const CIRCLE_AT = 17;
const STAGE_COLOUR = '#b3261e';
const NON_ROOT = '#e6f4ea';
const ROOT = '#e8eef9';
const FONT = 'DejaVu Sans, Helvetica, Arial, IPAGothic, Noto Sans CJK JP, sans-serif';

const SUBTITLE: Record<string, [string, string]> = {
  'guest process': ['ring 3 in the guest', 'ゲストの ring 3'],
  'guest kernel': ['ring 0 in the guest', 'ゲストの ring 0'],
  'VMX CPU': ['VT-x: VMCS, exits, entries', 'VT-x: VMCS, VMExit, VMEnter'],
  kvm: ['kvm.ko in the host kernel', 'ホストOSの中の kvm.ko'],
  'qemu-kvm': ['a host process', 'ホストのプロセス'],
  'vhost-user-blk': ['another host process', 'もう一つのホストのプロセス'],
  'host kernel': ['syscalls, AIO, files', 'システムコール, AIO, ファイル'],
};

const WORDS = {
  nonRoot: ['VMX non-root (the guest)', 'VMX non-root (ゲスト)'],
  root: ['VMX root (the host)', 'VMX root (ホスト)'],
  walk: ['the walk', '処理の流れ'],
  steps: ['the seed\'s steps', '講演の 10 ステップ'],
  call: ['call, instruction, exit, entry', '呼び出し, 命令, VMExit, VMEnter'],
  ret: ['return, completion', 'return, 完了'],
  handler: ['kvm\'s exit handler', 'kvm の VMExit ハンドラ'],
  nonRootBar: ['CPU in VMX non-root mode', 'VMX non-root モードの CPU'],
  rootBar: ['CPU in VMX root mode (after a VM exit, until the next VM entry)', 'VMX root モードの CPU (VMExit から次の VMEnter まで)'],
  time: ['left margin: simulated time since the first crossing', '左端: 最初の境界越えからのシミュレーション時間'],
  more: ['more crossings not drawn (see the trace JSON)', '個の境界越えは省略 (トレースの JSON を参照)'],
} as const;

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

/** A fact under the arrow a reader looks up next: the exit qualification, the event injected. */
export function arrowNote(e: TraceEvent): string {
  const d = e.detail;
  switch (e.kind) {
    case 'vm-exit': return d.qualification !== undefined && d.qualification !== '0x0' ? `qualification ${d.qualification}` : '';
    case 'vm-entry': {
      const info = typeof d.intrInfo === 'string' ? Number(d.intrInfo) : 0;
      return info & 0x80000000 ? `vector 0x${(info & 0xff).toString(16)}` : '';
    }
    default: return '';
  }
}

const isReturn = (k: string) => k === 'syscall-return' || k === 'ioctl-return' || k === 'emulation-complete';

function circled(cx: number, cy: number, n: number): string {
  return `<circle cx="${cx}" cy="${cy}" r="${R}" fill="${STAGE_COLOUR}"/>` +
    `<text x="${cx}" y="${cy + 4}" text-anchor="middle" class="num">${n}</text>`;
}

/** Lines of text with their first baseline at `y`, `size` px apart by line height. */
function lines(x: number, y: number, ls: readonly string[], cls: string, size: number, anchor = 'middle'): string {
  return ls.map((l, k) => `<text x="${r1(x)}" y="${r1(y + k * lineH(size))}" text-anchor="${anchor}" class="${cls}">${esc(l)}</text>`).join('');
}

const r1 = (v: number) => Math.round(v * 10) / 10;

interface Row {
  e: TraceEvent;
  /** Index of the event in the whole walk (inner calls included), for the captions' context. */
  at: number;
  top: number;
  bottom: number;
  /** The arrow's y, or the note box's centre. */
  y: number;
  markup: string;
}

export function sequenceSvg(events: readonly TraceEvent[], opts: SvgOptions = {}): string {
  const lang = opts.lang ?? 'en';
  const L = lang === 'ja' ? 1 : 0;
  const max = opts.maxRows ?? 400;
  const drawn: { e: TraceEvent; at: number }[] = [];
  events.forEach((e, at) => { if (e.from !== e.to || e.kind === 'exit-handler') drawn.push({ e, at }); });
  const shown = drawn.slice(0, max);
  const hidden = drawn.length - shown.length;
  const used = new Set<string>(shown.flatMap(({ e }) => [e.from, e.to]));
  const lanes: Layer[] = LAYERS.filter((l) => CORE.includes(l) || used.has(l));
  const smp = shown.some(({ e }) => e.vcpu > 0);
  const label = (e: TraceEvent) => (smp && e.vcpu >= 0 ? `vCPU ${e.vcpu}: ` : '') + arrowLabel(e);

  // The distance between two lifelines: room for most labels of arrows between neighbours on one
  // line (a longer one wraps), and for the boxes' names.
  let need = 0;
  for (const { e } of shown) {
    if (e.from === e.to || Math.abs(lanes.indexOf(e.from) - lanes.indexOf(e.to)) !== 1) continue;
    need = Math.max(need, textWidth(label(e), LABEL, e.stage !== undefined) + 2 * PAD);
  }
  const COL = Math.round(Math.min(190, Math.max(170, need)));
  const BOX = COL - 16;
  const X0 = Math.max(76, BOX / 2 + 10);
  const x = (l: Layer) => X0 + COL * lanes.indexOf(l);
  const WIDTH = Math.round(X0 * 2 + COL * (lanes.length - 1));
  const o: string[] = [];

  // The title, then the two modes and the boxes.
  const titleLines = wrapText(opts.title ?? WORDS.walk[L], WIDTH - 24, TITLE, true);
  const titleY = 8 + Math.ceil(TITLE * ASC);
  const bandTop = titleY + (titleLines.length - 1) * lineH(TITLE) + Math.ceil(TITLE * DESC) + 10;
  const boxTop = bandTop + 26;
  const subs = lanes.map((l) => wrapText(SUBTITLE[l]?.[L] ?? '', BOX - 10, SMALL));
  const boxH = 8 + lineH(HEADER) + Math.max(...subs.map((s) => s.length)) * lineH(SMALL) + 4;
  const TOP = boxTop + boxH + 16;

  // Rows: each as tall as its lines.
  const rows: Row[] = [];
  let y = TOP;
  for (const { e, at } of shown) {
    const top = y;
    if (e.from === e.to) {
      const cx = x(e.from);
      const i = lanes.indexOf(e.from);
      const right = i + 1 < lanes.length ? x(lanes[i + 1]!) - PAD : WIDTH - 4;
      const left = i > 0 ? x(lanes[i - 1]!) + PAD : 66;
      const one = textWidth(e.name, LABEL) + 14;
      // On the right of the lifeline when it fits there, else on the left, else wrapped on the right.
      const onLeft = cx + 10 + one > right && cx - 10 - one >= left;
      const ls = onLeft || cx + 10 + one <= right ? [e.name] : wrapText(e.name, right - cx - 10 - 14, LABEL);
      const w = Math.max(...ls.map((s) => textWidth(s, LABEL))) + 14;
      const bx = onLeft ? cx - 10 - w : cx + 10;
      const h = ls.length * lineH(LABEL) + 6;
      const rowY = top + 4 + h / 2;
      rows.push({ e, at, top, y: rowY, bottom: top + h + 10, markup:
        `<g class="note" data-kind="${e.kind}" data-name="${esc(e.name)}"><rect x="${r1(bx)}" y="${r1(top + 4)}" width="${r1(w)}" height="${h}" rx="3" fill="#fff8d6" stroke="#c9a227"/>` +
        lines(bx + 7, top + 7 + Math.ceil(LABEL * ASC), ls, 'lbl', LABEL, 'start') + '</g>' });
      y = top + h + 10;
      continue;
    }
    const x1 = x(e.from), x2 = x(e.to);
    const dir = x2 > x1 ? 1 : -1;
    const stage = e.stage !== undefined;
    // Text goes between the arrow's first two lifelines: no other lifeline runs through there. A
    // stage's circle sits at the arrow's start, below the label and above the caption.
    const next = x(lanes[lanes.indexOf(e.from) + dir]!);
    const lo = Math.min(x1, next) + PAD, hi = Math.max(x1, next) - PAD;
    const width = hi - lo;
    const mid = (lo + hi) / 2;
    const above = wrapText(label(e), width, LABEL, stage);
    const caption = captionOf(events, at, lang);
    const note = arrowNote(e);
    const below = [...(caption ? wrapText(caption, width, SMALL) : []), ...(note ? wrapText(note, width, SMALL) : [])];
    const nCap = caption ? wrapText(caption, width, SMALL).length : 0;
    const firstBase = top + 4 + Math.ceil(LABEL * ASC);
    const lastBase = firstBase + (above.length - 1) * lineH(LABEL);
    const ay = lastBase + Math.ceil(LABEL * DESC) + (stage ? R + 3 : 5);
    const belowBase = ay + (stage ? R + 2 : 6) + Math.ceil(SMALL * ASC);
    const bottom = below.length ? belowBase + (below.length - 1) * lineH(SMALL) + Math.ceil(SMALL * DESC) + 6 : ay + (stage ? R : 4) + 6;
    const colour = stage ? STAGE_COLOUR : '#555';
    const dash = isReturn(e.kind) ? ' stroke-dasharray="6 4"' : '';
    const start = x1 + dir * (stage ? CIRCLE_AT + R + 1 : 6);
    const attrs = `class="${stage ? 'arrow stage' : 'arrow'}" data-kind="${e.kind}" data-name="${esc(e.name)}"${stage ? ` data-stage="${e.stage}"` : ''}`;
    let m = `<g ${attrs}>`;
    m += `<line x1="${r1(start)}" y1="${ay}" x2="${r1(x2 - dir * 6)}" y2="${ay}" stroke="${colour}" stroke-width="${stage ? 2 : 1.2}"${dash} marker-end="url(#${stage ? 'ahs' : 'ah'})"/>`;
    if (stage) m += circled(x1 + dir * CIRCLE_AT, ay, e.stage!);
    m += lines(mid, firstBase, above, 'lbl', LABEL);
    if (below.length) {
      m += lines(mid, belowBase, below.slice(0, nCap), 'cap', SMALL);
      m += lines(mid, belowBase + nCap * lineH(SMALL), below.slice(nCap), 'note2', SMALL);
    }
    m += '</g>';
    rows.push({ e, at, top, y: ay, bottom, markup: m });
    y = bottom;
  }
  const bottom = y + 8;

  // The legend, laid out left to right and wrapped to the picture's width.
  const legend: { w: number; draw: (lx: number, ly: number) => string }[] = [
    { w: 62 + textWidth(WORDS.steps[L], SMALL), draw: (lx, ly) => circled(lx + R, ly - 4, 1) + `<text x="${lx + 22}" y="${ly}">…</text>` + circled(lx + 46, ly - 4, 10) + `<text x="${lx + 62}" y="${ly}">${esc(WORDS.steps[L])}</text>` },
    { w: 48 + textWidth(WORDS.call[L], SMALL), draw: (lx, ly) => `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 40}" y2="${ly - 4}" stroke="#555" marker-end="url(#ah)"/><text x="${lx + 46}" y="${ly}">${esc(WORDS.call[L])}</text>` },
    { w: 48 + textWidth(WORDS.ret[L], SMALL), draw: (lx, ly) => `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 40}" y2="${ly - 4}" stroke="#555" stroke-dasharray="6 4" marker-end="url(#ah)"/><text x="${lx + 46}" y="${ly}">${esc(WORDS.ret[L])}</text>` },
    { w: 80 + textWidth(WORDS.handler[L], SMALL), draw: (lx, ly) => `<rect x="${lx}" y="${ly - 12}" width="${Math.ceil(textWidth('handler', SMALL)) + 12}" height="16" rx="3" fill="#fff8d6" stroke="#c9a227"/><text x="${lx + 6}" y="${ly}">handler</text><text x="${lx + Math.ceil(textWidth('handler', SMALL)) + 20}" y="${ly}">${esc(WORDS.handler[L])}</text>` },
    { w: 18 + textWidth(WORDS.nonRootBar[L], SMALL), draw: (lx, ly) => `<rect x="${lx}" y="${ly - 12}" width="10" height="16" fill="#5fae73"/><text x="${lx + 16}" y="${ly}">${esc(WORDS.nonRootBar[L])}</text>` },
    { w: 18 + textWidth(WORDS.rootBar[L], SMALL), draw: (lx, ly) => `<rect x="${lx}" y="${ly - 12}" width="10" height="16" fill="#7b93c9"/><text x="${lx + 16}" y="${ly}">${esc(WORDS.rootBar[L])}</text>` },
    { w: textWidth(WORDS.time[L], SMALL), draw: (lx, ly) => `<text x="${lx}" y="${ly}" class="t">${esc(WORDS.time[L])}</text>` },
  ];
  const moreY = bottom + 20;
  let lx = 14, ly = (hidden > 0 ? moreY : bottom) + 30;
  const legendMarkup: string[] = [];
  for (const item of legend) {
    if (lx > 14 && lx + item.w > WIDTH - 14) { lx = 14; ly += 26; }
    legendMarkup.push(item.draw(lx, ly));
    lx += item.w + 26;
  }
  const height = ly + 16;

  // The style's rules are scoped to the diagram: an SVG drawn inline in a page shares its styles.
  const S = `svg.exitpath-walk.${lang}`;
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" class="exitpath-walk ${lang}" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" font-size="${SMALL}">`);
  o.push(`<title>${esc(opts.title ?? WORDS.walk[L])}</title>`);
  o.push(`<style>${S} text{font-family:${FONT}}${S} .lbl{fill:#1f1f1f;font-size:${LABEL}px}${S} .stage .lbl{fill:${STAGE_COLOUR};font-weight:bold}${S} .num{fill:#fff;font-size:${SMALL}px;font-weight:bold}` +
    `${S} .cap{fill:#2f4f2f;font-size:${SMALL}px${lang === 'ja' ? '' : ';font-style:italic'}}${S} .note2{fill:#555;font-size:${SMALL}px}` +
    `${S} .t{fill:#666;font-size:${SMALL}px}${S} .hdr{font-weight:bold;font-size:${HEADER}px}${S} .sub{fill:#555;font-size:${SMALL}px}${S} .band{font-size:${SMALL}px;font-weight:bold;fill:#4d4d4d}${S} .title{font-size:${TITLE}px;font-weight:bold}</style>`);
  o.push('<defs>' +
    '<marker id="ah" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>' +
    `<marker id="ahs" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${STAGE_COLOUR}"/></marker>` +
    '</defs>');
  o.push(`<rect width="${WIDTH}" height="${height}" fill="#fff"/>`);
  // The two modes of the processor, as the seed draws them: the guest's boxes run in VMX non-root
  // mode, kvm, qemu-kvm and the host kernel in VMX root mode; the VMX CPU is the boundary.
  const split = (x('guest kernel') + x('VMX CPU')) / 2;
  const split2 = (x('VMX CPU') + x('kvm')) / 2;
  o.push(`<g class="modes"><rect x="0" y="${bandTop}" width="${split}" height="${bottom - bandTop}" fill="${NON_ROOT}"/>`);
  o.push(`<rect x="${split2}" y="${bandTop}" width="${WIDTH - split2}" height="${bottom - bandTop}" fill="${ROOT}"/>`);
  o.push(`<text x="10" y="${bandTop + 16}" class="band">${esc(WORDS.nonRoot[L])}</text>`);
  o.push(`<text x="${WIDTH - 10}" y="${bandTop + 16}" text-anchor="end" class="band">${esc(WORDS.root[L])}</text></g>`);
  o.push(lines(WIDTH / 2, titleY, titleLines, 'title', TITLE));

  for (const [i, l] of lanes.entries()) {
    const cx = x(l);
    o.push(`<g class="lifeline" data-layer="${esc(l)}">`);
    o.push(`<rect x="${r1(cx - BOX / 2)}" y="${boxTop}" width="${BOX}" height="${boxH}" rx="5" fill="#fff" stroke="#444"/>`);
    o.push(`<text x="${cx}" y="${boxTop + 4 + Math.ceil(HEADER * ASC)}" text-anchor="middle" class="hdr">${esc(lang === 'ja' ? LAYER_JA[l] ?? l : l)}</text>`);
    o.push(lines(cx, boxTop + 4 + lineH(HEADER) + Math.ceil(SMALL * ASC), subs[i]!, 'sub', SMALL));
    o.push(`<line x1="${cx}" y1="${boxTop + boxH}" x2="${cx}" y2="${bottom}" stroke="#888" stroke-dasharray="4 3"/>`);
    o.push('</g>');
  }

  // The processor's mode over time: non-root from each VM entry to the next VM exit. With several
  // vCPUs each row's bar is the mode of that row's vCPU, and each arrow names its vCPU.
  const cpuX = x('VMX CPU');
  const bar = (m: 'root' | 'non-root', from: number, to: number) => {
    if (to > from) o.push(`<rect class="mode ${m}" x="${cpuX - 5}" y="${r1(from)}" width="10" height="${r1(to - from)}" fill="${m === 'root' ? '#7b93c9' : '#5fae73'}"/>`);
  };
  if (!smp) {
    let mode: 'root' | 'non-root' = 'non-root';
    let since = TOP - 8;
    for (const r of rows) {
      if (r.e.kind === 'vm-exit' && mode === 'non-root') { bar(mode, since, r.y); mode = 'root'; since = r.y; }
      else if (r.e.kind === 'vm-entry' && mode === 'root') { bar(mode, since, r.y); mode = 'non-root'; since = r.y; }
    }
    bar(mode, since, bottom);
  } else {
    const modes = new Map<number, 'root' | 'non-root'>();
    for (const r of rows) {
      if (r.e.vcpu < 0) continue;
      if (r.e.kind === 'vm-exit') modes.set(r.e.vcpu, 'root');
      else if (r.e.kind === 'vm-entry') modes.set(r.e.vcpu, 'non-root');
      bar(modes.get(r.e.vcpu) ?? 'non-root', r.top, r.bottom);
    }
  }

  const t0 = shown[0]?.e.t_ns ?? 0;
  for (const r of rows) {
    const dt = (r.e.t_ns - t0) / 1000;
    o.push(`<text x="6" y="${r1(r.y + 4)}" class="t">+${dt.toFixed(dt < 10 ? 2 : 1)} µs</text>`);
    o.push(r.markup);
  }
  if (hidden > 0) {
    const more = lang === 'ja' ? `… 残り ${hidden} ${WORDS.more[1]}` : `… ${hidden} ${WORDS.more[0]}`;
    o.push(`<text x="${WIDTH / 2}" y="${moreY}" text-anchor="middle" class="t">${esc(more)}</text>`);
  }
  o.push(`<g class="legend" font-size="${SMALL}">${legendMarkup.join('')}</g>`);
  o.push('</svg>');
  return o.join('\n') + '\n';
}
