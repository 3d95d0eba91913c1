// Corefile parser: tokens -> server blocks -> directives (with nested blocks).
//
// Grammar (Caddyfile v1, as CoreDNS reads it):
//   file        := { snippet | serverBlock }
//   snippet     := "(" name ")" "{" tokens... "}"          (top level only)
//   serverBlock := keys "{" { directive } "}"
//                | keys NEWLINE { directive } EOF          (single block, no braces)
//   keys        := key { [","] key }   - a trailing comma continues on the next line
//   directive   := name { arg } [ "{" { directive } "}" ] NEWLINE
//   "import X" at the start of any line is replaced by the tokens of snippet X,
//   or of the file(s) X (relative to the importing file; * and ? allowed in
//   the last path element).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Corefile, Directive, ServerBlock, SourceFile } from './ast.js';
import { configError } from './errors.js';
import { lex, type Env, type Token } from './lexer.js';

export interface ParseOptions {
  file: string;
  /** Environment for {$VAR} / {%VAR%}; default process.env. */
  env?: Record<string, string | undefined>;
}

/** Same bound as CoreDNS: stops exponential or runaway import expansion. */
const MAX_IMPORTS = 1000;
/** Blocks nest a couple of levels in practice; this only guards the stack. */
const MAX_DEPTH = 50;

export function parseCorefile(text: string, opts: ParseOptions): Corefile {
  const env = opts.env ?? process.env;
  const tokens = lex(text, opts.file, env, [resolve(opts.file)]);
  const corefile = new Parser(tokens, env, [{ path: opts.file, text }]).parseFile();
  // Serving nothing is never what was meant: a truncated ConfigMap write
  // must fail the start or the reload, not close every listener.
  if (corefile.blocks.length === 0) {
    throw configError({ file: opts.file, line: 0 }, 'no server blocks (is the file empty or cut short?); expected at least one, e.g. ".:53 { ... }"');
  }
  return corefile;
}

export function loadCorefile(path: string, env?: Record<string, string | undefined>): Corefile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    // line 0: the message reads "PATH: cannot read Corefile: no such file".
    throw configError({ file: path, line: 0 }, `cannot read Corefile: ${describeFsError(e)}`);
  }
  return parseCorefile(text, { file: path, env });
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return e instanceof Error ? e.message : String(e);
}

const GLOB_CHARS = /[*?]/;

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a dangling symlink: let the read report it
  }
}

class Parser {
  private pos = 0;
  private imports = 0;
  private readonly snippets = new Map<string, Token[]>();
  private readonly blocks: ServerBlock[] = [];

  constructor(
    private toks: Token[],
    private readonly env: Env,
    /** Files read so far (imports append theirs). */
    private readonly files: SourceFile[],
  ) {}

  parseFile(): Corefile {
    for (;;) {
      const t = this.lineStart();
      if (!t) break;
      if (t.brace === '}') throw configError(t, "unexpected '}' outside any block");
      if (t.brace === '{') throw configError(t, "'{' without server block keys before it");
      this.serverBlockOrSnippet(t);
    }
    return { blocks: this.blocks, files: this.files };
  }

  private peek(): Token | undefined {
    return this.toks[this.pos];
  }

  /**
   * The token starting the next key list or directive, after replacing any
   * `import` lines at this position with the imported tokens.
   */
  private lineStart(): Token | undefined {
    for (;;) {
      const t = this.peek();
      if (!t || t.quoted || t.text !== 'import') return t;
      this.pos++;
      const args = this.restOfLine();
      const [arg] = args;
      if (!arg || args.length !== 1) {
        throw configError(t, `import: expected exactly one argument (file, glob or snippet name), got ${args.length}`);
      }
      const imported = this.importTokens(t, arg.text);
      // concat, not splice(...spread): an import may bring many tokens.
      this.toks = this.toks.slice(0, this.pos).concat(imported, this.toks.slice(this.pos));
    }
  }

  /** Consumes the remaining non-brace tokens of the current line. */
  private restOfLine(): Token[] {
    const out: Token[] = [];
    for (let t = this.peek(); t && !t.nl && !t.brace; t = this.peek()) {
      out.push(t);
      this.pos++;
    }
    return out;
  }

  private importTokens(at: Token, pattern: string): Token[] {
    if (pattern === '') throw configError(at, 'import: empty path');
    if (++this.imports > MAX_IMPORTS) throw configError(at, `import: more than ${MAX_IMPORTS} imports (recursive snippets?)`);

    const snippet = this.snippets.get(pattern);
    if (snippet) {
      const id = `(${pattern})`;
      if (at.chain.includes(id)) throw configError(at, `import cycle: snippet (${pattern}) is already being imported`);
      const chain = [...at.chain, id];
      // The pasted lines start a new line here, whatever their position was
      // inside the snippet definition.
      return snippet.map((t, i) => ({ ...t, chain, nl: i === 0 ? true : t.nl }));
    }

    const full = isAbsolute(pattern) ? pattern : join(dirname(at.file), pattern);
    const dir = dirname(full);
    const last = basename(full);
    // Only the pattern as written is checked: the importing file's own
    // directory may legitimately contain '*' or '?'.
    if (GLOB_CHARS.test(dirname(pattern))) throw configError(at, `import ${pattern}: wildcards are only allowed in the last path element`);
    let files: string[];
    if (GLOB_CHARS.test(last)) {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        // A glob over a missing directory matches nothing (as in CoreDNS).
      }
      const re = globToRegExp(last);
      // Directories are skipped so that e.g. a ConfigMap mount's ..data
      // entries never match `*`.
      files = names.filter((n) => re.test(n)).sort().map((n) => join(dir, n)).filter((f) => !isDirectory(f));
    } else {
      files = [full];
    }

    let out: Token[] = [];
    for (const f of files) {
      const abs = resolve(f);
      if (at.chain.includes(abs)) throw configError(at, `import cycle: ${f} is already being imported`);
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw configError(at, `import ${pattern}: ${f}: ${describeFsError(e)}`);
        // A bare word is more likely a snippet name than a file name.
        const bare = !pattern.includes('/') && !pattern.includes('.');
        throw configError(at, bare ? `import ${pattern}: no snippet (${pattern}) defined before this line, and no file ${f}` : `import ${pattern}: file not found (${f})`);
      }
      this.files.push({ path: f, text });
      out = out.concat(lex(text, f, this.env, [...at.chain, abs]));
    }
    return out;
  }

  private serverBlockOrSnippet(first: Token): void {
    // Keys: the rest of this line, and following lines while a key ends with ','.
    const keys: string[] = [];
    let t: Token | undefined = first;
    let keyTokens = 0;
    for (;;) {
      this.pos++;
      keyTokens++;
      keys.push(...t.text.split(',').filter((k) => k !== ''));
      const continues = t.text.endsWith(',');
      const nx = this.peek();
      if (continues && (!nx || nx.brace)) {
        throw configError(nx ?? t, `expected another server key after ','${nx ? ` but found '${nx.brace}'` : ' but the file ends'}`);
      }
      if (!nx || nx.brace || (nx.nl && !continues)) break;
      t = nx;
    }

    const open = this.peek();
    const snippet = keyTokens === 1 ? /^\((.*)\)$/.exec(first.text) : null;
    if (snippet && !first.quoted) {
      this.defineSnippet(first, snippet[1] ?? '', open);
      return;
    }
    if (keys.length === 0) throw configError(first, 'server block has no keys');

    if (open?.brace === '{') {
      this.pos++;
      const directives = this.directives(open, 1);
      this.blocks.push({ keys, directives, file: first.file, line: first.line });
      return;
    }

    // No '{' after the keys. Caddy v1 accepts this for a file holding a
    // single server block; anywhere else it means a line outside any block.
    if (this.blocks.length > 0) {
      throw configError(first, `directive outside a server block: "${first.text}" (server blocks look like "KEY { ... }")`);
    }
    const directives = this.directives(null, 1, first);
    // Guard the brace-less reading: a line like ".:53 {" inside it is really a
    // server block, so the first line was a directive outside any block.
    // (Plugin names never contain '.', ':' or '/'.)
    if (directives.some((d) => d.block !== null && /[.:/]/.test(d.name))) {
      throw configError(first, `directive outside a server block: "${first.text}" (server blocks look like "KEY { ... }")`);
    }
    this.blocks.push({ keys, directives, file: first.file, line: first.line });
  }

  private defineSnippet(at: Token, name: string, open: Token | undefined): void {
    if (name === '') throw configError(at, 'snippet name is empty');
    if (open?.brace !== '{') throw configError(at, `snippet (${name}) must be followed by '{' on the same line`);
    if (this.snippets.has(name)) throw configError(at, `snippet (${name}) is already defined`);
    this.pos++;
    // Keep the raw tokens; imports inside run when the snippet is pasted.
    const body: Token[] = [];
    let depth = 1;
    for (;;) {
      const t = this.peek();
      if (!t) throw configError(open, `unexpected end of file: '{' of snippet (${name}) is never closed`);
      this.pos++;
      if (t.brace === '{') depth++;
      if (t.brace === '}' && --depth === 0) break;
      body.push(t);
    }
    this.snippets.set(name, body);
  }

  /**
   * Lines up to the '}' matching `open` (consumed), or to end of file when
   * `open` is null (brace-less server block started by `keysAt`).
   */
  private directives(open: Token | null, depth: number, keysAt?: Token): Directive[] {
    const out: Directive[] = [];
    for (;;) {
      const t = this.lineStart();
      if (!t) {
        if (open) throw configError(open, "unexpected end of file: this '{' is never closed");
        return out;
      }
      if (t.brace === '}') {
        if (open) {
          this.pos++;
          return out;
        }
        const hint = keysAt ? ` (the server block at line ${keysAt.line} has no '{' after its keys)` : '';
        throw configError(t, `unexpected '}' without a matching '{'${hint}`);
      }
      if (t.brace === '{') {
        throw configError(t, "'{' with no directive: a block must open on the same line as its directive");
      }

      this.pos++;
      const args = this.restOfLine().map((a) => a.text);
      let block: Directive[] | null = null;
      const nx = this.peek();
      if (nx?.brace === '{' && !nx.nl) {
        if (!t.quoted && /^\(.*\)$/.test(t.text)) throw configError(t, `snippet ${t.text} must be defined at the top level, outside server blocks`);
        if (depth >= MAX_DEPTH) throw configError(nx, `blocks nested more than ${MAX_DEPTH} deep`);
        this.pos++;
        block = this.directives(nx, depth + 1);
      }
      out.push({ name: t.text, args, block, file: t.file, line: t.line });
    }
  }
}
