import { isIP } from 'node:net';
import { configError } from '../../corefile/errors.js';
import { expectArgs, noBlock } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';

/** Validation only: the server reads the addresses when it groups listeners. */
export const bindPlugin: PluginDefinition = {
  name: 'bind',
  multiple: true,
  setup(d) {
    expectArgs(d, 1, 64, 'bind ADDRESS...');
    noBlock(d);
    for (const a of d.args) {
      if (isIP(a) === 0) throw configError(d, `bind: "${a}" is not an IP address (interface names are not supported)`);
    }
    return null;
  },
};
