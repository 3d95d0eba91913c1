import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { MinimalPlugin } from './minimal.js';

/** `minimal`: no arguments, no block. */
export const minimalPlugin: PluginDefinition = {
  name: 'minimal',
  setup: (d) => {
    expectArgs(d, 0, 0, 'minimal');
    const first = d.block?.[0];
    if (first !== undefined) throw configError(first, `minimal: unknown property "${first.name}"; minimal takes no options`);
    if (d.block !== null) throw configError(d, 'minimal takes no block');
    return new MinimalPlugin();
  },
};
