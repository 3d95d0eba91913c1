import { DNS64_FAMILIES } from './families.js';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import { type OptionTable, walkOptions } from '../../corefile/walk.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { Dns64Plugin, type Dns64Options } from './dns64.js';
import { parsePrefix, type Prefix } from './synthesize.js';

const DEFAULT_PREFIX = '64:ff9b::/96';

function prefixAt(text: string, at: Directive): Prefix {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw configError(at, `dns64: ${p}`);
  return p;
}

const OPTIONS: OptionTable<Dns64Options> = {
  prefix: { args: [1, 1], usage: 'prefix PREFIX', apply(opts, o) { opts.prefix = prefixAt(o.args[0] ?? '', o); } },
  translate_all: { args: [0, 0], usage: 'translate_all', apply(opts) { opts.translateAll = true; } },
  allow_ipv4: { args: [0, 0], usage: 'allow_ipv4', apply(opts) { opts.allowIpv4 = true; } },
};

/** `dns64 [PREFIX] { prefix PREFIX; translate_all; allow_ipv4 }` */
export function parseDns64(d: Directive): Dns64Options {
  expectArgs(d, 0, 1, 'dns64 [PREFIX]');
  const opts: Dns64Options = { prefix: prefixAt(d.args[0] ?? DEFAULT_PREFIX, d), translateAll: false, allowIpv4: false };
  walkOptions(d, 'dns64', OPTIONS, opts);
  return opts;
}

export const dns64Plugin: PluginDefinition = {
  name: 'dns64',
  metrics: DNS64_FAMILIES,
  setup: (d, ctx) => new Dns64Plugin(parseDns64(d), ctx),
};
