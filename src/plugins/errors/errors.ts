import { fqdn } from '../../dns/names.js';
import { typeName } from '../../dns/constants.js';
import type { Reply } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Plugin, Request } from '../../server/plugin.js';
import type { ErrorsOptions } from './setup.js';

interface Bucket { count: number; first: string; timer: NodeJS.Timeout | null }

export class ErrorsPlugin implements Plugin {
  readonly name = 'errors';
  private buckets = new Map<number, Bucket>();

  constructor(private readonly opts: ErrorsOptions) {}

  observe(req: Request, reply: Reply): void {
    const err = reply.error;
    if (!err) return;
    const text = `${reply.by ?? 'server'}: ${err.message}`;
    const i = this.opts.consolidate.findIndex((c) => c.pattern.test(text));
    if (i >= 0) { this.consolidate(i, text); return; }
    // CoreDNS's line: `2 example.org. A: <error>` (the numeric rcode first), which alerts match on.
    log('error', 'errors', `${reply.rcode} ${fqdn(req.name)} ${typeName(req.type)}: ${text}`, { stack: this.opts.stacktrace ? err.stack : undefined });
  }

  private consolidate(i: number, text: string): void {
    const c = this.opts.consolidate[i]!;
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
  }
}
