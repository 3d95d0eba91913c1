import { QCLASS } from '../../dns/constants.js';
import type { Reply } from '../../dns/reply.js';
import type { Handler, Plugin, Request, SetupContext } from '../../server/plugin.js';
import { failed, isOwnLookup, queryState, questionChanged, restoreReply, rewrittenRequest, type Restore } from './message.js';
import { ClassRule, type ResponseRule, type Rule } from './rules.js';

/**
 * The `rewrite` directive: rules run in Corefile order on each query
 * until one that applies is a `stop` rule (the default). The next plugins
 * see the rewritten query; the answer goes back with the client's own
 * question and the rules' response rewrites applied.
 */
export class RewritePlugin implements Plugin {
  readonly name = 'rewrite';
  /**
   * Classes a class rule rewrites from (besides IN): the server must hand
   * such queries to this block's chain, where the rewritten query goes on
   * in the chain of its new class.
   */
  readonly classes: readonly number[];
  private readonly inflight = new Map<string, number>();

  constructor(readonly rules: readonly Rule[], private readonly resolve: SetupContext['resolve']) {
    const from = rules.flatMap((r) => (r instanceof ClassRule && r.from !== QCLASS.IN ? [r.from] : []));
    this.classes = [...new Set(from)];
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const q = queryState(req);
    let applied = false;
    const responses: ResponseRule[] = [];
    for (const rule of this.rules) {
      const r = rule.apply(q);
      if (r === null) continue;
      applied = true;
      responses.push(...r);
      if (rule.mode === 'stop') break;
    }
    if (!applied) return next(req);
    if (isOwnLookup(req, this.inflight)) {
      const rest = responses.filter((r) => r.kind !== 'cname');
      responses.length = 0;
      responses.push(...rest);
    }
    const changed = questionChanged(req, q);
    let out = req;
    if (changed || q.ednsChanged) {
      const rewritten = rewrittenRequest(req, q);
      if (rewritten === null) return failed(new Error(`invalid name after rewrite: ${q.newName ?? req.name}`));
      out = rewritten;
    }
    const reply = next(out);
    if (!changed && responses.length === 0) return reply;
    const plan: Restore = { original: req, rules: responses, resolve: this.resolve, inflight: this.inflight };
    return reply instanceof Promise ? reply.then((r) => restoreReply(r, plan)) : restoreReply(reply, plan);
  }
}
