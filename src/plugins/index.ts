import type { PluginDefinition } from '../server/plugin.js';
import { bindPlugin } from './bind/setup.js';
import { errorsPlugin } from './errors/setup.js';
import { logPlugin } from './log/setup.js';

/**
 * Every directive clusterdns accepts, in execution order: the chain of a
 * block runs in this order whatever the order of lines in the Corefile
 * (CoreDNS's plugin.cfg plays this part). The full order, as plugins land:
 * bind, reload, ready, health, prometheus, errors, log, loadbalance, cache,
 * hosts, kubernetes, loop, forward.
 */
export const PLUGINS: readonly PluginDefinition[] = [
  bindPlugin,
  errorsPlugin,
  logPlugin,
];
