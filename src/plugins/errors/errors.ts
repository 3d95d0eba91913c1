import { fqdn } from '../../dns/names.js';
import { typeName } from '../../dns/constants.js';
import { RepeatedError, type Reply } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Plugin, Request } from '../../server/plugin.js';
import type { ErrorsOptions } from './setup.js';

interface Bucket { count: number; first: string; timer: NodeJS.Timeout | null }

/** Period over which repeats of one RepeatedError cause are counted into one line. */
export const REPEAT_PERIOD_MS = 5000;

interface Repeats { count: number; timer: NodeJS.Timeout }

export class ErrorsPlugin implements Plugin {
  readonly name = 'errors';
  private buckets = new Map<number, Bucket>();
  /** RepeatedError keys seen in the current period, with how many more came after the first. */
  private repeats = new Map<string, Repeats>();

  constructor(private readonly opts: ErrorsOptions, private readonly repeatPeriodMs = REPEAT_PERIOD_MS) {}

  observe(req: Request, reply: Reply): void {
    const err = reply.error;
    if (!err) return;
    const text = `${reply.by || 'server'}: ${err.message}`;
    const i = this.opts.consolidate.findIndex((c) => c.pattern.test(text));
    if (i >= 0) { this.consolidate(i, text); return; }
    if (err instanceof RepeatedError && this.repeated(err.key)) return;
    // CoreDNS's line: `2 example.org. A: <error>` (the numeric rcode first), which alerts match on.
    log('error', 'errors', `${reply.rcode} ${fqdn(req.name)} ${typeName(req.type)}: ${text}`, { stack: this.opts.stacktrace ? err.stack : undefined });
  }

  /**
   * A cause that fails every query (a silent upstream at 3,000 QPS) would
   * write a line per query: the first is logged, the rest of the period
   * become one line with their count. True when this one is counted only.
   */
  private repeated(key: string): boolean {
    const r = this.repeats.get(key);
    if (r) { r.count++; return true; }
    const entry: Repeats = {
      count: 0,
      timer: setTimeout(() => {
        this.repeats.delete(key);
        if (entry.count > 0) log('error', 'errors', `${key}: ${entry.count} more in ${this.repeatPeriodMs / 1000}s`, { repeated: entry.count });
      }, this.repeatPeriodMs),
    };
    entry.timer.unref();
    this.repeats.set(key, entry);
    return false;
  }

  private consolidate(i: number, text: string): void {
    const c = this.opts.consolidate[i];
    if (c === undefined) return;
    let b = this.buckets.get(i);
    if (!b) {
      b = { count: 0, first: text, timer: null };
      this.buckets.set(i, b);
    }
    b.count++;
    if (b.timer) return;
    const bucket = b;
    bucket.timer = setTimeout(() => {
      log(c.level, 'errors', `${bucket.count} errors like '${c.pattern.source}' occurred in last ${c.periodMs / 1000}s`, { first: bucket.first });
      this.buckets.delete(i);
    }, c.periodMs);
    bucket.timer.unref();
  }

  stop(): void {
    for (const b of this.buckets.values()) if (b.timer) clearTimeout(b.timer);
    this.buckets.clear();
    for (const [key, r] of this.repeats) {
      clearTimeout(r.timer);
      if (r.count > 0) log('error', 'errors', `${key}: ${r.count} more`, { repeated: r.count });
    }
    this.repeats.clear();
  }
}
