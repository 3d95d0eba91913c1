// The metric family the autopath plugin exports (CoreDNS plugin/autopath/metrics.go).

import { pluginSample, type MetricFamilies, type Placement, type PluginSample } from '../../metrics/plugins.js';

export const AUTOPATH_FAMILIES: MetricFamilies = {
  coredns_autopath_success_total: { type: 'counter', help: 'Counter of requests that did autopath.' },
};

export function autopathSamples(successes: number, at: Placement): PluginSample[] {
  return [pluginSample('coredns_autopath_success_total', { server: at.server }, successes, true)];
}
