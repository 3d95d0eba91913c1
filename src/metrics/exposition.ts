// A registry of metric families and the Prometheus text exposition format
// 0.0.4, byte for byte as prom-client 15 printed it (families in
// registration order, a blank line between them, HELP and TYPE even for a
// family with no samples), so scrapes read the same after dropping the
// library: importing prom-client cost ~13 MB RSS on Node 24.

import type { Aggregator, MetricKind, Sample } from './snapshot.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A family as a scrape sees it (also what a `--workers` worker sends the primary). */
export interface FamilySnapshot {
  name: string;
  help: string;
  type: MetricKind;
  aggregator: Aggregator;
  samples: Sample[];
}

/** A registered family: its samples are read at scrape time. */
export interface FamilyDef {
  name: string;
  help: string;
  type: MetricKind;
  aggregator: Aggregator;
  read: () => Sample[];
}

export class FamilyRegistry {
  private readonly defs = new Map<string, FamilyDef>();

  /**
   * Adds a family. Declaring a registered name again is a no-op if it is
   * the same family (type, help, aggregator) and an error otherwise: two
   * meanings under one name would corrupt every query on it.
   */
  register(def: FamilyDef): void {
    const prev = this.defs.get(def.name);
    if (prev === undefined) {
      this.defs.set(def.name, def);
      return;
    }
    if (prev.type !== def.type || prev.help !== def.help || prev.aggregator !== def.aggregator) {
      throw new Error(`metric family ${def.name} is declared twice with different types, help or aggregation`);
    }
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  /** Every family's current samples, in registration order. */
  collect(): FamilySnapshot[] {
    return [...this.defs.values()].map((d) => ({ name: d.name, help: d.help, type: d.type, aggregator: d.aggregator, samples: d.read() }));
  }
}

/** The exposition text of these families. */
export function renderFamilies(families: readonly FamilySnapshot[]): string {
  return `${families.map(renderFamily).join('\n\n')}\n`;
}

function renderFamily(f: FamilySnapshot): string {
  const name = escapeText(f.name);
  const lines = [`# HELP ${name} ${escapeText(f.help)}`, `# TYPE ${name} ${f.type}`];
  for (const s of f.samples) {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    const labelText = labels.length > 0 ? `{${labels.join(',')}}` : '';
    lines.push(`${s.metricName ?? name}${labelText} ${formatValue(s.value)}`);
  }
  return lines.join('\n');
}

/** HELP text: backslash and newline escaped (a quote stays as is). */
export function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, newline and double quote escaped. */
export function escapeLabelValue(value: string): string {
  return escapeText(value).replace(/"/g, '\\"');
}

/**
 * JavaScript's shortest round-trip form (1, 0.5, 1e-7), which Prometheus's
 * parser reads; the specials as the format spells them. prom-client wrote
 * "Nan", which Prometheus also accepts (it parses case-insensitively); the
 * format's own spelling is "NaN".
 */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
