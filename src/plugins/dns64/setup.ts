import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, unknownOption } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { Dns64Plugin, type Dns64Options } from './dns64.js';
import { parsePrefix, type Prefix } from './synthesize.js';

const DEFAULT_PREFIX = '64:ff9b::/96';

function prefixAt(text: string, at: Directive): Prefix {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw configError(at, `dns64: ${p}`);
  return p;
}

/** `dns64 [PREFIX] { prefix PREFIX; translate_all; allow_ipv4 }` */
export function parseDns64(d: Directive): Dns64Options {
  expectArgs(d, 0, 1, 'dns64 [PREFIX]');
  const opts: Dns64Options = { prefix: prefixAt(d.args[0] ?? DEFAULT_PREFIX, d), translateAll: false, allowIpv4: false };
  for (const o of d.block ?? []) {
    switch (o.name) {
      case 'prefix':
        expectArgs(o, 1, 1, 'prefix PREFIX');
        opts.prefix = prefixAt(o.args[0] ?? '', o);
        break;
      case 'translate_all':
        expectArgs(o, 0, 0, 'translate_all');
        opts.translateAll = true;
        break;
      case 'allow_ipv4':
        expectArgs(o, 0, 0, 'allow_ipv4');
        opts.allowIpv4 = true;
        break;
      default:
        throw unknownOption(o, 'dns64', ['prefix', 'translate_all', 'allow_ipv4']);
    }
  }
  return opts;
}

export const dns64Plugin: PluginDefinition = {
  name: 'dns64',
  setup: (d, ctx) => new Dns64Plugin(parseDns64(d), ctx),
};
