// Cluster access from the Corefile options (kubeconfig, endpoint + tls, or
// in-cluster), built into a KubeConfig the API source's requests use.

import fs from 'node:fs';
import type { KubeConfig } from './client.js';
import { obj, str } from './api-http.js';
import type { ApiSourceOptions } from './source.js';

export type K8s = typeof import('./client.js');

/**
 * KubeConfig.loadFromFile, with its failures made one line naming the file:
 * fs errors carry the path only sometimes (not EISDIR), YAML errors never
 * and span several lines with a code excerpt.
 */
function loadKubeconfig(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const code = str(obj(err).code);
    const msg = err instanceof Error ? err.message : String(err);
    const what = /^E[A-Z]+$/.test(code)
      ? `cannot read it: ${msg.replace(/^E[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')} (${code})`
      : `not a valid kubeconfig (${(msg.split('\n')[0] ?? '').trim()})`;
    throw new Error(`kubeconfig ${file}: ${what}`);
  }
}

/** Cluster access from the Corefile options: kubeconfig, endpoint (+tls), or in-cluster. */
export function buildConfig(k8s: K8s, o: ApiSourceOptions): { kc: KubeConfig; via: string } {
  const kc = new k8s.KubeConfig();
  let via: string;
  if (o.kubeconfig) {
    loadKubeconfig(kc, o.kubeconfig.path);
    const context = o.kubeconfig.context;
    if (context) {
      if (!kc.getContextObject(context)) throw new Error(`kubeconfig ${o.kubeconfig.path}: no context "${context}"`);
      kc.setCurrentContext(context);
    }
    via = `kubeconfig ${o.kubeconfig.path}${context ? ` context ${context}` : ''}`;
  } else if (o.endpoint) {
    kc.loadFromClusterAndUser({ name: 'endpoint', server: o.endpoint, skipTLSVerify: false }, { name: 'clusterdns' });
    via = 'endpoint';
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset): set endpoint or kubeconfig');
    }
    kc.loadFromCluster();
    via = 'in-cluster';
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${via}: no current cluster`);
  const server = o.endpoint ?? cluster.server;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`API server address is not a URL: ${server}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`API server address must be http:// or https://: ${server}`);
  if (o.tls) {
    for (const f of [o.tls.cert, o.tls.key, o.tls.ca]) fs.accessSync(f, fs.constants.R_OK);
  }
  // Rebuild when something overrides the loaded config, and always make sure
  // there is a user: client-node skips the TLS options entirely without one.
  const user = kc.getCurrentUser();
  const plainHttp = url.protocol === 'http:';
  if (o.endpoint || o.tls || !user || (plainHttp && !cluster.skipTLSVerify)) {
    const c = {
      ...cluster,
      server,
      // client-node refuses http:// unless this is set; there is no TLS to verify anyway.
      skipTLSVerify: plainHttp ? true : cluster.skipTLSVerify,
      ...(o.tls ? { caFile: o.tls.ca, caData: undefined } : {}),
    };
    const u = {
      ...(user ?? { name: 'clusterdns' }),
      ...(o.tls ? { certFile: o.tls.cert, keyFile: o.tls.key, certData: undefined, keyData: undefined } : {}),
    };
    kc.loadFromOptions({
      clusters: [c],
      users: [u],
      contexts: [{ name: 'clusterdns', cluster: c.name, user: u.name }],
      currentContext: 'clusterdns',
    });
  }
  return { kc, via };
}
