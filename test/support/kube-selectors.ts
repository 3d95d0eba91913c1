// Label and field selectors as the Kubernetes API server parses them
// (k8s.io/apimachinery/pkg/labels and pkg/fields), for the fake API server in
// kube-api.ts. Only what a list/watch client sends is supported; parse errors
// throw SelectorError so the server can answer 400 BadRequest like the real one.

export class SelectorError extends Error {}

export type LabelOp = 'in' | 'notin' | 'exists' | 'doesnotexist' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

/** An AND of requirements; the empty selector matches everything. */
export type LabelSelector = LabelRequirement[];

type Token =
  | { t: 'word'; v: string }
  | { t: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '<' | '>' };

// Characters that end a bare word. Whitespace separates tokens but is
// otherwise insignificant (the real lexer skips it too).
const SPECIAL = new Set(['!', '=', '(', ')', ',', '<', '>']);

function lex(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '!' && s[i + 1] === '=') {
      out.push({ t: '!=' });
      i += 2;
    } else if (c === '=' && s[i + 1] === '=') {
      out.push({ t: '==' });
      i += 2;
    } else if (SPECIAL.has(c)) {
      out.push({ t: c as '!' | '=' | '(' | ')' | ',' | '<' | '>' });
      i++;
    } else {
      let j = i;
      while (j < s.length && !SPECIAL.has(s[j]!) && !/\s/.test(s[j]!)) j++;
      out.push({ t: 'word', v: s.slice(i, j) });
      i = j;
    }
  }
  return out;
}

/**
 * Parse a label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a`, `!a`, `a>1`, `a<1`, joined by commas (AND).
 */
export function parseLabelSelector(s: string | undefined): LabelSelector {
  if (s === undefined || s.trim() === '') return [];
  const toks = lex(s);
  let p = 0;
  const peek = (): Token | undefined => toks[p];
  const word = (what: string): string => {
    const tok = toks[p++];
    if (!tok || tok.t !== 'word') throw new SelectorError(`unable to parse requirement: expected ${what} in "${s}"`);
    return tok.v;
  };
  // A value may be empty (`a=` selects label a with value ""), so a missing
  // word right before ',' / ')' / end is the empty string.
  const value = (): string => {
    const tok = peek();
    if (tok?.t === 'word') {
      p++;
      return tok.v;
    }
    return '';
  };
  const reqs: LabelSelector = [];
  for (;;) {
    let tok = peek();
    if (tok?.t === '!') {
      p++;
      reqs.push({ key: word('key'), op: 'doesnotexist', values: [] });
    } else {
      const key = word('key');
      tok = peek();
      if (!tok || tok.t === ',') {
        reqs.push({ key, op: 'exists', values: [] });
      } else if (tok.t === '=' || tok.t === '==') {
        p++;
        reqs.push({ key, op: 'in', values: [value()] });
      } else if (tok.t === '!=') {
        p++;
        reqs.push({ key, op: 'notin', values: [value()] });
      } else if (tok.t === '<' || tok.t === '>') {
        p++;
        const v = word('integer');
        if (!/^-?\d+$/.test(v)) throw new SelectorError(`unable to parse requirement: "${v}" is not an integer`);
        reqs.push({ key, op: tok.t === '>' ? 'gt' : 'lt', values: [v] });
      } else if (tok.t === 'word' && (tok.v === 'in' || tok.v === 'notin')) {
        p++;
        if (toks[p++]?.t !== '(') throw new SelectorError(`unable to parse requirement: expected "(" in "${s}"`);
        const values: string[] = [];
        for (;;) {
          values.push(value());
          const sep = toks[p++];
          if (sep?.t === ')') break;
          if (sep?.t !== ',') throw new SelectorError(`unable to parse requirement: expected "," or ")" in "${s}"`);
        }
        reqs.push({ key, op: tok.v, values });
      } else {
        throw new SelectorError(`unable to parse requirement: unexpected token after "${key}" in "${s}"`);
      }
    }
    const sep = toks[p++];
    if (!sep) return reqs;
    if (sep.t !== ',') throw new SelectorError(`unable to parse requirement: expected "," in "${s}"`);
  }
}

export function matchLabels(sel: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const r of sel) {
    const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = has ? labels![r.key]! : undefined;
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'doesnotexist':
        if (has) return false;
        break;
      case 'in':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      // `a!=b` and `a notin (b)` also match objects that lack label a.
      case 'notin':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'gt':
      case 'lt': {
        if (v === undefined || !/^-?\d+$/.test(v)) return false;
        const n = Number(v);
        const bound = Number(r.values[0]);
        if (r.op === 'gt' ? !(n > bound) : !(n < bound)) return false;
        break;
      }
    }
  }
  return true;
}

export interface FieldRequirement {
  /** dotted path, e.g. `metadata.name`, `spec.nodeName`, `status.phase` */
  field: string;
  negate: boolean;
  value: string;
}

/**
 * Parse a field selector: `f=v`, `f==v`, `f!=v`, comma = AND. The real server
 * only allows a few fields per kind; any dotted path is accepted here.
 */
export function parseFieldSelector(s: string | undefined): FieldRequirement[] {
  if (s === undefined || s.trim() === '') return [];
  return s.split(',').map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) throw new SelectorError(`invalid field selector: "${part}"`);
    return { field: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
}

/** Read a dotted path as a string the way field selectors see it (missing = ""). */
export function fieldValue(obj: unknown, field: string): string {
  let cur: unknown = obj;
  for (const seg of field.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}
