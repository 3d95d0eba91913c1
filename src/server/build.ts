import type { Corefile, Directive, ServerBlock } from '../corefile/ast.js';
import { configError, CorefileError } from '../corefile/errors.js';
import { parseServerKey, TLS_PORT, type ServerKey } from '../corefile/keys.js';
import { internalZone } from '../corefile/zones.js';
import { QCLASS, RCODE } from '../dns/constants.js';
import { failure } from '../dns/reply.js';
import type { Services } from '../services.js';
import type { Handler, Plugin, PluginDefinition, Request, SetupContext } from './plugin.js';
import type { ServerTls } from './tls-listener.js';

/** Every CoreDNS directive: one we lack is "not supported", anything else "unknown". */
const COREDNS_DIRECTIVES = new Set([
  'bind', 'cache', 'errors', 'forward', 'health', 'hosts', 'kubernetes', 'loadbalance', 'log', 'loop',
  'prometheus', 'ready', 'reload',
  'acl', 'any', 'auto', 'autopath', 'azure', 'bufsize', 'cancel', 'chaos', 'clouddns', 'debug', 'dns64',
  'dnssec', 'dnstap', 'erratic', 'etcd', 'file', 'geoip', 'grpc', 'header', 'k8s_external', 'local',
  'metadata', 'minimal', 'multisocket', 'nsid', 'on', 'pprof', 'rewrite', 'root', 'route53', 'secondary',
  'sign', 'template', 'timeouts', 'tls', 'trace', 'transfer', 'tsig', 'view', 'whoami',
]);

/** A server block made runnable: its zones, its chain, its watchers. */
export interface Block {
  keys: ServerKey[];
  zones: string[];
  /** Interfaces from `bind`; empty means every interface. */
  bind: string[];
  /** Certificates for the block's tls:// keys (the tls plugin); null without it. */
  tls: ServerTls | null;
  plugins: Plugin[];
  /** The chain for IN questions. */
  handler: Handler;
  /** The chain for another class: the plugins declaring it (Plugin.classes), then REFUSED. */
  handlerFor(qclass: number): Handler;
  /** Classes besides IN that some plugin of the block answers. */
  classes: readonly number[];
  observers: Plugin[];
  recursive: boolean;
  /** The smallest Plugin.udpSizeLimit of the block (Infinity when none sets one). */
  udpSizeLimit: number;
  file: string;
  line: number;
}

export interface BuildOptions {
  /** Plugin definitions in execution order (the code's plugin.cfg). */
  plugins: readonly PluginDefinition[];
  /** Port for keys without one (--port / -dns.port). */
  defaultPort: number;
  resolve: SetupContext['resolve'];
  services: Services;
  /** Port override for every block (tests run the kubeadm Corefile on a free port). */
  forcePort?: number;
  /**
   * Collect every configuration problem here instead of throwing at the
   * first (`-validate`): each server key and directive is checked on its own.
   */
  problems?: CorefileError[];
}

/** The end of every chain: nobody answered, so SERVFAIL (as CoreDNS; no plugin label). */
const endOfChain: Handler = () => failure(RCODE.SERVFAIL, '');

/** The end of a chain for a class other than IN: what its plugins leave is REFUSED. */
const refuseClass: Handler = () => failure(RCODE.REFUSED, 'server');

/**
 * Turns the parsed Corefile into blocks. Each plugin validates its own
 * directive; the chain order comes from `opts.plugins`, not from the file.
 */
export function buildBlocks(corefile: Corefile, opts: BuildOptions): Block[] {
  const byName = new Map(opts.plugins.map((p, i) => [p.name, { def: p, rank: i }]));
  return corefile.blocks.map((sb) => buildBlock(sb, byName, opts));
}

/** Runs `check`; a CorefileError goes to `problems` when collecting, anything else is a bug and is thrown. */
function attempt<T>(problems: CorefileError[] | undefined, check: () => T): T | undefined {
  if (!problems) return check();
  try {
    return check();
  } catch (err) {
    if (!(err instanceof CorefileError)) throw err;
    problems.push(err);
    return undefined;
  }
}

function buildBlock(sb: ServerBlock, byName: Map<string, { def: PluginDefinition; rank: number }>, opts: BuildOptions): Block {
  const keys: ServerKey[] = [];
  for (const k of sb.keys) {
    for (const key of attempt(opts.problems, () => parseServerKey(k, sb)) ?? []) {
      // -dns.port is for plain DNS; a tls:// key without a port takes 853, as CoreDNS.
      keys.push({ ...key, port: opts.forcePort ?? key.port ?? (key.transport === 'tls' ? TLS_PORT : opts.defaultPort) });
    }
  }
  // Blocks speak of the root as "" (as Request.zone and isSubdomain do); keys spell it ".".
  const zones = [...new Set(keys.map((k) => internalZone(k.zone)))];
  const peers = new Map<string, Plugin>();
  const ctx: SetupContext = {
    block: { keys, zones, directives: sb.directives, file: sb.file, line: sb.line },
    resolve: opts.resolve,
    services: opts.services,
    peer: (name) => peers.get(name),
  };
  if (opts.problems) {
    // One problem per unknown directive, each at its own line.
    for (const d of sb.directives) if (!byName.has(d.name)) attempt(opts.problems, () => refuseUnknown([d], byName));
  } else {
    refuseUnknown(sb.directives, byName);
  }

  const seen = new Set<string>();
  const built: Array<{ plugin: Plugin; rank: number; seq: number }> = [];
  const bind: string[] = [];
  sb.directives.forEach((d, seq) => {
    const entry = byName.get(d.name);
    if (!entry) return; // reported above (collecting)
    attempt(opts.problems, () => {
      if (seen.has(d.name) && !entry.def.multiple) {
        throw configError(d, `${d.name} appears more than once in this server block; it is allowed once`);
      }
      seen.add(d.name);
      // `bind` takes addresses (v4/v6); interface names would need OS lookups we don't do.
      if (d.name === 'bind') bind.push(...d.args);
      const plugin = entry.def.setup(d, ctx);
      if (plugin) {
        built.push({ plugin, rank: entry.rank, seq });
        if (!peers.has(d.name)) peers.set(d.name, plugin);
      }
    });
  });
  built.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
  const plugins = built.map((b) => b.plugin);
  const tls = plugins.find((p) => p.serverTls !== undefined)?.serverTls ?? null;
  if (tls === null && keys.some((k) => k.transport === 'tls')) {
    attempt(opts.problems, () => { throw configError(sb, 'a tls:// server block needs the tls plugin: tls CERT KEY [CA]'); });
  }
  for (const p of plugins) p.linkBlock?.(plugins);

  const classes = [...new Set(plugins.flatMap((p) => (p.serve ? p.classes ?? [] : [])))];
  const inChain = composeTails(plugins, endOfChain);
  const byClass = new Map(classes.map((c) => [c, composeClass(plugins, c, inChain)]));
  return {
    keys,
    zones,
    bind,
    tls,
    plugins,
    handler: inChain[0] ?? endOfChain,
    handlerFor: (qclass) => byClass.get(qclass) ?? refuseClass,
    classes,
    observers: plugins.filter((p) => p.observe !== undefined),
    recursive: plugins.some((p) => p.recursive === true),
    udpSizeLimit: Math.min(Infinity, ...plugins.map((p) => p.udpSizeLimit ?? Infinity)),
    file: sb.file,
    line: sb.line,
  };
}

/**
 * Compose once at load time: a query runs through prebuilt closures, none
 * made per query. Element i runs the chain from plugin i on (the last is `end`).
 */
function composeTails(plugins: readonly Plugin[], end: Handler): Handler[] {
  const tails: Handler[] = [];
  let handler = end;
  tails[plugins.length] = end;
  for (let i = plugins.length - 1; i >= 0; i--) {
    const p = plugins[i];
    if (p?.serve) {
      const next = handler;
      const serve = p.serve.bind(p);
      handler = (req: Request) => serve(req, next);
    }
    tails[i] = handler;
  }
  return tails;
}

/**
 * The chain for a class other than IN: the plugins declaring it. A query
 * one of them turned into an IN query (`rewrite class CH IN`) goes on in
 * the IN chain after that plugin, as it would in CoreDNS's single chain.
 */
function composeClass(plugins: readonly Plugin[], qclass: number, inChain: readonly Handler[]): Handler {
  let handler = refuseClass;
  for (let i = plugins.length - 1; i >= 0; i--) {
    const p = plugins[i];
    if (!p?.serve || !p.classes?.includes(qclass)) continue;
    const classNext = handler;
    const inNext = inChain[i + 1] ?? endOfChain;
    const serve = p.serve.bind(p);
    const next: Handler = (req) => (req.qclass === QCLASS.IN ? inNext(req) : classNext(req));
    handler = (req: Request) => serve(req, next);
  }
  return handler;
}

function refuseUnknown(directives: Directive[], byName: Map<string, unknown>): void {
  const unsupported = directives.filter((d) => !byName.has(d.name));
  const first = unsupported[0];
  if (first === undefined) return;
  const names = [...new Set(unsupported.map((d) => d.name))];
  const known = names.filter((n) => COREDNS_DIRECTIVES.has(n));
  const unknown = names.filter((n) => !COREDNS_DIRECTIVES.has(n));
  const reasons: string[] = [];
  if (unknown.length > 0) reasons.push(`unknown directive${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  if (known.length > 0) reasons.push(`CoreDNS plugin${known.length > 1 ? 's' : ''} ${known.join(', ')} ${known.length > 1 ? 'are' : 'is'} not supported by clusterdns`);
  throw configError(first, `${reasons.join('; ')}; supported: ${[...byName.keys()].join(', ')}`);
}
