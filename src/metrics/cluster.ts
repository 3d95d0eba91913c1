// `--workers N`: every worker counts its own queries. A scrape of a port
// the workers share would land on one worker at random and see counters
// jump; instead the primary serves /metrics and sums the workers' registries
// (prom-client's AggregatorRegistry, over the cluster IPC channel), and the
// workers' `prometheus` plugins only hand their registry over.

import cluster from 'node:cluster';
import client from 'prom-client';
import { log } from '../log.js';
import type { DnsServer } from '../server/server.js';
import { HttpEndpoints, reply } from './http.js';

let answering = false;

/** In a worker: answer the primary's metric requests from this registry. */
export function exportToPrimary(registry: client.Registry): boolean {
  if (!cluster.isWorker) return false;
  client.AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what makes prom-client answer the primary's requests in a worker.
  if (!answering) { new client.AggregatorRegistry(); answering = true; }
  return true;
}

/**
 * In the primary: serve /metrics on every address a `prometheus` directive
 * of the (not started) server names, aggregated over the workers. Returns a
 * function that closes them.
 */
export async function serveClusterMetrics(server: DnsServer): Promise<() => Promise<void>> {
  const http = new HttpEndpoints();
  const aggregator = new client.AggregatorRegistry();
  const owner = {};
  const addresses = new Map<string, { host: string; port: number }>();
  for (const b of server.currentBlocks()) {
    for (const p of b.plugins) {
      const opts = (p as { opts?: { host?: unknown; port?: unknown } }).opts;
      if (p.name === 'prometheus' && typeof opts?.host === 'string' && typeof opts.port === 'number') {
        addresses.set(`${opts.host}|${opts.port}`, { host: opts.host, port: opts.port });
      }
    }
  }
  const opened: Array<{ host: string; port: number }> = [];
  for (const a of addresses.values()) {
    try {
      await http.serve(a.host, a.port, '/metrics', owner, async (_req, res) => {
        reply(res, 200, await aggregator.clusterMetrics(), aggregator.contentType);
      });
      opened.push(a);
    } catch (err) {
      // e.g. health or ready on the same address: the workers hold that port.
      log('error', 'prometheus', 'cannot serve the workers\' metrics', { address: `${a.host || '*'}:${a.port}`, err });
    }
  }
  return async () => { for (const a of opened) await http.release(a.host, a.port, '/metrics', owner); };
}
