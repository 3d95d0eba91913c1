// How rules match and rewrite names. Names are compared as CoreDNS's rules
// see them: lower-case and absolute ("www.example.org."), so "suffix
// .example.org" and a regex anchored with "\.$" mean what they mean there.

import { fqdn } from '../../dns/names.js';

export type MatchType = 'exact' | 'prefix' | 'suffix' | 'substring' | 'regex';
export const MATCH_TYPES: readonly MatchType[] = ['exact', 'prefix', 'suffix', 'substring', 'regex'];

export function isMatchType(s: string): s is MatchType {
  return (MATCH_TYPES as readonly string[]).includes(s);
}

/** CoreDNS's plugin.Name(s).Normalize(): lower-case, with a trailing dot. */
export function normalize(s: string): string {
  const l = s.toLowerCase();
  return l.endsWith('.') ? l : `${l}.`;
}

/** The form rules match on, from a Request's `lname` ("" is the root). */
export function matchForm(lname: string): string {
  return fqdn(lname);
}

/** CoreDNS refuses longer patterns (regexp compilation of hostile input). */
export const MAX_REGEX_LEN = 10000;

/**
 * Compiles a Go (RE2) pattern as a JavaScript RegExp. The common RE2-only
 * spellings are translated: a leading (?i) flag, (?P<name>…) groups, \A and
 * \z anchors. Throws with the reason when it does not compile.
 */
export function compileRegex(pattern: string): RegExp {
  if (pattern.length > MAX_REGEX_LEN) throw new Error(`regex pattern too long: ${pattern.length} > ${MAX_REGEX_LEN}`);
  let p = pattern;
  let flags = '';
  if (p.startsWith('(?i)')) {
    p = p.slice(4);
    flags = 'i';
  }
  p = p.replaceAll('(?P<', '(?<').replaceAll('\\A', '^').replaceAll('\\z', '$');
  try {
    return new RegExp(p, flags);
  } catch (err) {
    throw new Error(`invalid regex pattern "${pattern}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** How many of {0}..{100} a replacement uses (CoreDNS's getSubExprUsage). */
function groupsUsed(replacement: string): number {
  let n = 0;
  for (let i = 0; i <= 100; i++) if (replacement.includes(`{${i}}`)) n++;
  return n;
}

/** Number of capture groups of a compiled pattern. */
function groupCount(re: RegExp): number {
  const m = new RegExp(`${re.source}|`, re.flags).exec('');
  return m === null ? 0 : m.length - 1;
}

/**
 * A regex and the replacement it feeds: the replacement may not use more
 * groups than the pattern has (as CoreDNS checks at setup).
 */
export function regexFor(pattern: string, replacement: string): RegExp {
  const re = compileRegex(pattern);
  if (groupsUsed(replacement) > groupCount(re)) {
    throw new Error(`the replacement "${replacement}" uses more groups than the pattern "${pattern}" has`);
  }
  return re;
}

/** Puts {0}, {1}… of a match into a replacement; a {n} the pattern lacks stays as written. */
export function substitute(replacement: string, m: RegExpExecArray): string {
  return replacement.replace(/\{(\d+)\}/g, (whole, i: string) => {
    const n = Number(i);
    return n < m.length ? m[n] ?? '' : whole;
  });
}

/** A string rewrite applied to names in answers: returns its input when it does not apply. */
export type StringRewriter = (s: string) => string;

/** answer name/value FROM TO: the regex's match is replaced by TO with groups. */
export function regexRewriter(re: RegExp, replacement: string): StringRewriter {
  return (s) => {
    const m = re.exec(s);
    return m === null ? s : substitute(replacement, m);
  };
}

/**
 * `answer auto` after a rewrite to `rewritten`: that name and every name
 * below it map back to `original` (case-insensitively: upstreams may echo
 * names in any case).
 */
export function remapRewriter(rewritten: string, original: string): StringRewriter {
  const from = rewritten.toLowerCase();
  return (s) => {
    const l = s.toLowerCase();
    if (l === from) return original;
    const i = l.length - from.length;
    if (i > 0 && l.charCodeAt(i - 1) === 46 && l.endsWith(from)) return s.slice(0, i) + original;
    return s;
  };
}

/** `answer auto` on a suffix rule: the replacement suffix goes back to the original one. */
export function suffixRewriter(suffix: string, replacement: string): StringRewriter {
  const from = suffix.toLowerCase();
  return (s) => (s.toLowerCase().endsWith(from) ? s.slice(0, s.length - from.length) + replacement : s);
}

/** Does the (normalized) name match? Used by ttl and rcode rules. */
export type NameTest = (name: string) => boolean;

export function nameTest(type: MatchType, arg: string): NameTest {
  switch (type) {
    case 'exact': { const v = normalize(arg); return (n) => n === v; }
    case 'prefix': { const v = normalize(arg); return (n) => n.startsWith(v); }
    case 'suffix': { const v = normalize(arg); return (n) => n.endsWith(v); }
    case 'substring': { const v = normalize(arg); return (n) => n.includes(v); }
    case 'regex': { const re = compileRegex(arg); return (n) => re.test(n); }
  }
}
