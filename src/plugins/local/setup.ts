import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, unknownOption } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { LocalPlugin } from './local.js';

/** `local [{ localhost_prefix on|off }]`: returns whether legacy `localhost.<domain>` names are answered. */
export function parseLocal(d: Directive): boolean {
  expectArgs(d, 0, 0, 'local [{ localhost_prefix on|off }]');
  let prefix = true;
  for (const o of d.block ?? []) {
    if (o.name !== 'localhost_prefix') throw unknownOption(o, 'local', ['localhost_prefix']);
    const v = o.args[0];
    if (o.args.length !== 1 || (v !== 'on' && v !== 'off')) {
      throw configError(o, `local: localhost_prefix expects "on" or "off", got "${o.args.join(' ')}"`);
    }
    if (o.block !== null) throw configError(o, 'local: localhost_prefix takes no block');
    prefix = v === 'on';
  }
  return prefix;
}

export const localPlugin: PluginDefinition = {
  name: 'local',
  setup: (d) => new LocalPlugin(parseLocal(d)),
};
