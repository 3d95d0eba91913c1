// The dns64 plugin's metric (CoreDNS plugin/dns64/metrics.go).

import { pluginSample, type MetricFamilies, type PluginSample } from '../../metrics/plugins.js';

export const DNS64_FAMILIES: MetricFamilies = {
  coredns_dns64_requests_translated_total: { type: 'counter', help: 'Counter of DNS requests translated by dns64.' },
};

export function dns64Samples(translated: ReadonlyMap<string, number>): PluginSample[] {
  return [...translated].map(([server, n]) => pluginSample('coredns_dns64_requests_translated_total', { server }, n, true));
}
