// Go regexp (RE2 syntax) -> JavaScript RegExp. CoreDNS compiles `match`
// patterns with Go's regexp package; users write them for that dialect.
// Most of RE2 means the same in JS; what differs is rewritten, and what JS
// cannot do the same way is refused with the reason (never silently
// matched differently). Go refuses backreferences and lookaround, so they
// are refused here too.

/** CoreDNS's maxRegexpLen: longer patterns are refused before compiling. */
export const MAX_REGEX_LEN = 10000;

/** Go's limit on {n,m} counts. */
const MAX_REPEAT = 1000;

export class GoRegexError extends Error {}

/** POSIX classes RE2 accepts inside [...] (ASCII only, as RE2). */
const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** Escapes with the same meaning in both dialects. */
const SAME_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S', 'f', 't', 'n', 'r', 'v']);

/**
 * Translates a Go pattern. Throws GoRegexError naming what is not
 * supported (or what Go itself would refuse).
 */
export function goRegExp(pattern: string): RegExp {
  if (pattern.length > MAX_REGEX_LEN) throw new GoRegexError(`regex pattern too long: ${pattern.length} > ${MAX_REGEX_LEN}`);
  const source = translate(pattern);
  try {
    return new RegExp(source);
  } catch (err) {
    throw new GoRegexError((err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
}

function translate(p: string): string {
  let out = '';
  // How many `(?flags:` groups we opened for a `(?flags)` inside the current group, and the same for each enclosing one.
  let extra = 0;
  const outer: number[] = [];
  let i = 0;
  const fail = (why: string): never => { throw new GoRegexError(`${why} (at offset ${i} of ${JSON.stringify(p)})`); };
  while (i < p.length) {
    const c = p.charAt(i);
    if (c === '\\') {
      out += escape(p, i, false, fail);
      i += escapeLength(p, i);
      continue;
    }
    if (c === '[') {
      const end = classEnd(p, i, fail);
      out += translateClass(p, i, end, fail);
      i = end + 1;
      continue;
    }
    if (c === '(') {
      if (p[i + 1] !== '?') { outer.push(extra); extra = 0; out += '('; i++; continue; }
      const rest = p.slice(i + 2);
      let m: RegExpMatchArray | null;
      if ((m = /^P?<([A-Za-z0-9_]+)>/.exec(rest)) !== null) {
        const name = m[1] ?? fail('group name missing');
        if (/^[0-9]/.test(name)) fail(`group name "${name}" starts with a digit, which JavaScript does not accept`);
        out += `(?<${name}>`;
        outer.push(extra);
        extra = 0;
        i += 2 + m[0].length;
        continue;
      }
      if (/^(=|!|<=|<!)/.test(rest)) fail('lookaround (?=, (?!, (?<=, (?<! is not RE2 syntax; Go refuses it');
      if ((m = /^([A-Za-z]*)(?:-([A-Za-z]*))?([:)])/.exec(rest)) !== null) {
        const on = m[1] ?? '';
        const off = m[2] ?? '';
        for (const f of on + off) {
          if (f === 'U') fail('the ungreedy flag U has no JavaScript equivalent');
          if (!'ims'.includes(f)) fail(`unknown regex flag "${f}"`);
        }
        const flags = `${on}${off !== '' || m[2] !== undefined ? `-${off}` : ''}`;
        if (m[2] !== undefined && off === '') fail('missing flags after "-"');
        if (m[3] === ':') {
          out += `(?${flags}:`;
          outer.push(extra);
          extra = 0;
        } else {
          // (?i) applies to the rest of the enclosing group: JS only has the (?i:...) form.
          if (flags === '') fail('empty flag group "(?)"');
          out += `(?${flags}:`;
          extra++;
        }
        i += 2 + m[0].length;
        continue;
      }
      fail('unsupported group syntax "(?"');
    }
    if (c === ')') {
      const up = outer.pop();
      if (up === undefined) return fail('unexpected )');
      out += ')'.repeat(extra) + ')';
      extra = up;
      i++;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
      if (m !== null) {
        const lo = Number(m[1]);
        const hi = m[3] !== undefined && m[3] !== '' ? Number(m[3]) : lo;
        if (lo > MAX_REPEAT || hi > MAX_REPEAT) fail(`repetition count above ${MAX_REPEAT}`);
        if (hi < lo) fail(`invalid repeat count ${m[0]}`);
        out += m[0];
        i += m[0].length;
        continue;
      }
      out += '\\{'; // a literal brace, as Go reads it
      i++;
      continue;
    }
    if (c === '}') { out += '\\}'; i++; continue; }
    out += c;
    i++;
  }
  if (outer.length !== 0) fail('missing closing )');
  return out + ')'.repeat(extra);
}

function escapeLength(p: string, i: number): number {
  const c = p[i + 1];
  if (c === 'x' && p[i + 2] === '{') {
    const close = p.indexOf('}', i);
    return close < 0 ? 2 : close - i + 1;
  }
  if (c === 'x') return 4;
  if (c === 'Q') {
    const end = p.indexOf('\\E', i + 2);
    return end < 0 ? p.length - i : end - i + 2;
  }
  return 2;
}

/** One escape at p[i] ('\\'), outside or inside a class. */
function escape(p: string, i: number, inClass: boolean, fail: (why: string) => never): string {
  const c = p[i + 1];
  if (c === undefined) fail('trailing backslash');
  const ch = c!;
  if (SAME_ESCAPES.has(ch)) return `\\${ch}`;
  if (!inClass && (ch === 'b' || ch === 'B')) return `\\${ch}`;
  if (!inClass && ch === 'A') return '(?<![\\s\\S])';
  if (!inClass && ch === 'z') return '(?![\\s\\S])';
  if (ch === 'a') return '\\x07';
  if (ch === 'x') {
    if (p[i + 2] === '{') {
      const close = p.indexOf('}', i);
      const hex = close < 0 ? '' : p.slice(i + 3, close);
      if (!/^[0-9A-Fa-f]{1,4}$/.test(hex)) fail(`escape \\x{${hex}} is outside what clusterdns translates (up to \\x{FFFF})`);
      return `\\u${hex.padStart(4, '0')}`;
    }
    if (!/^[0-9A-Fa-f]{2}$/.test(p.slice(i + 2, i + 4))) fail('invalid escape \\x');
    return p.slice(i, i + 4);
  }
  if (ch === 'Q') {
    const end = p.indexOf('\\E', i + 2);
    const lit = p.slice(i + 2, end < 0 ? p.length : end);
    return lit.replace(/[\\^$.*+?()[\]{}|/-]/g, (x) => `\\${x}`);
  }
  if (/[0-9]/.test(ch)) fail(`escape \\${ch}: backreferences and octal escapes are not supported`);
  if (ch === 'p' || ch === 'P') fail(`Unicode class \\${ch} is not supported by clusterdns`);
  if (/[A-Za-z]/.test(ch)) fail(`invalid escape \\${ch}`);
  return `\\${ch}`;
}

/** Index of the `]` closing the class opened at p[start]. */
function classEnd(p: string, start: number, fail: (why: string) => never): number {
  let i = start + 1;
  if (p[i] === '^') i++;
  if (p[i] === ']') i++; // a leading ] is a literal in Go
  while (i < p.length) {
    const c = p.charAt(i);
    if (c === '\\') { i += escapeLength(p, i); continue; }
    if (c === '[' && p[i + 1] === ':') {
      const close = p.indexOf(':]', i + 2);
      if (close > 0) { i = close + 2; continue; }
    }
    if (c === ']') return i;
    i++;
  }
  return fail('missing closing ]');
}

function translateClass(p: string, start: number, end: number, fail: (why: string) => never): string {
  let out = '[';
  let i = start + 1;
  if (p[i] === '^') { out += '^'; i++; }
  if (p[i] === ']') { out += '\\]'; i++; }
  if (i === end) fail('empty character class');
  while (i < end) {
    const c = p.charAt(i);
    if (c === '\\') {
      out += escape(p, i, true, fail);
      i += escapeLength(p, i);
      continue;
    }
    if (c === '[' && p[i + 1] === ':') {
      const close = p.indexOf(':]', i + 2);
      const name = p.slice(i + 2, close);
      if (name.startsWith('^')) fail(`negated POSIX class [:${name}:] is not supported by clusterdns`);
      const set = POSIX[name];
      if (set === undefined) fail(`invalid character class range [:${name}:]`);
      out += set!;
      i = close + 2;
      continue;
    }
    out += c === '[' ? '\\[' : c;
    i++;
  }
  return `${out}]`;
}
