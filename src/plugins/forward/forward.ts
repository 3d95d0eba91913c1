import { performance } from 'node:perf_hooks';
import { FLAG, RCODE } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import { failure, relay, RepeatedError, type Reply } from '../../dns/reply.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { markQuery } from './hops.js';
import { InflightLimit, sharedDefaultLimit } from './limit.js';
import { LoopGuard } from './loop-guard.js';
import type { PluginSample } from '../../metrics/plugins.js';
import { forwardSamples } from './families.js';
import { ForwardMetrics } from './metrics.js';
import type { RouteOptions } from './setup.js';
import type { CheckedReply } from '../../dns/wire.js';
import { CancelledError, type QueryExchange, Upstream } from './upstream.js';

/** The EDNS buffer size we announce on an OPT we add to carry the loop marker (RFC 9715's safe size). */
const OWN_EDNS_SIZE = 1232;

function empty(rcode: number, error?: Error): Reply {
  return failure(rcode, 'forward', error);
}

function relayed(c: CheckedReply): Reply {
  const wire = c.wire;
  return relay(c.rcode, 'forward', (wire.readUInt16BE(2) & FLAG.AA) !== 0, wire);
}

/** One `forward FROM TO...` line: its upstreams, policy and limits. */
export class ForwardRoute {
  readonly upstreams: Upstream[];
  /** This line's max_concurrent, or the process-wide default bound. */
  readonly limit: InflightLimit;
  private rr = 0;

  constructor(readonly opts: RouteOptions, private readonly metrics: ForwardMetrics) {
    this.upstreams = opts.to.map((a) => new Upstream(a, opts.transport, metrics));
    this.limit = opts.maxConcurrent > 0 ? new InflightLimit(opts.maxConcurrent) : sharedDefaultLimit();
  }

  /** Does this line take the name? (under FROM, not under an `except` name) */
  matches(lname: string): boolean {
    if (!isSubdomain(lname, this.opts.from)) return false;
    for (const e of this.opts.except) if (isSubdomain(lname, e)) return false;
    return true;
  }

  /** Healthy upstreams in policy order; if none is healthy, one picked at random. */
  candidates(): Upstream[] {
    const all = this.upstreams;
    const n = all.length;
    let order: Upstream[];
    switch (this.opts.policy) {
      case 'sequential':
        order = all;
        break;
      case 'round_robin': {
        const start = this.rr++ % n;
        if (this.rr >= 1e9) this.rr = 0;
        order = start === 0 ? all : [...all.slice(start), ...all.slice(0, start)];
        break;
      }
      default: {
        order = [...all];
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          const t = order[i];
          const u = order[j];
          if (t === undefined || u === undefined) continue;
          order[i] = u;
          order[j] = t;
        }
      }
    }
    const up = order.filter((u) => !u.down);
    if (up.length > 0) return up;
    this.metrics.healthcheckBroken++;
    if (this.opts.failfastAllUnhealthy) return [];
    const any = all[Math.floor(Math.random() * n)];
    return any === undefined ? [] : [any];
  }

  /**
   * Forwards one query. All attempts share one budget (read_timeout): the
   * first upstream is asked at once; without an answer after budget/N the
   * next one is asked too (N = attempts planned, at most 3; with a single
   * upstream the second attempt asks it again), and every attempt keeps
   * listening until the budget ends. A failed attempt (refused, reset)
   * moves on at once. Nobody answered: SERVFAIL at the end of the budget.
   * Every attempt carries the loop marker: `tags` (the hops the query
   * already passed) plus the upstream's own tag.
   */
  forward(req: Request, tags: Buffer): Reply | Promise<Reply> {
    const o = this.opts;
    const cands = this.candidates();
    if (cands.length === 0) return empty(RCODE.SERVFAIL, new Error('no healthy upstream (failfast_all_unhealthy_upstreams)'));
    const limit = this.limit;
    if (!limit.take()) {
      this.metrics.maxConcurrentRejects++;
      const what = limit.implicit ? `${limit.max} (the default bound; set max_concurrent to change it)` : String(limit.max);
      return empty(RCODE.REFUSED, new RepeatedError(`concurrent queries exceeded maximum ${what}`, `forward: max_concurrent ${what}`));
    }

    // Every Request carries real query bytes, the server's own (CNAME chasing) included.
    const query = req.raw;
    const qend = req.questionEnd;
    const proto: 'udp' | 'tcp' = o.forceTcp ? 'tcp' : req.proto === 'tcp' && !o.preferUdp ? 'tcp' : 'udp';
    const only = cands.length === 1 ? cands[0] : undefined;
    const plan = only !== undefined ? [only, only] : cands.slice(0, 3);
    const budget = o.readTimeoutMs;
    const step = budget / plan.length;
    const start = performance.now();

    return new Promise<Reply>((resolve) => {
      const running: Array<{ u: Upstream; ex: QueryExchange; at: number }> = [];
      let launched = 0;
      let done = false;
      let fallback: CheckedReply | null = null;
      let lastError: Error | null = null;
      let stepTimer: NodeJS.Timeout | null = null;

      const finish = (r: Reply, budgetSpent = false): void => {
        if (done) return;
        done = true;
        limit.release();
        clearTimeout(deadline);
        if (stepTimer) clearTimeout(stepTimer);
        const now = performance.now();
        for (const a of running) {
          a.ex.cancel();
          // Silent until the budget ran out, or for a whole slot while another
          // upstream answered: that counts against the upstream.
          if (budgetSpent || now - a.at >= step) a.u.failure();
        }
        running.length = 0;
        resolve(r);
      };

      const launch = (): void => {
        if (done || launched >= plan.length) return;
        if (stepTimer) clearTimeout(stepTimer);
        stepTimer = null;
        const u = plan[launched++];
        if (u === undefined) return;
        const left = start + budget - performance.now();
        if (left <= 0) return;
        req.trace?.note('forward', `asked upstream ${u.to} over ${proto} (policy ${o.policy}, attempt ${launched} of ${plan.length})`, { upstream: u.to, proto, policy: o.policy });
        const marked = markQuery(query, qend, Buffer.concat([tags, u.tag]), OWN_EDNS_SIZE);
        const entry = { u, ex: u.query(marked, qend, proto, left, marked === query ? null : query), at: performance.now() };
        running.push(entry);
        const leave = (): void => {
          const i = running.indexOf(entry);
          if (i >= 0) running.splice(i, 1);
        };
        entry.ex.promise.then(
          (reply) => {
            if (done) return;
            leave();
            u.success();
            if (o.failover.has(reply.rcode) && launched < plan.length) {
              // Keep this answer in case nobody does better, and ask the next upstream now.
              fallback = reply;
              launch();
              return;
            }
            req.trace?.note('forward', `answer from ${u.to}`, { upstream: u.to, answered: true });
            finish(relayed(reply));
          },
          (err: unknown) => {
            if (done || err instanceof CancelledError) return;
            leave();
            u.failure();
            lastError = err instanceof Error ? err : new Error(String(err));
            if (launched < plan.length) launch();
            else if (running.length === 0) finish(fallback ? relayed(fallback) : this.noAnswer(req, lastError));
          },
        );
        if (launched < plan.length) stepTimer = setTimeout(launch, step);
      };

      const deadline = setTimeout(() => finish(fallback ? relayed(fallback) : this.noAnswer(req, lastError), true), budget);
      launch();
    });
  }

  private noAnswer(req: Request, cause: Error | null): Reply {
    this.metrics.noAnswer++;
    const to = this.upstreams.map((u) => u.to).join(', ');
    const why = cause ? `: ${cause.message}` : '';
    return empty(RCODE.SERVFAIL, new RepeatedError(`no answer from ${to} within ${this.opts.readTimeoutMs}ms for ${req.name || '.'}${why}`, `forward: no answer from ${to}`));
  }

  stop(): void {
    for (const u of this.upstreams) u.stop();
  }
}

/**
 * The `forward` directive. Every `forward` line of a server block lands in
 * one plugin instance: a query goes to the line with the most specific FROM
 * that takes it; a line's `next RCODE` hands such answers to the next
 * matching line. Names no line takes go down the chain.
 */
export class ForwardPlugin implements Plugin {
  readonly name = 'forward';
  readonly recursive = true;
  readonly metrics: ForwardMetrics;
  /** Most specific FROM first; lines with the same FROM in Corefile order. */
  readonly routes: ForwardRoute[];
  readonly loops: LoopGuard;

  constructor(routes: RouteOptions[], metrics = new ForwardMetrics()) {
    this.metrics = metrics;
    const indexed = routes.map((r, i) => ({ r, i }));
    indexed.sort((a, b) => depth(b.r.from) - depth(a.r.from) || a.i - b.i);
    this.routes = indexed.map(({ r }) => new ForwardRoute(r, metrics));
    this.loops = new LoopGuard(this.routes.flatMap((r) => r.upstreams), metrics);
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const routes = this.routes;
    let first = -1;
    let route: ForwardRoute | undefined;
    for (let i = 0; i < routes.length; i++) {
      route = routes[i];
      if (route?.matches(req.lname) === true) { first = i; break; }
    }
    const firstUp = route?.upstreams[0];
    if (first < 0 || !firstUp) return next(req);
    this.metrics.requests++;
    const seen = this.loops.check(req, firstUp);
    if (seen.loop) {
      // Our own query came back: answering stops it here, on its second pass.
      // No `error`: LoopGuard logs once a minute, and the errors plugin would log every few seconds.
      this.loops.report(req, seen);
      return empty(RCODE.SERVFAIL);
    }
    return this.through(req, first, seen.tags);
  }

  private async through(req: Request, i: number, tags: Buffer): Promise<Reply> {
    const route = this.routes[i];
    if (route === undefined) return failure(RCODE.SERVFAIL, 'forward', new Error(`no forward route ${i}`));
    const r = await route.forward(req, tags);
    if (route.opts.next.size > 0 && route.opts.next.has(r.rcode) && r.kind === 'relay') {
      for (let j = i + 1; j < this.routes.length; j++) {
        if (this.routes[j]?.matches(req.lname) === true) return this.through(req, j, tags);
      }
    }
    return r;
  }

  stop(): void {
    for (const r of this.routes) r.stop();
  }

  collectMetrics(): PluginSample[] {
    return forwardSamples(this.metrics);
  }

  /** Human summary of health, for logs and debugging. */
  describe(): string {
    return this.routes.map((r) => `${r.opts.from || '.'} -> ${r.upstreams.map((u) => `${u.to}${u.down ? '(down)' : ''}`).join(' ')}`).join('; ');
  }
}

function depth(zone: string): number {
  return zone === '' ? 0 : zone.split('.').length;
}
