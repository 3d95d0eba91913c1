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
// fails to read or parse, or a folder that cannot be listed (no permission,
// no descriptors left), is logged and its last good content kept: only a
// path that is gone (ENOENT) counts as deleted.

import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join, sep } from 'node:path';
import { loadAll, YAMLException } from 'js-yaml';
import { log } from '../../log.js';
import {
  endpointsToSlice, toNamespace, toPod, toService, toSlice,
  type Kind, type NamespaceRecord, type PodRecord, type ServiceRecord, type SliceRecord, type StoreSink,
} from './objects.js';
import type { Source } from './source.js';

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
/**
 * How many nodes YAML aliases may add to a file, counting every use of an
 * alias as a copy. Without aliases a file cannot hold more nodes than it has
 * characters, so its length plus this budget never refuses a plain file,
 * while an alias bomb (under a kilobyte naming 10^9 objects) is refused before
 * anything walks it.
 */
export const ALIAS_EXPANSION_BUDGET = 1_000_000;

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
  /** Paths that could not be listed at the last scan, with the reason (logged once per change). */
  private unlisted = new Map<string, string>();
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
    const failed = new Map<string, string>();
    for (const p of this.paths) scan(p, { files: found, dirs, failed }, true);
    this.watch(dirs);
    const kept = this.keepUnlisted(failed, found);

    let changed = this.loads === 0 || found.size !== this.files.size;
    const next = new Map<string, FileState>();
    for (const [file, sig] of found) {
      const prev = this.files.get(file);
      if (prev && ((prev.sig === sig && !force) || kept.has(file))) { next.set(file, prev); continue; }
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

  /**
   * A folder or file we could not list or stat (no descriptors left, no
   * permission, an I/O error) is not a deletion: the files last seen under
   * it keep their last good content until it can be read again.
   */
  private keepUnlisted(failed: Map<string, string>, found: Map<string, string>): Set<string> {
    const kept = new Set<string>();
    for (const [path, why] of failed) {
      const under = path + sep;
      let n = 0;
      for (const [file, state] of this.files) {
        if ((file === path || file.startsWith(under)) && !found.has(file)) {
          found.set(file, state.sig);
          kept.add(file);
          n++;
        }
      }
      if (this.unlisted.get(path) !== why) {
        log('error', 'kubernetes', `manifests: cannot read ${path}; keeping the last good content of the ${n} file(s) seen under it`, { err: why });
      }
    }
    for (const path of this.unlisted.keys()) {
      if (!failed.has(path)) log('info', 'kubernetes', 'manifests: path is readable again', { path });
    }
    this.unlisted = failed;
    return kept;
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

interface ScanResult {
  /** Manifest files with a change signature. */
  files: Map<string, string>;
  /** Folders to watch. */
  dirs: Set<string>;
  /** Paths that exist (or may) but could not be listed or stat'ed, with the reason. */
  failed: Map<string, string>;
}

/** Gone for good, as opposed to unreadable for now. */
function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Collects manifest files, the folders to watch, and what could not be read. */
function scan(path: string, out: ScanResult, root: boolean): void {
  const { files, dirs, failed } = out;
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (!isGone(err)) failed.set(path, reason(err));
    else if (root) log('warn', 'kubernetes', 'manifests: path is missing', { path, err: reason(err) });
    if (root) dirs.add(dirname(path));
    return;
  }
  if (st.isDirectory()) {
    dirs.add(path);
    let entries: string[];
    try {
      entries = readdirSync(path).sort();
    } catch (err) {
      failed.set(path, reason(err));
      return;
    }
    for (const e of entries) {
      if (e.startsWith('.')) continue;
      const p = join(path, e);
      let s;
      try {
        s = statSync(p);
      } catch (err) {
        // Removed since the listing: a deletion. Anything else: unreadable for now.
        if (!isGone(err)) failed.set(p, reason(err));
        continue;
      }
      if (s.isDirectory()) scan(p, out, false);
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
  const name = basename(file);
  let docs: unknown[];
  if (extname(file).toLowerCase() === '.json') {
    try {
      const v = JSON.parse(text) as unknown;
      docs = Array.isArray(v) ? v : [v];
    } catch (err) {
      throw new Error(`${name}: invalid JSON: ${(err as Error).message}`);
    }
  } else {
    // One pass over the whole stream (linear; js-yaml keeps no per-document
    // copy of the text). Aliases come back as shared references, so nothing
    // is expanded until something walks them: checked below, before that.
    try {
      docs = loadAll(text, undefined, { filename: name });
    } catch (err) {
      if (!(err instanceof YAMLException)) throw err;
      throw new Error(`${name}: invalid YAML at line ${err.mark.line + 1}, column ${err.mark.column + 1}: ${err.reason}`);
    }
    // Empty and comment-only documents.
    docs = docs.filter((d) => d !== null && d !== undefined);
    const limit = text.length + ALIAS_EXPANSION_BUDGET;
    if (expandedSize(docs, limit) > limit) {
      throw new Error(`${name}: YAML aliases expand the file to more than ${limit} nodes (${text.length} bytes + ${ALIAS_EXPANSION_BUDGET} for aliases); refusing it`);
    }
  }
  const out: unknown[] = [];
  const flatten = (v: unknown, where: string): void => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${name}: ${where} is not a Kubernetes object`);
    const o = v as { kind?: unknown; items?: unknown };
    if (typeof o.kind !== 'string') throw new Error(`${name}: ${where} has no kind`);
    if (o.kind.endsWith('List') && Array.isArray(o.items)) {
      o.items.forEach((item, i) => flatten(item, `${where}, item ${i + 1}`));
      return;
    }
    out.push(v);
  };
  docs.forEach((d, i) => flatten(d, `document ${i + 1}`));
  return out;
}

/**
 * The number of nodes in `root` counted as a tree (each use of a shared
 * object counts in full), or Infinity past `limit` or on a cycle (`&a [*a]`).
 * Linear in the number of distinct objects: each one's size is computed once.
 */
function expandedSize(root: unknown, limit: number): number {
  const sizes = new Map<object, number>();
  const visiting = new Set<object>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known !== undefined) return known;
    if (visiting.has(v)) return Infinity;
    visiting.add(v);
    let n = 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      n += size(child);
      if (n > limit) break;
    }
    visiting.delete(v);
    sizes.set(v, n);
    return n;
  };
  return size(root);
}
