import type { Corefile } from './corefile/ast.js';
import { CorefileError } from './corefile/errors.js';
import { familiesOf } from './metrics/plugins.js';
import { PLUGINS } from './plugins/index.js';
import { ReloadController } from './plugins/reload/controller.js';
import { buildBlocks, type Block } from './server/build.js';
import type { PluginDefinition } from './server/plugin.js';
import { DnsServer, type ServerOptions } from './server/server.js';
import { Services } from './services.js';

export interface AppOptions extends ServerOptions {
  /** Port for server keys that name none (CoreDNS: 53). */
  defaultPort?: number;
  /** Put every block on this port (tests). */
  forcePort?: number;
  /** Plugin definitions in execution order; tests add their own. */
  plugins?: readonly PluginDefinition[];
  /** The Corefile's path: reloads (the `reload` directive, SIGUSR1) read it again. */
  conf?: string;
}

const reloaders = new WeakMap<DnsServer, ReloadController>();

/** The reload controller of a server made by createServer (SIGUSR1 calls it). */
export function reloaderFor(server: DnsServer): ReloadController | undefined {
  return reloaders.get(server);
}

/**
 * Builds a runnable server from a parsed Corefile. Throws CorefileError
 * for anything a plugin refuses, before a socket is opened.
 */
export function createServer(corefile: Corefile, opts: AppOptions = {}): DnsServer {
  // Process-wide services (HTTP side servers, metrics, the server itself):
  // reloads build their blocks with the same object, so these outlive them.
  const plugins = opts.plugins ?? PLUGINS;
  const services = new Services(familiesOf(plugins));
  let server: DnsServer | null = null;
  const build = (cf: Corefile): Block[] => buildBlocks(cf, {
    plugins,
    defaultPort: opts.defaultPort ?? 53,
    forcePort: opts.forcePort,
    services,
    // Bound late: plugins are built before the server that routes for them exists.
    resolve: (name, type, from) => {
      if (!server) throw new Error('server not started');
      return server.resolveInternal(name, type, from);
    },
  });
  server = new DnsServer(build(corefile), opts);
  services.server = server;
  const reloader = new ReloadController(server, build, () => services.metrics, opts.conf, corefile);
  services.reload = reloader;
  reloaders.set(server, reloader);
  return server;
}

/**
 * Every configuration problem of a parsed Corefile (`-validate`), each with
 * FILE:LINE, instead of only the first: each server key and directive is
 * checked on its own, then, if all passed, the server as a whole.
 */
export function validateCorefile(corefile: Corefile, opts: AppOptions = {}): CorefileError[] {
  const problems: CorefileError[] = [];
  const plugins = opts.plugins ?? PLUGINS;
  buildBlocks(corefile, {
    plugins,
    defaultPort: opts.defaultPort ?? 53,
    forcePort: opts.forcePort,
    services: new Services(familiesOf(plugins)),
    resolve: () => { throw new Error('validation only'); },
    problems,
  });
  // In file order, as an editor would walk them (blocks are checked keys first, then directives).
  problems.sort((a, b) => (a.file === b.file ? a.line - b.line : 0));
  if (problems.length > 0) return problems;
  try {
    createServer(corefile, opts);
  } catch (err) {
    if (!(err instanceof CorefileError)) throw err;
    problems.push(err);
  }
  return problems;
}
