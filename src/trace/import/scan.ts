// A cursor over one line of trace text: the few token readers every line parser is built from
// (a literal, a decimal or hex number, a word). Nothing here allocates except `word`; the numbers
// are read digit by digit, so the importer's hot loop builds no regular expressions and no
// intermediate strings.

const SPACE = 0x20;
const TAB = 0x09;

/** 2^32, and the 64-bit values a double holds exactly at the top of the range (sign-extended addresses). */
const TWO32 = 4294967296;

export class Cursor {
  s = '';
  i = 0;
  /** One past the last character of the line (a trailing '\r' is left out). */
  end = 0;

  /** Read `s` from `from` to `to` (the whole string by default): a line, or a line inside a block. */
  reset(s: string, from = 0, to = s.length): this {
    this.s = s;
    this.i = from;
    let e = to;
    if (e > from && s.charCodeAt(e - 1) === 0x0d) e--;
    this.end = e;
    return this;
  }

  get done(): boolean { return this.i >= this.end; }
  peek(): number { return this.i < this.end ? this.s.charCodeAt(this.i) : -1; }

  skipSpaces(): this {
    const s = this.s;
    let i = this.i;
    while (i < this.end) { const c = s.charCodeAt(i); if (c !== SPACE && c !== TAB) break; i++; }
    this.i = i;
    return this;
  }

  /** Consume `lit` if the text continues with it. */
  lit(lit: string): boolean {
    const n = lit.length;
    if (this.i + n > this.end) return false;
    const s = this.s;
    for (let k = 0; k < n; k++) if (s.charCodeAt(this.i + k) !== lit.charCodeAt(k)) return false;
    this.i += n;
    return true;
  }

  /** Consume `lit` after optional spaces. */
  word(lit: string): boolean {
    const save = this.i;
    this.skipSpaces();
    if (this.lit(lit)) return true;
    this.i = save;
    return false;
  }

  /** An unsigned decimal number, or NaN (the cursor stays) when none is there. */
  dec(): number {
    const s = this.s;
    let i = this.i;
    let v = 0;
    const start = i;
    while (i < this.end) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      i++;
    }
    if (i === start) return Number.NaN;
    this.i = i;
    return v;
  }

  /** A decimal number with an optional sign. */
  sdec(): number {
    if (this.peek() === 0x2d) {
      this.i++;
      const v = this.dec();
      if (Number.isNaN(v)) { this.i--; return v; }
      return -v;
    }
    return this.dec();
  }

  /**
   * A hex number, with or without `0x`, as the kernel prints %x/%lx/%llx. Values above 2^53 that a
   * double cannot hold exactly are read as two's complement when they are sign-extended addresses
   * (0xffff8…: kernel RIPs), which the model stores as negative numbers; other huge values are
   * rounded (they are never compared). NaN when no hex digit is there.
   */
  hex(): number {
    const s = this.s;
    let i = this.i;
    if (i + 1 < this.end && s.charCodeAt(i) === 0x30 && (s.charCodeAt(i + 1) | 0x20) === 0x78) i += 2;
    const start = i;
    let hi = 0;
    let lo = 0;
    while (i < this.end) {
      const c = s.charCodeAt(i);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      // hi:lo as two 32-bit halves: shift left by 4.
      hi = ((hi * 16) + Math.floor(lo / 268435456)) % TWO32;
      lo = ((lo % 268435456) * 16) + d;
      i++;
    }
    if (i === start || i - start > 16) return Number.NaN;
    this.i = i;
    if (hi === 0) return lo;
    if (hi < 0x200000) return hi * TWO32 + lo;
    if (hi >= 0xffe00000) return -((TWO32 - 1 - hi) * TWO32 + (TWO32 - lo));
    return hi * TWO32 + lo;
  }

  /** Characters up to the next space (or the end): a token. */
  token(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < this.end) { const c = s.charCodeAt(i); if (c === SPACE || c === TAB) break; i++; }
    this.i = i;
    return s.slice(start, i);
  }

  /** Characters of a C identifier ([A-Za-z0-9_]), as a string ('' when none). */
  ident(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < this.end && isIdent(s.charCodeAt(i))) i++;
    this.i = i;
    return s.slice(start, i);
  }

  /** The rest of the line, without trailing spaces. */
  rest(): string {
    let e = this.end;
    while (e > this.i && (this.s.charCodeAt(e - 1) === SPACE || this.s.charCodeAt(e - 1) === TAB)) e--;
    const r = this.s.slice(this.i, e);
    this.i = this.end;
    return r;
  }

  /** Only spaces are left. */
  atEnd(): boolean {
    this.skipSpaces();
    return this.i >= this.end;
  }
}

export function isIdent(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/** Hex as the kernel prints an unsigned 64-bit value (%llx): negative numbers are two's complement. */
export function hex64(v: number): string {
  return v < 0 ? BigInt.asUintN(64, BigInt(Math.trunc(v))).toString(16) : v.toString(16);
}
