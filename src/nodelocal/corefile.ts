// node-cache's Corefile template: the NodeLocal ConfigMap is stored with
// runtime placeholders that node-cache fills at start and whenever its
// inputs change (the ConfigMap itself, the kube-dns ConfigMap). The result
// is written to -conf and served from there, as node-cache does.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConvertError, parseKubeDnsData, type KubeDnsConfig } from '../convert-kubedns.js';

export const UPSTREAM_SERVERS = '__PILLAR__UPSTREAM__SERVERS__';
export const CLUSTER_DNS = '__PILLAR__CLUSTER__DNS__';
export const LOCAL_DNS = '__PILLAR__LOCAL__DNS__';
export const DNS_SERVER = '__PILLAR__DNS__SERVER__';
export const DEFAULT_KUBEDNS_CM = '/etc/kube-dns';

// node-cache swaps exactly this text for a UDP forward when kube-dns's
// ConfigMap names upstream nameservers (custom upstreams get UDP).
const UPSTREAM_TCP_BLOCK = `
    forward . ${UPSTREAM_SERVERS} {
            force_tcp
    }
`;
const UPSTREAM_UDP_BLOCK = `
    forward . ${UPSTREAM_SERVERS}
`;

export interface TemplateInputs {
  base: string;
  localIps: readonly string[];
  dnsPort: number;
  /** The upstream Service's IP; null when its environment variable is unset or not an IP. */
  clusterDnsIp: string | null;
  kubeDns: KubeDnsConfig | null;
}

export class TemplateError extends Error {}

/** The Corefile node-cache would write for these inputs. */
export function renderCorefile(inp: TemplateInputs): string {
  let text = inp.base;
  const ups = inp.kubeDns?.upstreamNameservers ?? [];
  if (ups.length === 0) {
    // The forward plugin reads the node's nameservers from resolv.conf itself.
    text = text.split(UPSTREAM_SERVERS).join('/etc/resolv.conf');
  } else {
    const servers = ups.join(' ');
    text = text.split(UPSTREAM_TCP_BLOCK).join(UPSTREAM_UDP_BLOCK.split(UPSTREAM_SERVERS).join(servers));
    text = text.split(UPSTREAM_SERVERS).join(servers);
  }
  if (text.includes(CLUSTER_DNS)) {
    if (inp.clusterDnsIp === null) throw new TemplateError(`the Corefile uses ${CLUSTER_DNS} but the upstream Service's IP is unknown`);
    text = text.split(CLUSTER_DNS).join(inp.clusterDnsIp);
  }
  const local = inp.localIps.join(' ');
  text = text.split(LOCAL_DNS).join(local);
  // Anything listening on the kube-dns IP was already named by LOCAL_DNS (IPVS mode leaves it out).
  text = text.split(DNS_SERVER).join('');
  // Go ranges over a map in random order; sorted, a rewrite happens only on a real change.
  const stubs = [...(inp.kubeDns?.stubDomains ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [zone, servers] of stubs) {
    text += `\n${zone}:${inp.dnsPort} {\n    errors\n    cache 30\n    bind ${local}\n    forward . ${servers.join(' ')}\n}\n`;
  }
  return text;
}

/** The upstream Service's IP from `<NAME>_SERVICE_HOST`, as node-cache reads it. */
export function clusterDnsIpFrom(env: NodeJS.ProcessEnv, varName: string): string | null {
  const v = env[varName]?.trim();
  if (!v) return null;
  // net.ParseIP accepts no brackets or zones either.
  return isIP(v) !== 0 && !v.includes('%') ? v : null;
}

/**
 * The kube-dns ConfigMap mounted as a directory (one file per key, as
 * kubelet projects it). Files starting with ".." are kubelet's bookkeeping.
 */
export function readKubeDnsDir(dir: string): KubeDnsConfig {
  const data: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name.startsWith('..')) continue;
    if (name !== 'stubDomains' && name !== 'upstreamNameservers') continue;
    data[name] = readFileSync(join(dir, name), 'utf8');
  }
  try {
    return parseKubeDnsData(data);
  } catch (err) {
    if (err instanceof ConvertError) throw new TemplateError(`kube-dns ConfigMap in ${dir}: ${err.message}`);
    throw err;
  }
}

/** -kubednscm, else node-cache's default directory if it exists, else none. */
export function kubeDnsDir(flag: string): string | null {
  if (flag !== '') return flag;
  return existsSync(DEFAULT_KUBEDNS_CM) ? DEFAULT_KUBEDNS_CM : null;
}
