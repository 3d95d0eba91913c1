import type { Reply } from '../../dns/reply.js';
import { reply, type HttpEndpoints } from '../../metrics/http.js';
import { exportToPrimary } from '../../metrics/cluster.js';
import { DROPPED_ZONE, type ZoneSeries } from '../../metrics/dns.js';
import type { Metrics } from '../../metrics/registry.js';
import type { Plugin, Request } from '../../server/plugin.js';
import type { PrometheusOptions } from './setup.js';

/**
 * Counts every query its block answers (observe: a few array increments,
 * no label strings) and serves GET /metrics from the process's registry.
 */
export class PrometheusPlugin implements Plugin {
  readonly name = 'prometheus';
  // The (server, zone) of the previous query and its series: a block mostly
  // sees one listener and one zone, so this skips even the Map lookups.
  private lastServer = '';
  private lastZone = '';
  private last: ZoneSeries | null = null;

  constructor(readonly opts: PrometheusOptions, private readonly metrics: Metrics, private readonly http: HttpEndpoints) {}

  observe(req: Request, r: Reply, wire: Buffer, ms: number): void {
    if (req.internal) return;
    let s = this.last;
    if (s === null || req.zone !== this.lastZone || req.server !== this.lastServer) {
      s = this.metrics.dns.series(req.server, req.zone);
      this.last = s;
      this.lastZone = req.zone;
      this.lastServer = req.server;
    }
    s.record(req, r, wire, ms);
  }

  /** Refused before routing: CoreDNS reports these under zone "dropped". */
  observeDropped(req: Request, r: Reply, wire: Buffer, ms: number): void {
    this.metrics.dns.series(req.server, DROPPED_ZONE).record(req, r, wire, ms);
  }

  async start(): Promise<void> {
    const { host, port } = this.opts;
    this.metrics.enableProcessMetrics();
    // A `--workers` process: the primary serves /metrics, summed over all workers.
    if (exportToPrimary(() => this.metrics.collect())) return;
    try {
      await this.http.serve(host, port, '/metrics', this, (_req, res) => {
        reply(res, 200, this.metrics.render(), this.metrics.contentType);
      });
    } catch (err) {
      throw new Error(`prometheus: cannot listen on ${host || '*'}:${port}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await this.http.release(this.opts.host, this.opts.port, '/metrics', this);
  }
}
