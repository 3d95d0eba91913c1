// The local plugin's metric (CoreDNS plugin/local/metrics.go): queries for
// `localhost.<domain>`, which point at a resolver misconfiguration.

import { pluginSample, type MetricFamilies, type PluginSample } from '../../metrics/plugins.js';

export const LOCAL_FAMILIES: MetricFamilies = {
  coredns_local_localhost_requests_total: { type: 'counter', help: 'Counter of localhost.<domain> requests.' },
};

export function localSamples(localhostRequests: number): PluginSample[] {
  return [pluginSample('coredns_local_localhost_requests_total', {}, localhostRequests, true)];
}
