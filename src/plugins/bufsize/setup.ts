import { expectArgs, noBlock, parseIntArg } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { BufsizePlugin } from './bufsize.js';

/** DNS Flag Day 2020's figure, CoreDNS's default. */
export const DEFAULT_BUFSIZE = 1232;

/** `bufsize [SIZE]`: 512 to 4096 (RFC 6891), default 1232. */
export const bufsizePlugin: PluginDefinition = {
  name: 'bufsize',
  setup: (d) => {
    expectArgs(d, 0, 1, 'bufsize [SIZE]');
    noBlock(d);
    const arg = d.args[0];
    return new BufsizePlugin(arg === undefined ? DEFAULT_BUFSIZE : parseIntArg(arg, d, 512, 4096, 'bufsize SIZE'));
  },
};
