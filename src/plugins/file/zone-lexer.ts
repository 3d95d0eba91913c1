// RFC 1035 5.1 master-file tokens: one entry per logical line, with `( … )`
// joining physical lines, `;` comments, quoted strings and backslash escapes.

/** A field of an entry. `text` keeps escapes as written (`\.`, `\034`): names need them raw. */
export interface Token {
  text: string;
  quoted: boolean;
  line: number;
}

/** One logical line: `blankOwner` when it began with whitespace (the owner is the previous one). */
export interface Entry {
  tokens: Token[];
  blankOwner: boolean;
  line: number;
}

/** A zone file problem at a line of the file. */
export class ZoneError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ZoneError';
  }
}

export function tokenize(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let depth = 0;
  let openedAt = 0;
  let tokens: Token[] = [];
  let blankOwner = false;
  let entryLine = 1;
  let atLineStart = true;
  let i = 0;
  const n = text.length;

  const endEntry = (): void => {
    if (tokens.length > 0) entries.push({ tokens, blankOwner, line: entryLine });
    tokens = [];
  };

  while (i < n) {
    const c = text.charAt(i);
    if (atLineStart && depth === 0) {
      atLineStart = false;
      if (tokens.length === 0) {
        blankOwner = c === ' ' || c === '\t';
        entryLine = line;
      }
    }
    if (c === '\n') {
      line++;
      i++;
      atLineStart = true;
      if (depth === 0) endEntry();
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth > 0) throw new ZoneError(file, line, 'nested "(": a record has one pair of parentheses');
      depth = 1;
      openedAt = line;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) throw new ZoneError(file, line, '")" without "("');
      depth = 0;
      i++;
      continue;
    }
    if (tokens.length === 0) entryLine = line;
    if (c === '"') {
      const start = ++i;
      for (;;) {
        const q = text.charAt(i);
        if (q === '' || q === '\n') throw new ZoneError(file, line, 'unterminated quoted string');
        if (q === '"') break;
        i += q === '\\' && text.charAt(i + 1) !== '\n' ? 2 : 1;
      }
      tokens.push({ text: text.slice(start, i), quoted: true, line });
      i++;
      continue;
    }
    const start = i;
    while (i < n) {
      const q = text.charAt(i);
      if (q === ' ' || q === '\t' || q === '\r' || q === '\n' || q === ';' || q === '(' || q === ')' || q === '"') break;
      i += q === '\\' && i + 1 < n && text.charAt(i + 1) !== '\n' ? 2 : 1;
    }
    tokens.push({ text: text.slice(start, i), quoted: false, line });
  }
  if (depth > 0) throw new ZoneError(file, openedAt, '"(" is never closed');
  endEntry();
  return entries;
}

/**
 * A character-string's bytes: `\DDD` is a decimal octet, `\X` is X itself
 * (RFC 1035 5.1). Null when a `\DDD` is above 255.
 */
export function unescapeBytes(text: string): Buffer | null {
  if (!text.includes('\\')) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') continue;
    parts.push(Buffer.from(text.slice(run, i), 'utf8'));
    const d = text.slice(i + 1, i + 4);
    if (/^\d{3}$/.test(d)) {
      const v = Number(d);
      if (v > 255) return null;
      parts.push(Buffer.of(v));
      i += 3;
    } else {
      const cp = text.codePointAt(i + 1);
      if (cp === undefined) return null;
      const ch = String.fromCodePoint(cp);
      parts.push(Buffer.from(ch, 'utf8'));
      i += ch.length;
    }
    run = i + 1;
  }
  parts.push(Buffer.from(text.slice(run), 'utf8'));
  return Buffer.concat(parts);
}
