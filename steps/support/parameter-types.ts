import { defineParameterType } from '@cucumber/cucumber';
import { EXIT_REASON, parseExitReason } from '../../src/uapi/vmx';

defineParameterType({
  name: 'exitReason',
  regexp: /[A-Z][A-Z_]*|\d+/,
  // Kept out of snippets: any upper-case word would become {exitReason} there ("MSI-X" → {exitReason}-{exitReason}).
  useForSnippets: false,
  transformer: (s: string): number => {
    const n = parseExitReason(s);
    if (n === undefined) throw new Error(`'${s}' is not a basic exit reason of asm/vmx.h (e.g. ${Object.keys(EXIT_REASON).slice(0, 4).join(', ')}, …)`);
    return n;
  },
});
