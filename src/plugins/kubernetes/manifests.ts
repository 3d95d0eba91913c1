// The offline source: Services, EndpointSlices, Endpoints, Namespaces and
// Pods read from YAML/JSON files instead of the API (the embedded default
// config serves a demo cluster this way; tests use it too).
//
// PATHs are files or folders (searched recursively for *.yaml, *.yml,
// *.json; names starting with "." are skipped, which also skips the
// ..data copies of a mounted ConfigMap). Files may hold several YAML
// documents and `kind: List` (or any *List) objects. A namespace that some
// object lives in exists even without its Namespace document.
//
// Changes: fs.watch on every folder involved (debounced) plus a slow poll
// of file sizes/mtimes as a fallback for filesystems without events. Every
// reload hands complete lists to the store (store.replace). A file that
// fails to read or parse is logged and its last good content kept.

import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { log } from '../../log.js';
import {
  endpointsToSlice, toNamespace, toPod, toService, toSlice,
  type Kind, type NamespaceRecord, type PodRecord, type ServiceRecord, type SliceRecord, type StoreSink,
} from './objects.js';
import type { Source } from './source.js';
import { loadAllYaml } from './yaml.js';

export interface ManifestOptions {
  /** Quiet time after a file event before re-reading (default 100 ms). */
  debounceMs?: number;
  /** Fallback poll interval (default 2 s; 0 disables). */
  pollMs?: number;
}

interface FileState {
  /** size:mtime:ino, to notice changes when polling. */
  sig: string;
  /** Objects from the last good read. */
  objects: unknown[];
  error: string | null;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
export class ManifestSource implements Source {
  private sink: StoreSink | null = null;
  private files = new Map<string, FileState>();
  private watchers = new Map<string, FSWatcher>();
  private debounce: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private loads = 0;
  private lastLoad = '';
  private readonly debounceMs: number;
  private readonly pollMs: number;

  constructor(private readonly paths: string[], opts: ManifestOptions = {}) {
    this.debounceMs = opts.debounceMs ?? 100;
    this.pollMs = opts.pollMs ?? 2000;
  }

  start(sink: StoreSink): void {
    this.sink = sink;
    void this.reload(true);
    if (this.pollMs > 0) {
      this.poll = setInterval(() => void this.reload(false), this.pollMs);
      this.poll.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.poll) clearInterval(this.poll);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.loading;
  }

  describe(): Record<string, string> {
    const bad = [...this.files.entries()].filter(([, f]) => f.error !== null).map(([p]) => p);
    return {
      source: 'manifests',
      paths: this.paths.join(','),
      files: String(this.files.size),
      loads: String(this.loads),
      lastLoad: this.lastLoad || 'never',
      ...(bad.length > 0 ? { failing: bad.join(',') } : {}),
    };
  }

  /** Re-reads changed files (all of them when `force`), then replaces the store's content. */
  private reload(force: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.loading) {
      this.again = this.again || force;
      return this.loading;
    }
    this.loading = this.load(force)
      .catch((err: unknown) => log('error', 'kubernetes', 'manifests: reload failed', { err }))
      .finally(() => {
        this.loading = null;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.reload(true);
        }
      });
    return this.loading;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => { this.debounce = null; void this.reload(true); }, this.debounceMs);
    this.debounce.unref();
  }

  private async load(force: boolean): Promise<void> {
    const dirs = new Set<string>();
    const found = new Map<string, string>();
    for (const p of this.paths) scan(p, found, dirs, true);
    this.watch(dirs);

    let changed = this.loads === 0 || found.size !== this.files.size;
    const next = new Map<string, FileState>();
    for (const [file, sig] of found) {
      const prev = this.files.get(file);
      if (prev && prev.sig === sig && !force) { next.set(file, prev); continue; }
      changed = true;
      try {
        const objects = await readObjects(file);
        if (prev?.error) log('info', 'kubernetes', 'manifests: file is good again', { file });
        next.set(file, { sig, objects, error: null });
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (prev?.error !== msg) {
          log('error', 'kubernetes', `manifests: cannot load ${file}; ${prev ? 'keeping its last good content' : 'skipping it'}`, { err: msg });
        }
        next.set(file, { sig, objects: prev?.objects ?? [], error: msg });
      }
    }
    if (this.stopped) return;
    this.files = next;
    if (!changed) return;
    this.publish();
  }

  private publish(): void {
    const sink = this.sink!;
    const services = new Map<string, ServiceRecord>();
    const slices = new Map<string, SliceRecord>();
    const namespaces = new Map<string, NamespaceRecord>();
    const implied = new Set<string>();
    const pods = new Map<string, PodRecord>();
    let skipped = 0;
    for (const [file, state] of this.files) {
      for (const o of state.objects) {
        const kind = (o as { kind?: unknown }).kind;
        switch (kind) {
          case 'Service': {
            const r = toService(o);
            if (!r) { skipped++; warnObject(file, o, 'a Service needs metadata.name'); break; }
            services.set(`${r.namespace}/${r.name}`, r);
            implied.add(r.namespace);
            break;
          }
          case 'EndpointSlice': {
            const r = toSlice(o);
            if (!r) { skipped++; warnObject(file, o, 'an EndpointSlice needs metadata.name and the kubernetes.io/service-name label'); break; }
            slices.set(`${r.namespace}/${r.name}`, r);
            implied.add(r.namespace);
            break;
          }
          case 'Endpoints': {
            const r = endpointsToSlice(o);
            if (!r) { skipped++; warnObject(file, o, 'an Endpoints object needs metadata.name'); break; }
            // Named apart from EndpointSlices ("/" never occurs in an object name).
            const rec = { ...r, name: `endpoints/${r.name}` };
            slices.set(`${rec.namespace}/${rec.name}`, rec);
            implied.add(r.namespace);
            break;
          }
          case 'Namespace': {
            const r = toNamespace(o);
            if (!r) { skipped++; warnObject(file, o, 'a Namespace needs metadata.name'); break; }
            namespaces.set(r.name, r);
            break;
          }
          case 'Pod': {
            const r = toPod(o);
            if (!r) { skipped++; warnObject(file, o, 'a Pod needs metadata.name'); break; }
            pods.set(`${r.namespace}/${r.name}`, r);
            implied.add(r.namespace);
            break;
          }
          default:
            break; // Deployments, ConfigMaps...: not DNS's business.
        }
      }
    }
    for (const ns of implied) if (!namespaces.has(ns)) namespaces.set(ns, { name: ns, labels: {} });
    sink.replace('namespaces', [...namespaces.values()]);
    sink.replace('services', [...services.values()]);
    sink.replace('endpointslices', [...slices.values()]);
    sink.replace('pods', [...pods.values()]);
    const kinds: Kind[] = ['namespaces', 'services', 'endpointslices', 'pods'];
    for (const k of kinds) sink.markSynced(k);
    this.loads++;
    this.lastLoad = new Date().toISOString();
    log(this.loads === 1 ? 'info' : 'debug', 'kubernetes', 'manifests loaded', {
      files: this.files.size, services: services.size, slices: slices.size, namespaces: namespaces.size, pods: pods.size,
      ...(skipped > 0 ? { skipped } : {}),
    });
  }

  /** Keeps one watcher per folder involved; events schedule a (debounced) reload. */
  private watch(dirs: Set<string>): void {
    if (this.stopped) return;
    for (const [d, w] of this.watchers) {
      if (!dirs.has(d)) { w.close(); this.watchers.delete(d); }
    }
    for (const d of dirs) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, () => this.schedule());
        w.on('error', () => { w.close(); this.watchers.delete(d); });
        this.watchers.set(d, w);
      } catch {
        // Unwatchable (gone, or no inotify slots): the poll still notices changes.
      }
    }
  }
}

function warnObject(file: string, o: unknown, why: string): void {
  const name = (o as { metadata?: { name?: unknown } }).metadata?.name;
  log('warn', 'kubernetes', `manifests: skipping an object in ${file}: ${why}`, { name: typeof name === 'string' ? name : undefined });
}

/** Collects manifest files (with a change signature) and the folders to watch. */
function scan(path: string, files: Map<string, string>, dirs: Set<string>, root: boolean): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (root) {
      log('warn', 'kubernetes', 'manifests: path is missing', { path, err: (err as Error).message });
      dirs.add(dirname(path));
    }
    return;
  }
  if (st.isDirectory()) {
    dirs.add(path);
    let entries: string[];
    try { entries = readdirSync(path).sort(); } catch { return; }
    for (const e of entries) {
      if (e.startsWith('.')) continue;
      const p = join(path, e);
      let s;
      try { s = statSync(p); } catch { continue; }
      if (s.isDirectory()) scan(p, files, dirs, false);
      else if (s.isFile() && EXTENSIONS.has(extname(e).toLowerCase())) files.set(p, `${s.size}:${s.mtimeMs}:${s.ino}`);
    }
  } else if (st.isFile()) {
    // Editors replace files by rename: watch the folder, not the inode.
    dirs.add(dirname(path));
    files.set(path, `${st.size}:${st.mtimeMs}:${st.ino}`);
  }
}

/** Every Kubernetes object in a file, Lists flattened. Throws with a readable reason. */
export async function readObjects(file: string): Promise<unknown[]> {
  const text = readFileSync(file, 'utf8');
  const docs: unknown[] = [];
  if (extname(file).toLowerCase() === '.json') {
    try {
      const v = JSON.parse(text) as unknown;
      if (Array.isArray(v)) docs.push(...v); else docs.push(v);
    } catch (err) {
      throw new Error(`${basename(file)}: invalid JSON: ${(err as Error).message}`);
    }
  } else {
    for (const chunk of splitDocuments(text)) {
      let parsed: unknown[];
      try {
        parsed = loadAllYaml(chunk.text);
      } catch (err) {
        throw new Error(`${basename(file)}: invalid YAML in the document starting at line ${chunk.line}: ${firstLine((err as Error).message)}`);
      }
      for (const p of parsed) docs.push(p);
    }
  }
  const out: unknown[] = [];
  const flatten = (v: unknown, where: string): void => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${basename(file)}: ${where} is not a Kubernetes object`);
    const o = v as { kind?: unknown; items?: unknown };
    if (typeof o.kind !== 'string') throw new Error(`${basename(file)}: ${where} has no kind`);
    if (o.kind.endsWith('List') && Array.isArray(o.items)) {
      o.items.forEach((item, i) => flatten(item, `${where}, item ${i + 1}`));
      return;
    }
    out.push(v);
  };
  docs.forEach((d, i) => flatten(d, `document ${i + 1}`));
  return out;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

/**
 * Splits a YAML stream at "---" / "..." lines (a marker at column 0 can only
 * be a document boundary) and drops empty documents, which client-node's
 * loadAllYaml cannot take. Each chunk keeps its line numbers by padding.
 */
export function splitDocuments(text: string): Array<{ text: string; line: number }> {
  const lines = text.split(/\r?\n/);
  const out: Array<{ text: string; line: number }> = [];
  let cur: string[] = [];
  let start = 0;
  const flush = (): void => {
    const meaningful = cur.some((l) => !/^\s*(#.*)?$/.test(l) && !l.startsWith('%'));
    if (meaningful) out.push({ text: '\n'.repeat(start) + cur.join('\n'), line: start + 1 });
    cur = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^---(\s|$)/.test(l)) {
      flush();
      start = i;
      cur.push(l.slice(3));
    } else if (/^\.\.\.\s*$/.test(l)) {
      flush();
      start = i + 1;
    } else {
      cur.push(l);
    }
  }
  flush();
  return out;
}
