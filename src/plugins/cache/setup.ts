import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, noBlock, parseDuration, parseIntArg, unknownOption } from '../../corefile/options.js';
import { CACHE_FAMILIES } from './families.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { CachePlugin } from './cache.js';
import { zoneArgs } from '../../corefile/zones.js';

export interface CacheClassOptions {
  /** Most entries kept (lru-cache `max`). */
  capacity: number;
  /** Longest TTL an answer is cached (and served) with, seconds. */
  maxTtl: number;
  /** Shortest, seconds; 0 allows TTL-0 answers through uncached. */
  minTtl: number;
}

export interface CacheOptions {
  /** Lower-case zones, the root as "". */
  zones: string[];
  success: CacheClassOptions;
  denial: CacheClassOptions;
  /** How long SERVFAIL answers are cached, seconds; 0 disables. */
  servfailTtl: number;
  prefetch: { amount: number; windowMs: number; percentage: number } | null;
  serveStale: { maxStaleMs: number; verify: boolean } | null;
  /** Zones whose successful / denial answers are never cached. */
  disableSuccess: string[];
  disableDenial: string[];
  keepTtl: boolean;
}

// CoreDNS's defaults (plugin/cache): 9984 entries each (256 shards x 39),
// TTL caps 3600 s / 1800 s, floor 5 s, SERVFAIL 5 s, prefetch window 1m at 10%.
export const DEFAULT_CAPACITY = 9984;
export const MAX_SUCCESS_TTL = 3600;
export const MAX_DENIAL_TTL = 1800;
export const MIN_TTL = 5;
const MAX_CAPACITY = 10_000_000;
const INT32 = 2 ** 31 - 1;

const OPTIONS = ['success', 'denial', 'prefetch', 'serve_stale', 'servfail', 'disable', 'keepttl'];

export function parseCache(d: Directive, blockZoneList: readonly string[]): CacheOptions {
  let args = d.args;
  let maxSuccess = MAX_SUCCESS_TTL;
  let maxDenial = MAX_DENIAL_TTL;
  // As CoreDNS: a first argument that is an integer is the TTL, anything else starts the zones.
  if (args.length > 0 && /^[+-]?\d+$/.test(args[0]!)) {
    const ttl = parseIntArg(args[0]!, d, 1, INT32, 'cache TTL (seconds, 1 or more)');
    maxSuccess = ttl;
    maxDenial = ttl;
    args = args.slice(1);
  }
  const zones = args.length > 0 ? zoneArgs(args, d, 'cache') : [...blockZoneList];
  const opts: CacheOptions = {
    zones,
    success: { capacity: DEFAULT_CAPACITY, maxTtl: maxSuccess, minTtl: MIN_TTL },
    denial: { capacity: DEFAULT_CAPACITY, maxTtl: maxDenial, minTtl: MIN_TTL },
    servfailTtl: 5,
    prefetch: null,
    serveStale: null,
    disableSuccess: [],
    disableDenial: [],
    keepTtl: false,
  };
  const seen = new Set<string>();
  for (const o of d.block ?? []) {
    noBlock(o);
    const once = o.name === 'disable' ? `disable ${o.args[0] ?? ''}` : o.name;
    if (OPTIONS.includes(o.name)) {
      if (seen.has(once)) throw configError(o, `cache: "${once}" is given twice; give it once`);
      seen.add(once);
    }
    switch (o.name) {
      case 'success':
      case 'denial': {
        expectArgs(o, 1, 3, `${o.name} CAPACITY [TTL [MINTTL]]`);
        const c = opts[o.name];
        c.capacity = parseIntArg(o.args[0]!, o, 1, MAX_CAPACITY, `${o.name} capacity`);
        if (o.args.length > 1) c.maxTtl = parseIntArg(o.args[1]!, o, 1, INT32, `${o.name} TTL (seconds, 1 or more)`);
        if (o.args.length > 2) {
          c.minTtl = parseIntArg(o.args[2]!, o, 0, INT32, `${o.name} MINTTL (seconds, 0 or more)`);
          if (c.minTtl > c.maxTtl) throw configError(o, `cache: ${o.name} MINTTL ${c.minTtl} is larger than its TTL ${c.maxTtl}`);
        }
        break;
      }
      case 'prefetch': {
        expectArgs(o, 1, 3, 'prefetch AMOUNT [DURATION] [PERCENTAGE%]');
        const amount = parseIntArg(o.args[0]!, o, 0, INT32, 'prefetch AMOUNT');
        let windowMs = 60_000;
        let percentage = 10;
        const rest = o.args.slice(1);
        if (rest.length > 0 && !rest[0]!.endsWith('%')) {
          windowMs = parseDuration(rest.shift()!, o);
          if (windowMs <= 0) throw configError(o, 'cache: prefetch DURATION must be more than 0');
        }
        if (rest.length > 0) {
          const p = rest.shift()!;
          if (!p.endsWith('%')) throw configError(o, `cache: prefetch percentage "${p}" must end with %, e.g. 10%`);
          percentage = parseIntArg(p.slice(0, -1), o, 10, 90, 'prefetch percentage');
        }
        if (rest.length > 0) throw configError(o, `cache: unexpected "${rest[0]}"; usage: prefetch AMOUNT [DURATION] [PERCENTAGE%]`);
        // AMOUNT 0 turns prefetching off, as in CoreDNS.
        opts.prefetch = amount > 0 ? { amount, windowMs, percentage } : null;
        break;
      }
      case 'serve_stale': {
        expectArgs(o, 0, 2, 'serve_stale [DURATION] [immediate|verify]');
        const maxStaleMs = o.args.length > 0 ? parseDuration(o.args[0]!, o) : 3_600_000;
        const mode = (o.args[1] ?? 'immediate').toLowerCase();
        if (mode !== 'immediate' && mode !== 'verify') {
          throw configError(o, `cache: unknown serve_stale refresh mode "${o.args[1]}"; accepted: immediate, verify`);
        }
        opts.serveStale = maxStaleMs > 0 ? { maxStaleMs, verify: mode === 'verify' } : null;
        break;
      }
      case 'servfail': {
        expectArgs(o, 1, 1, 'servfail DURATION');
        const ms = parseDuration(o.args[0]!, o);
        if (ms > 300_000) throw configError(o, 'cache: caching SERVFAIL for more than 5m is not permitted (RFC 2308)');
        opts.servfailTtl = Math.floor(ms / 1000);
        break;
      }
      case 'disable': {
        expectArgs(o, 1, Infinity, 'disable success|denial [ZONES...]');
        const kind = o.args[0]!;
        if (kind !== 'success' && kind !== 'denial') {
          throw configError(o, `cache: disable takes success or denial, not "${kind}"`);
        }
        const z = o.args.length > 1 ? zoneArgs(o.args.slice(1), o, 'cache') : zones;
        if (kind === 'success') opts.disableSuccess = z; else opts.disableDenial = z;
        break;
      }
      case 'keepttl':
        expectArgs(o, 0, 0, 'keepttl');
        opts.keepTtl = true;
        break;
      default:
        throw unknownOption(o, 'cache', OPTIONS);
    }
  }
  return opts;
}

export const cachePlugin: PluginDefinition = {
  name: 'cache',
  metrics: CACHE_FAMILIES,
  setup: (d, ctx) => new CachePlugin(parseCache(d, ctx.block.zones)),
};
