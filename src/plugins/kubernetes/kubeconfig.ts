// Checks a kubeconfig file when the Corefile is loaded, so that --validate,
// a start and a reload refuse a missing or broken one with the directive's
// FILE:LINE instead of failing later, inside the watch loop, as SERVFAIL.
// The rules are client-node's own (KubeConfig.loadFromFile): what passes
// here loads there.

import { readFileSync } from 'node:fs';
import { load, YAMLException } from 'js-yaml';

type Entry = Record<string, unknown>;

/** What is wrong with the kubeconfig at `path` (using `context`, else its current-context), or null. */
export function kubeconfigProblem(path: string, context: string | undefined): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    return `cannot read: ${why}`;
  }
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    return `not valid YAML (line ${err.mark.line + 1}, column ${err.mark.column + 1}: ${err.reason})`;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return 'is not a kubeconfig (expected a mapping with clusters, contexts and users)';
  const cfg = doc as Entry;
  const clusters = list(cfg, 'clusters');
  const contexts = list(cfg, 'contexts');
  const users = list(cfg, 'users');
  for (const l of [clusters, contexts, users]) if (typeof l === 'string') return l;
  const problem = entries(clusters as Entry[], 'clusters', 'cluster', ['server'])
    ?? entries(contexts as Entry[], 'contexts', 'context', ['cluster'])
    ?? entries(users as Entry[], 'users', null, []);
  if (problem) return problem;

  const current = cfg['current-context'];
  const use = context ?? (typeof current === 'string' && current !== '' ? current : undefined);
  if (use === undefined) return 'has no current-context; name one: kubeconfig PATH CONTEXT';
  const ctx = (contexts as Entry[]).find((c) => c.name === use);
  const names = (contexts as Entry[]).map((c) => String(c.name)).join(', ') || 'none';
  if (!ctx) return `has no context "${use}" (contexts: ${names})`;
  const cluster = (ctx.context as Entry).cluster;
  if (!(clusters as Entry[]).some((c) => c.name === cluster)) return `context "${use}" uses cluster "${String(cluster)}", which is not among its clusters`;
  return null;
}

/** cfg[key] as a list of mappings (absent = empty), or what is wrong with it. */
function list(cfg: Entry, key: string): Entry[] | string {
  const v = cfg[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return `${key} is not a list`;
  for (let i = 0; i < v.length; i++) {
    const e: unknown = v[i];
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return `${key}[${i}] is not a mapping`;
  }
  return v as Entry[];
}

/** client-node's required fields: NAME, and BODY.FIELD for each field. */
function entries(l: Entry[], key: string, body: string | null, fields: string[]): string | null {
  for (const [i, e] of l.entries()) {
    if (!e.name) return `${key}[${i}].name is missing`;
    if (body === null) continue;
    const b = e[body];
    if (b === null || typeof b !== 'object') return `${key}[${i}].${body} is missing`;
    for (const f of fields) if (!(b as Entry)[f]) return `${key}[${i}].${body}.${f} is missing`;
  }
  return null;
}
