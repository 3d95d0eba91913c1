// The generic side of plugin metrics. A plugin definition declares the
// families it exports (PluginDefinition.metrics, as each CoreDNS plugin has
// its own metrics.go); its instances report samples at scrape time through
// Plugin.collectMetrics(), from plain numbers they keep, so their query
// paths pay nothing. This collector knows no plugin: it walks the serving
// blocks, keeps the counters of instances a reload replaced, and hands the
// families to the registry.

import type { Block } from '../server/build.js';
import type { Plugin, PluginDefinition } from '../server/plugin.js';
import { mergeSamples, sampleKey } from './dns.js';
import { histogramSamples, type Aggregator, type Labels, type MetricKind, type Sample } from './snapshot.js';

/** `aggregator`: how values of several `--workers` processes combine (default sum). */
export interface FamilySpec { help: string; type: MetricKind; aggregator?: Aggregator }

/** Family name -> its help, type and worker aggregation. */
export type MetricFamilies = Readonly<Record<string, FamilySpec>>;

export interface PluginSample {
  family: string;
  sample: Sample;
  /** Counters and histograms: carried over when the plugin instance goes away on reload. */
  monotonic: boolean;
}

/** Where a plugin instance sits, for its labels. */
export interface Placement {
  server: string;
  /** Block zones, fully qualified and comma-joined. */
  zones: string;
}

/** A cumulative histogram as plugins keep them (counts[i] = observations <= bounds[i]). */
export interface HistogramLike { bounds: readonly number[]; counts: readonly number[]; sum: number; count: number }

/** One sample of a family; counters are monotonic, gauges not. */
export function pluginSample(family: string, labels: Labels, value: number, monotonic: boolean): PluginSample {
  return { family, sample: { labels, value }, monotonic };
}

/** The _bucket/_sum/_count samples of one histogram series (always monotonic). */
export function histogramPluginSamples(family: string, labels: Labels, h: HistogramLike): PluginSample[] {
  return histogramSamples(family, labels, h.bounds, h.counts, h.sum, h.count, true).map((sample) => ({ family, sample, monotonic: true }));
}

/** Every family the definitions declare; a name declared twice must mean the same family. */
export function familiesOf(defs: readonly PluginDefinition[]): MetricFamilies {
  const out: Record<string, FamilySpec> = {};
  for (const def of defs) {
    for (const [name, spec] of Object.entries(def.metrics ?? {})) {
      const prev = out[name];
      if (prev && (prev.type !== spec.type || prev.aggregator !== spec.aggregator)) {
        throw new Error(`metric family ${name} is declared twice with different types (plugin ${def.name})`);
      }
      out[name] = spec;
    }
  }
  return out;
}

interface Tracked { plugin: Plugin; at: Placement; last: PluginSample[] }

/**
 * Reads every serving plugin once per scrape. A plugin instance a reload
 * replaced hands its counters over, so they never go back (CoreDNS keeps
 * its counters in process-wide collectors; ours live in the instances).
 */
export class PluginCollector {
  /** Plugin instances seen at the last scrape, with their last monotonic samples. */
  private tracked = new Map<Plugin, Tracked>();
  /** Final counter values of plugin instances a reload replaced, per family and series. */
  private readonly retired = new Map<string, Map<string, Sample>>();

  constructor(
    private readonly blocks: () => readonly Block[],
    private readonly placement: (b: Block) => Placement,
  ) {}

  /** Every plugin family's merged samples, by family name. */
  collect(): Map<string, Sample[]> {
    const live = new Map<Plugin, Tracked>();
    for (const b of this.blocks()) {
      const at = this.placement(b);
      for (const p of b.plugins) {
        if (p.collectMetrics) live.set(p, this.tracked.get(p) ?? { plugin: p, at, last: [] });
      }
    }
    for (const [p, t] of this.tracked) if (!live.has(p)) this.retire(t);
    const byFamily = new Map<string, Sample[]>();
    const push = (family: string, s: Sample): void => {
      let list = byFamily.get(family);
      if (!list) { list = []; byFamily.set(family, list); }
      list.push(s);
    };
    for (const [family, m] of this.retired) for (const s of m.values()) push(family, s);
    for (const t of live.values()) {
      const samples = t.plugin.collectMetrics?.(t.at) ?? [];
      t.last = samples.filter((ps) => ps.monotonic);
      for (const ps of samples) push(ps.family, ps.sample);
    }
    this.tracked = live;
    return new Map([...byFamily].map(([f, list]) => [f, mergeSamples(list)]));
  }

  /**
   * Gone with a reload: keep its counters, the larger of its last read and
   * now (a stopped plugin may no longer expose everything).
   */
  private retire(t: Tracked): void {
    const final = new Map(t.last.map((ps) => [ps.family + sampleKey(ps.sample), ps]));
    for (const ps of t.plugin.collectMetrics?.(t.at) ?? []) {
      if (!ps.monotonic) continue;
      const k = ps.family + sampleKey(ps.sample);
      const prev = final.get(k);
      if (!prev || ps.sample.value > prev.sample.value) final.set(k, ps);
    }
    for (const ps of final.values()) {
      let m = this.retired.get(ps.family);
      if (!m) { m = new Map(); this.retired.set(ps.family, m); }
      const k = sampleKey(ps.sample);
      const prev = m.get(k);
      if (prev) prev.value += ps.sample.value; else m.set(k, { ...ps.sample });
    }
  }
}
