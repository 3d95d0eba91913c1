// Counters the template plugin keeps in plain numbers; the metrics code
// reads them at scrape time (src/metrics/plugins.ts). Names and labels are
// CoreDNS's coredns_template_* (see README.md); view is always "".

import { classText, typeText } from './rrtypes.js';

export interface MatchLabels { server: string; zone: string; class: string; type: string }
export interface FailureLabels extends MatchLabels { section: string; template: string }

export class TemplateMetrics {
  /**
   * coredns_template_matches_total, by server, then by zone index, class
   * and type in one number: a matched query finds its counter without
   * building a key.
   */
  readonly matches = new Map<string, Map<number, { labels: MatchLabels; count: number }>>();
  /** coredns_template_template_failures_total: the Go template did not render. */
  readonly templateFailures = new Map<string, { labels: FailureLabels; count: number }>();
  /** coredns_template_rr_failures_total: the rendered text was not a valid record. */
  readonly rrFailures = new Map<string, { labels: FailureLabels; count: number }>();

  /**
   * Counts a match and returns its labels. `zoneIndex` is the zone's place
   * in the plugin's zone list. A question of class or type ANY is labelled
   * with the template's (CoreDNS's .Class and .Type).
   */
  match(server: string, zoneIndex: number, zone: string, qclass: number, qtype: number, tclass: number, ttype: number): MatchLabels {
    const cls = qclass !== 255 ? qclass : tclass;
    const type = qtype !== 255 ? qtype : ttype;
    let byServer = this.matches.get(server);
    if (byServer === undefined) this.matches.set(server, byServer = new Map());
    const key = (zoneIndex * 65536 + cls) * 65536 + type;
    const e = byServer.get(key);
    if (e !== undefined) { e.count++; return e.labels; }
    const labels = { server, zone, class: classText(cls), type: typeText(type) };
    byServer.set(key, { labels, count: 1 });
    return labels;
  }

  templateFailure(labels: FailureLabels): void {
    bump(this.templateFailures, failureKey(labels), labels);
  }

  rrFailure(labels: FailureLabels): void {
    bump(this.rrFailures, failureKey(labels), labels);
  }
}

function failureKey(l: FailureLabels): string {
  return `${l.server}\0${l.zone}\0${l.class}\0${l.type}\0${l.section}\0${l.template}`;
}

function bump<L>(m: Map<string, { labels: L; count: number }>, key: string, labels: L): void {
  const e = m.get(key);
  if (e !== undefined) e.count++;
  else m.set(key, { labels, count: 1 });
}
