// Label selectors as the `labels` and `namespace_labels` options take them:
// the set-based syntax kubectl and CoreDNS accept (CoreDNS turns the text
// into a metav1.LabelSelector, so only =, ==, !=, in, notin, exists and
// !exists are valid; the API's < and > are not).
//
//   app=web, tier!=cache, env in (prod, staging), !legacy, release

export type SelectorOp = 'in' | 'notin' | 'exists' | '!exists';

export interface Requirement {
  key: string;
  op: SelectorOp;
  values: string[];
}

/** An AND of requirements; the empty selector matches everything. */
export interface LabelSelector {
  text: string;
  requirements: Requirement[];
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string): string | null {
  const slash = key.indexOf('/');
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (prefix.length === 0 || prefix.length > 253 || !PREFIX.test(prefix)) return `invalid label key prefix "${prefix}"`;
    if (!NAME.test(name)) return `invalid label key "${key}"`;
    return null;
  }
  return NAME.test(key) ? null : `invalid label key "${key}"`;
}

function checkValue(v: string): string | null {
  return v === '' || NAME.test(v) ? null : `invalid label value "${v}"`;
}

/** Parses a selector; throws Error with a readable reason (the caller adds file:line). */
export function parseSelector(text: string): LabelSelector {
  const requirements: Requirement[] = [];
  let i = 0;
  const s = text;
  const ws = (): void => { while (i < s.length && /\s/.test(s.charAt(i))) i++; };
  const word = (): string => {
    ws();
    const start = i;
    while (i < s.length && !/[\s,()=!]/.test(s.charAt(i))) i++;
    return s.slice(start, i);
  };
  ws();
  if (i >= s.length) return { text, requirements };
  for (;;) {
    ws();
    let negated = false;
    if (s[i] === '!') { negated = true; i++; }
    const key = word();
    if (key === '') throw new Error(`expected a label key at offset ${i}`);
    const bad = checkKey(key);
    if (bad) throw new Error(bad);
    ws();
    if (negated) {
      requirements.push({ key, op: '!exists', values: [] });
    } else if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
      const op = s.startsWith('!=', i) ? 'notin' : 'in';
      i += s.startsWith('==', i) || s.startsWith('!=', i) ? 2 : 1;
      const value = word();
      const badV = checkValue(value);
      if (badV) throw new Error(badV);
      requirements.push({ key, op, values: [value] });
    } else if (i >= s.length || s[i] === ',') {
      requirements.push({ key, op: 'exists', values: [] });
    } else {
      const opWord = word();
      if (opWord !== 'in' && opWord !== 'notin') {
        throw new Error(`unknown operator "${opWord || s[i]}" after "${key}"; accepted: =, ==, !=, in, notin, !KEY, KEY`);
      }
      ws();
      if (s[i] !== '(') throw new Error(`expected "(" after ${opWord}`);
      i++;
      const values: string[] = [];
      for (;;) {
        const v = word();
        const badV = checkValue(v);
        if (badV) throw new Error(badV);
        ws();
        if (v !== '' || s[i] === ',') values.push(v);
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ')') { i++; break; }
        throw new Error(`expected "," or ")" in the value list of "${key}"`);
      }
      if (values.length === 0) throw new Error(`empty value list for "${key} ${opWord}"`);
      requirements.push({ key, op: opWord, values });
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ',') throw new Error(`expected "," at offset ${i} ("${s.slice(i, i + 10)}")`);
    i++;
  }
  return { text, requirements };
}

export function matchSelector(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const r of sel.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'exists': if (!has) return false; break;
      case '!exists': if (has) return false; break;
      case 'in': if (!has || !r.values.includes(labels[r.key] ?? '')) return false; break;
      case 'notin': if (has && r.values.includes(labels[r.key] ?? '')) return false; break;
    }
  }
  return true;
}
