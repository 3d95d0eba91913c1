// Process-wide services kept in SetupContext.shared. The map outlives
// reloads (a reload builds the new blocks with the same map), so what lives
// here — the HTTP side servers, the metrics registry — survives them too.

import type { DnsServer } from '../server/server.js';
import { HttpEndpoints } from './http.js';
import { Metrics } from './registry.js';

/** Key under which createServer() stores the DnsServer. */
export const SERVER_KEY = 'server';
const HTTP_KEY = 'http';
const METRICS_KEY = 'metrics';

export function serverOf(shared: Map<string, unknown>): DnsServer | undefined {
  return shared.get(SERVER_KEY) as DnsServer | undefined;
}

export function httpOf(shared: Map<string, unknown>): HttpEndpoints {
  let h = shared.get(HTTP_KEY) as HttpEndpoints | undefined;
  if (!h) {
    h = new HttpEndpoints();
    shared.set(HTTP_KEY, h);
  }
  return h;
}

export function metricsOf(shared: Map<string, unknown>): Metrics {
  let m = shared.get(METRICS_KEY) as Metrics | undefined;
  if (!m) {
    m = new Metrics(() => serverOf(shared)?.currentBlocks() ?? []);
    shared.set(METRICS_KEY, m);
  }
  return m;
}
