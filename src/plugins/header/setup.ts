import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { FLAG } from '../../dns/constants.js';
import type { HeaderEdit } from '../../dns/reply.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { composeEdits, HeaderPlugin } from './header.js';

const USAGE = 'header { query|response set|clear FLAGS... }';
/** The flags CoreDNS's header plugin accepts. */
const FLAGS: Record<string, number> = { aa: FLAG.AA, ra: FLAG.RA, rd: FLAG.RD };

export interface HeaderRules {
  query: HeaderEdit | null;
  response: HeaderEdit | null;
}

/** `header { SELECTOR ACTION FLAGS... }`: rules apply in order, the last one wins for a flag. */
export function parseHeader(d: Directive): HeaderRules {
  if (d.args.length > 0) throw configError(d, `header: unexpected "${d.args[0] ?? ''}"; usage: ${USAGE}`);
  const rules: HeaderRules = { query: null, response: null };
  for (const line of d.block ?? []) {
    const selector = line.name.toLowerCase();
    if (selector !== 'query' && selector !== 'response') {
      throw configError(line, `header: invalid selector "${line.name}"; accepted: query, response`);
    }
    if (line.block !== null) throw configError(line, `header: ${selector} takes no block`);
    const [action, ...flags] = line.args;
    if (action === undefined) throw configError(line, `header: ${selector}: no flag action given; accepted: set, clear`);
    const act = action.toLowerCase();
    if (act !== 'set' && act !== 'clear') throw configError(line, `header: unknown flag action "${action}"; accepted: set, clear`);
    if (flags.length === 0) throw configError(line, `header: ${selector} ${act}: at least one flag is needed (aa, ra, rd)`);
    for (const f of flags) {
      const bit = FLAGS[f.toLowerCase()];
      if (bit === undefined) throw configError(line, `header: unknown or unsupported flag "${f}"; accepted: aa, ra, rd`);
      const edit = act === 'set' ? { set: bit, clear: 0 } : { set: 0, clear: bit };
      rules[selector] = composeEdits(rules[selector] ?? undefined, edit);
    }
  }
  if (rules.query === null && rules.response === null) throw configError(d, `header: no rules; usage: ${USAGE}`);
  return rules;
}

export const headerPlugin: PluginDefinition = {
  name: 'header',
  setup: (d) => {
    const rules = parseHeader(d);
    return new HeaderPlugin(rules.query, rules.response);
  },
};
