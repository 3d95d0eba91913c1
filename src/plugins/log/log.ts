import { classifyWire } from '../../dns/classify.js';
import { isSubdomain } from '../../dns/names.js';
import type { Reply } from '../../dns/reply.js';
import { logRaw } from '../../log.js';
import type { Plugin, Request } from '../../server/plugin.js';
import { render } from './format.js';
import type { LogRule } from './rules.js';

/** One line per query, from the first rule whose name covers it (as CoreDNS: later rules are not tried). */
export class LogPlugin implements Plugin {
  readonly name = 'log';

  constructor(private readonly rules: readonly LogRule[]) {}

  observe(req: Request, reply: Reply, wire: Buffer, ms: number): void {
    if (req.internal) return;
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule === undefined || !isSubdomain(req.lname, rule.name)) continue;
      // A dropped query (no bytes) is an error to CoreDNS's classifier.
      if (rule.classes !== null && !rule.classes.has(wire.length >= 12 ? classifyWire(wire) : 'error')) return;
      logRaw(`[INFO] ${render(rule.format, req, reply, wire, ms)}`);
      return;
    }
  }
}
