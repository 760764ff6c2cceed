// The steps closest to a step nobody defined: what a reader most likely meant. A step's text and each
// step pattern become lists of words; a pattern's parameter ({int}, {string}, {word}, a regex group)
// matches any one word of the text, and two words cost their character edit distance relative to
// their length, so "MSI-X is enabled" lands near "the disk has {int} MSI-X vectors" and "the host
// calls KVM_RUNN" next to "the host calls {word}".

/** Words of a step's text: quoted strings and numbers become placeholders. */
export function textWords(text: string): string[] {
  return text
    .replace(/"[^"]*"/g, ' {string} ')
    .replace(/\b(0x[0-9a-fA-F]+|\d+(\.\d+)?)\b/g, ' {int} ')
    .split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
}

/** Words of a cucumber expression or a regular expression's source. */
export function patternWords(source: string): string[] {
  let s = source;
  if (s.startsWith('^') || s.endsWith('$')) {
    // A regular expression: capture groups are parameters, optional groups and classes drop out.
    s = s.replace(/^\^|\$$/g, '')
      .replace(/\((?!\?:)(?:[^()\\]|\\.)*\)/g, ' {p} ')
      .replace(/\(\?:([^()|]*)(?:\|[^()]*)?\)\??/g, '$1')
      .replace(/\\(.)/g, '$1').replace(/[?*+]/g, '');
  } else {
    s = s.replace(/\\\//g, '\u0000').replace(/\([^)]*\)/g, '')
      .replace(/(\S+)\/\S+/g, '$1').replace(/\u0000/g, '/');
  }
  return s.split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
}

const isParam = (w: string): boolean => /^\{[^}]*\}$/.test(w);

function charDistance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The edit distance between two names: how many single-character edits turn one into the other. */
export const nameDistance = charDistance;

function wordCost(t: string, p: string): number {
  if (isParam(p)) return isParam(t) || p === '{}' || p === '{word}' || p === '{p}' ? 0 : 0.25;
  if (isParam(t)) return 1;
  return Math.min(1, charDistance(t, p) / Math.max(t.length, p.length));
}

/** Word-level edit distance, where substituting one word for another costs wordCost. */
export function stepDistance(text: string[], pattern: string[]): number {
  const prev = Array.from({ length: pattern.length + 1 }, (_, j) => j);
  for (let i = 1; i <= text.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= pattern.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + wordCost(text[i - 1]!, pattern[j - 1]!));
      diag = up;
    }
  }
  return prev[pattern.length]!;
}

/** The `n` patterns closest to `text`, best first. */
export function closestSteps(text: string, patterns: readonly string[], n = 3): string[] {
  const t = textWords(text);
  return [...new Set(patterns)]
    .map((p) => ({ p, d: stepDistance(t, patternWords(p)) }))
    .sort((a, b) => a.d - b.d || a.p.localeCompare(b.p))
    .slice(0, n).map((x) => x.p);
}
