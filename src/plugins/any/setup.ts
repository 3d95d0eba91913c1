import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { AnyPlugin } from './any.js';

/** `any`: no arguments, no block. */
export const anyPlugin: PluginDefinition = {
  name: 'any',
  setup: (d) => {
    expectArgs(d, 0, 0, 'any');
    const first = d.block?.[0];
    if (first !== undefined) throw configError(first, `any: unknown property "${first.name}"; any takes no options`);
    if (d.block !== null) throw configError(d, 'any takes no block');
    return new AnyPlugin();
  },
};
