import { test } from 'node:test';
import { expect } from 'chai';
import { DEFAULT_CONFIG } from '../src/config';
import { explain } from '../src/walk';
import { captionOf } from '../src/trace/captions';
import { sequenceSvg } from '../src/trace/svg';
import { textWidth, wrapText } from '../src/trace/textwidth';
import { main } from '../src/cli/main';

const seed = () => explain(DEFAULT_CONFIG, 'write hello /hello.txt');

/**
 * The crossings after ⑨ with their captions, as the diagram draws them: the completion of ⑨'s
 * request, up to the next request's kick (the seed's write makes four on ext2).
 */
function completionHalf(lang: 'en' | 'ja') {
  const { events } = seed();
  const nine = events.findIndex((e) => e.stage === 9);
  const nextKick = events.findIndex((e, i) => i > nine && e.kind === 'instruction' && e.name === 'outw');
  const end = nextKick < 0 ? events.length : nextKick;
  return events.map((e, i) => ({ e, i })).filter(({ e, i }) => i > nine && i < end && e.from !== e.to && e.stage === undefined)
    .map(({ e, i }) => ({ name: e.name, kind: e.kind, caption: captionOf(events, i, lang) }));
}

test('every crossing of the seed\'s completion half has a caption in plain words, in English and in Japanese', () => {
  for (const lang of ['en', 'ja'] as const) {
    const half = completionHalf(lang);
    expect(half.length).to.be.greaterThan(15);
    for (const c of half) expect(c.caption, `${c.kind} ${c.name} (${lang})`).to.be.a('string').and.not.equal('');
  }
  const en = completionHalf('en');
  const of = (kind: string, name: string) => en.filter((c) => c.kind === kind && c.name === name).map((c) => c.caption);
  expect(of('instruction', 'inb')).to.deep.equal(['ISR read']);
  expect(of('instruction', 'wrmsr')[0]).to.match(/^EOI/);
  expect(of('vm-entry', 'VMRESUME')[0]).to.equal('interrupt injected');
  expect(of('emulation-complete', 'hlt')).to.deep.equal(['the guest wakes']);
  expect(of('ioctl', 'KVM_IRQ_LINE_STATUS')).to.deep.equal(['raises the interrupt line', 'lowers the interrupt line']);
  const ja = completionHalf('ja');
  expect(ja.find((c) => c.name === 'inb')!.caption).to.equal('ISR の読み出し');
  expect(ja.find((c) => c.name === 'hlt' && c.kind === 'emulation-complete')!.caption).to.equal('ゲストが起きる');
});

test('the diagram in Japanese: the boxes, the captions and the legend in the talk\'s words', () => {
  const svg = sequenceSvg(seed().events, { title: 'seed', lang: 'ja' });
  for (const w of ['ゲストOS', 'ホストOS', 'VMExit', '割り込みを注入', 'ゲストが起きる', 'ISR の読み出し', '講演の 10 ステップ']) expect(svg).to.contain(w);
  expect(svg).not.to.contain('the guest wakes');
  expect(sequenceSvg(seed().events, { title: 'seed' })).to.contain('the guest wakes').and.not.contain('ゲストが起きる');
});

test('explain --lang ja --format svg prints the Japanese diagram', () => {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => { out.push(s); return true; }) as typeof process.stdout.write;
  try { expect(main(['explain', 'write hello /hello.txt', '--format', 'svg', '--lang', 'ja'])).to.equal(0); } finally { process.stdout.write = write; }
  expect(out.join('')).to.match(/^<svg /).and.to.contain('ゲストが起きる');
});

test('no text of the diagram is smaller than 11 px, and every text fits between the lifelines around it', () => {
  const svg = sequenceSvg(seed().events, { title: 'seed' });
  const sizes = [...svg.matchAll(/font-size(?:="|:)(\d+(?:\.\d+)?)/g)].map((m) => Number(m[1]));
  expect(sizes.length).to.be.greaterThan(5);
  expect(Math.min(...sizes)).to.be.at.least(11);
  // Arrow labels between two neighbouring lifelines stay inside them (the browser test measures
  // every text as Chromium draws it; this is the same rule on the estimated widths).
  const lanes = [...svg.matchAll(/<g class="lifeline" data-layer="[^"]+">\s*<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" rx="5"[^>]*\/>\s*<text x="([\d.]+)"/g)].map((m) => Number(m[1]));
  expect(lanes).to.have.length(6);
  let checked = 0;
  for (const g of svg.matchAll(/<g class="arrow( stage)?"[^>]*>(.*?)<\/g>/g)) {
    for (const m of g[2]!.matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="middle" class="(lbl|cap|note2)">([^<]+)<\/text>/g)) {
      const cx = Number(m[1]);
      const text = m[3]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      const w = m[2] === 'lbl' ? textWidth(text, 12, !!g[1]) : textWidth(text, 11);
      const left = Math.max(...lanes.filter((l) => l <= cx)), right = Math.min(...lanes.filter((l) => l >= cx));
      expect(cx - w / 2, text).to.be.at.least(left);
      expect(cx + w / 2, text).to.be.at.most(right);
      checked++;
    }
  }
  expect(checked).to.be.greaterThan(60);
});

test('text wraps at spaces, then inside long names, never wider than asked', () => {
  expect(wrapText('the AIO completion wakes qemu-kvm', 150, 11)).to.deep.equal(['the AIO completion wakes', 'qemu-kvm']);
  const parts = wrapText('handle_fastpath_set_msr_irqoff', 120, 12);
  expect(parts.join('')).to.equal('handle_fastpath_set_msr_irqoff');
  for (const p of parts) expect(textWidth(p, 12)).to.be.at.most(120);
  expect(textWidth('ゲスト', 11)).to.equal(33);
});
