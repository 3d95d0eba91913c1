// Small validators for plugins' setup code. Each throws a CorefileError that
// points at the Corefile line, so every plugin reports problems the same way.

import { isIP } from 'node:net';
import type { Directive } from './ast.js';
import { configError } from './errors.js';

type At = { file: string; line: number };

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign, accepted by Go
  'μs': 1e-3, // U+03BC Greek mu, accepted by Go
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION = /^\+?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * Go duration syntax ("5s", "1m30s", "500ms", "1.5h") -> milliseconds, which
 * may be fractional below 1ms. A bare integer means seconds, as several
 * CoreDNS plugins accept (e.g. "cache 30").
 */
export function parseDuration(s: string, at: At): number {
  let ms: number;
  if (/^\d+$/.test(s)) {
    ms = Number(s) * 1000;
  } else if (DURATION.test(s)) {
    ms = 0;
    for (const m of s.matchAll(DURATION_PART)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  } else {
    const why = s.startsWith('-') ? 'must not be negative' : 'expected e.g. 30s, 5m, 1h30m, 500ms';
    throw configError(at, `invalid duration "${s}": ${why}`);
  }
  if (!Number.isFinite(ms)) throw configError(at, `invalid duration "${s}": too large`);
  return ms;
}

/** A decimal integer in [min, max]. */
export function parseIntArg(s: string, at: At, min: number, max: number, what: string): number {
  const n = /^[+-]?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw configError(at, `invalid ${what} "${s}": expected an integer from ${min} to ${max}`);
  }
  return n;
}

/** Checks min <= args <= max (use Infinity for "no upper bound"). */
export function expectArgs(d: Directive, min: number, max: number, usage: string): void {
  const n = d.args.length;
  if (n < min || n > max) throw configError(d, `${d.name}: wrong number of arguments (got ${n}); usage: ${usage}`);
}

export function noBlock(d: Directive): void {
  if (d.block !== null) throw configError(d, `${d.name} takes no block`);
}

/**
 * "1.2.3.4", "1.2.3.4:53", "[::1]:53", "[::1]", "::1", ":8080" (host "" =
 * all addresses), "localhost:9153". Ports are 1..65535; pass allowZeroPort
 * for listeners where 0 means "pick a free port" (handy in tests).
 */
export function parseHostPort(
  s: string,
  defaultPort: number,
  at: At,
  opts: { allowZeroPort?: boolean } = {},
): { host: string; port: number } {
  const fail = (why: string) => configError(at, `invalid address "${s}": ${why}`);
  let host: string;
  let portText: string | null = null;

  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) throw fail("missing ']'");
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw fail("expected ':PORT' after ']'");
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) throw fail('brackets must hold an IPv6 address');
  } else {
    const colons = s.split(':').length - 1;
    if (colons === 1) {
      const at = s.indexOf(':');
      host = s.slice(0, at);
      portText = s.slice(at + 1);
    } else {
      host = s;
      if (colons > 1 && isIP(host) !== 6) throw fail('not an IPv6 address (write [ADDR]:PORT to give a port)');
    }
  }

  if (host === '' && portText === null) throw fail('empty address');
  if (host !== '' && !isIP(host) && !/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i.test(host)) {
    throw fail('not an IP address or host name');
  }

  let port = defaultPort;
  if (portText !== null) {
    const min = opts.allowZeroPort ? 0 : 1;
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < min || Number(portText) > 65535) {
      throw fail(`port must be a number from ${min} to 65535`);
    }
    port = Number(portText);
  }
  return { host, port };
}
