// Process-wide services every block's plugins may use: the HTTP side
// servers, the metrics registry, the DNS server and its reload controller.
// One Services object lives as long as createServer's server; reloads build
// their blocks with the same object, so what lives here outlives them.

import { HttpEndpoints } from './metrics/http.js';
import type { MetricFamilies } from './metrics/plugins.js';
import { Metrics } from './metrics/registry.js';
import type { ReloadController } from './plugins/reload/controller.js';
import type { DnsServer } from './server/server.js';

export class Services {
  /** Set by createServer once the server exists (plugins are built before it). */
  server: DnsServer | null = null;
  /** Set by createServer: the controller SIGUSR1 and the `reload` plugin use. */
  reload: ReloadController | null = null;
  private httpEndpoints: HttpEndpoints | null = null;
  private registry: Metrics | null = null;

  /** `families`: every plugin family the registry exports (from the plugin definitions). */
  constructor(private readonly families: MetricFamilies = {}) {}

  /** Made on first use: a process without health/ready/prometheus opens no HTTP server. */
  get http(): HttpEndpoints {
    this.httpEndpoints ??= new HttpEndpoints();
    return this.httpEndpoints;
  }

  /** Made on first use; reads the blocks serving now, so replaced plugins drop out. */
  get metrics(): Metrics {
    this.registry ??= new Metrics(() => this.server?.currentBlocks() ?? [], this.families);
    return this.registry;
  }
}
