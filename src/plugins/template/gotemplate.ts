// The subset of Go's text/template that CoreDNS template Corefiles use:
// text, {{ actions }} with trim markers and comments, field chains on the
// data (`.Name`, `.Group.a`, `$.Zone`, `(index .Message.Question 0).Name`),
// string/number/bool constants, pipelines with `|`, and the functions
// `index` and `parseInt`. Control structures (if, range, with...),
// variables and every other function are refused when the template is
// parsed, naming the construct, so a Corefile never half-works.

export class TemplateSyntaxError extends Error {}

export type Arg =
  | { kind: 'field'; chain: string[] }
  | { kind: 'dot' }
  | { kind: 'root'; chain: string[] }
  | { kind: 'ident'; name: string }
  | { kind: 'string'; value: string; text: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'paren'; pipe: Pipeline; chain: string[] };

export interface Command { args: Arg[] }
export interface Pipeline { commands: Command[] }
export type Node = { kind: 'text'; text: string } | { kind: 'action'; pipe: Pipeline };

/** Functions this engine runs. */
export const FUNCTIONS = new Set(['index', 'parseInt']);
/** Go's predefined functions: known to Go, not run here. */
const GO_BUILTINS = new Set([
  'and', 'call', 'html', 'js', 'len', 'not', 'or', 'print', 'printf', 'println', 'slice', 'urlquery',
  'eq', 'ge', 'gt', 'le', 'lt', 'ne',
]);
const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

/** Parses a template; throws TemplateSyntaxError. */
export function parseTemplate(src: string): Node[] {
  const nodes: Node[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) { pushText(nodes, text); break; }
    let p = open + 2;
    if (src[p] === '-' && /[ \t\r\n]/.test(src[p + 1] ?? '')) { text = text.replace(/[ \t\r\n]+$/, ''); p += 2; }
    pushText(nodes, text);
    const close = findClose(src, p);
    if (close < 0) throw new TemplateSyntaxError(`unclosed action (no "}}" after offset ${open})`);
    let body = src.slice(p, close);
    if (/[ \t\r\n]-$/.test(body)) { body = body.slice(0, -2); trimNext = true; }
    i = close + 2;
    const trimmed = body.trim();
    if (trimmed.startsWith('/*')) {
      if (!trimmed.endsWith('*/')) throw new TemplateSyntaxError('unclosed comment');
      continue;
    }
    const pipe = new ActionParser(body).pipeline();
    nodes.push({ kind: 'action', pipe });
  }
  return nodes;
}

function pushText(nodes: Node[], text: string): void {
  if (text !== '') nodes.push({ kind: 'text', text });
}

/** The "}}" ending the action starting at p, skipping quoted strings. */
function findClose(src: string, p: number): number {
  for (let i = p; i < src.length; i++) {
    const c = src[i];
    if (c === '"') {
      for (i++; i < src.length && src[i] !== '"'; i++) if (src[i] === '\\') i++;
    } else if (c === '`') {
      i = src.indexOf('`', i + 1);
      if (i < 0) return -1;
    } else if (c === '}' && src[i + 1] === '}') {
      return i;
    }
  }
  return -1;
}

type Tok =
  | { t: 'field'; chain: string[]; glued: boolean } | { t: 'dot' } | { t: 'var'; name: string; chain: string[] }
  | { t: 'ident'; name: string } | { t: 'string'; value: string; text: string }
  | { t: 'number'; value: number; text: string } | { t: '(' } | { t: ')' } | { t: '|' } | { t: 'assign'; text: string };

class ActionParser {
  private toks: Tok[];
  private at = 0;

  constructor(body: string) {
    this.toks = lexAction(body);
  }

  pipeline(): Pipeline {
    const pipe = this.pipe();
    const extra = this.toks[this.at];
    if (extra !== undefined) throw new TemplateSyntaxError(`unexpected "${tokText(extra)}" in action`);
    return pipe;
  }

  private pipe(): Pipeline {
    const first = this.toks[this.at];
    if (first === undefined) throw new TemplateSyntaxError('missing value for command');
    if (first.t === 'ident' && KEYWORDS.has(first.name)) {
      throw new TemplateSyntaxError(`{{${first.name}}} is not supported by clusterdns's template plugin`);
    }
    const commands: Command[] = [];
    for (;;) {
      const args: Arg[] = [];
      for (;;) {
        const t = this.toks[this.at];
        if (t === undefined || t.t === '|' || t.t === ')') break;
        args.push(this.operand());
      }
      if (args.length === 0) throw new TemplateSyntaxError('missing value for command');
      commands.push({ args });
      if (this.toks[this.at]?.t !== '|') break;
      this.at++;
    }
    return { commands };
  }

  private operand(): Arg {
    const t = this.toks[this.at++];
    if (t === undefined) throw new TemplateSyntaxError('missing value for command'); // pipe() checks first
    switch (t.t) {
      case 'field': return { kind: 'field', chain: t.chain };
      case 'dot': return { kind: 'dot' };
      case 'var':
        if (t.name !== '$') throw new TemplateSyntaxError(`template variables (${t.name}) are not supported by clusterdns's template plugin`);
        return { kind: 'root', chain: t.chain };
      case 'ident':
        if (t.name === 'true' || t.name === 'false') return { kind: 'bool', value: t.name === 'true' };
        if (t.name === 'nil') throw new TemplateSyntaxError('nil is not a command');
        if (KEYWORDS.has(t.name)) throw new TemplateSyntaxError(`{{${t.name}}} is not supported by clusterdns's template plugin`);
        if (GO_BUILTINS.has(t.name)) throw new TemplateSyntaxError(`function "${t.name}" is not supported by clusterdns's template plugin (supported: index, parseInt)`);
        if (!FUNCTIONS.has(t.name)) throw new TemplateSyntaxError(`function "${t.name}" not defined`);
        return { kind: 'ident', name: t.name };
      case 'string': return { kind: 'string', value: t.value, text: t.text };
      case 'number': return { kind: 'number', value: t.value, text: t.text };
      case '(': {
        const pipe = this.pipe();
        if (this.toks[this.at++]?.t !== ')') throw new TemplateSyntaxError('unclosed left paren');
        const next = this.toks[this.at];
        let chain: string[] = [];
        if (next !== undefined && next.t === 'field' && next.glued) { chain = next.chain; this.at++; }
        return { kind: 'paren', pipe, chain };
      }
      case 'assign': throw new TemplateSyntaxError(`template variables (${t.text}) are not supported by clusterdns's template plugin`);
      default: throw new TemplateSyntaxError(`unexpected "${tokText(t)}" in operand`);
    }
  }
}

function tokText(t: Tok): string {
  switch (t.t) {
    case 'field': return `.${t.chain.join('.')}`;
    case 'dot': return '.';
    case 'var': return t.name;
    case 'ident': return t.name;
    case 'string': return t.text;
    case 'number': return t.text;
    case 'assign': return t.text;
    default: return t.t;
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;

function lexAction(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charAt(i);
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') { i++; continue; }
    const glued = i > 0 && s[i - 1] === ')';
    if (c === '(' || c === ')' || c === '|') { out.push({ t: c }); i++; continue; }
    if (c === ':' && s[i + 1] === '=') { out.push({ t: 'assign', text: ':=' }); i += 2; continue; }
    if (c === '=') { out.push({ t: 'assign', text: '=' }); i++; continue; }
    if (c === '.' || c === '$') {
      let j = i + 1;
      let name = c === '$' ? '$' : '';
      if (c === '$') {
        const m = IDENT.exec(s.slice(j));
        if (m !== null) { name += m[0]; j += m[0].length; }
      }
      const chain: string[] = [];
      let k = c === '.' ? i : j;
      while (s[k] === '.') {
        const m = IDENT.exec(s.slice(k + 1));
        if (m === null) break;
        chain.push(m[0]);
        k += 1 + m[0].length;
      }
      if (c === '.' && chain.length === 0) {
        if (/[0-9]/.test(s[i + 1] ?? '')) { i = lexNumber(s, i, out); continue; }
        out.push({ t: 'dot' });
        i++;
        continue;
      }
      if (c === '$') out.push({ t: 'var', name, chain });
      else out.push({ t: 'field', chain, glued });
      i = k;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) if (s[j] === '\\') j++;
      if (j >= s.length) throw new TemplateSyntaxError('unterminated quoted string');
      const text = s.slice(i, j + 1);
      out.push({ t: 'string', value: unquote(text), text });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j < 0) throw new TemplateSyntaxError('unterminated raw quoted string');
      out.push({ t: 'string', value: s.slice(i + 1, j), text: s.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    if (c === "'") throw new TemplateSyntaxError("character constants ('x') are not supported by clusterdns's template plugin");
    if (/[0-9+-]/.test(c)) { i = lexNumber(s, i, out); continue; }
    const m = IDENT.exec(s.slice(i));
    if (m !== null) { out.push({ t: 'ident', name: m[0] }); i += m[0].length; continue; }
    throw new TemplateSyntaxError(`unexpected "${c}" in action`);
  }
  return out;
}

function lexNumber(s: string, i: number, out: Tok[]): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?)/.exec(s.slice(i));
  if (m === null) throw new TemplateSyntaxError(`bad number syntax: "${s.slice(i, i + 10)}"`);
  const text = m[0];
  const clean = text.replace(/_/g, '');
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[+-]/, '');
  const value = /^0[oO]/.test(body) ? sign * parseInt(body.slice(2), 8) : /^0[bB]/.test(body) ? sign * parseInt(body.slice(2), 2) : sign * Number(body);
  if (!Number.isFinite(value)) throw new TemplateSyntaxError(`bad number syntax: "${text}"`);
  out.push({ t: 'number', value, text });
  return i + text.length;
}

/** Go's interpreted string literal ("a\tb\"c\x41\u00e9"). */
function unquote(text: string): string {
  const body = text.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case 'x': case 'u': case 'U': return String.fromCodePoint(parseInt(e.slice(1), 16));
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'a': return '\x07';
      case 'b': return '\b';
      case 'f': return '\f';
      case 'v': return '\v';
      case '\\': return '\\';
      case '"': return '"';
      default:
        if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
        throw new TemplateSyntaxError(`unknown escape sequence \\${e}`);
    }
  });
}

/** The template as Go prints its parse tree (Tree.Root.String()): CoreDNS's `template` metric label. */
export function templateText(nodes: readonly Node[]): string {
  return nodes.map((n) => (n.kind === 'text' ? n.text : `{{${pipeText(n.pipe)}}}`)).join('');
}

export function pipeText(p: Pipeline): string {
  return p.commands.map((c) => c.args.map(argText).join(' ')).join(' | ');
}

function argText(a: Arg): string {
  switch (a.kind) {
    case 'field': return `.${a.chain.join('.')}`;
    case 'dot': return '.';
    case 'root': return `$${a.chain.map((f) => `.${f}`).join('')}`;
    case 'ident': return a.name;
    case 'string': return a.text;
    case 'number': return a.text;
    case 'bool': return String(a.value);
    case 'paren': return `(${pipeText(a.pipe)})${a.chain.map((f) => `.${f}`).join('')}`;
  }
}
