import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { classCode, rcodeCode, typeCode } from './codes.js';
import { isVariable } from './edns.js';
import {
  compileRegex, isMatchType, nameTest, normalize, regexFor, regexRewriter, substitute, suffixRewriter,
  type MatchType,
} from './match.js';
import {
  AnswerRule, ClassRule, CnameRule, EDNS0_NSID, EDNS0_SUBNET, EdnsRule, emptyOption, exactRewrite, fixedData,
  NameRule, prefixRewrite, regexRewrite, substringRewrite, subnetOption, suffixRewrite, TypeRule, variableOption,
  type EdnsAction, type Mode, type NameRewrite, type OptionData, type ResponseRule, type Rule,
} from './rules.js';
import { RewritePlugin } from './rewrite.js';

const FIELDS = ['name', 'type', 'class', 'edns0', 'ttl', 'rcode', 'cname'];

/**
 * One rule from its words, as CoreDNS's newRule reads them:
 * [continue|stop] FIELD ARGS... Throws an Error whose message says what is wrong.
 */
export function parseRule(words: readonly string[]): Rule {
  const first = words[0];
  if (first === undefined) throw new Error('no rule type specified for rewrite');
  let mode: Mode = 'stop';
  let rest = words.slice(1);
  let field = first.toLowerCase();
  if (field === 'continue' || field === 'stop') {
    mode = field;
    const f = words[1];
    if (f === undefined) throw new Error(`${mode} rule must begin with a rule type`);
    field = f.toLowerCase();
    rest = words.slice(2);
  }
  switch (field) {
    case 'answer': throw new Error('response rewrites must begin with a name rule');
    case 'name': return nameRule(mode, rest);
    case 'type': return typeRule(mode, rest);
    case 'class': return classRule(mode, rest);
    case 'edns0': return ednsRule(mode, rest);
    case 'ttl': return ttlRule(mode, rest);
    case 'rcode': return rcodeRule(mode, rest);
    case 'cname': return cnameRule(mode, rest);
    default: throw new Error(`unknown field "${field}"; accepted: ${FIELDS.join(', ')}`);
  }
}

function nameRule(mode: Mode, args: string[]): Rule {
  const [first, second, third] = args;
  if (first === undefined || second === undefined) throw new Error('too few arguments for a name rule; usage: name [exact|prefix|suffix|substring|regex] FROM TO [answer ...]');
  const [type, from, to] = third === undefined ? ['exact', first, second] : [first.toLowerCase(), second, third];
  if (!isMatchType(type)) {
    throw new Error(`name rule supports only exact, prefix, suffix, substring, and regex name matching, received: ${type}`);
  }
  const { auto, answers } = args.length > 3 ? answerRules(type, args.slice(3)) : { auto: false, answers: [] };
  let rewrite: NameRewrite;
  switch (type) {
    // An exact rule always maps the answer back (CoreDNS: "answers for rewrites of type exact are always rewritten").
    case 'exact': return new NameRule(mode, exactRewrite(normalize(from), normalize(to)), true, answers);
    case 'prefix': rewrite = prefixRewrite(normalize(from), normalize(to)); break;
    case 'suffix': {
      const suffix = normalize(from);
      const replacement = normalize(to);
      // For a suffix the best answer rewrite is the same suffix swap, reversed.
      const back = suffixRewriter(replacement, suffix);
      const fixed: ResponseRule[] = auto ? [{ kind: 'owner', rewrite: back }, { kind: 'value', rewrite: back }, ...answers] : answers;
      return new NameRule(mode, suffixRewrite(suffix, replacement), false, fixed);
    }
    case 'substring': rewrite = substringRewrite(normalize(from), normalize(to)); break;
    case 'regex': rewrite = regexRewrite(regexFor(from, to), normalize(to)); break;
  }
  return new NameRule(mode, rewrite, auto, answers);
}

/** The `answer auto | answer name FROM TO | answer value FROM TO ...` tail of a name rule. */
function answerRules(type: MatchType, args: string[]): { auto: boolean; answers: ResponseRule[] } {
  if (args.length < 2) throw new Error(`invalid arguments for ${type} rule: expected answer auto, answer name FROM TO or answer value FROM TO after the names`);
  let auto = false;
  let nameRules = 0;
  let last = '';
  const answers: ResponseRule[] = [];
  for (let i = 0; i < args.length;) {
    if (last === '' && args[i] !== 'answer') throw new Error(`unexpected "${args[i]}" after the names of a ${type} name rule; response rewrites start with "answer"`);
    if (args[i] === 'answer') i++;
    const what = args[i++];
    if (what === undefined) throw new Error(`type missing for answer rule for ${type} rule; accepted: auto, name, value`);
    last = what;
    if (what === 'auto') { auto = true; continue; }
    if (what !== 'name' && what !== 'value') throw new Error(`invalid type "${what}" for answer rule for ${type} rule; accepted: auto, name, value`);
    const from = args[i];
    const to = args[i + 1];
    if (from === undefined || to === undefined) throw new Error(`${what} answer rule for ${type} rule: 2 arguments required (FROM TO)`);
    let re: RegExp;
    try { re = regexFor(from, to); } catch (err) { throw new Error(`${what} answer rule for ${type} rule: ${(err as Error).message}`, { cause: err }); }
    answers.push({ kind: what === 'name' ? 'owner' : 'value', rewrite: regexRewriter(re, normalize(to)) });
    if (what === 'name') nameRules++;
    i += 2;
  }
  if (auto && nameRules > 0) throw new Error('auto name answer rule cannot be combined with explicit name answer rules');
  return { auto, answers };
}

function typeRule(mode: Mode, args: string[]): Rule {
  const [from, to] = exactlyTwo('type', args);
  return new TypeRule(mode, code(typeCode, from, 'type'), code(typeCode, to, 'type'));
}

function classRule(mode: Mode, args: string[]): Rule {
  const [from, to] = exactlyTwo('class', args);
  return new ClassRule(mode, code(classCode, from, 'class'), code(classCode, to, 'class'));
}

function exactlyTwo(field: string, args: string[]): [string, string] {
  const [a, b] = args;
  if (args.length !== 2 || a === undefined || b === undefined) throw new Error(`${field} rules must have exactly two arguments: ${field} FROM TO`);
  return [a, b];
}

function code(parse: (s: string) => number | null, s: string, what: string): number {
  const n = parse(s);
  if (n === null) throw new Error(`invalid ${what} "${s.toUpperCase()}"`);
  return n;
}

/** A Go ParseUint(s, 0, bits) number: decimal, 0x hex, 0o / leading-0 octal, 0b binary. */
function goUint(s: string, max: number, what: string): number {
  const m = /^(?:0x([0-9a-f_]+)|0o([0-7_]+)|0b([01_]+)|0([0-7_]+)|([1-9][0-9_]*|0))$/i.exec(s);
  let n = NaN;
  if (m !== null) {
    const [hex, oct, bin, oct0, dec] = [m[1], m[2], m[3], m[4], m[5]];
    const digits = (hex ?? oct ?? bin ?? oct0 ?? dec ?? '').replaceAll('_', '');
    const radix = hex !== undefined ? 16 : oct !== undefined || oct0 !== undefined ? 8 : bin !== undefined ? 2 : 10;
    n = digits === '' ? NaN : parseInt(digits, radix);
  }
  if (!Number.isSafeInteger(n) || n > max) throw new Error(`invalid ${what} "${s}": expected a number from 0 to ${max}`);
  return n;
}

function ednsRule(mode: Mode, argsIn: string[]): Rule {
  let args = argsIn;
  const kind = args[0]?.toLowerCase();
  const action = args[1]?.toLowerCase();
  if (kind === undefined || action === undefined) throw new Error('too few arguments for an EDNS0 rule; usage: edns0 local|nsid|subnet set|append|replace|unset ...');
  if (action !== 'set' && action !== 'append' && action !== 'replace' && action !== 'unset') {
    throw new Error(`invalid EDNS0 action "${action}"; accepted: set, append, replace, unset`);
  }
  if (action !== 'unset' && args[args.length - 1] === 'revert') args = args.slice(0, -1);
  const a: EdnsAction = action;
  switch (kind) {
    case 'local': {
      const want = action === 'unset' ? 3 : 4;
      const [, , code, data] = args;
      if (args.length !== want || code === undefined) throw new Error(action === 'unset' ? 'edns0 local unset takes exactly one argument: CODE' : 'edns0 local rules take CODE and DATA (and an optional revert)');
      const c = goUint(code, 0xffff, 'EDNS0 local option code');
      // unset has no DATA (want is 3), every other action has it (want is 4).
      return new EdnsRule(mode, a, c, data === undefined ? emptyOption : localData(data));
    }
    case 'nsid':
      if (args.length !== 2) throw new Error('edns0 nsid takes no arguments (except revert)');
      return new EdnsRule(mode, a, EDNS0_NSID, emptyOption);
    case 'subnet': {
      if (action === 'unset') {
        if (args.length !== 2) throw new Error('edns0 subnet unset takes no arguments');
        return new EdnsRule(mode, a, EDNS0_SUBNET, emptyOption);
      }
      const [, , bits4, bits6] = args;
      if (args.length !== 4 || bits4 === undefined || bits6 === undefined) throw new Error('edns0 subnet rules take IPV4_BITS and IPV6_BITS (and an optional revert)');
      const v4 = goUint(bits4, 32, 'IPv4 bit mask length');
      const v6 = goUint(bits6, 128, 'IPv6 bit mask length');
      return new EdnsRule(mode, a, EDNS0_SUBNET, subnetOption(v4, v6));
    }
    default: throw new Error(`invalid EDNS0 rule type "${kind}"; accepted: local, nsid, subnet`);
  }
}

/** DATA of a local option: a {variable}, 0x-prefixed hex, or text. */
function localData(s: string): OptionData {
  if (s.startsWith('{') && s.endsWith('}')) {
    if (!isVariable(s)) throw new Error(`unsupported variable name "${s}"; accepted: {qname}, {qtype}, {client_ip}, {client_port}, {protocol}, {server_ip}, {server_port} (metadata labels need the metadata plugin, which clusterdns does not have)`);
    return variableOption(s);
  }
  if (s.startsWith('0x')) {
    const hex = s.slice(2);
    if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) throw new Error(`invalid hex data "${s}"`);
    return fixedData(Buffer.from(hex, 'hex'));
  }
  return fixedData(Buffer.from(s));
}

/** SECONDS, MIN-MAX, MIN- or -MAX (TTLs are 32-bit). */
export function parseTtlRange(s: string): { min: number; max: number } | null {
  const num = (x: string): number | null => (/^\d+$/.test(x) && Number(x) <= 0xffffffff ? Number(x) : null);
  const parts = s.split('-');
  if (parts.length === 1) {
    const n = num(s);
    return n === null ? null : { min: n, max: n };
  }
  if (parts.length !== 2) return null;
  const [lo, hi] = parts as [string, string];
  if (lo === '' && hi === '') return null;
  const min = lo === '' ? 0 : num(lo);
  const max = hi === '' ? 2147483647 : num(hi);
  if (min === null || max === null || min > max) return null;
  return { min, max };
}

/** ttl and rcode rules: [TYPE] NAME then their own arguments. */
function matcher(args: string[], own: number, field: string): { test: ReturnType<typeof nameTest>; values: string[] } {
  const [first, second] = args;
  // Callers have checked args.length >= own + 1 >= 2.
  if (first === undefined || second === undefined) throw new Error(`too few arguments for a ${field} rule`);
  if (args.length === own + 1) return { test: nameTest('exact', first), values: args.slice(1) };
  const type = first.toLowerCase();
  if (!isMatchType(type)) throw new Error(`${field} rule supports only exact, prefix, suffix, substring, and regex name matching, received: ${type}`);
  return { test: nameTest(type, second), values: args.slice(2) };
}

function ttlRule(mode: Mode, args: string[]): Rule {
  if (args.length < 2) throw new Error(`too few (${args.length}) arguments for a ttl rule; usage: ttl [TYPE] NAME SECONDS|MIN-MAX`);
  if (args.length > 3) throw new Error(`too many (${args.length}) arguments for a ttl rule; usage: ttl [TYPE] NAME SECONDS|MIN-MAX`);
  const { test, values } = matcher(args, 1, 'ttl');
  const [value] = values;
  const range = value === undefined ? null : parseTtlRange(value);
  if (range === null) throw new Error(`invalid TTL "${value}" for a ttl rule; expected SECONDS, MIN-MAX, MIN- or -MAX`);
  return new AnswerRule(mode, test, { kind: 'ttl', ...range });
}

function rcodeRule(mode: Mode, args: string[]): Rule {
  if (args.length < 3) throw new Error(`too few (${args.length}) arguments for a rcode rule; usage: rcode [TYPE] NAME FROM TO`);
  if (args.length > 4) throw new Error(`too many (${args.length}) arguments for a rcode rule; usage: rcode [TYPE] NAME FROM TO`);
  const { test, values } = matcher(args, 2, 'rcode');
  const [fromText, toText] = values;
  const from = fromText === undefined ? null : rcodeCode(fromText);
  if (from === null) throw new Error(`invalid matching RCODE "${fromText}" for a rcode rule`);
  const to = toText === undefined ? null : rcodeCode(toText);
  if (to === null) throw new Error(`invalid replacement RCODE "${toText}" for a rcode rule`);
  return new AnswerRule(mode, test, { kind: 'rcode', from, to });
}

function cnameRule(mode: Mode, args: string[]): Rule {
  const [first, second, third] = args;
  if (first === undefined || second === undefined || args.length > 3) throw new Error(`wrong number (${args.length}) of arguments for a cname rule; usage: cname [TYPE] FROM TO`);
  const [type, from, to] = third === undefined ? ['exact', first, second] : [first.toLowerCase(), second, third];
  if (!isMatchType(type)) throw new Error(`unknown cname rewrite type: ${type}`);
  switch (type) {
    case 'exact': {
      const f = normalize(from);
      const t = normalize(to);
      return new CnameRule(mode, (target) => (target === f ? t : null));
    }
    case 'prefix': {
      const [f, t] = [from.toLowerCase(), to.toLowerCase()];
      return new CnameRule(mode, (target) => (target.startsWith(f) ? t + target.slice(f.length) : null));
    }
    case 'suffix': {
      const [f, t] = [from.toLowerCase(), to.toLowerCase()];
      return new CnameRule(mode, (target) => (target.endsWith(f) ? target.slice(0, target.length - f.length) + t : null));
    }
    case 'substring': {
      const [f, t] = [from.toLowerCase(), to.toLowerCase()];
      return new CnameRule(mode, (target) => (target.includes(f) ? target.replaceAll(f, t) : null));
    }
    case 'regex': {
      const re = compileRegex(from);
      const t = to.toLowerCase();
      return new CnameRule(mode, (target) => {
        const m = re.exec(target);
        return m === null ? null : substitute(t, m);
      });
    }
  }
}

/**
 * The words of one `rewrite` directive: its arguments, or (the multi-line
 * form `rewrite [stop|continue] { ... }`) those followed by every word of
 * the block, which together make ONE rule, as in CoreDNS.
 */
function ruleWords(d: Directive): string[] {
  if (d.block === null) return d.args;
  if (d.args.length >= 2) throw configError(d, 'rewrite: a rule on the rewrite line takes no block; use either "rewrite RULE" or "rewrite [stop|continue] { RULE }"');
  const words = [...d.args];
  for (const line of d.block) {
    if (line.block !== null) throw configError(line, 'rewrite: no nested blocks inside a rewrite block');
    words.push(line.name, ...line.args);
  }
  return words;
}

export function parseRewrite(d: Directive): Rule {
  const words = ruleWords(d);
  try {
    return parseRule(words);
  } catch (err) {
    const at = d.block?.[0] ?? d;
    throw configError(at, `rewrite: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Every `rewrite` line of a block lands in one plugin, rules in Corefile
 * order, so `stop` ends the rules of the whole block (as in CoreDNS).
 */
export const rewritePlugin: PluginDefinition = {
  name: 'rewrite',
  multiple: true,
  setup(d, ctx) {
    const all = ctx.block.directives.filter((x) => x.name === 'rewrite');
    if (all.length > 0 && all[0] !== d) return null;
    return new RewritePlugin((all.length > 0 ? all : [d]).map(parseRewrite), ctx.resolve);
  },
};
