// How wide a line of text is drawn, without a browser: the advance widths of DejaVu Sans (the first
// font the diagrams ask for) for printable ASCII, in thousandths of an em, regular and bold, as
// Chromium measures them. Other characters are estimated wide: a full em for CJK, which the Japanese
// fonts draw square, and 0.9 em for the rest. Fonts that stand in for DejaVu Sans (Helvetica, Arial)
// are narrower, so a layout made with these widths only gets roomier.

const REGULAR = [318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636,
  636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748,
  787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635,
  634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838];
const BOLD = [348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696,
  696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850,
  733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716, 712,
  343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838];

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;

/** The width in px of `text` drawn at `size` px, regular or bold. */
export function textWidth(text: string, size: number, bold = false): number {
  const table = bold ? BOLD : REGULAR;
  let em = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 32 && c < 127) em += table[c - 32]!;
    else em += WIDE.test(ch) ? 1000 : 900;
  }
  return (em / 1000) * size;
}

/**
 * Break `text` into lines no wider than `width` px: at spaces first, then after `_`, `,` or `(`
 * inside a word too long for a line, and as a last resort anywhere.
 */
export function wrapText(text: string, width: number, size: number, bold = false): string[] {
  const fits = (s: string) => textWidth(s, size, bold) <= width;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/ +/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (fits(candidate)) { line = candidate; continue; }
    if (line) lines.push(line);
    line = '';
    const pieces = splitWord(word, fits);
    lines.push(...pieces.slice(0, -1));
    line = pieces[pieces.length - 1] ?? '';
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

/** A word too long for a line, cut after `_`, `,`, `(` or `/` where it can be, else by characters. */
function splitWord(word: string, fits: (s: string) => boolean): string[] {
  if (fits(word)) return [word];
  const out: string[] = [];
  let rest = word;
  while (rest && !fits(rest)) {
    let cut = -1;
    for (let i = rest.length - 1; i > 0; i--) {
      if ('_,(/'.includes(rest[i - 1]!) && fits(rest.slice(0, i))) { cut = i; break; }
    }
    if (cut < 0) {
      const chars = [...rest];
      let n = chars.length - 1;
      while (n > 1 && !fits(chars.slice(0, n).join(''))) n--;
      cut = chars.slice(0, n).join('').length;
    }
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest) out.push(rest);
  return out;
}
