// Where autopath's search path comes from: a resolv.conf-like file (fixed
// for every client) or the kubernetes plugin (per asking pod).

import { readFileSync } from 'node:fs';
import { nameKey } from '../../dns/names.js';

/** Gives the search path for a query, or null for no autopathing. The last element is "" (the bare name). */
export type SearchPathFor = (clientIP: string, lname: string) => readonly string[] | null;

/**
 * The search list of a resolv.conf (the last `search` or `domain` line
 * wins, as glibc reads it), lower-case without trailing dots, with the ""
 * sentinel appended. Empty when the file names no search domain.
 */
export function readSearchList(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  let list: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'search') list = rest.map(nameKey).filter((n) => n !== '');
    else if (key === 'domain' && rest[0] !== undefined) list = [nameKey(rest[0])];
  }
  return list.length === 0 ? [] : [...list, ''];
}
