import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import { walkOptions } from '../../corefile/walk.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { LoadBalancePlugin } from './loadbalance.js';

const NOT_IMPLEMENTED = 'clusterdns does not implement it; loadbalance takes no options';

/** `loadbalance [round_robin]`: the only policy we implement. */
export function parseLoadBalance(d: Directive): void {
  expectArgs(d, 0, Infinity, 'loadbalance [round_robin]');
  const policy = d.args[0];
  if (policy === 'weighted') {
    throw configError(d, 'loadbalance: the weighted policy (weight files) is not supported by clusterdns; use round_robin');
  }
  if (policy !== undefined && policy !== 'round_robin') {
    throw configError(d, `loadbalance: unknown policy "${policy}"; accepted: round_robin`);
  }
  if (d.args.length > 1) throw configError(d, `loadbalance: unexpected "${d.args[1]}" after round_robin; usage: loadbalance [round_robin]`);
  walkOptions(d, 'loadbalance', {}, null, {
    unsupported: { prefer: NOT_IMPLEMENTED, limit_answers: NOT_IMPLEMENTED, reload: 'there are no weight files to reload' },
  });
}

export const loadbalancePlugin: PluginDefinition = {
  name: 'loadbalance',
  setup: (d) => {
    parseLoadBalance(d);
    return new LoadBalancePlugin();
  },
};
