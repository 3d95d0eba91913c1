// Metrics other plugins keep as plain public numbers (cache.stats,
// forward.metrics, template.metrics, kubernetes.store / its watch source), turned into
// Prometheus samples at scrape time, so those plugins' query paths pay
// nothing for them. Names and labels follow CoreDNS's cache, forward/proxy
// and kubernetes plugins; clusterdns_kubernetes_* are ours.

import { rcodeName } from '../dns/constants.js';
import { ForwardMetrics } from '../plugins/forward/metrics.js';
import { TemplateMetrics } from '../plugins/template/metrics.js';
import type { Plugin } from '../server/plugin.js';
import type { Aggregator } from 'prom-client';
import { histogramSamples, type Labels, type MetricKind, type Sample } from './snapshot.js';

/** `aggregator`: how values of several `--workers` processes combine (default sum). */
export interface FamilySpec { help: string; type: MetricKind; aggregator?: Aggregator }

/** Every family a plugin reader may produce (registered up front, empty until a plugin reports). */
export const PLUGIN_FAMILIES: Record<string, FamilySpec> = {
  coredns_cache_entries: { type: 'gauge', help: 'The number of elements in the cache.' },
  coredns_cache_requests_total: { type: 'counter', help: 'The count of cache requests.' },
  coredns_cache_hits_total: { type: 'counter', help: 'The count of cache hits.' },
  coredns_cache_misses_total: { type: 'counter', help: 'The count of cache misses. Deprecated, derive misses from cache hits/requests counters.' },
  coredns_cache_prefetch_total: { type: 'counter', help: 'The number of times the cache has prefetched a cached item.' },
  coredns_cache_served_stale_total: { type: 'counter', help: 'The number of requests served from stale cache entries.' },
  coredns_cache_drops_total: { type: 'counter', help: 'The number responses that are not cached, because the reply is malformed.' },
  coredns_cache_evictions_total: { type: 'counter', help: 'The count of cache evictions.' },

  coredns_forward_requests_total: { type: 'counter', help: 'Counter of requests made per upstream.' },
  coredns_forward_responses_total: { type: 'counter', help: 'Counter of responses received per upstream.' },
  coredns_forward_request_duration_seconds: { type: 'histogram', help: 'Histogram of the time each request took.' },
  coredns_forward_healthcheck_failures_total: { type: 'counter', help: 'Counter of the number of failed healthchecks.' },
  coredns_forward_healthcheck_broken_total: { type: 'counter', help: 'Counter of the number of complete failures of the healthchecks.' },
  coredns_forward_max_concurrent_rejects_total: { type: 'counter', help: 'Counter of the number of queries rejected because the concurrent queries were at maximum.' },
  coredns_proxy_request_duration_seconds: { type: 'histogram', help: 'Histogram of the time each request took.' },
  coredns_proxy_healthcheck_failures_total: { type: 'counter', help: 'Counter of the number of failed healthchecks.' },
  coredns_proxy_conn_cache_hits_total: { type: 'counter', help: 'Counter of connection cache hits per upstream and protocol.' },
  coredns_proxy_conn_cache_misses_total: { type: 'counter', help: 'Counter of connection cache misses per upstream and protocol.' },

  coredns_template_matches_total: { type: 'counter', help: 'Counter of template regex matches.' },
  coredns_template_template_failures_total: { type: 'counter', help: 'Counter of go template failures.' },
  coredns_template_rr_failures_total: { type: 'counter', help: 'Counter of mis-templated RRs.' },

  coredns_kubernetes_dns_programming_duration_seconds: { type: 'histogram', help: 'Histogram of the time (in seconds) it took to program a dns instance.' },

  clusterdns_kubernetes_synced: { type: 'gauge', aggregator: 'min', help: '1 once the kind has completed its first full list, else 0.' },
  clusterdns_kubernetes_last_event_age_seconds: { type: 'gauge', aggregator: 'max', help: 'Seconds since the last watch event (bookmarks included) of the kind; absent before the first.' },
  clusterdns_kubernetes_objects: { type: 'gauge', aggregator: 'max', help: 'Objects of the kind held in the store.' },
  clusterdns_kubernetes_relists_total: { type: 'counter', help: 'Full lists after the first one (watch history expired, restarts).' },
  clusterdns_kubernetes_watch_restarts_total: { type: 'counter', help: 'Watches that ended for any reason other than shutdown.' },
  clusterdns_kubernetes_watch_events_total: { type: 'counter', help: 'Watch events received.' },
  clusterdns_kubernetes_invalid_fields_total: { type: 'counter', help: 'Object fields dropped on arrival because they cannot go into a DNS answer (bad name, ExternalName, hostname, port).' },
  clusterdns_kubernetes_watch_undecodable_total: { type: 'counter', help: 'Watch lines that were not a JSON event of a known type (each one forces a relist).' },
};

export interface PluginSample {
  family: string;
  sample: Sample;
  /** Counters and histograms: carried over when the plugin instance goes away on reload. */
  monotonic: boolean;
}

/** Where a plugin instance sits, for its labels. */
export interface Placement {
  server: string;
  /** Block zones, fully qualified and comma-joined. */
  zones: string;
}

/**
 * The object holding a plugin's numbers, if it keeps any we export. The
 * same object is what the collector tracks across reloads.
 */
export function statsOf(p: Plugin): object | null {
  const q = p as unknown as Record<string, unknown>;
  if (p.name === 'forward' && q.metrics instanceof ForwardMetrics) return q.metrics;
  if (p.name === 'template' && q.metrics instanceof TemplateMetrics) return q.metrics;
  if (p.name === 'cache' && isCacheStats(q.stats) && typeof q.entries === 'function') return p;
  if (p.name === 'kubernetes' && isObject(q.store)) return p;
  return null;
}

export function readPlugin(name: string, stats: object, at: Placement): PluginSample[] {
  if (stats instanceof ForwardMetrics) return readForward(stats);
  if (stats instanceof TemplateMetrics) return readTemplate(stats);
  if (name === 'cache') return readCache(stats as CacheLike, at);
  if (name === 'kubernetes') return readKubernetes(stats as KubernetesLike, at);
  return [];
}

// ---- cache ---------------------------------------------------------------

interface CacheLike {
  stats: {
    requests: number; hits: { success: number; denial: number }; misses: number;
    prefetches: number; servedStale: number; drops: number; evictions: { success: number; denial: number };
  };
  entries(): { success: number; denial: number };
}

function isCacheStats(v: unknown): boolean {
  return isObject(v) && typeof (v as { requests?: unknown }).requests === 'number';
}

function readCache(c: CacheLike, at: Placement): PluginSample[] {
  const base: Labels = { server: at.server, zones: at.zones, view: '' };
  const s = c.stats;
  const e = c.entries();
  const m = (family: string, labels: Labels, value: number, monotonic = true): PluginSample => ({ family, sample: { labels, value }, monotonic });
  return [
    m('coredns_cache_entries', { ...base, type: 'success' }, e.success, false),
    m('coredns_cache_entries', { ...base, type: 'denial' }, e.denial, false),
    m('coredns_cache_requests_total', base, s.requests),
    m('coredns_cache_hits_total', { ...base, type: 'success' }, s.hits.success),
    m('coredns_cache_hits_total', { ...base, type: 'denial' }, s.hits.denial),
    m('coredns_cache_misses_total', base, s.misses),
    m('coredns_cache_prefetch_total', base, s.prefetches),
    m('coredns_cache_served_stale_total', base, s.servedStale),
    m('coredns_cache_drops_total', base, s.drops),
    m('coredns_cache_evictions_total', { ...base, type: 'success' }, s.evictions.success),
    m('coredns_cache_evictions_total', { ...base, type: 'denial' }, s.evictions.denial),
  ];
}

// ---- forward -------------------------------------------------------------

function readForward(f: ForwardMetrics): PluginSample[] {
  const out: PluginSample[] = [];
  const c = (family: string, labels: Labels, value: number): void => { out.push({ family, sample: { labels, value }, monotonic: true }); };
  c('coredns_forward_healthcheck_broken_total', {}, f.healthcheckBroken);
  c('coredns_forward_max_concurrent_rejects_total', {}, f.maxConcurrentRejects);
  for (const [to, u] of f.upstreams) {
    c('coredns_forward_requests_total', { to }, u.requests);
    for (const [rcode, n] of u.responses) c('coredns_forward_responses_total', { to, rcode: rcodeText(rcode) }, n);
    c('coredns_forward_healthcheck_failures_total', { to }, u.healthcheckFailures);
    c('coredns_proxy_healthcheck_failures_total', { proxy_name: 'forward', to }, u.healthcheckFailures);
    c('coredns_proxy_conn_cache_hits_total', { proxy_name: 'forward', to, proto: 'tcp' }, u.connCacheHits);
    c('coredns_proxy_conn_cache_misses_total', { proxy_name: 'forward', to, proto: 'tcp' }, u.connCacheMisses);
    for (const [rcode, h] of u.durations) {
      const rc = rcodeText(rcode);
      for (const [family, labels] of [
        ['coredns_forward_request_duration_seconds', { to, rcode: rc }],
        ['coredns_proxy_request_duration_seconds', { proxy_name: 'forward', to, rcode: rc }],
      ] as const) {
        for (const sample of histogramSamples(family, labels, h.bounds, h.counts, h.sum, h.count, true)) {
          out.push({ family, sample, monotonic: true });
        }
      }
    }
  }
  return out;
}

// ---- template ------------------------------------------------------------

function readTemplate(t: TemplateMetrics): PluginSample[] {
  const out: PluginSample[] = [];
  for (const { labels, count } of [...t.matches.values()].flatMap((m) => [...m.values()])) {
    out.push({ family: 'coredns_template_matches_total', sample: { labels: { ...labels, view: '' }, value: count }, monotonic: true });
  }
  for (const [family, m] of [
    ['coredns_template_template_failures_total', t.templateFailures],
    ['coredns_template_rr_failures_total', t.rrFailures],
  ] as const) {
    for (const { labels, count } of m.values()) out.push({ family, sample: { labels: { ...labels, view: '' }, value: count }, monotonic: true });
  }
  return out;
}

// ---- kubernetes ----------------------------------------------------------

interface KindCounters { relists: number; watchRestarts: number; events: number; undecodable?: number; lastEventAt: number; synced: boolean }
/** A cumulative histogram as the forward plugin keeps them (counts[i] = observations <= bounds[i]). */
interface HistogramLike { bounds: readonly number[]; counts: readonly number[]; sum: number; count: number }

interface KubernetesLike {
  /**
   * Hook for coredns_kubernetes_dns_programming_duration_seconds{service_kind}:
   * if the plugin keeps these (time from an EndpointSlice's
   * endpoints.kubernetes.io/last-change-trigger-time to the store applying
   * it), per service kind ("cluster_ip", "headless_with_selector", ...).
   */
  programmingDurations?: Map<string, HistogramLike>;
  store: { counts?(): Record<string, number>; syncedKindsList?(): string[]; invalidCounts?(): Array<{ kind: string; field: string; count: number }> };
  /** The API watch source (private in the plugin; read duck-typed, may be a manifest source). */
  source?: { counters?(): Record<string, KindCounters> } | null;
}

function readKubernetes(k: KubernetesLike, at: Placement): PluginSample[] {
  const out: PluginSample[] = [];
  const add = (family: string, kind: string, value: number, monotonic: boolean): void => {
    out.push({ family, sample: { labels: { zones: at.zones, kind }, value }, monotonic });
  };
  const counts = typeof k.store.counts === 'function' ? k.store.counts() : {};
  const synced = new Set(typeof k.store.syncedKindsList === 'function' ? k.store.syncedKindsList() : []);
  const perKind = k.source && typeof k.source.counters === 'function' ? k.source.counters() : {};
  if (k.programmingDurations instanceof Map) {
    const family = 'coredns_kubernetes_dns_programming_duration_seconds';
    for (const [kind, h] of k.programmingDurations) {
      for (const sample of histogramSamples(family, { service_kind: kind }, h.bounds, h.counts, h.sum, h.count, true)) {
        out.push({ family, sample, monotonic: true });
      }
    }
  }
  if (typeof k.store.invalidCounts === 'function') {
    for (const { kind, field, count } of k.store.invalidCounts()) {
      out.push({ family: 'clusterdns_kubernetes_invalid_fields_total', sample: { labels: { zones: at.zones, kind, field }, value: count }, monotonic: true });
    }
  }
  const kinds = new Set([...Object.keys(perKind), ...synced]);
  for (const kind of kinds) {
    add('clusterdns_kubernetes_synced', kind, synced.has(kind) || perKind[kind]?.synced ? 1 : 0, false);
    if (counts[kind] !== undefined) add('clusterdns_kubernetes_objects', kind, counts[kind]!, false);
    const c = perKind[kind];
    if (!c) continue;
    add('clusterdns_kubernetes_relists_total', kind, c.relists, true);
    add('clusterdns_kubernetes_watch_restarts_total', kind, c.watchRestarts, true);
    add('clusterdns_kubernetes_watch_events_total', kind, c.events, true);
    if (c.undecodable !== undefined) add('clusterdns_kubernetes_watch_undecodable_total', kind, c.undecodable, true);
    if (c.lastEventAt > 0) add('clusterdns_kubernetes_last_event_age_seconds', kind, Math.max(0, (Date.now() - c.lastEventAt) / 1000), false);
  }
  return out;
}

// ---- helpers -------------------------------------------------------------

const rcodeText = rcodeName;

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}
