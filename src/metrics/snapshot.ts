// Samples computed at scrape time from plain numbers the hot path keeps (see
// dns.ts) or that plugins expose. A labelled client-library Counter hashes
// its label set on every inc(), which would cost more per query than
// everything else the `prometheus` plugin does; here the query path only
// bumps array slots and label objects are built when someone scrapes.

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
  /** For histograms: NAME_bucket, NAME_sum, NAME_count. */
  metricName?: string;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/**
 * How the values of several `--workers` processes combine into one series
 * (per family): summed, the first worker's, the lowest, highest or mean, or
 * left out (a per-process fact such as the start time).
 */
export type Aggregator = 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';

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
