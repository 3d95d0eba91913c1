// The API source: list + watch of Services, EndpointSlices (or legacy
// Endpoints), Namespaces and Pods, each object converted to a compact record
// (objects.ts), handed to the store and dropped. No informer cache: the
// store is the only copy.
//
// Per kind, one loop:
//
//   list (paged: limit + continue)  ->  sink.replace + markSynced
//     -> watch from the list's resourceVersion (bookmarks, timeoutSeconds)
//          event           -> upsert / remove, remember its resourceVersion
//          clean end       -> watch again from the last resourceVersion
//          410 / Expired   -> list again (throttled)
//          undecodable     -> log, count, list again (throttled): the event
//                             is lost and later ones move the RV past it
//          429             -> wait what Retry-After says, then try again
//          anything else   -> backoff, then watch again from the last RV
//          silent too long -> watchdog (a few bookmark intervals) aborts it;
//                             backoff, watch again
//
// Lists, watches and the discovery probe are plain GETs with the request
// options KubeConfig produces (auth, TLS, proxy). The watch stream is split
// into lines here rather than by client-node's Watch, because that one drops
// lines it cannot parse without telling anyone.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from './client.js';
import { type Level, log as writeLog } from '../../log.js';
import { Backoff, sleep } from './backoff.js';
import { ListSplitter } from './jsonlist.js';
import {
  type Kind,
  type RecordOf,
  type ReplaceBatch,
  type StoreSink,
  endpointsToSlice,
  toNamespace,
  toPod,
  toService,
  toSlice,
} from './objects.js';
import type { ApiSourceOptions, Source } from './source.js';

type K8s = typeof import('./client.js');

/** Where the source's log lines go (default: src/log.ts, plugin=kubernetes). */
export type LogFn = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

/** Knobs with production defaults; tests shrink them. */
export interface ApiSourceTuning {
  /** `limit` of each list page. Default 500. */
  pageSize?: number;
  /** First retry delay after a failure (then doubling, with jitter). Default 200 ms. */
  backoffInitialMs?: number;
  /** Longest retry delay. Default 10 s. */
  backoffMaxMs?: number;
  /** Each watch asks for timeoutSeconds random in [min, 2*min), like client-go. Default 300. */
  minWatchTimeoutSeconds?: number;
  /**
   * How often the API server sends a BOOKMARK on a quiet watch (it does so
   * about once a minute when asked with allowWatchBookmarks). Default 60 s.
   */
  bookmarkIntervalMs?: number;
  /** Abort a watch that has been silent (no event, not even a bookmark) this long. Default: 3 bookmark intervals. */
  watchdogMs?: number;
  /** Two lists of one kind start at least this far apart (no tight 410 loop). Default 1 s. */
  relistMinIntervalMs?: number;
  /** Timeout of one list page or discovery request. Default 60 s. */
  requestTimeoutMs?: number;
}

interface Tuning {
  pageSize: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  minWatchTimeoutSeconds: number;
  watchdogMs: number;
  relistMinIntervalMs: number;
  requestTimeoutMs: number;
}

/** A non-2xx answer of the API server, with the Status reason when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    /** From a Retry-After header (429, 503): how long the server asked us to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Largest list page we accept (a page is `limit` objects, normally a few MB). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Largest single watch event (one object; the API server's own limit on an object is ~1.5 MB). */
const MAX_EVENT_BYTES = 64 * 1024 * 1024;
/** Silence of this many bookmark intervals means the watch is dead (one or two late bookmarks are not). */
const WATCHDOG_BOOKMARKS = 3;
/** A Retry-After longer than this is not believed (a broken proxy, a typo): wait this long at most. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;
/** What to check, for the failures an operator has to fix (not wait out). */
const HINTS: Array<[RegExp, string]> = [
  [/^HTTP 401\b/, 'the API server rejected our credentials: check the token or client certificate'],
  [/^HTTP 403\b/, 'not allowed: the account needs list and watch on this resource (ClusterRole system:coredns)'],
];
const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);
/** A watch that ends cleanly this soon with no event counts as a "quick end". */
const QUICK_END_MS = 1000;
/** After this many quick ends in a row, back off instead of re-watching at once. */
const MAX_QUICK_ENDS = 3;

let clientModule: Promise<K8s> | undefined;
/** The Kubernetes client costs time and memory to load: only when an API source really starts. */
function loadClient(): Promise<K8s> {
  clientModule ??= import('./client.js').catch((err: unknown) => {
    clientModule = undefined;
    throw err;
  });
  return clientModule;
}

type Obj = Record<string, unknown>;
function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' ? (v as Obj) : {};
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  const e = obj(err);
  const status = e.statusCode;
  if (typeof status === 'number') return `HTTP ${status}${str(e.message) ? ` ${str(e.message)}` : ''}`;
  const code = str(e.code);
  let msg = err instanceof Error ? err.message : String(err);
  // node-fetch: "request to <url with random timeoutSeconds> failed, reason: connect ECONNREFUSED ..."
  const m = /^request to \S+ failed, reason: (.*)$/s.exec(msg);
  if (m) msg = m[1]!;
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/**
 * Retry-After in ms: delta-seconds or an HTTP-date (RFC 9110 10.2.3);
 * undefined when absent, unparsable or zero (then our own backoff applies).
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

function retryAfterOf(err: unknown): number | undefined {
  return err instanceof ApiError ? err.retryAfterMs : undefined;
}

function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.statusCode;
  const s = obj(err).statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Where a 2xx body goes, chunk by chunk; end() gives the result. */
interface BodyReader<T> {
  write(chunk: Buffer): void;
  end(): T;
}

/** The whole body, parsed as JSON at the end. */
function jsonReader(path: string): BodyReader<unknown> {
  const chunks: Buffer[] = [];
  return {
    write: (c) => { chunks.push(c); },
    end: () => {
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw new Error(`GET ${path}: response is not JSON`);
      }
    },
  };
}

/** A list body split into items as it streams in (jsonlist.ts). */
function listReader(path: string, onItem: (item: unknown) => void): BodyReader<{ envelope: Obj; sawItems: boolean }> {
  const split = new ListSplitter(onItem);
  const bad = (err: unknown): Error => (err instanceof SyntaxError || /^(malformed JSON|not a JSON object)/.test(errorText(err))
    ? new Error(`GET ${path}: response is not a JSON list (${errorText(err)})`)
    : (err as Error));
  return {
    write: (c) => { try { split.write(c); } catch (err) { throw bad(err); } },
    end: () => { try { return split.end(); } catch (err) { throw bad(err); } },
  };
}

/** A watch body split into lines (one event each) as it streams in. */
function lineReader(onLine: (line: string) => void): BodyReader<void> {
  let rest: Buffer[] = [];
  let restBytes = 0;
  return {
    write: (c) => {
      let start = 0;
      for (let nl = c.indexOf(0x0a); nl >= 0; nl = c.indexOf(0x0a, start)) {
        const part = c.subarray(start, nl);
        start = nl + 1;
        const line = rest.length ? Buffer.concat([...rest, part]).toString('utf8') : part.toString('utf8');
        rest = [];
        restBytes = 0;
        onLine(line);
      }
      if (start < c.length) {
        restBytes += c.length - start;
        if (restBytes > MAX_EVENT_BYTES) throw new Error(`watch event larger than ${MAX_EVENT_BYTES} bytes`);
        rest.push(c.subarray(start));
      }
    },
    end: () => {
      // The API server ends every event with a newline: a tail without one is a cut-off event.
      if (restBytes > 0) onLine(Buffer.concat(rest).toString('utf8'));
      rest = [];
    },
  };
}

/** What we keep of a non-2xx body: enough for the Status message. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * GET `path` from the current cluster with KubeConfig's request options
 * (bearer token / client cert / CA / proxy agent); a 2xx body goes to
 * `reader` as it arrives. Non-2xx answers throw ApiError carrying the Status
 * reason and Retry-After. `timeoutMs` 0: no inactivity timeout (watches
 * have their watchdog); `maxBytes`: largest body accepted.
 */
async function get<T>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  signal: AbortSignal,
  timeoutMs: number,
  reader: BodyReader<T>,
  maxBytes = MAX_BODY_BYTES,
): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const agent = o.agent;
  let req: http.ClientRequest | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      req = mod.request(
        url,
        { method: 'GET', agent, auth: o.auth, headers: { ...o.headers, accept: 'application/json' }, signal },
        (res) => {
          const code = res.statusCode ?? 0;
          const ok = code >= 200 && code < 300;
          const errChunks: Buffer[] = [];
          let size = 0;
          let ended = false;
          let failed = false;
          const fail = (err: unknown): void => {
            failed = true;
            reject(err);
            req?.destroy(err instanceof Error ? err : new Error(String(err)));
          };
          res.on('data', (c: Buffer) => {
            if (failed) return;
            size += c.length;
            if (size > maxBytes) return fail(new Error(`response larger than ${maxBytes} bytes`));
            if (!ok) {
              if (size <= MAX_ERROR_BODY_BYTES) errChunks.push(c);
              return;
            }
            try {
              reader.write(c);
            } catch (err) {
              fail(err);
            }
          });
          res.on('error', reject);
          res.on('close', () => {
            if (!ended) reject(new Error('connection closed mid-response'));
          });
          res.on('end', () => {
            ended = true;
            if (failed) return;
            if (ok) {
              try {
                resolve(reader.end());
              } catch (err) {
                reject(err);
              }
              return;
            }
            const text = Buffer.concat(errChunks).toString('utf8');
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              // Not a Status: the text itself is the message.
            }
            const st = obj(body);
            const reason = str(st.reason) || http.STATUS_CODES[code] || 'Unknown';
            const msg = str(st.message) || text.slice(0, 200);
            const header = res.headers['retry-after'];
            const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
            reject(new ApiError(code, reason, `HTTP ${code} ${reason}${msg ? `: ${msg}` : ''}`, retryAfterMs));
          });
        },
      );
      const r = req;
      if (timeoutMs > 0) r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end();
    });
  } finally {
    // Free this request's socket now (a no-op once the response ended). Not
    // the agent: KubeConfig may share one agent between all our requests.
    req?.destroy();
  }
}

/** GET `path` and parse the JSON body. */
function getJson(kc: KubeConfig, path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs: number): Promise<unknown> {
  return get(kc, path, query, signal, timeoutMs, jsonReader(path));
}

/** The API side of one store kind. */
interface Resource<K extends Kind> {
  kind: K;
  /** For logs: services, endpointslices, endpoints, namespaces, pods. */
  resource: string;
  /** Collection path across all namespaces, e.g. /api/v1/services. */
  path: string;
  convert: (o: unknown) => RecordOf<K> | null;
  labelSelector: string | undefined;
  clusterScoped: boolean;
}

/** What the kind loops share. */
interface Ctx {
  kc: KubeConfig;
  sink: StoreSink;
  log: LogFn;
  tuning: Tuning;
  signal: AbortSignal;
}

type WatchEnd =
  | { end: 'clean'; events: number; ms: number }
  | { end: 'expired'; reason: string; events: number }
  | { end: 'undecodable'; sample: string; bytes: number; events: number }
  | { end: 'error'; reason: string; events: number; retryAfterMs?: number | undefined }
  | { end: 'stopped' };

/** The list+watch loop of one kind. */
class KindSync<K extends Kind> {
  state = 'starting';
  synced = false;
  rv: string | undefined;
  /** Lists after the first one (410s, restarts that needed a relist). */
  relists = 0;
  /** Watches that ended for any reason but stop(). */
  watchRestarts = 0;
  events = 0;
  /** ms since the epoch of the last watch event (bookmarks included); 0 = none yet. */
  lastEventAt = 0;
  /** Records in the last complete list. */
  listed = 0;
  /** Watch lines that were not a JSON event of a known type (each one costs a relist). */
  undecodable = 0;
  resource: Resource<K> | undefined;

  private lists = 0;
  private lastListAt = 0;
  private readonly backoff: Backoff;
  /** Relists forced by the watch (410, undecodable event) with no good event in between. */
  private relistsInARow = 0;
  private quickEnds = 0;
  private sinkErrorLogged = false;
  private lastReason = '';

  constructor(
    private readonly ctx: Ctx,
    readonly kind: K,
    private readonly resolve: () => Promise<Resource<K>>,
  ) {
    this.backoff = new Backoff(ctx.tuning.backoffInitialMs, ctx.tuning.backoffMaxMs);
  }

  describe(): string {
    return `${this.state}, synced ${this.synced ? 'yes' : 'no'}`;
  }

  async run(): Promise<void> {
    const { signal } = this.ctx;
    while (!signal.aborted) {
      let phase = 'list';
      try {
        if (!this.resource) {
          phase = 'discovery';
          this.state = 'discovery';
          this.resource = await this.resolve();
        }
        phase = 'list';
        if (this.rv === undefined) await this.list(this.resource);
        if (signal.aborted) break;
        phase = 'watch';
        await this.afterWatch(await this.watch(this.resource));
      } catch (err) {
        if (signal.aborted) break;
        await this.fail(phase, errorText(err), retryAfterOf(err));
      }
    }
    this.state = 'stopped';
  }

  /**
   * Backoff after a failure. Logged as a warning when the reason changes and
   * at the 1st, 2nd, 4th, 8th... failure in a row (so a long outage costs a
   * handful of lines per kind, not one every 10 s); the rest at debug.
   */
  private async fail(phase: string, reason: string, retryAfterMs?: number): Promise<void> {
    const backoffMs = this.backoff.next();
    // The server said when to come back (429 Too Many Requests): earlier only adds to its load.
    const ms = retryAfterMs ?? backoffMs;
    const n = this.backoff.failures;
    this.state = `backoff ${ms}ms`;
    const loud = reason !== this.lastReason || (n & (n - 1)) === 0;
    this.lastReason = reason;
    const fields: Record<string, unknown> = { kind: this.kind, reason, backoff_ms: ms, failures: n };
    if (retryAfterMs !== undefined) fields.retry_after_ms = retryAfterMs;
    const hint = HINTS.find(([re]) => re.test(reason))?.[1];
    if (hint) fields.hint = hint;
    this.ctx.log(loud ? 'warn' : 'debug', `${phase} failed, retrying`, fields);
    await sleep(ms, this.ctx.signal);
  }

  private recovered(): void {
    this.lastReason = '';
    if (this.backoff.failures > 0) {
      this.ctx.log('info', 'recovered', { kind: this.kind, failures: this.backoff.failures });
      this.backoff.reset();
    }
  }

  // --------------------------------------------------------------- list

  private async list(res: Resource<K>): Promise<void> {
    const { tuning, signal } = this.ctx;
    const wait = this.lastListAt + tuning.relistMinIntervalMs - Date.now();
    if (this.lastListAt > 0 && wait > 0) {
      this.state = `backoff ${wait}ms`;
      await sleep(wait, signal);
      if (signal.aborted) return;
    }
    this.lastListAt = Date.now();
    this.state = 'listing';
    const t0 = performance.now();
    let listed: Listed<K>;
    for (let fresh = 0; ; fresh++) {
      try {
        listed = await this.listPages(res);
        break;
      } catch (err) {
        // A continue token expired between pages (compaction): start over.
        if (err instanceof ContinueExpired && fresh < 2) {
          this.ctx.log('info', 'list continue token expired, listing again from the start', { kind: this.kind, pages: err.pages });
          continue;
        }
        throw err instanceof ContinueExpired ? err.cause : err;
      }
    }
    if (signal.aborted) return;
    const { batch, count, rv, pages } = listed;
    batch.commit();
    this.ctx.sink.markSynced(this.kind);
    this.rv = rv;
    this.synced = true;
    this.listed = count;
    if (this.lists++ > 0) this.relists++;
    this.ctx.log('info', 'list done', {
      kind: this.kind,
      resource: res.resource,
      objects: count,
      pages,
      ms: Math.round(performance.now() - t0),
      rv,
    });
    // Not while the server keeps answering our watches with 410: that streak backs off.
    if (this.relistsInARow <= 1) this.recovered();
  }

  /** A batch for one complete list: the sink's own (records go in as each page is read), or one collecting for replace(). */
  private newBatch(): ReplaceBatch<K> {
    const sink = this.ctx.sink;
    if (sink.beginReplace) return sink.beginReplace(this.kind);
    const recs: Array<RecordOf<K>> = [];
    return { add: (r) => recs.push(r), commit: () => sink.replace(this.kind, recs) };
  }

  /**
   * Reads every page of a list into a new batch (not committed). Pages are
   * converted and handed over one at a time: a page's JSON is garbage before
   * the next one is asked for, so the list costs one page plus the records.
   */
  private async listPages(res: Resource<K>): Promise<Listed<K>> {
    const { tuning, signal, kc } = this.ctx;
    const batch = this.newBatch();
    let count = 0;
    let cont = '';
    let rv = '';
    let pages = 0;
    do {
      const q: Record<string, string> = { limit: String(tuning.pageSize) };
      if (res.labelSelector) q.labelSelector = res.labelSelector;
      if (cont) q.continue = cont;
      // Each item is converted and handed to the batch as it arrives: no page is ever held whole.
      const onItem = (item: unknown): void => {
        const r = res.convert(item);
        if (r) { batch.add(r); count++; }
      };
      let page: { envelope: Obj; sawItems: boolean };
      try {
        page = await get(kc, res.path, q, signal, tuning.requestTimeoutMs, listReader(res.path, onItem));
      } catch (err) {
        if (cont && httpStatus(err) === 410) throw new ContinueExpired(pages, err);
        throw err;
      }
      if (!page.sawItems) throw new Error(`GET ${res.path}: no items in the list`);
      const meta = obj(page.envelope.metadata);
      rv = str(meta.resourceVersion);
      cont = str(meta.continue);
      pages++;
    } while (cont && !signal.aborted);
    return { batch, count, rv, pages };
  }

  // -------------------------------------------------------------- watch

  private watch(res: Resource<K>): Promise<WatchEnd> {
    const { kc, tuning, signal } = this.ctx;
    const min = tuning.minWatchTimeoutSeconds;
    const timeoutSeconds = Math.floor(min * (1 + Math.random()));
    const watchdogMs = tuning.watchdogMs;
    const query: Record<string, string> = {
      watch: 'true',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    };
    if (this.rv !== undefined) query.resourceVersion = this.rv;
    if (res.labelSelector) query.labelSelector = res.labelSelector;
    this.state = 'watching';
    this.sinkErrorLogged = false;
    const t0 = Date.now();
    return new Promise<WatchEnd>((resolve) => {
      let events = 0;
      let settled = false;
      // Ends the request when an event, the watchdog or stop() ends the watch.
      const abort = new AbortController();
      const finish = (r: WatchEnd): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        signal.removeEventListener('abort', onStop);
        abort.abort();
        resolve(r);
      };
      const onStop = (): void => finish({ end: 'stopped' });
      signal.addEventListener('abort', onStop, { once: true });
      const watchdog = setTimeout(() => finish({ end: 'error', reason: `watchdog: no event for ${watchdogMs} ms`, events }), watchdogMs);

      const onLine = (line: string): void => {
        if (settled) return;
        const text = line.trim();
        if (!text) return;
        watchdog.refresh();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON: handled below like any other event we cannot read.
        }
        const ev = obj(parsed);
        const type = ev.type;
        const object = ev.object;
        if (typeof type !== 'string' || !EVENT_TYPES.has(type) || object === null || typeof object !== 'object') {
          finish({ end: 'undecodable', sample: text.length > 120 ? `${text.slice(0, 120)}...` : text, bytes: Buffer.byteLength(text), events });
          return;
        }
        events++;
        const out = this.onEvent(res, type, object);
        if (out) finish({ ...out, events });
      };
      get(kc, res.path, query, abort.signal, 0, lineReader(onLine), Infinity).then(
        () => finish({ end: 'clean', events, ms: Date.now() - t0 }),
        (err: unknown) => {
          if (httpStatus(err) === 410) finish({ end: 'expired', reason: 'HTTP 410 on watch', events });
          else finish({ end: 'error', reason: errorText(err), events, retryAfterMs: retryAfterOf(err) });
        },
      );
    });
  }

  /** Applies one watch event; returns how the watch ends if the event ends it. */
  private onEvent(res: Resource<K>, type: string, object: unknown): { end: 'expired' | 'error'; reason: string } | undefined {
    const meta = obj(obj(object).metadata);
    const sink = this.ctx.sink;
    try {
      switch (type) {
        case 'ADDED':
        case 'MODIFIED': {
          const rec = res.convert(object);
          // Not (or no longer) something we keep, e.g. a slice without its service label.
          if (rec) sink.upsert(this.kind, rec);
          else this.removeFromSink(res, meta);
          break;
        }
        case 'DELETED':
          this.removeFromSink(res, meta);
          break;
        case 'BOOKMARK':
          break;
        case 'ERROR': {
          const st = obj(object);
          const reason = str(st.reason);
          const text = `${String(st.code ?? '?')} ${reason}: ${str(st.message)}`;
          if (st.code === 410 || reason === 'Expired' || reason === 'Gone') return { end: 'expired', reason: text };
          return { end: 'error', reason: `watch ERROR ${text}` };
        }
        default:
          return undefined;
      }
    } catch (err) {
      // A store bug: keep watching, but say so (once per watch, not per event).
      if (!this.sinkErrorLogged) {
        this.sinkErrorLogged = true;
        this.ctx.log('error', 'store rejected a watch event', { kind: this.kind, type, name: str(meta.name), error: errorText(err) });
      }
    }
    const rv = str(meta.resourceVersion);
    if (rv) this.rv = rv;
    this.events++;
    this.lastEventAt = Date.now();
    this.relistsInARow = 0;
    this.quickEnds = 0;
    this.recovered();
    return undefined;
  }

  private removeFromSink(res: Resource<K>, meta: Obj): void {
    const name = str(meta.name);
    if (!name) return;
    this.ctx.sink.remove(this.kind, res.clusterScoped ? '' : str(meta.namespace) || 'default', name);
  }

  private async afterWatch(r: WatchEnd): Promise<void> {
    if (r.end === 'stopped') return;
    this.watchRestarts++;
    switch (r.end) {
      case 'clean':
        // The server's timeoutSeconds (or a proxy) ended it: carry on from the last RV.
        if (r.events > 0 || r.ms >= QUICK_END_MS) {
          this.ctx.log('debug', 'watch ended, watching again', { kind: this.kind, events: r.events, ms: r.ms });
          return;
        }
        if (++this.quickEnds < MAX_QUICK_ENDS) return;
        this.quickEnds = 0;
        return this.fail('watch', `watch closed ${MAX_QUICK_ENDS} times in a row with no event`);
      case 'expired': {
        this.rv = undefined;
        this.ctx.log('info', 'watch history expired, relisting', { kind: this.kind, reason: r.reason });
        // A second 410 right after a fresh list: the server keeps refusing, back off.
        if (this.relistsInARow++ > 0) await this.fail('watch', `410 again right after a list: ${r.reason}`);
        return;
      }
      case 'undecodable': {
        // The change it carried is lost, and the events after it move our
        // resourceVersion past it: only a fresh list brings it back.
        this.undecodable++;
        this.rv = undefined;
        this.ctx.log('warn', 'undecodable watch event, relisting', { kind: this.kind, line: r.sample, bytes: r.bytes });
        if (this.relistsInARow++ > 0) await this.fail('watch', 'undecodable watch event again right after a list');
        return;
      }
      case 'error':
        return this.fail('watch', r.reason, r.retryAfterMs);
    }
  }
}

/** A complete list read from the API, not yet applied. */
interface Listed<K extends Kind> {
  batch: ReplaceBatch<K>;
  count: number;
  rv: string;
  pages: number;
}

class ContinueExpired extends Error {
  constructor(
    readonly pages: number,
    override readonly cause: unknown,
  ) {
    super('continue token expired');
  }
}

/**
 * KubeConfig.loadFromFile, with its failures made one line naming the file:
 * fs errors carry the path only sometimes (not EISDIR), YAML errors never
 * and span several lines with a code excerpt.
 */
function loadKubeconfig(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const code = str(obj(err).code);
    const msg = err instanceof Error ? err.message : String(err);
    const what = /^E[A-Z]+$/.test(code)
      ? `cannot read it: ${msg.replace(/^E[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')} (${code})`
      : `not a valid kubeconfig (${msg.split('\n')[0]!.trim()})`;
    throw new Error(`kubeconfig ${file}: ${what}`);
  }
}

/** Cluster access from the Corefile options: kubeconfig, endpoint (+tls), or in-cluster. */
function buildConfig(k8s: K8s, o: ApiSourceOptions): { kc: KubeConfig; via: string } {
  const kc = new k8s.KubeConfig();
  let via: string;
  if (o.kubeconfig) {
    loadKubeconfig(kc, o.kubeconfig.path);
    const context = o.kubeconfig.context;
    if (context) {
      if (!kc.getContextObject(context)) throw new Error(`kubeconfig ${o.kubeconfig.path}: no context "${context}"`);
      kc.setCurrentContext(context);
    }
    via = `kubeconfig ${o.kubeconfig.path}${context ? ` context ${context}` : ''}`;
  } else if (o.endpoint) {
    kc.loadFromClusterAndUser({ name: 'endpoint', server: o.endpoint, skipTLSVerify: false }, { name: 'clusterdns' });
    via = 'endpoint';
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset): set endpoint or kubeconfig');
    }
    kc.loadFromCluster();
    via = 'in-cluster';
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${via}: no current cluster`);
  const server = o.endpoint ?? cluster.server;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`API server address is not a URL: ${server}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`API server address must be http:// or https://: ${server}`);
  if (o.tls) {
    for (const f of [o.tls.cert, o.tls.key, o.tls.ca]) fs.accessSync(f, fs.constants.R_OK);
  }
  // Rebuild when something overrides the loaded config, and always make sure
  // there is a user: client-node skips the TLS options entirely without one.
  const user = kc.getCurrentUser();
  const plainHttp = url.protocol === 'http:';
  if (o.endpoint || o.tls || !user || (plainHttp && !cluster.skipTLSVerify)) {
    const c = {
      ...cluster,
      server,
      // client-node refuses http:// unless this is set; there is no TLS to verify anyway.
      skipTLSVerify: plainHttp ? true : cluster.skipTLSVerify,
      ...(o.tls ? { caFile: o.tls.ca, caData: undefined } : {}),
    };
    const u = {
      ...(user ?? { name: 'clusterdns' }),
      ...(o.tls ? { certFile: o.tls.cert, keyFile: o.tls.key, certData: undefined, keyData: undefined } : {}),
    };
    kc.loadFromOptions({
      clusters: [c],
      users: [u],
      contexts: [{ name: 'clusterdns', cluster: c.name, user: u.name }],
      currentContext: 'clusterdns',
    });
  }
  return { kc, via };
}

/**
 * Syncs the cluster's Services, EndpointSlices (or Endpoints), Namespaces and
 * Pods into a StoreSink with one list+watch loop per kind.
 */
export class ApiSource implements Source {
  private readonly abort = new AbortController();
  private readonly log: LogFn;
  private readonly tuning: Tuning;
  private syncs: Array<KindSync<Kind>> = [];
  private running: Promise<void> | undefined;
  private bootState = 'not started';
  /** Which API serves endpoints: decided by one discovery probe. */
  private endpointsApi: 'endpointslices' | 'endpoints' | undefined;
  private probe: Promise<boolean> | undefined;
  /** The API server URL once configured. */
  server = '';

  constructor(
    private readonly opts: ApiSourceOptions,
    log?: LogFn,
    tuning: ApiSourceTuning = {},
  ) {
    this.log = log ?? ((level, msg, fields) => writeLog(level, 'kubernetes', msg, fields));
    this.tuning = {
      pageSize: tuning.pageSize ?? 500,
      backoffInitialMs: tuning.backoffInitialMs ?? 200,
      backoffMaxMs: tuning.backoffMaxMs ?? 10_000,
      minWatchTimeoutSeconds: tuning.minWatchTimeoutSeconds ?? 300,
      watchdogMs: tuning.watchdogMs ?? WATCHDOG_BOOKMARKS * (tuning.bookmarkIntervalMs ?? 60_000),
      relistMinIntervalMs: tuning.relistMinIntervalMs ?? 1000,
      requestTimeoutMs: tuning.requestTimeoutMs ?? 60_000,
    };
  }

  // Counters for metrics, summed over kinds.
  get relists(): number {
    return this.syncs.reduce((n, s) => n + s.relists, 0);
  }
  get watchRestarts(): number {
    return this.syncs.reduce((n, s) => n + s.watchRestarts, 0);
  }
  get events(): number {
    return this.syncs.reduce((n, s) => n + s.events, 0);
  }
  /** ms since the epoch of the last watch event of any kind; 0 = none yet. */
  get lastEventAt(): number {
    return this.syncs.reduce((n, s) => Math.max(n, s.lastEventAt), 0);
  }
  /** Per-kind counters. */
  counters(): Record<string, { relists: number; watchRestarts: number; events: number; undecodable: number; lastEventAt: number; listed: number; synced: boolean }> {
    const out: ReturnType<ApiSource['counters']> = {};
    for (const s of this.syncs) {
      out[s.kind] = {
        relists: s.relists,
        watchRestarts: s.watchRestarts,
        events: s.events,
        undecodable: s.undecodable,
        lastEventAt: s.lastEventAt,
        listed: s.listed,
        synced: s.synced,
      };
    }
    return out;
  }

  start(sink: StoreSink): void {
    if (this.running) throw new Error('ApiSource already started');
    this.running = this.run(sink).catch((err: unknown) => {
      this.log('error', 'API source failed', { error: errorText(err) });
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  describe(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.syncs.length === 0) out.api = this.bootState;
    for (const s of this.syncs) out[s.kind] = s.describe();
    if (this.opts.watchEndpoints) {
      out.endpointsApi =
        this.endpointsApi === 'endpointslices' ? 'discovery.k8s.io/v1 EndpointSlices' : this.endpointsApi === 'endpoints' ? 'v1 Endpoints (fallback)' : 'probing';
    }
    return out;
  }

  private async run(sink: StoreSink): Promise<void> {
    const signal = this.abort.signal;
    const backoff = new Backoff(this.tuning.backoffInitialMs, this.tuning.backoffMaxMs);
    let ctx: Ctx | undefined;
    let lastError = '';
    while (!signal.aborted && !ctx) {
      try {
        this.bootState = 'loading client';
        const k8s = await loadClient();
        const { kc, via } = buildConfig(k8s, this.opts);
        this.server = kc.getCurrentCluster()?.server ?? '';
        this.log('info', 'connecting to the API server', { server: this.server, via });
        ctx = { kc, sink, log: this.log, tuning: this.tuning, signal };
      } catch (err) {
        // Usually permanent (bad file), sometimes not (a token not mounted yet): keep trying.
        const ms = backoff.next();
        const error = errorText(err);
        this.bootState = `error (${error}), retry in ${ms}ms`;
        // Loud when it changes and at the 1st, 2nd, 4th... try: a file missing for an hour is a handful of lines.
        const n = backoff.failures;
        const loud = error !== lastError || (n & (n - 1)) === 0;
        lastError = error;
        this.log(loud ? 'error' : 'debug', 'cannot configure API access', { error, backoff_ms: ms, failures: n });
        await sleep(ms, signal);
      }
    }
    if (!ctx) return;
    const c = ctx;
    const sel = this.opts.labelSelector || undefined;
    const fixed = <K extends Kind>(r: Resource<K>) => () => Promise.resolve(r);
    const syncs: Array<KindSync<Kind>> = [
      new KindSync(c, 'services', fixed({ kind: 'services', resource: 'services', path: '/api/v1/services', convert: toService, labelSelector: sel, clusterScoped: false })),
    ];
    if (this.opts.watchEndpoints) {
      syncs.push(new KindSync(c, 'endpointslices', () => this.endpointsResource(c, sel)) as KindSync<Kind>);
    }
    syncs.push(
      new KindSync(c, 'namespaces', fixed({ kind: 'namespaces', resource: 'namespaces', path: '/api/v1/namespaces', convert: toNamespace, labelSelector: undefined, clusterScoped: true })) as KindSync<Kind>,
    );
    if (this.opts.watchPods) {
      syncs.push(new KindSync(c, 'pods', fixed({ kind: 'pods', resource: 'pods', path: '/api/v1/pods', convert: toPod, labelSelector: undefined, clusterScoped: false })) as KindSync<Kind>);
    }
    this.syncs = syncs;
    this.bootState = 'running';
    await Promise.all(syncs.map((s) => s.run()));
  }

  /** EndpointSlices if the cluster serves discovery.k8s.io/v1, else legacy Endpoints (probed once). */
  private async endpointsResource(ctx: Ctx, sel: string | undefined): Promise<Resource<'endpointslices'>> {
    this.probe ??= this.probeEndpointSlices(ctx).catch((err: unknown) => {
      this.probe = undefined; // not decided: ask again on the next try
      throw err;
    });
    const slices = await this.probe;
    this.endpointsApi = slices ? 'endpointslices' : 'endpoints';
    return slices
      ? { kind: 'endpointslices', resource: 'endpointslices', path: '/apis/discovery.k8s.io/v1/endpointslices', convert: toSlice, labelSelector: sel, clusterScoped: false }
      : { kind: 'endpointslices', resource: 'endpoints', path: '/api/v1/endpoints', convert: endpointsToSlice, labelSelector: sel, clusterScoped: false };
  }

  private async probeEndpointSlices(ctx: Ctx): Promise<boolean> {
    let served: boolean;
    try {
      const body = await getJson(ctx.kc, '/apis/discovery.k8s.io/v1', {}, ctx.signal, ctx.tuning.requestTimeoutMs);
      const resources = obj(body).resources;
      served = Array.isArray(resources) && resources.some((r) => obj(r).name === 'endpointslices');
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
      served = false;
    }
    this.log('info', served ? 'using EndpointSlices (discovery.k8s.io/v1)' : 'EndpointSlices not served, falling back to v1 Endpoints');
    return served;
  }
}
