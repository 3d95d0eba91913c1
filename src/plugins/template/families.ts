// The metric families the template plugin exports (CoreDNS plugin/template/metrics.go),
// read from TemplateMetrics' plain counters at scrape time.

import { pluginSample, type MetricFamilies, type PluginSample } from '../../metrics/plugins.js';
import type { TemplateMetrics } from './metrics.js';

export const TEMPLATE_FAMILIES: MetricFamilies = {
  coredns_template_matches_total: { type: 'counter', help: 'Counter of template regex matches.' },
  coredns_template_template_failures_total: { type: 'counter', help: 'Counter of go template failures.' },
  coredns_template_rr_failures_total: { type: 'counter', help: 'Counter of mis-templated RRs.' },
};

export function templateSamples(t: TemplateMetrics): PluginSample[] {
  const out: PluginSample[] = [];
  for (const byServer of t.matches.values()) {
    for (const { labels, count } of byServer.values()) out.push(pluginSample('coredns_template_matches_total', { ...labels, view: '' }, count, true));
  }
  for (const [family, m] of [
    ['coredns_template_template_failures_total', t.templateFailures],
    ['coredns_template_rr_failures_total', t.rrFailures],
  ] as const) {
    for (const { labels, count } of m.values()) out.push(pluginSample(family, { ...labels, view: '' }, count, true));
  }
  return out;
}
