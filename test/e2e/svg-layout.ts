// Measures a walk's diagram as Chromium draws it: the bounding box of every text, and whether any
// of them overlaps another text, a stage circle, a lifeline (or the CPU's mode bar), an arrow's
// line or a handler's box; whether a stage circle sits on a lifeline or the mode bar; and the
// smallest text size drawn on the screen.

import type { Page } from 'playwright-core';

export interface SvgLayout {
  texts: number;
  /** One line per overlap: what overlaps what, and where. */
  overlaps: string[];
  /** The smallest font size of any text, in CSS px as drawn (after any scaling of the picture). */
  minFontPx: number;
  width: number;
  height: number;
}

/** Measure the first `svg` element under `selector` in the page as it is. */
export async function measureSvg(page: Page, selector = 'svg'): Promise<SvgLayout> {
  return page.evaluate((sel) => {
    const svg = document.querySelector(sel) as SVGSVGElement | null;
    if (!svg) throw new Error(`no ${sel} in the page`);
    type Box = { l: number; t: number; r: number; b: number; what: string; el: Element };
    const box = (el: Element, what: string, grow = 0): Box => {
      const r = el.getBoundingClientRect();
      return { l: r.left - grow, t: r.top - grow, r: r.right + grow, b: r.bottom + grow, what, el };
    };
    const name = (el: Element) => `${el.tagName}${el.getAttribute('class') ? '.' + el.getAttribute('class') : ''} "${(el.textContent ?? '').slice(0, 40)}"`;
    const hit = (a: Box, b: Box, eps = 0.5) => a.l < b.r - eps && b.l < a.r - eps && a.t < b.b - eps && b.t < a.b - eps;
    const texts = [...svg.querySelectorAll('text')].filter((t) => (t.textContent ?? '').trim() !== '').map((t) => box(t, name(t)));
    const circles = [...svg.querySelectorAll('circle')].map((c) => box(c, `circle ${c.nextElementSibling?.textContent ?? ''}`));
    const lifelines = [...svg.querySelectorAll('g.lifeline > line, rect.mode')].map((l) => box(l, l.tagName === 'rect' ? 'the CPU mode bar' : `lifeline ${l.parentElement?.getAttribute('data-layer')}`));
    const arrows = [...svg.querySelectorAll('g.arrow > line')].map((l) => box(l, `arrow ${l.parentElement?.getAttribute('data-name')}`));
    const notes = [...svg.querySelectorAll('g.note > rect')].map((r) => box(r, `handler box ${r.parentElement?.getAttribute('data-name')}`));
    const overlaps: string[] = [];
    const at = (a: Box) => `at (${Math.round(a.l)}, ${Math.round(a.t)})`;
    texts.forEach((a, i) => {
      for (const b of texts.slice(i + 1)) if (hit(a, b)) overlaps.push(`${a.what} overlaps ${b.what} ${at(a)}`);
      for (const c of circles) {
        // A circle's own number sits inside it.
        if (c.el.nextElementSibling === a.el) continue;
        if (hit(a, c)) overlaps.push(`${a.what} overlaps ${c.what} ${at(a)}`);
      }
      for (const l of lifelines) if (hit(a, l, 0)) overlaps.push(`${a.what} overlaps ${l.what} ${at(a)}`);
      for (const l of arrows) if (hit(a, l, 0)) overlaps.push(`${a.what} overlaps ${l.what} ${at(a)}`);
      for (const n of notes) if (!n.el.parentElement!.contains(a.el) && hit(a, n)) overlaps.push(`${a.what} overlaps ${n.what} ${at(a)}`);
    });
    // A stage's number sits beside its lifeline, not on it (nor on the CPU's mode bar).
    for (const c of [...svg.querySelectorAll('g.arrow circle')].map((e) => box(e, `circle ${e.nextElementSibling?.textContent ?? ''}`))) {
      for (const l of lifelines) if (hit(c, l, 0)) overlaps.push(`${c.what} overlaps ${l.what} ${at(c)}`);
    }
    for (const n of notes) {
      for (const l of lifelines) if (hit(n, l, 0)) overlaps.push(`${n.what} overlaps ${l.what} ${at(n)}`);
      for (const c of circles) if (hit(n, c)) overlaps.push(`${n.what} overlaps ${c.what} ${at(n)}`);
    }
    const r = svg.getBoundingClientRect();
    const scale = r.width / svg.viewBox.baseVal.width;
    const minFontPx = Math.min(...[...svg.querySelectorAll('text')].map((t) => parseFloat(getComputedStyle(t).fontSize) * scale));
    return { texts: texts.length, overlaps, minFontPx, width: r.width, height: r.height };
  }, selector);
}
