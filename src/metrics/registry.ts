// The process's metrics: one registry holding CoreDNS's DNS metrics
// (computed from dns.ts's counters), the families plugins declare and report
// (plugins.ts), build info, panics, reload failures and the process/Node.js
// metrics. One instance lives in Services, so it outlives reloads: counters
// never go back to zero when the Corefile changes.

import type { Block } from '../server/build.js';
import { DnsMetrics, mergeSamples, zoneLabel } from './dns.js';
import { CONTENT_TYPE, FamilyRegistry, renderFamilies, type FamilySnapshot } from './exposition.js';
import { PluginCollector, type MetricFamilies } from './plugins.js';
import { processFamilies } from './process.js';
import type { Sample } from './snapshot.js';
import { packageVersion, revision } from '../version.js';

/** A counter the process bumps itself (not computed from elsewhere at scrape time). */
export class Count {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class Metrics {
  readonly registry = new FamilyRegistry();
  readonly dns = new DnsMetrics();
  readonly reloadFailed = new Count();
  private readonly plugins: PluginCollector;
  /** Plugin families' samples, read once at the start of each scrape. */
  private families = new Map<string, Sample[]>();
  private processMetrics = false;

  /** `pluginFamilies`: what the plugin definitions declare (registered up front, empty until a plugin reports). */
  constructor(private readonly blocks: () => readonly Block[], pluginFamilies: MetricFamilies = {}) {
    this.plugins = new PluginCollector(blocks, (b) => ({ server: serverLabels(b)[0] ?? '', zones: b.zones.map(zoneLabel).join(',') }));
    const dns = this.dns;
    const add = (name: string, help: string, type: FamilySnapshot['type'], read: () => Sample[], aggregator: FamilySnapshot['aggregator'] = 'sum'): void =>
      this.registry.register({ name, help, type, aggregator, read });
    add('coredns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.', 'counter', () => dns.requestsTotal());
    add('coredns_dns_do_requests_total', 'Counter of DNS requests with DO bit set per zone.', 'counter', () => dns.doRequestsTotal());
    add('coredns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took per zone.', 'histogram', () => dns.requestDuration('coredns_dns_request_duration_seconds'));
    add('coredns_dns_request_size_bytes', 'Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.', 'histogram', () => dns.sizes('coredns_dns_request_size_bytes', 'request'));
    add('coredns_dns_response_size_bytes', 'Size of the returned response in bytes.', 'histogram', () => dns.sizes('coredns_dns_response_size_bytes', 'response'));
    add('coredns_dns_responses_total', 'Counter of response status codes.', 'counter', () => dns.responsesTotal());
    add('coredns_panics_total', 'A metrics that counts the number of panics.', 'counter', () => [{ labels: {}, value: dns.panics }]);
    add('coredns_plugin_enabled', 'A metric that indicates whether a plugin is enabled on per server and zone basis.', 'gauge', () => this.pluginEnabled(), 'first');
    this.registerFamilies(pluginFamilies);
    const build = { version: packageVersion(), revision: revision(), goversion: process.version };
    add('coredns_build_info', "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.", 'gauge', () => [{ labels: build, value: 1 }], 'first');
    add('coredns_reload_failed_total', 'Counter of the number of failed reload attempts.', 'counter', () => [{ labels: {}, value: this.reloadFailed.value }]);
  }

  /**
   * Adds the plugin families not registered yet (a plugin definition that
   * loads after start). A name registered again with the same help, type
   * and aggregator is skipped; with a different one it throws.
   */
  registerFamilies(families: MetricFamilies): void {
    for (const [name, spec] of Object.entries(families)) {
      this.registry.register({ name, help: spec.help, type: spec.type, aggregator: spec.aggregator ?? 'sum', read: () => this.families.get(name) ?? [] });
    }
  }

  /** Adds the process_* and nodejs_* metrics (once; only processes that export metrics pay for them). */
  enableProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    for (const def of processFamilies()) this.registry.register(def);
  }

  /** Every family with its samples now: the plugins are walked once for all their families. */
  collect(): FamilySnapshot[] {
    this.families = this.plugins.collect();
    return this.registry.collect();
  }

  /** The exposition text for a scrape. */
  render(): string {
    return renderFamilies(this.collect());
  }

  get contentType(): string {
    return CONTENT_TYPE;
  }

  private pluginEnabled(): Sample[] {
    const out: Sample[] = [];
    for (const b of this.blocks()) {
      const names = [...new Set(b.plugins.filter((p) => p.serve || p.observe).map((p) => p.name))];
      for (const server of serverLabels(b)) {
        for (const zone of b.zones) {
          for (const name of names) out.push({ labels: { server, zone: zoneLabel(zone), view: '', name }, value: 1 });
        }
      }
    }
    return mergeSamples(out).map((s) => ({ ...s, value: 1 }));
  }
}

/** CoreDNS's `server` label of a block's listeners: dns://[ADDR]:PORT, ADDR empty without `bind`. */
export function serverLabels(b: Block): string[] {
  const addrs = b.bind.length > 0 ? b.bind : [''];
  const out = new Set<string>();
  for (const k of b.keys) {
    for (const a of addrs) out.add(`dns://${a.includes(':') ? `[${a}]` : a}:${k.port ?? 53}`);
  }
  return [...out];
}
