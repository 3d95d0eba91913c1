// The list+watch loop of one kind:
//
//   list (paged: limit + continue)  ->  sink batch, commit, markSynced
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
// The watch stream is split into lines here rather than by client-node's
// Watch, because that one drops lines it cannot parse without telling anyone.

import type { KubeConfig } from './client.js';
import type { Level } from '../../log.js';
import { type Obj, errorText, get, httpStatus, lineReader, listReader, obj, retryAfterOf, str } from './api-http.js';
import { Backoff, sleep } from './backoff.js';
import { type Kind, type RecordOf, type ReplaceBatch, type StoreSink, triggerTimeOf } from './objects.js';

/** Where the source's log lines go (default: src/log.ts, plugin=kubernetes). */
export type LogFn = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

/** The tuning with every default filled in (api-source.ts). */
export interface Tuning {
  pageSize: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  minWatchTimeoutSeconds: number;
  watchdogMs: number;
  relistMinIntervalMs: number;
  requestTimeoutMs: number;
}

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


/** The API side of one store kind. */
export interface Resource<K extends Kind> {
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
export interface Ctx {
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
export class KindSync<K extends Kind> {
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
          // A deleted slice's last trigger time still times a change (CoreDNS records deletes too).
          this.removeFromSink(res, meta, this.kind === 'endpointslices' ? triggerTimeOf(object) : undefined);
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

  private removeFromSink(res: Resource<K>, meta: Obj, triggerTime?: number): void {
    const name = str(meta.name);
    if (!name) return;
    this.ctx.sink.remove(this.kind, res.clusterScoped ? '' : str(meta.namespace) || 'default', name, triggerTime);
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
