import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { parseServerKey } from '../../corefile/keys.js';
import { expectArgs, parseDuration, parseHostPort, parseIntArg, unknownOption } from '../../corefile/options.js';
import { nameKey } from '../../dns/names.js';
import { FORWARD_FAMILIES } from './families.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { ForwardPlugin } from './forward.js';
import type { TransportOptions, UpstreamAddress } from './upstream.js';

export type Policy = 'random' | 'round_robin' | 'sequential';

/** One `forward` line, validated. */
export interface RouteOptions {
  /** Lower-case zone the line forwards ("" = the root). */
  from: string;
  to: UpstreamAddress[];
  /** Lower-case names (and everything below them) that are not forwarded. */
  except: string[];
  forceTcp: boolean;
  preferUdp: boolean;
  policy: Policy;
  /** 0 = no limit. */
  maxConcurrent: number;
  /** Time budget of one query across all its upstream attempts (ms). */
  readTimeoutMs: number;
  /** Rcodes that hand the query to the next matching forward line. */
  next: Set<number>;
  /** Rcodes that make us ask the next upstream of this line. */
  failover: Set<number>;
  failfastAllUnhealthy: boolean;
  transport: TransportOptions;
}

export const MAX_UPSTREAMS = 15;
export const DEFAULT_READ_TIMEOUT_MS = 2000;
/** Clients (glibc, musl, Go) retry after 5 s: a budget above this is never useful. */
export const MAX_READ_TIMEOUT_MS = 4500;

const RCODES: Record<string, number> = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
  YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10,
};

const OPTIONS = [
  'except', 'force_tcp', 'prefer_udp', 'expire', 'max_idle_conns', 'max_fails', 'policy', 'health_check',
  'max_concurrent', 'next', 'failover', 'failfast_all_unhealthy_upstreams', 'read_timeout',
];

/** CoreDNS options we know but do not implement, with the reason given to the user. */
const REFUSED_OPTIONS: Record<string, string> = {
  tls: 'DNS over TLS is not supported',
  tls_servername: 'DNS over TLS is not supported',
  doh_method: 'DNS over HTTPS is not supported',
  resolver: 'upstreams must be IP addresses (host names are not resolved)',
  max_connect_attempts: 'not supported; the read_timeout budget bounds the attempts',
  next_on_nodata: 'not supported',
};

/** `nameserver` addresses of a resolv.conf text, in order (IPs only; other lines ignored). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]!.replace(/%.*$/, '')) !== 0) out.push(m[1]!);
  }
  return out;
}

/**
 * Upstreams of a resolv.conf file. resolv.conf has no port syntax, so
 * every one is port 53, as CoreDNS reads it.
 */
export function readResolvConf(path: string, at: { file: string; line: number }): UpstreamAddress[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configError(at, `forward: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const hosts = parseResolvConf(text);
  if (hosts.length === 0) throw configError(at, `forward: no nameserver lines in ${path}`);
  return hosts.map((host) => ({ host, port: 53 }));
}

/** One TO argument: IP, IP:PORT, [IPv6]:PORT, dns://..., or a resolv.conf path. */
export function parseTo(arg: string, at: { file: string; line: number }): UpstreamAddress[] {
  let s = arg;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    const proto = scheme[1]!.toLowerCase();
    if (proto === 'tls') {
      throw configError(at, `forward: "${arg}": DNS over TLS (tls://) is not supported; forward to plain DNS (IP, IP:PORT or dns://IP)`);
    }
    if (proto !== 'dns') {
      throw configError(at, `forward: "${arg}": ${proto}:// is not supported; forward to plain DNS (IP, IP:PORT or dns://IP)`);
    }
    s = s.slice(scheme[0].length);
  } else if (s.includes('/')) {
    return readResolvConf(s, at);
  }
  const { host, port } = parseHostPort(s, 53, at);
  if (isIP(host) === 0) {
    throw configError(at, `forward: "${arg}" is not an IP address; use IP, IP:PORT, [IPv6]:PORT, dns://IP or a resolv.conf path`);
  }
  return [{ host, port }];
}

function parseFrom(from: string, at: Directive): string {
  const keys = parseServerKey(from, at);
  if (keys.some((k) => k.port !== null)) throw configError(at, `forward: FROM "${from}" takes no port`);
  // A CIDR that spans several reverse zones: as CoreDNS, only the first is used.
  const zone = keys[0]!.zone;
  return zone === '.' ? '' : zone;
}

function rcodeList(o: Directive, what: string, allowNoerror: boolean): Set<number> {
  if (o.args.length === 0) throw configError(o, `forward: ${what} needs at least one RCODE (e.g. NXDOMAIN, SERVFAIL, REFUSED)`);
  const out = new Set<number>();
  for (const a of o.args) {
    const code = RCODES[a.toUpperCase()];
    if (code === undefined) throw configError(o, `forward: ${what}: unknown RCODE "${a}"; accepted: ${Object.keys(RCODES).join(', ')}`);
    if (code === 0 && !allowNoerror) throw configError(o, `forward: ${what}: NOERROR cannot be used`);
    out.add(code);
  }
  return out;
}

export function parseForward(d: Directive): RouteOptions {
  expectArgs(d, 2, Infinity, 'forward FROM TO... [{ options }]');
  const from = parseFrom(d.args[0]!, d);
  const to: UpstreamAddress[] = [];
  for (const a of d.args.slice(1)) to.push(...parseTo(a, d));
  if (to.length > MAX_UPSTREAMS) throw configError(d, `forward: ${to.length} upstreams; at most ${MAX_UPSTREAMS} are allowed`);

  const r: RouteOptions = {
    from,
    to,
    except: [],
    forceTcp: false,
    preferUdp: false,
    policy: 'random',
    maxConcurrent: 0,
    readTimeoutMs: DEFAULT_READ_TIMEOUT_MS,
    next: new Set(),
    failover: new Set(),
    failfastAllUnhealthy: false,
    transport: {
      expireMs: 10_000,
      maxIdleConns: 0,
      maxFails: 2,
      healthCheckMs: 500,
      healthCheckDomain: '.',
      healthCheckRecursion: true,
      healthCheckTimeoutMs: 1000,
      forceTcp: false,
    },
  };
  const seen = new Set<string>();
  for (const o of d.block ?? []) {
    if (REFUSED_OPTIONS[o.name]) throw configError(o, `forward: option ${o.name}: ${REFUSED_OPTIONS[o.name]}`);
    if (!OPTIONS.includes(o.name)) throw unknownOption(o, 'forward', OPTIONS);
    if (seen.has(o.name)) throw configError(o, `forward: option ${o.name} is given twice`);
    seen.add(o.name);
    switch (o.name) {
      case 'except':
        if (o.args.length === 0) throw configError(o, 'forward: except needs at least one name');
        r.except = o.args.map((a) => {
          const k = nameKey(a);
          return k === '.' ? '' : k;
        });
        break;
      case 'force_tcp':
        expectArgs(o, 0, 0, 'force_tcp');
        r.forceTcp = true;
        break;
      case 'prefer_udp':
        expectArgs(o, 0, 0, 'prefer_udp');
        r.preferUdp = true;
        break;
      case 'expire':
        expectArgs(o, 1, 1, 'expire DURATION');
        r.transport.expireMs = positive(o, parseDuration(o.args[0]!, o), 'expire');
        break;
      case 'max_idle_conns':
        expectArgs(o, 1, 1, 'max_idle_conns INTEGER');
        r.transport.maxIdleConns = parseIntArg(o.args[0]!, o, 0, 1_000_000, 'max_idle_conns');
        break;
      case 'max_fails':
        expectArgs(o, 1, 1, 'max_fails INTEGER');
        r.transport.maxFails = parseIntArg(o.args[0]!, o, 0, 1_000_000, 'max_fails');
        break;
      case 'policy': {
        expectArgs(o, 1, 1, 'policy random|round_robin|sequential');
        const p = o.args[0]!;
        if (p !== 'random' && p !== 'round_robin' && p !== 'sequential') {
          throw configError(o, `forward: unknown policy "${p}"; accepted: random, round_robin, sequential`);
        }
        r.policy = p;
        break;
      }
      case 'health_check': {
        expectArgs(o, 1, 4, 'health_check DURATION [no_rec] [domain FQDN]');
        r.transport.healthCheckMs = positive(o, parseDuration(o.args[0]!, o), 'health_check');
        for (let i = 1; i < o.args.length; i++) {
          const a = o.args[i]!;
          if (a === 'no_rec') r.transport.healthCheckRecursion = false;
          else if (a === 'domain' && i + 1 < o.args.length) r.transport.healthCheckDomain = o.args[++i]!;
          else throw configError(o, `forward: health_check: unexpected "${a}"; usage: health_check DURATION [no_rec] [domain FQDN]`);
        }
        break;
      }
      case 'max_concurrent':
        expectArgs(o, 1, 1, 'max_concurrent MAX');
        r.maxConcurrent = parseIntArg(o.args[0]!, o, 1, 10_000_000, 'max_concurrent');
        break;
      case 'next':
        r.next = rcodeList(o, 'next', true);
        break;
      case 'failover':
        r.failover = rcodeList(o, 'failover', false);
        break;
      case 'failfast_all_unhealthy_upstreams':
        expectArgs(o, 0, 0, 'failfast_all_unhealthy_upstreams');
        r.failfastAllUnhealthy = true;
        break;
      case 'read_timeout': {
        expectArgs(o, 1, 1, 'read_timeout DURATION');
        const ms = positive(o, parseDuration(o.args[0]!, o), 'read_timeout');
        if (ms > MAX_READ_TIMEOUT_MS) {
          throw configError(o, `forward: read_timeout ${o.args[0]} is too long: clients retry after 5s, so at most ${MAX_READ_TIMEOUT_MS / 1000}s`);
        }
        r.readTimeoutMs = ms;
        break;
      }
    }
  }
  r.transport.forceTcp = r.forceTcp;
  r.transport.healthCheckTimeoutMs = Math.min(1000, r.readTimeoutMs);
  return r;
}

function positive(o: Directive, ms: number, what: string): number {
  if (ms <= 0) throw configError(o, `forward: ${what} must be greater than 0`);
  return ms;
}

/**
 * `forward` may appear several times in a block (most specific FROM wins):
 * the first line builds one plugin for all of them, the others add nothing
 * to the chain.
 */
export const forwardPlugin: PluginDefinition = {
  name: 'forward',
  metrics: FORWARD_FAMILIES,
  multiple: true,
  setup(d, ctx) {
    const all = ctx.block.directives.filter((x) => x.name === 'forward');
    if (all.length > 0 && all[0] !== d) return null;
    // Not listed anywhere process-wide: the metrics collector finds the
    // plugin through the serving blocks, so a reload lets it go.
    return new ForwardPlugin((all.length > 0 ? all : [d]).map(parseForward));
  },
};
