import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import { type OptionTable, walkOptions } from '../../corefile/walk.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { LOCAL_FAMILIES } from './families.js';
import { LocalPlugin } from './local.js';

const OPTIONS: OptionTable<{ prefix: boolean }> = {
  localhost_prefix: {
    args: [1, 1], usage: 'localhost_prefix on|off',
    apply(opts, o) {
      const v = o.args[0];
      if (v !== 'on' && v !== 'off') throw configError(o, `local: localhost_prefix expects "on" or "off", got "${o.args.join(' ')}"`);
      opts.prefix = v === 'on';
    },
  },
};

/** `local [{ localhost_prefix on|off }]`: returns whether legacy `localhost.<domain>` names are answered. */
export function parseLocal(d: Directive): boolean {
  expectArgs(d, 0, 0, 'local [{ localhost_prefix on|off }]');
  const opts = { prefix: true };
  walkOptions(d, 'local', OPTIONS, opts);
  return opts.prefix;
}

export const localPlugin: PluginDefinition = {
  name: 'local',
  metrics: LOCAL_FAMILIES,
  setup: (d) => new LocalPlugin(parseLocal(d)),
};
