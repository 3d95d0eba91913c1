// `clusterdns node-local`: NodeLocal DNSCache's node-cache, with the same
// flags, Corefile template and packet path, served by clusterdns's own
// server and plugins. Order as node-cache: interface, Corefile, serve, then
// iptables rules (so a cache that cannot start never captures the node's DNS).

import { unlinkSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { createServer, reloaderFor } from '../app.js';
import { CorefileError } from '../corefile/errors.js';
import { loadCorefile } from '../corefile/parse.js';
import { log } from '../log.js';
import { PLUGINS } from '../plugins/index.js';
import type { DnsServer } from '../server/server.js';
import { ConfigSync } from './config-sync.js';
import { FlagError, nodeLocalUsage, parseNodeLocalFlags, type NodeLocalFlags } from './flags.js';
import { SetupErrors, serveSetupErrors } from './metrics.js';
import { NodeNetworking } from './networking.js';

export interface NodeLocalIo {
  version: string;
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Runs node-local until SIGTERM/SIGINT; resolves the exit code. */
export async function runNodeLocal(argv: readonly string[], io: NodeLocalIo): Promise<number> {
  let flags: NodeLocalFlags;
  try {
    flags = parseNodeLocalFlags(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    io.err(`clusterdns node-local: ${err.message}\n`);
    return 2;
  }
  if (flags.help) { io.out(nodeLocalUsage()); return 0; }
  if (flags.printVersion) { io.out(`clusterdns ${io.version} (node-local)\n`); return 0; }
  if (flags.printPlugins) { io.out(`Plugins:\n${PLUGINS.map((p) => `  dns.${p.name}\n`).join('')}`); return 0; }

  if (!flags.quiet) log('info', 'node-local', 'starting', { version: io.version, localip: flags.localIps.join(','), conf: flags.corefile });
  const errors = new SetupErrors();
  const metrics = await serveSetupErrors(flags.metricsListenAddress, errors);
  const networking = new NodeNetworking(flags, errors);
  const sync = new ConfigSync(flags, errors);

  let server: DnsServer | null = null;
  let stopping = false;
  // Before start: Node's default for SIGUSR1 would open the inspector.
  process.on('SIGUSR1', () => {
    if (stopping || !server?.started) return;
    log('info', 'reload', 'SIGUSR1: reloading the Corefile', { conf: flags.corefile });
    void reloaderFor(server)?.reload('SIGUSR1', true);
  });
  try {
    sync.render();
    await networking.setupInterface();
    server = createServer(loadCorefile(flags.corefile), { defaultPort: flags.dnsPort, conf: flags.corefile });
    await server.start();
  } catch (err) {
    if (err instanceof CorefileError) io.err(`${err.message}\n`);
    else log('error', 'node-local', 'cannot start', { err });
    if (!flags.skipTeardown) await networking.teardown();
    metrics?.close();
    return 1;
  }
  if (flags.pidfile) writePidfile(flags.pidfile);
  networking.startSync();
  const serving = server;
  const reload = (reason: string, force: boolean): Promise<unknown> => reloaderFor(serving)?.reload(reason, force) ?? Promise.resolve(false);
  sync.start(reload);
  if (!flags.quiet) log('info', 'node-local', 'serving', { conf: flags.corefile, version: io.version, interface: flags.setupInterface ? flags.interfaceName : undefined });

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log('info', 'server', 'shutting down', { signal });
      sync.stop();
      reloaderFor(serving)?.close();
      // Rules and interface go first: the node's DNS falls back to the cluster DNS Service while this one drains.
      const net = flags.skipTeardown ? Promise.resolve(networking.stop()) : networking.teardown();
      net.then(() => serving.shutdown()).then(resolve, resolve);
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });
  await closeServer(metrics);
  if (flags.pidfile) removePidfile(flags.pidfile);
  return 0;
}

function writePidfile(path: string): void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    log('error', 'node-local', 'cannot write the pidfile', { pidfile: path, err });
  }
}

function removePidfile(path: string): void {
  try { unlinkSync(path); } catch { /* already gone */ }
}

function closeServer(s: http.Server | null): Promise<void> {
  return new Promise((resolve) => {
    if (!s) { resolve(); return; }
    s.close(() => resolve());
    s.closeAllConnections();
  });
}
