// coredns_kubernetes_dns_programming_duration_seconds, kept as plain
// numbers: the time from an EndpointSlice's (or Endpoints')
// endpoints.kubernetes.io/last-change-trigger-time to the moment the store
// has applied the change (from then on answers carry it), per service kind.
// The kubernetes DNS programming latency SLI, measured as CoreDNS does it:
// on every applied add, update (lists included) and delete of an annotated
// slice whose service is known; the annotation is written by the API
// server's clock, so clock drift shows up here.

/** CoreDNS's buckets: prometheus.ExponentialBuckets(0.001, 2, 20), 1 ms to ~9 min. */
export const PROGRAMMING_BUCKETS: readonly number[] = Array.from({ length: 20 }, (_, i) => 0.001 * 2 ** i);

/** The service_kind label. CoreDNS declares headless_without_selector but never records it (such slices carry no trigger time). */
export type ServiceKind = 'cluster_ip' | 'headless_with_selector' | 'headless_without_selector';

/** A cumulative histogram: counts[i] = observations <= bounds[i]. */
export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    this.bounds.forEach((b, i) => {
      if (v <= b) this.counts[i] = (this.counts[i] ?? 0) + 1;
    });
  }
}

export class ProgrammingLatency {
  /** service_kind -> histogram (a kind appears with its first observation, as in a Prometheus vector). */
  readonly histograms = new Map<ServiceKind, Histogram>();

  /** One change applied at `now` (ms) that the endpoints controller triggered at `triggeredAt` (ms). */
  record(kind: ServiceKind, triggeredAt: number, now = Date.now()): void {
    let h = this.histograms.get(kind);
    if (h === undefined) {
      h = new Histogram(PROGRAMMING_BUCKETS);
      this.histograms.set(kind, h);
    }
    // A trigger time ahead of our clock (drift) counts as 0, as Go's time.Since would go negative and land in the first bucket.
    h.observe(Math.max(0, now - triggeredAt) / 1000);
  }
}
