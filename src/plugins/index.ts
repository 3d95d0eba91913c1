import type { PluginDefinition } from '../server/plugin.js';
import { anyPlugin } from './any/setup.js';
import { autopathPlugin } from './autopath/setup.js';
import { aclPlugin } from './acl/setup.js';
import { bindPlugin } from './bind/setup.js';
import { bufsizePlugin } from './bufsize/setup.js';
import { cachePlugin } from './cache/setup.js';
import { chaosPlugin } from './chaos/setup.js';
import { dns64Plugin } from './dns64/setup.js';
import { errorsPlugin } from './errors/setup.js';
import { explainPlugin } from './explain/setup.js';
import { filePlugin } from './file/setup.js';
import { forwardPlugin } from './forward/setup.js';
import { headerPlugin } from './header/setup.js';
import { healthPlugin } from './health/setup.js';
import { hostsPlugin } from './hosts/setup.js';
import { k8sExternalPlugin } from './k8s_external/setup.js';
import { kubernetesPlugin } from './kubernetes/setup.js';
import { loadbalancePlugin } from './loadbalance/setup.js';
import { localPlugin } from './local/setup.js';
import { logPlugin } from './log/setup.js';
import { loopPlugin } from './loop/setup.js';
import { minimalPlugin } from './minimal/setup.js';
import { nsidPlugin } from './nsid/setup.js';
import { prometheusPlugin } from './prometheus/setup.js';
import { readyPlugin } from './ready/setup.js';
import { reloadPlugin } from './reload/setup.js';
import { rewritePlugin } from './rewrite/setup.js';
import { templatePlugin } from './template/setup.js';
import { whoamiPlugin } from './whoami/setup.js';
import { tlsPlugin } from './tls/setup.js';
import { transferPlugin } from './transfer/setup.js';

/**
 * Every directive clusterdns accepts, in execution order: the chain of a
 * block runs in this order whatever the order of lines in the Corefile
 * (CoreDNS's plugin.cfg plays this part). The full order, as plugins land:
 * tls, bind, reload, nsid, bufsize, ready, health, prometheus, explain (a
 * clusterdns extension: no query-path part, placed with the side servers),
 * errors, log, local, dns64, acl, any, chaos, loadbalance, cache, rewrite,
 * header, autopath, minimal, template, transfer, hosts, k8s_external,
 * kubernetes, file, loop, forward, whoami.
 */
export const PLUGINS: readonly PluginDefinition[] = [
  tlsPlugin,
  bindPlugin,
  reloadPlugin,
  nsidPlugin,
  bufsizePlugin,
  readyPlugin,
  healthPlugin,
  prometheusPlugin,
  explainPlugin,
  errorsPlugin,
  logPlugin,
  localPlugin,
  dns64Plugin,
  aclPlugin,
  anyPlugin,
  chaosPlugin,
  loadbalancePlugin,
  cachePlugin,
  rewritePlugin,
  headerPlugin,
  autopathPlugin,
  minimalPlugin,
  templatePlugin,
  transferPlugin,
  hostsPlugin,
  k8sExternalPlugin,
  kubernetesPlugin,
  filePlugin,
  loopPlugin,
  forwardPlugin,
  whoamiPlugin,
];
