// The acl plugin's metrics (CoreDNS plugin/acl/metrics.go): queries blocked,
// filtered and dropped per server and zone, allowed per server.

import { pluginSample, type MetricFamilies, type PluginSample } from '../../metrics/plugins.js';
import type { AclCounts } from './acl.js';

export const ACL_FAMILIES: MetricFamilies = {
  coredns_acl_blocked_requests_total: { type: 'counter', help: 'Counter of DNS requests being blocked.' },
  coredns_acl_filtered_requests_total: { type: 'counter', help: 'Counter of DNS requests being filtered.' },
  coredns_acl_allowed_requests_total: { type: 'counter', help: 'Counter of DNS requests being allowed.' },
  coredns_acl_dropped_requests_total: { type: 'counter', help: 'Counter of DNS requests being dropped.' },
};

export function aclSamples(c: AclCounts): PluginSample[] {
  const out: PluginSample[] = [];
  // Keys are "server\tzone" (allowed: server alone), as acl.ts counts them.
  const byZone = (family: string, m: ReadonlyMap<string, number>): void => {
    for (const [key, n] of m) {
      const [server = '', zone = ''] = key.split('\t');
      out.push(pluginSample(family, { server, zone, view: '' }, n, true));
    }
  };
  byZone('coredns_acl_blocked_requests_total', c.blocked);
  byZone('coredns_acl_filtered_requests_total', c.filtered);
  byZone('coredns_acl_dropped_requests_total', c.dropped);
  for (const [server, n] of c.allowed) out.push(pluginSample('coredns_acl_allowed_requests_total', { server, view: '' }, n, true));
  return out;
}
