// The metric families the cache plugin exports (CoreDNS plugin/cache/metrics.go),
// read from the plain counters CachePlugin keeps.

import { pluginSample, type MetricFamilies, type Placement, type PluginSample } from '../../metrics/plugins.js';
import type { Labels } from '../../metrics/snapshot.js';
import type { CacheStats } from './cache.js';

export const CACHE_FAMILIES: MetricFamilies = {
  coredns_cache_entries: { type: 'gauge', help: 'The number of elements in the cache.' },
  coredns_cache_requests_total: { type: 'counter', help: 'The count of cache requests.' },
  coredns_cache_hits_total: { type: 'counter', help: 'The count of cache hits.' },
  coredns_cache_misses_total: { type: 'counter', help: 'The count of cache misses. Deprecated, derive misses from cache hits/requests counters.' },
  coredns_cache_prefetch_total: { type: 'counter', help: 'The number of times the cache has prefetched a cached item.' },
  coredns_cache_served_stale_total: { type: 'counter', help: 'The number of requests served from stale cache entries.' },
  coredns_cache_drops_total: { type: 'counter', help: 'The number responses that are not cached, because the reply is malformed.' },
  coredns_cache_evictions_total: { type: 'counter', help: 'The count of cache evictions.' },
};

export function cacheSamples(s: CacheStats, entries: { success: number; denial: number }, at: Placement): PluginSample[] {
  const base: Labels = { server: at.server, zones: at.zones, view: '' };
  const c = (family: string, labels: Labels, value: number): PluginSample => pluginSample(family, labels, value, true);
  return [
    pluginSample('coredns_cache_entries', { ...base, type: 'success' }, entries.success, false),
    pluginSample('coredns_cache_entries', { ...base, type: 'denial' }, entries.denial, false),
    c('coredns_cache_requests_total', base, s.requests),
    c('coredns_cache_hits_total', { ...base, type: 'success' }, s.hits.success),
    c('coredns_cache_hits_total', { ...base, type: 'denial' }, s.hits.denial),
    c('coredns_cache_misses_total', base, s.misses),
    c('coredns_cache_prefetch_total', base, s.prefetches),
    c('coredns_cache_served_stale_total', base, s.servedStale),
    c('coredns_cache_drops_total', base, s.drops),
    c('coredns_cache_evictions_total', { ...base, type: 'success' }, s.evictions.success),
    c('coredns_cache_evictions_total', { ...base, type: 'denial' }, s.evictions.denial),
  ];
}
