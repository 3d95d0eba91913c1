// Corefile lexer (Caddyfile v1 rules, as used by CoreDNS). Internal to
// src/corefile: other code should use parse.ts.
//
// - Tokens are separated by whitespace; a line break matters to the parser
//   (a directive's args end at the end of its line), so each token records
//   whether a line break precedes it (`nl`).
// - "double quotes" may contain spaces and newlines; \" and \\ are escapes,
//   any other backslash is kept as is. `backticks` are raw.
// - # starts a comment to the end of the line, outside quotes.
// - {$VAR} and {%VAR%} are replaced in each token after it is cut, like
//   CoreDNS does: a value never splits into several tokens, never opens a
//   block, and line numbers always refer to the file as written.

import { configError } from './errors.js';

export type Env = Record<string, string | undefined>;

export interface Token {
  /** Token text, quotes removed and environment substituted. */
  text: string;
  /** Written in quotes: never a brace, never the import keyword. */
  quoted: boolean;
  /** '{' or '}' when the token is a bare brace, else null. */
  brace: '{' | '}' | null;
  file: string;
  line: number;
  /** First token of a line (a line break, or start of file, precedes it). */
  nl: boolean;
  /** Files and snippets this token was imported through (cycle detection). */
  chain: readonly string[];
}

const ENV_REF = /\{\$([^{}\s]+)\}|\{%([^{}%\s]+)%\}/g;

/** Replaces {$VAR} and {%VAR%}; unset variables become the empty string. */
export function substituteEnv(s: string, env: Env): string {
  if (!s.includes('{')) return s;
  return s.replace(ENV_REF, (_m, unix: string | undefined, win: string | undefined) => env[(unix ?? win) as string] ?? '');
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\s/.test(ch);
}

export function lex(src: string, file: string, env: Env, chain: readonly string[]): Token[] {
  const tokens: Token[] = [];
  const n = src.length;
  let i = 0;
  let line = 1;
  let nl = true;

  while (i < n) {
    const ch = src.charAt(i);
    if (ch === '\n') {
      line++;
      nl = true;
      i++;
      continue;
    }
    if (isSpace(ch)) {
      i++;
      continue;
    }
    if (ch === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }

    const startLine = line;
    let text = '';
    let quoted = false;
    if (ch === '"' || ch === '`') {
      // Quoted token: ends at the matching quote; the next character, even
      // if not whitespace, starts a new token (as in Caddy v1).
      quoted = true;
      i++;
      for (;;) {
        if (i >= n) throw configError({ file, line: startLine }, `unterminated ${ch === '"' ? 'quoted' : 'backtick'} string`);
        const c = src.charAt(i);
        if (c === ch) {
          i++;
          break;
        }
        if (ch === '"' && c === '\\' && (src[i + 1] === '"' || src[i + 1] === '\\')) {
          text += src.charAt(i + 1);
          i += 2;
          continue;
        }
        if (c === '\n') line++;
        text += c;
        i++;
      }
    } else {
      const start = i;
      while (i < n && src[i] !== '#' && !isSpace(src.charAt(i))) i++;
      text = src.slice(start, i);
    }

    const brace = !quoted && (text === '{' || text === '}') ? text : null;
    tokens.push({ text: substituteEnv(text, env), quoted, brace, file, line: startLine, nl, chain });
    nl = false;
  }
  return tokens;
}
