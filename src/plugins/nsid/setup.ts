import { hostname } from 'node:os';
import { noBlock } from '../../corefile/options.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { NsidPlugin } from './nsid.js';

/** `nsid [DATA...]`: the words joined by spaces; default the host name. */
export const nsidPlugin: PluginDefinition = {
  name: 'nsid',
  setup: (d) => {
    noBlock(d);
    return new NsidPlugin(d.args.length > 0 ? d.args.join(' ') : hostname() || 'localhost');
  },
};
