// The metric families the kubernetes plugin exports: CoreDNS's
// coredns_kubernetes_dns_programming_duration_seconds and our
// clusterdns_kubernetes_* sync health, read from the store and the source.

import { histogramPluginSamples, pluginSample, type HistogramLike, type MetricFamilies, type Placement, type PluginSample } from '../../metrics/plugins.js';
import type { KindCounters } from './source.js';

export const KUBERNETES_FAMILIES: MetricFamilies = {
  coredns_kubernetes_dns_programming_duration_seconds: { type: 'histogram', help: 'Histogram of the time (in seconds) it took to program a dns instance.' },
  clusterdns_kubernetes_snapshot_age_seconds: { type: 'gauge', aggregator: 'max', help: 'Age of the snapshot answers come from while the API is not synced; absent when answers come from live data.' },
  clusterdns_kubernetes_synced: { type: 'gauge', aggregator: 'min', help: '1 once the kind has completed its first full list, else 0.' },
  clusterdns_kubernetes_last_event_age_seconds: { type: 'gauge', aggregator: 'max', help: 'Seconds since the last watch event (bookmarks included) of the kind; absent before the first.' },
  clusterdns_kubernetes_objects: { type: 'gauge', aggregator: 'max', help: 'Objects of the kind held in the store.' },
  clusterdns_kubernetes_relists_total: { type: 'counter', help: 'Full lists after the first one (watch history expired, restarts).' },
  clusterdns_kubernetes_watch_restarts_total: { type: 'counter', help: 'Watches that ended for any reason other than shutdown.' },
  clusterdns_kubernetes_watch_events_total: { type: 'counter', help: 'Watch events received.' },
  clusterdns_kubernetes_invalid_fields_total: { type: 'counter', help: 'Object fields dropped on arrival because they cannot go into a DNS answer (bad name, ExternalName, hostname, port).' },
  clusterdns_kubernetes_watch_undecodable_total: { type: 'counter', help: 'Watch lines that were not a JSON event of a known type (each one forces a relist).' },
};

/** What the plugin hands over at a scrape. */
export interface KubernetesMetricsView {
  /** Objects held, per kind. */
  counts: Readonly<Record<string, number>>;
  /** Kinds whose first full list completed. */
  synced: readonly string[];
  invalid: ReadonlyArray<{ kind: string; field: string; count: number }>;
  /** Per kind, from the API watch source (empty for manifests, and once stopped). */
  perKind: Readonly<Record<string, KindCounters>>;
  /**
   * coredns_kubernetes_dns_programming_duration_seconds{service_kind}: time
   * from an EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time
   * to the store applying it, per service kind ("cluster_ip",
   * "headless_with_selector", ...). Absent while nothing measures it.
   */
  programmingDurations?: ReadonlyMap<string, HistogramLike>;
  /** Seconds since the snapshot answers come from was written; null while answers come from live data. */
  snapshotAge?: number | null;
}

export function kubernetesSamples(k: KubernetesMetricsView, at: Placement): PluginSample[] {
  const out: PluginSample[] = [];
  const add = (family: string, kind: string, value: number, monotonic: boolean): void => {
    out.push(pluginSample(family, { zones: at.zones, kind }, value, monotonic));
  };
  for (const [kind, h] of k.programmingDurations ?? []) {
    out.push(...histogramPluginSamples('coredns_kubernetes_dns_programming_duration_seconds', { service_kind: kind }, h));
  }
  if (k.snapshotAge != null) out.push(pluginSample('clusterdns_kubernetes_snapshot_age_seconds', { zones: at.zones }, k.snapshotAge, false));
  for (const { kind, field, count } of k.invalid) {
    out.push(pluginSample('clusterdns_kubernetes_invalid_fields_total', { zones: at.zones, kind, field }, count, true));
  }
  const synced = new Set(k.synced);
  const kinds = new Set([...Object.keys(k.perKind), ...synced]);
  for (const kind of kinds) {
    const c = k.perKind[kind];
    add('clusterdns_kubernetes_synced', kind, synced.has(kind) || c?.synced ? 1 : 0, false);
    const objects = k.counts[kind];
    if (objects !== undefined) add('clusterdns_kubernetes_objects', kind, objects, false);
    if (!c) continue;
    add('clusterdns_kubernetes_relists_total', kind, c.relists, true);
    add('clusterdns_kubernetes_watch_restarts_total', kind, c.watchRestarts, true);
    add('clusterdns_kubernetes_watch_events_total', kind, c.events, true);
    if (c.undecodable !== undefined) add('clusterdns_kubernetes_watch_undecodable_total', kind, c.undecodable, true);
    if (c.lastEventAt > 0) add('clusterdns_kubernetes_last_event_age_seconds', kind, Math.max(0, (Date.now() - c.lastEventAt) / 1000), false);
  }
  return out;
}
