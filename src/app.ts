import type { Corefile } from './corefile/ast.js';
import { PLUGINS } from './plugins/index.js';
import { buildBlocks } from './server/build.js';
import type { PluginDefinition } from './server/plugin.js';
import { DnsServer, type ServerOptions } from './server/server.js';

export interface AppOptions extends ServerOptions {
  /** Port for server keys that name none (CoreDNS: 53). */
  defaultPort?: number;
  /** Put every block on this port (tests). */
  forcePort?: number;
  /** Plugin definitions in execution order; tests add their own. */
  plugins?: readonly PluginDefinition[];
}

/**
 * Builds a runnable server from a parsed Corefile. Throws CorefileError
 * for anything a plugin refuses, before a socket is opened.
 */
export function createServer(corefile: Corefile, opts: AppOptions = {}): DnsServer {
  const shared = new Map<string, unknown>();
  let server: DnsServer | null = null;
  const blocks = buildBlocks(corefile, {
    plugins: opts.plugins ?? PLUGINS,
    defaultPort: opts.defaultPort ?? 53,
    forcePort: opts.forcePort,
    shared,
    // Bound late: plugins are built before the server that routes for them exists.
    resolve: (name, type) => {
      if (!server) throw new Error('server not started');
      return server.resolveInternal(name, type);
    },
  });
  server = new DnsServer(blocks, opts);
  return server;
}
