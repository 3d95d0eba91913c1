import { expectArgs, noBlock } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { WhoamiPlugin } from './whoami.js';

/** `whoami`: no arguments, no block. */
export const whoamiPlugin: PluginDefinition = {
  name: 'whoami',
  setup: (d) => {
    expectArgs(d, 0, 0, 'whoami');
    noBlock(d);
    return new WhoamiPlugin();
  },
};
