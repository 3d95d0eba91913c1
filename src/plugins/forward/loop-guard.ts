// Per-query loop protection of one forward plugin instance: recognises a
// query it sent coming back (its marker, see hops.ts), answers SERVFAIL at
// once, counts it and logs it once a minute per upstream.

import { typeName } from '../../dns/constants.js';
import { fqdn } from '../../dns/names.js';
import { log } from '../../log.js';
import type { Request } from '../../server/plugin.js';
import { hasTag, MAX_HOPS, readMarker, TAG_SIZE } from './hops.js';
import type { ForwardMetrics } from './metrics.js';
import type { Upstream } from './upstream.js';

/** One line per upstream per this period, however many loops. */
export const LOOP_LOG_PERIOD_MS = 60_000;

/** What a query's marker says. */
export type LoopCheck =
  | { loop: false; tags: Buffer }
  /** `via`: the upstream the query went to before it came back (our tag), or the one it would go to now (hop limit). */
  | { loop: true; via: Upstream; why: 'returned' | 'hops'; hops: number };

export class LoopGuard {
  /** When each upstream's loop was last logged, and loops since. */
  private readonly logged = new Map<string, { at: number; since: number }>();

  constructor(private readonly upstreams: readonly Upstream[], private readonly metrics: ForwardMetrics, private readonly now: () => number = Date.now) {}

  /** Reads the query's marker; `next` is the upstream a hop-limit loop is counted against. */
  check(req: Request, next: Upstream): LoopCheck {
    // Only queries with an OPT record can carry the marker: the common case costs nothing.
    if (req.edns === null || req.raw.length === 0) return { loop: false, tags: EMPTY };
    const tags = readMarker(req.raw, req.questionEnd);
    if (tags.length === 0) return { loop: false, tags };
    const hops = tags.length / TAG_SIZE;
    for (const u of this.upstreams) if (hasTag(tags, u.tag)) return { loop: true, via: u, why: 'returned', hops };
    if (hops >= MAX_HOPS) return { loop: true, via: next, why: 'hops', hops };
    return { loop: false, tags };
  }

  /** Counts the loop (clusterdns_forward_loops_total{to}) and logs it if this upstream's minute is up. */
  report(req: Request, c: { via: Upstream; why: 'returned' | 'hops'; hops: number }): void {
    const to = c.via.to;
    this.metrics.upstream(to).loops++;
    const t = this.now();
    const last = this.logged.get(to);
    if (last && t - last.at < LOOP_LOG_PERIOD_MS) { last.since++; return; }
    const what = c.why === 'returned'
      ? `a query we forwarded to ${to} came back to us after ${c.hops} forwarding hops`
      : `a query passed ${c.hops} forwarders before reaching us (limit ${MAX_HOPS}); not sent on to ${to}`;
    log('error', 'forward', `Forwarding loop: ${what}; answered SERVFAIL. The upstream (or a resolver behind it) sends queries back to this server: ` +
      'point forward at a resolver that does not ask us, e.g. the node\'s real resolv.conf', {
      to, qname: fqdn(req.name), qtype: typeName(req.type), hops: c.hops, ...(last && last.since > 0 ? { more: last.since } : {}),
    });
    this.logged.set(to, { at: t, since: 0 });
  }
}

const EMPTY = Buffer.alloc(0);
