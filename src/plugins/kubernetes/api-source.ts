// The API source: list + watch of Services, EndpointSlices (or legacy
// Endpoints), Namespaces and Pods, each object converted to a compact record
// (objects.ts), handed to the store and dropped. No informer cache: the
// store is the only copy. One loop per kind (kind-sync.ts) over plain GETs
// (api-http.ts) with the cluster access of api-config.ts.

import { log as writeLog } from '../../log.js';
import { type K8s, buildConfig } from './api-config.js';
import { errorText, getJson, httpStatus, obj } from './api-http.js';
import { Backoff, sleep } from './backoff.js';
import { type Ctx, KindSync, type LogFn, type Resource, type Tuning } from './kind-sync.js';
import { type Kind, type StoreSink, endpointsToSlice, toNamespace, toPod, toService, toSlice } from './objects.js';
import type { ApiSourceOptions, Source } from './source.js';

export { ApiError, parseRetryAfter } from './api-http.js';
export type { LogFn } from './kind-sync.js';

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

/** Silence of this many bookmark intervals means the watch is dead (one or two late bookmarks are not). */
const WATCHDOG_BOOKMARKS = 3;

let clientModule: Promise<K8s> | undefined;
/** The Kubernetes client costs time and memory to load: only when an API source really starts. */
function loadClient(): Promise<K8s> {
  clientModule ??= import('./client.js').catch((err: unknown) => {
    clientModule = undefined;
    throw err;
  });
  return clientModule;
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
