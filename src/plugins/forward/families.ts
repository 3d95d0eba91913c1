// The metric families the forward plugin exports (CoreDNS plugin/forward/metrics.go
// and plugin/pkg/proxy/metrics.go), read from ForwardMetrics' plain counters.

import { rcodeName } from '../../dns/constants.js';
import { histogramPluginSamples, pluginSample, type MetricFamilies, type PluginSample } from '../../metrics/plugins.js';
import type { Labels } from '../../metrics/snapshot.js';
import type { ForwardMetrics } from './metrics.js';

export const FORWARD_FAMILIES: MetricFamilies = {
  coredns_forward_requests_total: { type: 'counter', help: 'Counter of requests made per upstream.' },
  coredns_forward_responses_total: { type: 'counter', help: 'Counter of responses received per upstream.' },
  coredns_forward_request_duration_seconds: { type: 'histogram', help: 'Histogram of the time each request took.' },
  coredns_forward_healthcheck_failures_total: { type: 'counter', help: 'Counter of the number of failed healthchecks.' },
  coredns_forward_healthcheck_broken_total: { type: 'counter', help: 'Counter of the number of complete failures of the healthchecks.' },
  coredns_forward_max_concurrent_rejects_total: { type: 'counter', help: 'Counter of the number of queries rejected because the concurrent queries were at maximum.' },
  clusterdns_forward_loops_total: { type: 'counter', help: 'Queries answered SERVFAIL because they came back to this server through the upstream (a forwarding loop), or passed too many forwarders.' },
  coredns_proxy_request_duration_seconds: { type: 'histogram', help: 'Histogram of the time each request took.' },
  coredns_proxy_healthcheck_failures_total: { type: 'counter', help: 'Counter of the number of failed healthchecks.' },
  coredns_proxy_conn_cache_hits_total: { type: 'counter', help: 'Counter of connection cache hits per upstream and protocol.' },
  coredns_proxy_conn_cache_misses_total: { type: 'counter', help: 'Counter of connection cache misses per upstream and protocol.' },
};

export function forwardSamples(f: ForwardMetrics): PluginSample[] {
  const out: PluginSample[] = [];
  const c = (family: string, labels: Labels, value: number): void => { out.push(pluginSample(family, labels, value, true)); };
  c('coredns_forward_healthcheck_broken_total', {}, f.healthcheckBroken);
  c('coredns_forward_max_concurrent_rejects_total', {}, f.maxConcurrentRejects);
  for (const [to, u] of f.upstreams) {
    c('coredns_forward_requests_total', { to }, u.requests);
    for (const [rcode, n] of u.responses) c('coredns_forward_responses_total', { to, rcode: rcodeName(rcode) }, n);
    c('coredns_forward_healthcheck_failures_total', { to }, u.healthcheckFailures);
    c('clusterdns_forward_loops_total', { to }, u.loops);
    c('coredns_proxy_healthcheck_failures_total', { proxy_name: 'forward', to }, u.healthcheckFailures);
    c('coredns_proxy_conn_cache_hits_total', { proxy_name: 'forward', to, proto: 'tcp' }, u.connCacheHits);
    c('coredns_proxy_conn_cache_misses_total', { proxy_name: 'forward', to, proto: 'tcp' }, u.connCacheMisses);
    for (const [rcode, h] of u.durations) {
      const rc = rcodeName(rcode);
      out.push(...histogramPluginSamples('coredns_forward_request_duration_seconds', { to, rcode: rc }, h));
      out.push(...histogramPluginSamples('coredns_proxy_request_duration_seconds', { proxy_name: 'forward', to, rcode: rc }, h));
    }
  }
  return out;
}
