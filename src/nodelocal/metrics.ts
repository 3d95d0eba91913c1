// node-cache's own metric, coredns_nodecache_setup_errors_total, served on
// -metrics-listen-address (default 0.0.0.0:9353) apart from the Corefile's
// prometheus endpoint, as node-cache does.

import http from 'node:http';
import { log } from '../log.js';

export type SetupErrorType = 'iptables' | 'iptables_lock' | 'interface_add' | 'interface_check' | 'configmap';
const TYPES: readonly SetupErrorType[] = ['iptables', 'iptables_lock', 'interface_add', 'interface_check', 'configmap'];

export class SetupErrors {
  private readonly counts = new Map<SetupErrorType, number>(TYPES.map((t) => [t, 0]));

  inc(type: SetupErrorType): void {
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
  }

  get(type: SetupErrorType): number {
    return this.counts.get(type) ?? 0;
  }

  exposition(): string {
    let out = '# HELP coredns_nodecache_setup_errors_total The number of errors during periodic network setup for node-cache\n'
      + '# TYPE coredns_nodecache_setup_errors_total counter\n';
    for (const [t, n] of this.counts) out += `coredns_nodecache_setup_errors_total{errortype="${t}"} ${n}\n`;
    return out;
  }
}

/** "host:port", "[v6]:port" or ":port" -> listen arguments; null if malformed. */
export function parseListenAddress(addr: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[3]) > 65535) return null;
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

/** Serves /metrics; a failure to listen is logged (as node-cache) and the cache runs on. */
export async function serveSetupErrors(addr: string, errors: SetupErrors): Promise<http.Server | null> {
  const where = parseListenAddress(addr);
  if (!where) {
    log('error', 'node-local', 'cannot serve setup metrics: not host:port', { address: addr });
    return null;
  }
  const server = http.createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') { res.writeHead(404).end('not found\n'); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(errors.exposition());
  });
  return new Promise((resolve) => {
    server.once('error', (err) => {
      log('error', 'node-local', 'cannot serve setup metrics', { address: addr, err });
      resolve(null);
    });
    server.listen(where.port, where.host || undefined, () => resolve(server));
  });
}
