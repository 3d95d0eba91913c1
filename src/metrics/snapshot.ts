// A metric whose samples are computed at scrape time from plain numbers the
// hot path keeps (see dns.ts) or that other plugins expose. prom-client's
// own Counter/Histogram hash their label set on every inc()/observe(), which
// costs more per query than everything else the `prometheus` plugin does;
// here the query path only bumps array slots and the label objects are
// built when someone scrapes.

import type { Aggregator, Registry } from 'prom-client';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
  /** For histograms: NAME_bucket, NAME_sum, NAME_count. */
  metricName?: string;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/**
 * What prom-client's Registry does with a metric at run time
 * (lib/registry.js): keys it by its `name`, calls get() on a scrape and reset()
 * on resetMetrics(). Its .d.ts lists only its own classes, whose get() even
 * claims a numeric `type` that the formatter would print as a number; a
 * method's parameter is checked in both directions, so the real Registry
 * is assignable to this narrower, truthful view and needs no cast.
 */
interface ScrapeRegistry {
  registerMetric(metric: { get(): Promise<unknown>; reset(): void }): void;
}

/**
 * Registered in a prom-client Registry like any metric: the registry calls
 * get() on every scrape and formats what it returns.
 */
export class SnapshotMetric {
  readonly labelNames: string[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricKind,
    private readonly read: () => Sample[],
    /** How `--workers` processes' values combine (prom-client's AggregatorRegistry). */
    readonly aggregator: Aggregator = 'sum',
  ) {}

  async get(): Promise<{ name: string; help: string; type: MetricKind; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  /** Registry.resetMetrics() calls this; the numbers belong to their owners. */
  reset(): void {}

  register(registry: Registry): this {
    const scrape: ScrapeRegistry = registry;
    scrape.registerMetric(this);
    return this;
  }
}

/**
 * Samples of one histogram series. `counts` holds per-bucket (not
 * cumulative) counts, one per bound plus a last slot for values above the
 * last bound; `cumulative` says the counts already are cumulative (then
 * `counts` has one slot per bound and `count` is the total).
 */
export function histogramSamples(
  name: string,
  labels: Labels,
  bounds: readonly number[],
  counts: ArrayLike<number>,
  sum: number,
  count?: number,
  cumulative = false,
): Sample[] {
  const out: Sample[] = [];
  let acc = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i] ?? 0; // a series that never saw a bucket has nothing there
    acc = cumulative ? c : acc + c;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bounds[i]) }, value: acc });
  }
  const total = count ?? (cumulative ? acc : acc + (counts[bounds.length] ?? 0));
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: total });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: total });
  return out;
}
