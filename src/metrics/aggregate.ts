// Combining the families of several `--workers` processes into one scrape:
// each series (sample name + labels) is combined across workers by its
// family's aggregator, as prom-client's AggregatorRegistry did.

import { sampleKey } from './dns.js';
import type { FamilySnapshot } from './exposition.js';
import type { Aggregator, Sample } from './snapshot.js';

/** One family per name, in the order names first appear; the first worker's help/type/aggregator win. */
export function aggregateFamilies(perWorker: readonly (readonly FamilySnapshot[])[]): FamilySnapshot[] {
  const byName = new Map<string, { head: FamilySnapshot; series: Map<string, Sample[]> }>();
  for (const families of perWorker) {
    for (const f of families) {
      let entry = byName.get(f.name);
      if (entry === undefined) {
        entry = { head: f, series: new Map() };
        byName.set(f.name, entry);
      }
      for (const s of f.samples) {
        const k = sampleKey(s);
        const list = entry.series.get(k);
        if (list === undefined) entry.series.set(k, [s]);
        else list.push(s);
      }
    }
  }
  const out: FamilySnapshot[] = [];
  for (const { head, series } of byName.values()) {
    if (head.aggregator === 'omit') continue;
    const samples: Sample[] = [];
    for (const list of series.values()) {
      const first = list[0];
      if (first === undefined) continue;
      samples.push({ ...first, value: combine(head.aggregator, list.map((s) => s.value)) });
    }
    out.push({ ...head, samples });
  }
  return out;
}

function combine(how: Exclude<Aggregator, 'omit'>, values: number[]): number {
  switch (how) {
    case 'sum': return values.reduce((a, b) => a + b, 0);
    case 'first': return values[0] ?? 0;
    case 'min': return values.reduce((a, b) => Math.min(a, b), Infinity);
    case 'max': return values.reduce((a, b) => Math.max(a, b), -Infinity);
    case 'average': return values.reduce((a, b) => a + b, 0) / values.length;
  }
}
