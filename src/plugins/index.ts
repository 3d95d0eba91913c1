import type { PluginDefinition } from '../server/plugin.js';
import { aclPlugin } from './acl/setup.js';
import { bindPlugin } from './bind/setup.js';
import { cachePlugin } from './cache/setup.js';
import { dns64Plugin } from './dns64/setup.js';
import { errorsPlugin } from './errors/setup.js';
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

/**
 * Every directive clusterdns accepts, in execution order: the chain of a
 * block runs in this order whatever the order of lines in the Corefile
 * (CoreDNS's plugin.cfg plays this part). The full order, as plugins land:
 * bind, reload, ready, health, prometheus, errors, log, dns64, loadbalance, acl, cache,
 * hosts, kubernetes, loop, forward.
 */
export const PLUGINS: readonly PluginDefinition[] = [
  bindPlugin,
  reloadPlugin,
  readyPlugin,
  healthPlugin,
  prometheusPlugin,
  errorsPlugin,
  logPlugin,
  dns64Plugin,
  loadbalancePlugin,
  aclPlugin,
  cachePlugin,
  hostsPlugin,
  kubernetesPlugin,
  loopPlugin,
  forwardPlugin,
];
