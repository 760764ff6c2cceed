// The steps closest to a step nobody defined: what a reader most likely meant. A step's text and each
// step pattern become lists of words; a pattern's parameter ({int}, {string}, {word}, a regex group)
// matches any one word of the text, and two words cost their character edit distance relative to
// their length (transposed letters cost one edit), so "the host calls KVM_RUNN" lands next to "the
// host calls {word}" and "irqfd is enabeld" next to "irqfd is enabled".

import { editDistance } from '../src/edit_distance';

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

function wordCost(t: string, p: string): number {
  if (isParam(p)) return isParam(t) || p === '{}' || p === '{word}' || p === '{p}' ? 0 : 0.25;
  if (isParam(t)) return 1;
  return Math.min(1, editDistance(t, p) / Math.max(t.length, p.length));
}

/** Word-level edit distance, where substituting one word for another costs wordCost. */
export function stepDistance(text: string[], pattern: string[]): number {
  return editDistance(text, pattern, wordCost);
}

/** The `n` patterns closest to `text`, best first. */
export function closestSteps(text: string, patterns: readonly string[], n = 3): string[] {
  const t = textWords(text);
  return [...new Set(patterns)]
    .map((p) => ({ p, d: stepDistance(t, patternWords(p)) }))
    .sort((a, b) => a.d - b.d || a.p.localeCompare(b.p))
    .slice(0, n).map((x) => x.p);
}
