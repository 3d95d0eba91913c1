import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { parseDuration, parseIntArg } from '../../corefile/options.js';
import { givenTwice, walkOptions, type OptionSpec, type OptionTable } from '../../corefile/walk.js';
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

export function parseCache(d: Directive, blockZoneList: readonly string[]): CacheOptions {
  let args = d.args;
  let maxSuccess = MAX_SUCCESS_TTL;
  let maxDenial = MAX_DENIAL_TTL;
  // As CoreDNS: a first argument that is an integer is the TTL, anything else starts the zones.
  const first = args[0];
  if (first !== undefined && /^[+-]?\d+$/.test(first)) {
    const ttl = parseIntArg(first, d, 1, INT32, 'cache TTL (seconds, 1 or more)');
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
  walkOptions(d, 'cache', CACHE_OPTIONS, opts);
  return opts;
}

function capacityOption(kind: 'success' | 'denial'): OptionSpec<CacheOptions> {
  return {
    args: [1, 3], usage: `${kind} CAPACITY [TTL [MINTTL]]`,
    apply(opts, o) {
      const c = opts[kind];
      const [capacity = '', ttl, minTtl] = o.args;
      c.capacity = parseIntArg(capacity, o, 1, MAX_CAPACITY, `${kind} capacity`);
      if (ttl !== undefined) c.maxTtl = parseIntArg(ttl, o, 1, INT32, `${kind} TTL (seconds, 1 or more)`);
      if (minTtl !== undefined) {
        c.minTtl = parseIntArg(minTtl, o, 0, INT32, `${kind} MINTTL (seconds, 0 or more)`);
        if (c.minTtl > c.maxTtl) throw configError(o, `cache: ${kind} MINTTL ${c.minTtl} is larger than its TTL ${c.maxTtl}`);
      }
    },
  };
}

const CACHE_OPTIONS: OptionTable<CacheOptions> = {
  success: capacityOption('success'),
  denial: capacityOption('denial'),
  prefetch: {
    args: [1, 3], usage: 'prefetch AMOUNT [DURATION] [PERCENTAGE%]',
    apply(opts, o) {
      const [first = '', ...rest] = o.args;
      const amount = parseIntArg(first, o, 0, INT32, 'prefetch AMOUNT');
      let windowMs = 60_000;
      let percentage = 10;
      let next = rest.shift();
      if (next !== undefined && !next.endsWith('%')) {
        windowMs = parseDuration(next, o);
        if (windowMs <= 0) throw configError(o, 'cache: prefetch DURATION must be more than 0');
        next = rest.shift();
      }
      if (next !== undefined) {
        if (!next.endsWith('%')) throw configError(o, `cache: prefetch percentage "${next}" must end with %, e.g. 10%`);
        percentage = parseIntArg(next.slice(0, -1), o, 10, 90, 'prefetch percentage');
      }
      if (rest.length > 0) throw configError(o, `cache: unexpected "${rest[0]}"; usage: prefetch AMOUNT [DURATION] [PERCENTAGE%]`);
      // AMOUNT 0 turns prefetching off, as in CoreDNS.
      opts.prefetch = amount > 0 ? { amount, windowMs, percentage } : null;
    },
  },
  serve_stale: {
    args: [0, 2], usage: 'serve_stale [DURATION] [immediate|verify]',
    apply(opts, o) {
      const [duration, modeArg] = o.args;
      const maxStaleMs = duration !== undefined ? parseDuration(duration, o) : 3_600_000;
      const mode = (modeArg ?? 'immediate').toLowerCase();
      if (mode !== 'immediate' && mode !== 'verify') {
        throw configError(o, `cache: unknown serve_stale refresh mode "${modeArg}"; accepted: immediate, verify`);
      }
      opts.serveStale = maxStaleMs > 0 ? { maxStaleMs, verify: mode === 'verify' } : null;
    },
  },
  servfail: {
    args: [1, 1], usage: 'servfail DURATION',
    apply(opts, o) {
      const ms = parseDuration(o.args[0] ?? '', o);
      if (ms > 300_000) throw configError(o, 'cache: caching SERVFAIL for more than 5m is not permitted (RFC 2308)');
      opts.servfailTtl = Math.floor(ms / 1000);
    },
  },
  // Once per kind: "disable success" and "disable denial" may both be given.
  disable: {
    args: [1, Infinity], usage: 'disable success|denial [ZONES...]', repeat: true,
    apply(opts, o) {
      const [kind = '', ...zoneList] = o.args;
      if (kind !== 'success' && kind !== 'denial') throw configError(o, `cache: disable takes success or denial, not "${kind}"`);
      const z = zoneList.length > 0 ? zoneArgs(zoneList, o, 'cache') : opts.zones;
      const key = kind === 'success' ? 'disableSuccess' : 'disableDenial';
      // Zone lists are never empty, so an empty one was not given yet.
      if (opts[key].length > 0) throw givenTwice(o, 'cache', `disable ${kind}`);
      opts[key] = z;
    },
  },
  keepttl: { args: [0, 0], usage: 'keepttl', apply(opts) { opts.keepTtl = true; } },
};

export const cachePlugin: PluginDefinition = {
  name: 'cache',
  metrics: CACHE_FAMILIES,
  setup: (d, ctx) => new CachePlugin(parseCache(d, ctx.block.zones)),
};
