import type { PluginDefinition } from '../server/plugin.js';
import { bindPlugin } from './bind/setup.js';
import { cachePlugin } from './cache/setup.js';
import { errorsPlugin } from './errors/setup.js';
import { filePlugin } from './file/setup.js';
import { forwardPlugin } from './forward/setup.js';
import { healthPlugin } from './health/setup.js';
import { hostsPlugin } from './hosts/setup.js';
import { kubernetesPlugin } from './kubernetes/setup.js';
import { loadbalancePlugin } from './loadbalance/setup.js';
import { logPlugin } from './log/setup.js';
import { loopPlugin } from './loop/setup.js';
import { prometheusPlugin } from './prometheus/setup.js';
import { readyPlugin } from './ready/setup.js';
import { reloadPlugin } from './reload/setup.js';
import { transferPlugin } from './transfer/setup.js';

/**
 * Every directive clusterdns accepts, in execution order: the chain of a
 * block runs in this order whatever the order of lines in the Corefile
 * (CoreDNS's plugin.cfg plays this part). The full order, as plugins land:
 * bind, reload, ready, health, prometheus, errors, log, loadbalance, cache,
 * transfer, hosts, kubernetes, file, loop, forward.
 */
export const PLUGINS: readonly PluginDefinition[] = [
  bindPlugin,
  reloadPlugin,
  readyPlugin,
  healthPlugin,
  prometheusPlugin,
  errorsPlugin,
  logPlugin,
  loadbalancePlugin,
  cachePlugin,
  transferPlugin,
  hostsPlugin,
  kubernetesPlugin,
  filePlugin,
  loopPlugin,
  forwardPlugin,
];
