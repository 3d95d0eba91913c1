import { readFileSync } from 'node:fs';
import { checkTlsContext, readTlsFile } from '../../corefile/tls-files.js';
import { isIP } from 'node:net';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { parseServerKey, TLS_PORT } from '../../corefile/keys.js';
import { expectArgs, parseDuration, parseHostPort, parseIntArg } from '../../corefile/options.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import { internalZone } from '../../corefile/zones.js';
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

/** CoreDNS options we know but do not implement, with the reason given to the user. */
const REFUSED_OPTIONS: Record<string, string> = {
  doh_method: 'clusterdns forwards plain DNS only (no DNS over HTTPS)',
  resolver: 'upstreams must be IP addresses (host names are not resolved)',
  max_connect_attempts: 'the read_timeout budget bounds the attempts',
  next_on_nodata: 'clusterdns does not implement it',
};

/** `nameserver` addresses of a resolv.conf text, in order (IPs only; other lines ignored). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    const host = m?.[1];
    if (host !== undefined && isIP(host.replace(/%.*$/, '')) !== 0) out.push(host);
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

/** One TO argument: IP, IP:PORT, [IPv6]:PORT, dns://..., tls://IP[:PORT] (default 853), or a resolv.conf path. */
export function parseTo(arg: string, at: { file: string; line: number }): UpstreamAddress[] {
  let s = arg;
  let tls = false;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    const proto = (scheme[1] ?? '').toLowerCase();
    if (proto !== 'dns' && proto !== 'tls') {
      throw configError(at, `forward: "${arg}": ${proto}:// is not supported; forward to plain DNS (IP, IP:PORT or dns://IP) or DNS over TLS (tls://IP[:PORT])`);
    }
    tls = proto === 'tls';
    s = s.slice(scheme[0].length);
  } else if (s.includes('/')) {
    return readResolvConf(s, at);
  }
  const { host, port } = parseHostPort(s, tls ? TLS_PORT : 53, at);
  if (isIP(host) === 0) {
    throw configError(at, `forward: "${arg}" is not an IP address; use IP, IP:PORT, [IPv6]:PORT, dns://IP, tls://IP[:PORT] or a resolv.conf path`);
  }
  return [tls ? { host, port, tls } : { host, port }];
}

function parseFrom(from: string, at: Directive): string {
  const keys = parseServerKey(from, at);
  if (keys.some((k) => k.port !== null)) throw configError(at, `forward: FROM "${from}" takes no port`);
  // A CIDR that spans several reverse zones: as CoreDNS, only the first is used.
  const first = keys[0];
  if (!first) throw configError(at, `forward: FROM "${from}" names no zone`);
  return internalZone(first.zone);
}

function rcodeList(o: Directive, what: string, allowNoerror: boolean): Set<number> {
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
  const from = parseFrom(d.args[0] ?? '', d);
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
      tls: {},
    },
  };
  walkOptions(d, 'forward', FORWARD_OPTIONS, r, { unsupported: REFUSED_OPTIONS });
  r.transport.forceTcp = r.forceTcp;
  r.transport.healthCheckTimeoutMs = Math.min(1000, r.readTimeoutMs);
  return r;
}

const FORWARD_OPTIONS: OptionTable<RouteOptions> = {
  except: {
    args: [1, Infinity], usage: 'except IGNORED_NAMES...',
    apply(r, o) { r.except = o.args.map((a) => internalZone(nameKey(a))); },
  },
  tls: {
    // As CoreDNS: none = the system's roots; CA; CERT KEY (a client certificate); CERT KEY CA.
    args: [0, 3], usage: 'tls [CERT KEY] [CA]',
    apply(r, o) {
      const [a, b, c] = o.args;
      const file = (path: string, what: string) => readTlsFile(path, o, 'forward', what);
      const ca = o.args.length === 1 && a !== undefined ? a : c;
      const opts = {
        ...(o.args.length >= 2 && a !== undefined && b !== undefined ? { cert: file(a, 'certificate'), key: file(b, 'key') } : {}),
        ...(ca !== undefined ? { ca: file(ca, 'CA') } : {}),
      };
      checkTlsContext(opts, o, 'forward');
      r.transport.tls = { ...r.transport.tls, ...opts };
    },
  },
  tls_servername: {
    args: [1, 1], usage: 'tls_servername NAME',
    apply(r, o) { r.transport.tls = { ...r.transport.tls, servername: o.args[0] ?? '' }; },
  },
  force_tcp: { args: [0, 0], usage: 'force_tcp', apply(r) { r.forceTcp = true; } },
  prefer_udp: { args: [0, 0], usage: 'prefer_udp', apply(r) { r.preferUdp = true; } },
  expire: {
    args: [1, 1], usage: 'expire DURATION',
    apply(r, o) { r.transport.expireMs = positive(o, parseDuration(o.args[0] ?? '', o), 'expire'); },
  },
  max_idle_conns: {
    args: [1, 1], usage: 'max_idle_conns INTEGER',
    apply(r, o) { r.transport.maxIdleConns = parseIntArg(o.args[0] ?? '', o, 0, 1_000_000, 'max_idle_conns'); },
  },
  max_fails: {
    args: [1, 1], usage: 'max_fails INTEGER',
    apply(r, o) { r.transport.maxFails = parseIntArg(o.args[0] ?? '', o, 0, 1_000_000, 'max_fails'); },
  },
  policy: {
    args: [1, 1], usage: 'policy random|round_robin|sequential',
    apply(r, o) {
      const p = o.args[0] ?? '';
      if (p !== 'random' && p !== 'round_robin' && p !== 'sequential') {
        throw configError(o, `forward: unknown policy "${p}"; accepted: random, round_robin, sequential`);
      }
      r.policy = p;
    },
  },
  health_check: {
    args: [1, 4], usage: 'health_check DURATION [no_rec] [domain FQDN]',
    apply(r, o) {
      const [duration = '', ...rest] = o.args;
      r.transport.healthCheckMs = positive(o, parseDuration(duration, o), 'health_check');
      for (let a = rest.shift(); a !== undefined; a = rest.shift()) {
        const domain = a === 'domain' ? rest.shift() : undefined;
        if (a === 'no_rec') r.transport.healthCheckRecursion = false;
        else if (domain !== undefined) r.transport.healthCheckDomain = domain;
        else throw configError(o, `forward: health_check: unexpected "${a}"; usage: health_check DURATION [no_rec] [domain FQDN]`);
      }
    },
  },
  max_concurrent: {
    args: [1, 1], usage: 'max_concurrent MAX',
    apply(r, o) { r.maxConcurrent = parseIntArg(o.args[0] ?? '', o, 1, 10_000_000, 'max_concurrent'); },
  },
  next: { args: [1, Infinity], usage: 'next RCODE...', apply(r, o) { r.next = rcodeList(o, 'next', true); } },
  failover: { args: [1, Infinity], usage: 'failover RCODE...', apply(r, o) { r.failover = rcodeList(o, 'failover', false); } },
  failfast_all_unhealthy_upstreams: {
    args: [0, 0], usage: 'failfast_all_unhealthy_upstreams',
    apply(r) { r.failfastAllUnhealthy = true; },
  },
  read_timeout: {
    args: [1, 1], usage: 'read_timeout DURATION',
    apply(r, o) {
      const text = o.args[0] ?? '';
      const ms = positive(o, parseDuration(text, o), 'read_timeout');
      if (ms > MAX_READ_TIMEOUT_MS) {
        throw configError(o, `forward: read_timeout ${text} is too long: clients retry after 5s, so at most ${MAX_READ_TIMEOUT_MS / 1000}s`);
      }
      r.readTimeoutMs = ms;
    },
  },
};

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
