// Per-query DNS metrics, kept as plain numbers in typed arrays so that the
// `prometheus` plugin's observe() costs a few array increments per query.
// Names, labels and buckets are CoreDNS's (plugin/metrics/vars), so its
// dashboards and alerts work unchanged; label objects are only built when
// someone scrapes (see snapshot.ts).

import { internalZone, ROOT_ZONE } from '../corefile/zones.js';
import { rcodeName } from '../dns/constants.js';
import type { Reply } from '../dns/reply.js';
import type { Request } from '../server/plugin.js';
import { histogramSamples, type Sample } from './snapshot.js';

/** Query types CoreDNS labels by name; every other type is "other". */
export const TYPE_LABELS = [
  'A', 'AAAA', 'MX', 'SOA', 'CNAME', 'PTR', 'TXT', 'NS', 'SRV', 'DS', 'DNSKEY', 'RRSIG', 'NSEC', 'NSEC3',
  'HTTPS', 'IXFR', 'AXFR', 'ANY', 'other',
] as const;
const TYPE_CODES = [1, 28, 15, 6, 5, 12, 16, 2, 33, 43, 48, 46, 47, 50, 65, 251, 252, 255];
const NTYPES = TYPE_LABELS.length;
const OTHER = NTYPES - 1;
/** type code (< 256) -> slot in TYPE_LABELS. */
const TYPE_SLOT = new Uint8Array(256).fill(OTHER);
TYPE_CODES.forEach((code, slot) => { TYPE_SLOT[code] = slot; });

/** CoreDNS's plugin.TimeBuckets: 0.25 ms doubling 16 times (up to ~8 s). */
const FIRST_DURATION = 0.00025;
export const DURATION_BOUNDS: readonly number[] = Array.from({ length: 16 }, (_, i) => FIRST_DURATION * 2 ** i);
/** CoreDNS's request/response size buckets (bytes). */
export const SIZE_BOUNDS: readonly number[] = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];
const ND = DURATION_BOUNDS.length + 1;
const NS = SIZE_BOUNDS.length + 1;
const PROTOS = ['udp', 'tcp'] as const;
const FAMILIES = ['1', '2'] as const;

function durationSlot(sec: number): number {
  if (!(sec > FIRST_DURATION)) return 0;
  let i = Math.ceil(Math.log2(sec / FIRST_DURATION));
  if (i >= DURATION_BOUNDS.length) return DURATION_BOUNDS.length;
  if (sec <= FIRST_DURATION * 2 ** (i - 1)) i--; // rounding right at a bound (DURATION_BOUNDS[i - 1], computed alike)
  return i;
}

function sizeSlot(n: number): number {
  let i = 0;
  for (let b = SIZE_BOUNDS[0]; b !== undefined && n > b; b = SIZE_BOUNDS[i]) i++;
  return i;
}

/** Everything counted for one (server, zone). */
export class ZoneSeries {
  /** [type][proto][family] */
  readonly requests = new Float64Array(NTYPES * 4);
  /** [type][duration bucket] and the sum of seconds per type. */
  readonly duration = new Float64Array(NTYPES * ND);
  readonly durationSum = new Float64Array(NTYPES);
  /** [proto][size bucket] and sums per proto. */
  readonly requestSize = new Float64Array(2 * NS);
  readonly requestSizeSum = new Float64Array(2);
  readonly responseSize = new Float64Array(2 * NS);
  readonly responseSizeSum = new Float64Array(2);
  /** Per answering plugin (reply.by), counts per 4-bit rcode. */
  readonly responses = new Map<string, Float64Array>();
  doRequests = 0;

  constructor(readonly server: string, readonly zone: string, private readonly owner: DnsMetrics) {}

  record(req: Request, reply: Reply, wire: Buffer, ms: number): void {
    const t = req.type;
    const slot = t < 256 ? (TYPE_SLOT[t] ?? OTHER) : OTHER;
    const tcp = req.proto === 'tcp' ? 1 : 0;
    const ra = req.remoteAddress;
    // IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d: family 1, as CoreDNS reports them.
    const v6 = ra.indexOf(':') !== -1 && !ra.startsWith('::ffff:') ? 1 : 0;
    bump(this.requests, slot * 4 + tcp * 2 + v6, 1);
    if (req.edns !== null && req.edns.do) this.doRequests++;
    const sec = ms / 1000;
    bump(this.duration, slot * ND + durationSlot(sec), 1);
    bump(this.durationSum, slot, sec);
    const qlen = req.raw.length;
    bump(this.requestSize, tcp * NS + sizeSlot(qlen), 1);
    bump(this.requestSizeSum, tcp, qlen);
    const rlen = wire.length;
    bump(this.responseSize, tcp * NS + sizeSlot(rlen), 1);
    bump(this.responseSizeSum, tcp, rlen);
    const by = reply.by ?? '';
    let rc = this.responses.get(by);
    if (rc === undefined) {
      rc = new Float64Array(16);
      this.responses.set(by, rc);
    }
    // No bytes: a dropped query, counted as CoreDNS counts an unwritten answer (its rcode, NOERROR).
    bump(rc, rlen >= 4 ? (wire[3] ?? 0) & 0xf : reply.rcode & 0xf, 1);
    // A plugin threw (the server answered SERVFAIL in its place): CoreDNS counts a recovered panic.
    if (reply.error !== undefined && by === 'server') this.owner.panics++;
  }
}

/** All DNS series of a process (shared by every block's `prometheus`, kept across reloads). */
export class DnsMetrics {
  private readonly byServer = new Map<string, Map<string, ZoneSeries>>();
  panics = 0;

  series(server: string, zone: string): ZoneSeries {
    let zones = this.byServer.get(server);
    if (zones === undefined) {
      zones = new Map();
      this.byServer.set(server, zones);
    }
    let s = zones.get(zone);
    if (s === undefined) {
      s = new ZoneSeries(server, zone, this);
      zones.set(zone, s);
    }
    return s;
  }

  private *all(): Iterable<ZoneSeries> {
    for (const zones of this.byServer.values()) yield* zones.values();
  }

  // ---- scrape time -----------------------------------------------------

  requestsTotal(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.all()) {
      for (let slot = 0; slot < NTYPES; slot++) {
        for (let p = 0; p < 2; p++) {
          for (let f = 0; f < 2; f++) {
            const v = s.requests[slot * 4 + p * 2 + f] ?? 0;
            if (v > 0) out.push({ labels: { server: s.server, zone: zoneLabel(s.zone), view: '', proto: PROTOS[p] ?? '', family: FAMILIES[f] ?? '', type: TYPE_LABELS[slot] ?? '' }, value: v });
          }
        }
      }
    }
    return out;
  }

  doRequestsTotal(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.all()) {
      if (s.doRequests > 0) out.push({ labels: { server: s.server, view: '', zone: zoneLabel(s.zone) }, value: s.doRequests });
    }
    return out;
  }

  requestDuration(name: string): Sample[] {
    const out: Sample[] = [];
    for (const s of this.all()) {
      for (let slot = 0; slot < NTYPES; slot++) {
        const counts = s.duration.subarray(slot * ND, (slot + 1) * ND);
        if (!counts.some((c) => c > 0)) continue;
        out.push(...histogramSamples(name, { server: s.server, zone: zoneLabel(s.zone), view: '', type: TYPE_LABELS[slot] ?? '' }, DURATION_BOUNDS, counts, s.durationSum[slot] ?? 0));
      }
    }
    return out;
  }

  sizes(name: string, which: 'request' | 'response'): Sample[] {
    const out: Sample[] = [];
    for (const s of this.all()) {
      const arr = which === 'request' ? s.requestSize : s.responseSize;
      const sums = which === 'request' ? s.requestSizeSum : s.responseSizeSum;
      for (let p = 0; p < 2; p++) {
        const counts = arr.subarray(p * NS, (p + 1) * NS);
        if (!counts.some((c) => c > 0)) continue;
        out.push(...histogramSamples(name, { server: s.server, zone: zoneLabel(s.zone), view: '', proto: PROTOS[p] ?? '' }, SIZE_BOUNDS, counts, sums[p] ?? 0));
      }
    }
    return out;
  }

  responsesTotal(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.all()) {
      for (const [by, counts] of s.responses) {
        // CoreDNS leaves the label empty when the server itself wrote the answer.
        const plugin = by === 'server' ? '' : by;
        counts.forEach((v, rcode) => {
          if (v > 0) out.push({ labels: { server: s.server, zone: zoneLabel(s.zone), view: '', rcode: rcodeName(rcode), plugin }, value: v });
        });
      }
    }
    return mergeSamples(out);
  }
}

/**
 * Where queries the server refused before any block took them are counted
 * (no zone matches, a class nobody serves): CoreDNS's zone label "dropped".
 * No zone is spelled with a NUL, so it never meets a real zone "dropped".
 */
export const DROPPED_ZONE = '\u0000dropped';

/** CoreDNS writes zones fully qualified: "cluster.local.", "." for the root. */
export function zoneLabel(zone: string): string {
  if (zone === DROPPED_ZONE) return 'dropped';
  const z = internalZone(zone);
  return z === ROOT_ZONE ? '.' : `${z}.`;
}

/** Sums samples with equal names and labels (several sources may report the same series). */
export function mergeSamples(samples: Sample[]): Sample[] {
  const byKey = new Map<string, Sample>();
  for (const s of samples) {
    const k = sampleKey(s);
    const prev = byKey.get(k);
    if (prev) prev.value += s.value;
    else byKey.set(k, { ...s });
  }
  return [...byKey.values()];
}

export function sampleKey(s: Sample): string {
  const names = Object.keys(s.labels).sort();
  return `${s.metricName ?? ''}{${names.map((n) => `${n}=${JSON.stringify(s.labels[n])}`).join(',')}}`;
}

/** Typed arrays read as number | undefined under noUncheckedIndexedAccess; every index here is in range by construction. */
function bump(a: Float64Array, i: number, by: number): void {
  a[i] = (a[i] ?? 0) + by;
}
