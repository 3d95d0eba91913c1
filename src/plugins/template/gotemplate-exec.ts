// Runs templates parsed by gotemplate.ts against Go-like values: strings,
// numbers, booleans, slices, string maps and objects with fields. Values
// print as Go's fmt prints them (`[a b]`, `map[a:1 b:2]`, `<no value>` for a
// missing map key), since that text becomes part of a resource record.

import { parseTemplate, pipeText, templateText, type Arg, type Command, type Node, type Pipeline } from './gotemplate.js';

/** A missing map entry, as Go's text/template prints it. */
export const NO_VALUE: unique symbol = Symbol('no value');

/** An object with named fields (a Go struct); `undefined` from field() means "no such field". */
export interface GoObject {
  readonly goType: string;
  field(name: string): Value | undefined;
  /** A method taking arguments (`.Meta "name"`); undefined: no such method. */
  call?(name: string, args: readonly Value[]): Value | undefined;
  /** Go's String() method, when the type has one. */
  print?(): string;
}

export type Value = string | number | bigint | boolean | typeof NO_VALUE | readonly Value[] | ReadonlyMap<string, Value> | GoObject;

/** A rendering failure: CoreDNS counts these as template failures and answers SERVFAIL. */
export class TemplateExecError extends Error {}

export class GoTemplate {
  /** The template as Go prints it back (the metrics label). */
  readonly text: string;

  private constructor(readonly name: string, private readonly nodes: readonly Node[]) {
    this.text = templateText(nodes);
  }

  /** Throws TemplateSyntaxError. */
  static parse(name: string, src: string): GoTemplate {
    return new GoTemplate(name, parseTemplate(src));
  }

  /** No action: renders to the same text whatever the data. */
  isConstant(): boolean {
    return this.nodes.every((n) => n.kind === 'text');
  }

  /** The text with every action replaced by U+0000: what setup can know of the output. */
  skeleton(): string {
    return this.nodes.map((n) => (n.kind === 'text' ? n.text : '\u0000')).join('');
  }

  /** Every field chain used on the data, for checks at setup. */
  fieldChains(): string[][] {
    const out: string[][] = [];
    const walk = (p: Pipeline): void => {
      for (const c of p.commands) {
        for (const a of c.args) {
          if (a.kind === 'field' || a.kind === 'root') out.push(a.chain);
          if (a.kind === 'paren') walk(a.pipe);
        }
      }
    };
    for (const n of this.nodes) if (n.kind === 'action') walk(n.pipe);
    return out;
  }

  /** Actions that print the whole data or a field holding a large object, which Go would dump. */
  printedChains(): string[][] {
    const out: string[][] = [];
    for (const n of this.nodes) {
      if (n.kind !== 'action') continue;
      const last = n.pipe.commands[n.pipe.commands.length - 1];
      const a = last?.args[0];
      if (last === undefined || last.args.length !== 1 || a === undefined) continue;
      if (a.kind === 'dot') out.push([]);
      else if (a.kind === 'field' || a.kind === 'root') out.push(a.chain);
    }
    return out;
  }

  /** Renders; throws TemplateExecError. */
  render(data: Value): string {
    let s = '';
    for (const n of this.nodes) {
      if (n.kind === 'text') { s += n.text; continue; }
      s += printValue(evalPipe(n.pipe, data, data), n.pipe);
    }
    return s;
  }
}

function fail(p: Pipeline, why: string): never {
  throw new TemplateExecError(`executing at <${pipeText(p)}>: ${why}`);
}

function evalPipe(p: Pipeline, dot: Value, root: Value): Value {
  let v: Value | undefined;
  for (const c of p.commands) v = evalCommand(c, p, dot, root, v);
  return v!;
}

function evalCommand(c: Command, p: Pipeline, dot: Value, root: Value, final: Value | undefined): Value {
  const first = c.args[0];
  if (first === undefined) fail(p, 'missing value for command'); // the parser refuses an empty command
  const rest = c.args.slice(1).map((a) => evalArg(a, p, dot, root));
  if (final !== undefined) rest.push(final);
  switch (first.kind) {
    case 'ident': return callFunction(first.name, rest, p);
    case 'field': return walkChain(dot, first.chain, p, rest);
    case 'root': return walkChain(root, first.chain, p, rest);
    case 'paren': return walkChain(evalPipe(first.pipe, dot, root), first.chain, p, rest);
    default:
      if (rest.length > 0) fail(p, `can't give argument to non-function ${argName(first)}`);
      return evalArg(first, p, dot, root);
  }
}

function argName(a: Arg): string {
  return a.kind === 'string' || a.kind === 'number' ? a.text : a.kind;
}

function evalArg(a: Arg, p: Pipeline, dot: Value, root: Value): Value {
  switch (a.kind) {
    case 'field': return walkChain(dot, a.chain, p, []);
    case 'root': return walkChain(root, a.chain, p, []);
    case 'dot': return dot;
    case 'string': return a.value;
    case 'number': return a.value;
    case 'bool': return a.value;
    case 'ident': return callFunction(a.name, [], p);
    case 'paren': return walkChain(evalPipe(a.pipe, dot, root), a.chain, p, []);
  }
}

/** .A.B.C on v; the last step may be a method called with args. */
function walkChain(v: Value, chain: readonly string[], p: Pipeline, args: readonly Value[]): Value {
  if (chain.length === 0 && args.length > 0) fail(p, "can't give argument to non-function .");
  let cur = v;
  for (const [i, name] of chain.entries()) {
    const last = i === chain.length - 1;
    if (isObject(cur)) {
      const f = cur.field(name);
      if (f !== undefined) {
        if (last && args.length > 0) fail(p, `can't give argument to non-function .${name}`);
        cur = f;
        continue;
      }
      const m = cur.call?.(name, last ? args : []);
      if (m !== undefined) { cur = m; continue; }
      fail(p, `can't evaluate field ${name} in type ${cur.goType}`);
    }
    if (cur instanceof Map) {
      if (last && args.length > 0) fail(p, `can't give argument to non-function .${name}`);
      const e = (cur as ReadonlyMap<string, Value>).get(name);
      cur = e === undefined ? NO_VALUE : e;
      continue;
    }
    if (cur === NO_VALUE) fail(p, `nil pointer evaluating .${name}`);
    fail(p, `can't evaluate field ${name} in type ${goTypeOf(cur)}`);
  }
  return cur;
}

function isObject(v: Value): v is GoObject {
  return typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map);
}

function goTypeOf(v: Value): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'bigint') return 'uint64';
  if (typeof v === 'boolean') return 'bool';
  if (v === NO_VALUE) return 'nil';
  if (Array.isArray(v)) return '[]string';
  if (v instanceof Map) return 'map[string]string';
  return (v as GoObject).goType;
}

function callFunction(name: string, args: readonly Value[], p: Pipeline): Value {
  if (name === 'index') return index(args, p);
  if (name === 'parseInt') return parseInt(args, p);
  return fail(p, `function "${name}" not defined`);
}

function index(args: readonly Value[], p: Pipeline): Value {
  let cur = args[0];
  if (cur === undefined) fail(p, 'wrong number of args for index: want at least 1 got 0');
  for (const key of args.slice(1)) {
    if (cur === NO_VALUE) fail(p, 'error calling index: index of untyped nil');
    if (Array.isArray(cur)) {
      const list = cur as readonly Value[];
      const n = typeof key === 'number' && Number.isInteger(key) ? key : typeof key === 'bigint' ? Number(key) : NaN;
      if (Number.isNaN(n)) fail(p, `error calling index: cannot index slice/array with type ${goTypeOf(key)}`);
      const item = list[n]; // undefined below 0 and past the end
      if (item === undefined) fail(p, `error calling index: index out of range: ${n}`);
      cur = item;
    } else if (cur instanceof Map) {
      if (typeof key !== 'string') fail(p, `error calling index: value has type ${goTypeOf(key)}; should be string`);
      // A missing key gives the map's zero value, unlike the .Field form.
      cur = (cur as ReadonlyMap<string, Value>).get(key as string) ?? '';
    } else {
      fail(p, `error calling index: can't index item of type ${goTypeOf(cur)}`);
    }
  }
  return cur;
}

/** strconv.ParseUint(s, base, bitSize), as CoreDNS registers it. */
function parseInt(args: readonly Value[], p: Pipeline): Value {
  if (args.length !== 3) fail(p, `wrong number of args for parseInt: want 3 got ${args.length}`);
  const [s, base, bits] = args as [Value, Value, Value];
  if (typeof s !== 'string') fail(p, `wrong type for value; expected string; got ${goTypeOf(s)}`);
  if (typeof base !== 'number' || !Number.isInteger(base)) fail(p, `wrong type for value; expected int; got ${goTypeOf(base)}`);
  if (typeof bits !== 'number' || !Number.isInteger(bits)) fail(p, `wrong type for value; expected int; got ${goTypeOf(bits)}`);
  const err = (why: string): never => fail(p, `error calling parseInt: strconv.ParseUint: parsing ${JSON.stringify(s)}: ${why}`);
  let b = base as number;
  let digits = (s as string).replace(/_/g, b === 0 ? '' : '\u0000');
  if (b === 0) {
    b = 10;
    if (/^0[xX]/.test(digits)) { b = 16; digits = digits.slice(2); } else if (/^0[bB]/.test(digits)) { b = 2; digits = digits.slice(2); } else if (/^0[oO]/.test(digits)) { b = 8; digits = digits.slice(2); } else if (/^0./.test(digits)) { b = 8; digits = digits.slice(1); }
  } else if (b < 2 || b > 36) {
    fail(p, `error calling parseInt: strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid base ${b}`);
  }
  const size = bits === 0 ? 64 : (bits as number);
  if (size < 0 || size > 64) fail(p, `error calling parseInt: strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid bit size ${size}`);
  if (digits === '') err('invalid syntax');
  let v = 0n;
  for (const ch of digits.toLowerCase()) {
    const d = ch >= '0' && ch <= '9' ? ch.charCodeAt(0) - 48 : ch >= 'a' && ch <= 'z' ? ch.charCodeAt(0) - 87 : 99;
    if (d >= b) err('invalid syntax');
    v = v * BigInt(b) + BigInt(d);
  }
  if (v >= 1n << BigInt(size)) err('value out of range');
  return v;
}

/** fmt.Print of a value, as text/template writes an action's result. */
function printValue(v: Value, p: Pipeline): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === NO_VALUE) return '<no value>';
  if (Array.isArray(v)) return `[${(v as readonly Value[]).map((x) => printValue(x, p)).join(' ')}]`;
  if (v instanceof Map) {
    const m = v as ReadonlyMap<string, Value>;
    return `map[${[...m.keys()].sort().map((k) => `${k}:${printValue(m.get(k)!, p)}`).join(' ')}]`;
  }
  const o = v as GoObject;
  if (o.print) return o.print();
  return fail(p, `printing a whole ${o.goType} is not supported by clusterdns's template plugin`);
}
