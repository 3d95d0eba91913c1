import type { PluginDefinition } from '../../server/plugin.js';
import { LogPlugin } from './log.js';
import { parseLogDirective } from './rules.js';

export const logPlugin: PluginDefinition = {
  name: 'log',
  // CoreDNS reads every `log` line of a block into one plugin: rules in file order.
  multiple: true,
  setup: (d, ctx) => {
    const all = ctx.block.directives.filter((x) => x.name === 'log');
    if (all[0] !== d) return null;
    return new LogPlugin(all.flatMap(parseLogDirective));
  },
};
