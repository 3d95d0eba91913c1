// node-cache's command line (kubernetes/dns cmd/node-cache/main.go plus the
// CoreDNS flags it passes through), parsed the way Go's `flag` package does:
// `-name value`, `-name=value`, `--name`, booleans only as `-name` or
// `-name=BOOL`. The NodeLocal DNSCache DaemonSet's args must run unchanged.

import { isIP } from 'node:net';

export interface NodeLocalFlags {
  /** -localip, split on commas; one address family. */
  localIps: string[];
  setupInterface: boolean;
  interfaceName: string;
  /** -syncinterval: how often the interface and iptables rules are checked. */
  syncIntervalMs: number;
  /** node-cache's own setup-error metrics (host:port). */
  metricsListenAddress: string;
  setupIptables: boolean;
  /** The ConfigMap's Corefile, placeholders and all. */
  baseCorefile: string;
  /** Where the filled-in Corefile is written and served from (-conf wins over -corefile). */
  corefile: string;
  /** kube-dns ConfigMap directory (stubDomains, upstreamNameservers); "" = /etc/kube-dns if present. */
  kubednsCm: string;
  upstreamSvc: string;
  healthPort: number;
  skipTeardown: boolean;
  reloadWithSignal: boolean;
  dnsPort: number;
  pidfile: string;
  quiet: boolean;
  /** -plugins / -version: print and exit. */
  printPlugins: boolean;
  printVersion: boolean;
  help: boolean;
}

export class FlagError extends Error {}

/** The flags' fields whose value has type V (so a spec's key can be written with a V, no cast). */
type KeyOf<V> = { [K in keyof NodeLocalFlags]: NodeLocalFlags[K] extends V ? K : never }[keyof NodeLocalFlags];

type FlagSpec =
  | { kind: 'bool'; key: KeyOf<boolean>; usage: string }
  | { kind: 'string'; key: KeyOf<string>; usage: string }
  | { kind: 'ips'; key: 'localIps'; usage: string }
  | { kind: 'port'; key: KeyOf<number>; usage: string }
  | { kind: 'interval'; key: 'syncIntervalMs'; usage: string };

const SPECS: Record<string, FlagSpec> = {
  localip: { kind: 'ips', key: 'localIps', usage: 'comma-separated IP addresses to bind the cache to (one family)' },
  setupinterface: { kind: 'bool', key: 'setupInterface', usage: 'create the interface holding the local IPs (default true)' },
  interfacename: { kind: 'string', key: 'interfaceName', usage: 'name of the interface to create (default nodelocaldns)' },
  syncinterval: { kind: 'interval', key: 'syncIntervalMs', usage: 'seconds (or a duration such as 30s) between checks of the interface and iptables rules (default 60)' },
  'metrics-listen-address': { kind: 'string', key: 'metricsListenAddress', usage: 'address of the setup-error metrics (default 0.0.0.0:9353)' },
  setupiptables: { kind: 'bool', key: 'setupIptables', usage: 'add the NOTRACK/ACCEPT iptables rules (default true)' },
  basecorefile: { kind: 'string', key: 'baseCorefile', usage: 'the Corefile template (default /etc/coredns/Corefile.base)' },
  corefile: { kind: 'string', key: 'corefile', usage: 'where the filled-in Corefile is written (default /etc/Corefile)' },
  conf: { kind: 'string', key: 'corefile', usage: 'same as -corefile (CoreDNS flag)' },
  kubednscm: { kind: 'string', key: 'kubednsCm', usage: 'kube-dns ConfigMap directory (default /etc/kube-dns if it exists)' },
  upstreamsvc: { kind: 'string', key: 'upstreamSvc', usage: 'Service whose IP (<NAME>_SERVICE_HOST) fills __PILLAR__CLUSTER__DNS__ (default kube-dns)' },
  'health-port': { kind: 'port', key: 'healthPort', usage: 'port of the health plugin, exempted from conntrack (default 8080)' },
  skipteardown: { kind: 'bool', key: 'skipTeardown', usage: 'leave the interface and iptables rules on exit' },
  reloadwithsignal: { kind: 'bool', key: 'reloadWithSignal', usage: 'accepted for compatibility: the Corefile is always reloaded in-process' },
  'dns.port': { kind: 'port', key: 'dnsPort', usage: 'DNS port (default 53)' },
  pidfile: { kind: 'string', key: 'pidfile', usage: 'write the process id here once serving' },
  quiet: { kind: 'bool', key: 'quiet', usage: 'no start-up banner' },
  plugins: { kind: 'bool', key: 'printPlugins', usage: 'list the plugins and exit' },
  version: { kind: 'bool', key: 'printVersion', usage: 'print the version and exit' },
  help: { kind: 'bool', key: 'help', usage: 'this text' },
  h: { kind: 'bool', key: 'help', usage: 'this text' },
};

export function nodeLocalUsage(): string {
  const lines = Object.entries(SPECS).map(([name, s]) => {
    const arg = s.kind === 'bool' ? '' : s.kind === 'string' || s.kind === 'ips' ? ' STRING' : s.kind === 'port' ? ' PORT' : ' SECONDS';
    return `  -${name}${arg}\n        ${s.usage}`;
  });
  return `Usage: clusterdns node-local [flags]   (node-cache's flags: the NodeLocal DNSCache DaemonSet's args)\n${lines.join('\n')}\n`;
}

export function defaultNodeLocalFlags(): NodeLocalFlags {
  return {
    localIps: [],
    setupInterface: true,
    interfaceName: 'nodelocaldns',
    syncIntervalMs: 60_000,
    metricsListenAddress: '0.0.0.0:9353',
    setupIptables: true,
    baseCorefile: '/etc/coredns/Corefile.base',
    corefile: '/etc/Corefile',
    kubednsCm: '',
    upstreamSvc: 'kube-dns',
    healthPort: 8080,
    skipTeardown: false,
    reloadWithSignal: false,
    dnsPort: 53,
    pidfile: '',
    quiet: false,
    printPlugins: false,
    printVersion: false,
    help: false,
  };
}

// Go's strconv.ParseBool.
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

function parseBool(name: string, v: string): boolean {
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new FlagError(`invalid boolean value "${v}" for -${name}: parse error`);
}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * -syncinterval: node-cache documents it "in seconds" (its Go code multiplies
 * the value by a second). A bare number is that many seconds; a Go duration
 * with units ("30s", "1m30s") is taken at its word.
 */
function parseInterval(v: string): number {
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) {
    ms = Number(v) * 1000;
  } else {
    const parts = /^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v) ? [...v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)] : null;
    if (!parts) throw new FlagError(`invalid value "${v}" for flag -syncinterval: want seconds (60) or a duration (1m, 30s)`);
    ms = parts.reduce((sum, [, n, unit]) => sum + Number(n) * (GO_UNITS[unit ?? ''] ?? Number.NaN), 0);
  }
  if (!(ms >= 1000) || ms > 86_400_000) throw new FlagError(`invalid value "${v}" for flag -syncinterval: must be between 1s and 24h`);
  return Math.round(ms);
}

function parsePort(name: string, v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new FlagError(`invalid value "${v}" for flag -${name}: not a port (0-65535)`);
  return Number(v);
}

function parseLocalIps(v: string): string[] {
  // As node-cache: every comma-separated piece must be an IP (so "" is refused), all of one family.
  const ips = v.split(',');
  for (const ip of ips) {
    if (isIP(ip) === 0 || ip.includes('%')) throw new FlagError(`invalid localip specified - "${ip}"`);
  }
  const family = isIP(ips[0] ?? '');
  for (const ip of ips) {
    if (isIP(ip) !== family) throw new FlagError(`unexpected IP Family for localIP - "${ip}", want IPv${family}`);
  }
  return ips;
}

/** Parses node-cache's arguments; throws FlagError with Go flag's wording where it has one. */
export function parseNodeLocalFlags(argv: readonly string[]): NodeLocalFlags {
  const flags = defaultNodeLocalFlags();
  let localIpGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === undefined) break;
    if (a === '--') {
      if (i + 1 < argv.length) throw new FlagError(`unexpected argument "${argv[i + 1]}": node-local takes flags only`);
      break;
    }
    if (!a.startsWith('-') || a === '-') throw new FlagError(`unexpected argument "${a}": node-local takes flags only (see -help)`);
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = SPECS[name];
    if (!spec) throw new FlagError(`flag provided but not defined: -${name} (see clusterdns node-local -help)`);
    if (spec.kind === 'bool') {
      flags[spec.key] = inline === undefined || parseBool(name, inline);
      continue;
    }
    let v = inline;
    if (v === undefined) {
      v = argv[++i];
      if (v === undefined) throw new FlagError(`flag needs an argument: -${name}`);
    }
    switch (spec.kind) {
      case 'string': flags[spec.key] = v; break;
      case 'ips': flags.localIps = parseLocalIps(v); localIpGiven = true; break;
      case 'port': flags[spec.key] = parsePort(name, v); break;
      case 'interval': flags.syncIntervalMs = parseInterval(v); break;
    }
  }
  if (flags.help || flags.printPlugins || flags.printVersion) return flags;
  if (!localIpGiven) throw new FlagError('invalid localip specified - "": -localip IP[,IP...] is required');
  if (flags.interfaceName === '' || flags.interfaceName.length > 15 || /[\s/]/.test(flags.interfaceName)) {
    throw new FlagError(`invalid value "${flags.interfaceName}" for flag -interfacename: an interface name has 1-15 characters, no spaces or "/"`);
  }
  if (flags.upstreamSvc === '') throw new FlagError('invalid value "" for flag -upstreamsvc: a Service name is needed');
  return flags;
}

/** The environment variable holding a Service's cluster IP (Kubernetes' docker-links style). */
export function serviceHostEnv(service: string): string {
  return `${service.replace(/-/g, '_').toUpperCase()}_SERVICE_HOST`;
}
