// Keeps -conf in step with its inputs, as node-cache's config sync does
// (every 10 s): the NodeLocal ConfigMap's template, the kube-dns ConfigMap,
// and (because the template's `forward . /etc/resolv.conf` reads it only at
// set-up) the node's resolv.conf.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { log } from '../log.js';
import { clusterDnsIpFrom, kubeDnsDir, readKubeDnsDir, renderCorefile, TemplateError } from './corefile.js';
import { serviceHostEnv, type NodeLocalFlags } from './flags.js';
import type { SetupErrors } from './metrics.js';

export const CONFIG_SYNC_MS = 10_000;
const RESOLV_CONF = '/etc/resolv.conf';

export type Reload = (reason: string, force: boolean) => Promise<unknown>;

function readOrNull(path: string): string | null {
  try { return readFileSync(path, 'utf8'); } catch { return null; }
}

export class ConfigSync {
  private written: string | null = null;
  private resolvConf: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly clusterDnsIp: string | null;

  constructor(private readonly flags: NodeLocalFlags, private readonly errors: SetupErrors, env: NodeJS.ProcessEnv = process.env) {
    const varName = serviceHostEnv(flags.upstreamSvc);
    this.clusterDnsIp = clusterDnsIpFrom(env, varName);
    if (this.clusterDnsIp === null) {
      log('warn', 'node-local', 'cannot find the IP of the upstream Service', { service: flags.upstreamSvc, env: varName, value: env[varName] ?? '' });
    }
  }

  /**
   * Renders the template into -conf if that changes it. Throws (with a
   * clear message) only when nothing could be rendered; a failed later
   * sync keeps the file that serves.
   */
  render(): boolean {
    const base = readFileSync(this.flags.baseCorefile, 'utf8');
    const dir = kubeDnsDir(this.flags.kubednsCm);
    let kubeDns = null;
    if (dir !== null) {
      try {
        kubeDns = readKubeDnsDir(dir);
      } catch (err) {
        // node-cache: an invalid kube-dns ConfigMap is reported and left out.
        this.errors.inc('configmap');
        log('error', 'node-local', 'ignoring the kube-dns ConfigMap', { dir, err });
      }
    }
    const text = renderCorefile({ base, localIps: this.flags.localIps, dnsPort: this.flags.dnsPort, clusterDnsIp: this.clusterDnsIp, kubeDns });
    this.resolvConf ??= readOrNull(RESOLV_CONF);
    if (text === this.written) return false;
    // Whole or not at all: the reload plugin may read the file at any moment.
    const tmp = `${this.flags.corefile}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.flags.corefile);
    const first = this.written === null;
    this.written = text;
    log('info', 'node-local', first ? 'wrote the Corefile' : 'updated the Corefile', {
      conf: this.flags.corefile, base: this.flags.baseCorefile, stubDomains: kubeDns?.stubDomains.length ?? 0,
      upstream: kubeDns?.upstreamNameservers.length ? kubeDns.upstreamNameservers.join(' ') : RESOLV_CONF,
    });
    return true;
  }

  /** Checks every CONFIG_SYNC_MS and reloads the server on a change. */
  start(reload: Reload, intervalMs = CONFIG_SYNC_MS): void {
    this.timer = setInterval(() => { void this.tick(reload); }, intervalMs);
    this.timer.unref();
  }

  async tick(reload: Reload): Promise<void> {
    let changed: boolean;
    try {
      changed = this.render();
    } catch (err) {
      this.errors.inc('configmap');
      log('error', 'node-local', 'cannot update the Corefile; the running one keeps serving', { base: this.flags.baseCorefile, err: err instanceof TemplateError ? err.message : err });
      return;
    }
    const resolv = readOrNull(RESOLV_CONF);
    const resolvChanged = resolv !== null && resolv !== this.resolvConf;
    if (resolv !== null) this.resolvConf = resolv;
    const readsResolv = this.written?.includes(RESOLV_CONF) ?? false;
    if (changed) await reload('node-local Corefile template changed', false);
    else if (resolvChanged && readsResolv) await reload(`${RESOLV_CONF} changed`, true);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
