// The process's metrics: one prom-client Registry holding CoreDNS's DNS
// metrics (computed from dns.ts's counters), the families plugins declare
// and report (plugins.ts), build info, panics, reload failures and the
// process/Node.js default metrics. One instance lives in Services, so it
// outlives reloads: counters never go back to zero when the Corefile changes.

import client from 'prom-client';
import type { Block } from '../server/build.js';
import { DnsMetrics, mergeSamples, zoneLabel } from './dns.js';
import { PluginCollector, type MetricFamilies } from './plugins.js';
import { SnapshotMetric, type Sample } from './snapshot.js';
import { packageVersion, revision } from '../version.js';

export class Metrics {
  readonly registry = new client.Registry();
  readonly dns = new DnsMetrics();
  readonly reloadFailed: client.Counter;
  private readonly plugins: PluginCollector;
  private families = new Map<string, Sample[]>();
  private processMetrics = false;
  /** Plugin families were read during this turn of the event loop. */
  private fresh = false;

  /** `pluginFamilies`: what the plugin definitions declare (registered up front, empty until a plugin reports). */
  constructor(private readonly blocks: () => readonly Block[], pluginFamilies: MetricFamilies = {}) {
    this.plugins = new PluginCollector(blocks, (b) => ({ server: serverLabels(b)[0] ?? '', zones: b.zones.map(zoneLabel).join(',') }));
    const r = this.registry;
    const dns = this.dns;
    new SnapshotMetric('coredns_dns_requests_total', 'Counter of DNS requests made per zone, protocol and family.', 'counter', () => dns.requestsTotal()).register(r);
    new SnapshotMetric('coredns_dns_do_requests_total', 'Counter of DNS requests with DO bit set per zone.', 'counter', () => dns.doRequestsTotal()).register(r);
    new SnapshotMetric('coredns_dns_request_duration_seconds', 'Histogram of the time (in seconds) each request took per zone.', 'histogram', () => dns.requestDuration('coredns_dns_request_duration_seconds')).register(r);
    new SnapshotMetric('coredns_dns_request_size_bytes', 'Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.', 'histogram', () => dns.sizes('coredns_dns_request_size_bytes', 'request')).register(r);
    new SnapshotMetric('coredns_dns_response_size_bytes', 'Size of the returned response in bytes.', 'histogram', () => dns.sizes('coredns_dns_response_size_bytes', 'response')).register(r);
    new SnapshotMetric('coredns_dns_responses_total', 'Counter of response status codes.', 'counter', () => dns.responsesTotal()).register(r);
    new SnapshotMetric('coredns_panics_total', 'A metrics that counts the number of panics.', 'counter', () => [{ labels: {}, value: dns.panics }]).register(r);
    new SnapshotMetric('coredns_plugin_enabled', 'A metric that indicates whether a plugin is enabled on per server and zone basis.', 'gauge', () => this.pluginEnabled(), 'first').register(r);
    for (const [name, spec] of Object.entries(pluginFamilies)) {
      new SnapshotMetric(name, spec.help, spec.type, () => this.family(name), spec.aggregator).register(r);
    }
    const build = new client.Gauge({
      name: 'coredns_build_info',
      help: "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
      labelNames: ['version', 'revision', 'goversion'],
      registers: [r],
      aggregator: 'first',
    });
    build.set({ version: packageVersion(), revision: revision(), goversion: process.version }, 1);
    this.reloadFailed = new client.Counter({
      name: 'coredns_reload_failed_total',
      help: 'Counter of the number of failed reload attempts.',
      registers: [r],
    });
  }

  /** Adds the process_* and nodejs_* metrics (once; only processes that export metrics pay for them). */
  enableProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    client.collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text for a scrape. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * One plugin family's samples. The registry calls every metric's get()
   * in one synchronous sweep per scrape: the plugins are walked once for
   * all families.
   */
  private family(name: string): Sample[] {
    if (!this.fresh) {
      this.families = this.plugins.collect();
      this.fresh = true;
      setImmediate(() => { this.fresh = false; });
    }
    return this.families.get(name) ?? [];
  }

  get contentType(): string {
    return this.registry.contentType;
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
