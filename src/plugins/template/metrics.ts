// Counters the template plugin keeps in plain numbers; the metrics code
// reads them at scrape time (src/metrics/plugins.ts). Names and labels are
// CoreDNS's coredns_template_* (see README.md); view is always "".

export interface MatchLabels { server: string; zone: string; class: string; type: string }
export interface FailureLabels extends MatchLabels { section: string; template: string }

export class TemplateMetrics {
  /** coredns_template_matches_total, by labels joined with \0. */
  readonly matches = new Map<string, { labels: MatchLabels; count: number }>();
  /** coredns_template_template_failures_total: the Go template did not render. */
  readonly templateFailures = new Map<string, { labels: FailureLabels; count: number }>();
  /** coredns_template_rr_failures_total: the rendered text was not a valid record. */
  readonly rrFailures = new Map<string, { labels: FailureLabels; count: number }>();

  match(labels: MatchLabels): void {
    bump(this.matches, `${labels.server}\0${labels.zone}\0${labels.class}\0${labels.type}`, labels);
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
