// Counters the forward plugin keeps, in plain numbers, for a metrics
// exporter to read (names follow CoreDNS's coredns_forward_* and
// coredns_proxy_* metrics; see README.md).

/** CoreDNS's duration buckets: 0.25 ms doubling up to ~8 s (seconds). */
export const DURATION_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

/** A cumulative-bucket histogram as Prometheus exports it. */
export class Histogram {
  /** counts[i] = observations <= bounds[i]; observations above the last bound only show in `count`. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = DURATION_BUCKETS) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (const [i, bound] of this.bounds.entries()) if (v <= bound) this.counts[i] = (this.counts[i] ?? 0) + 1;
  }
}

/** Everything counted for one upstream address (the `to` label). */
export interface UpstreamCounters {
  /** Attempts sent to this upstream (coredns_forward_requests_total{to}). */
  requests: number;
  /** Replies by rcode (coredns_forward_responses_total{to,rcode}). */
  responses: Map<number, number>;
  /** Round-trip time of answered attempts, seconds, by rcode (coredns_proxy_request_duration_seconds). */
  durations: Map<number, Histogram>;
  /** Failed health checks (coredns_proxy_healthcheck_failures_total{to}). */
  healthcheckFailures: number;
  /** Attempts that got no usable reply (timeout, refused, connection error, malformed reply). */
  failures: number;
  /** Replies that passed the poisoning checks but did not decode (answered SERVFAIL, never cached). */
  malformed: number;
  /** Pooled TCP connection reused / dialled (coredns_proxy_conn_cache_{hits,misses}_total{proto="tcp"}). */
  connCacheHits: number;
  connCacheMisses: number;
  /**
   * Queries answered SERVFAIL because they came back to us through this
   * upstream, or would go to it past the hop limit (clusterdns_forward_loops_total{to}).
   */
  loops: number;
}

export class ForwardMetrics {
  /** Per upstream, keyed by "IP:port" ("[v6]:port"). */
  readonly upstreams = new Map<string, UpstreamCounters>();
  /** Queries this plugin took on (any route). */
  requests = 0;
  /** Times every upstream was down and one was picked at random (coredns_forward_healthcheck_broken_total). */
  healthcheckBroken = 0;
  /** Queries refused by max_concurrent (coredns_forward_max_concurrent_rejects_total). */
  maxConcurrentRejects = 0;
  /** Queries that got SERVFAIL because no upstream answered in time. */
  noAnswer = 0;
  /**
   * Replies thrown away by the poisoning checks, by reason: wrong ID, wrong
   * question, wrong source address/port, not a DNS response.
   */
  readonly dropped = { id: 0, question: 0, source: 0, malformed: 0 };

  upstream(to: string): UpstreamCounters {
    let c = this.upstreams.get(to);
    if (!c) {
      c = { requests: 0, responses: new Map(), durations: new Map(), healthcheckFailures: 0, failures: 0, malformed: 0, connCacheHits: 0, connCacheMisses: 0, loops: 0 };
      this.upstreams.set(to, c);
    }
    return c;
  }

  /** Total replies dropped by the poisoning checks. */
  get droppedTotal(): number {
    const d = this.dropped;
    return d.id + d.question + d.source + d.malformed;
  }

  response(to: string, rcode: number, seconds: number): void {
    const c = this.upstream(to);
    c.responses.set(rcode, (c.responses.get(rcode) ?? 0) + 1);
    let h = c.durations.get(rcode);
    if (!h) {
      h = new Histogram();
      c.durations.set(rcode, h);
    }
    h.observe(seconds);
  }
}
