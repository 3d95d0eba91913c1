import { LRUCache } from 'lru-cache';
import { performance } from 'node:perf_hooks';
import { FLAG, QTYPE, RCODE, UDP_EDNS_CAP } from '../../dns/constants.js';
import { OPT_SIZE, writeOptAt } from '../../dns/encode.js';
import { addressed, records, relay, type RecordsReply, type RelayReply, type Reply, type RR } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Placement, PluginSample } from '../../metrics/plugins.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { cacheSamples } from './families.js';
import type { CacheOptions } from './setup.js';
import { readNameKey, skipName, walkMessage, type RecordRef, type WireView } from '../../dns/wire.js';
import { inZones } from '../../corefile/zones.js';

/** Which store an answer lives in (CoreDNS: pcache / ncache). SERVFAIL goes with denial. */
const enum Kind { Success = 0, Denial = 1, Servfail = 2 }

/** CoreDNS's MinimalDefaultTTL / MaximumDefaultTTL (plugin/pkg/dnsutil). */
const MINIMAL_DEFAULT_TTL = 5;
const MAXIMUM_DEFAULT_TTL = 3600;
const INT32 = 0x7fffffff;
/** lru-cache byte budget per slot: entries are counted by `max`, and bytes by this, so a mix of huge answers can't grow memory past capacity x 2 KiB. */
const BYTES_PER_SLOT = 2048;
const ENTRY_OVERHEAD = 160;

/**
 * One cached answer. Upstream messages (Reply.wire) are kept as wire: the
 * header, question and records without OPT, with every TTL field's offset,
 * so a hit is a copy plus a few 32-bit writes. Answers built by plugins
 * (sections) are kept as sections and cloned with the remaining TTL per hit.
 */
interface Entry {
  kind: Kind;
  rcode: number;
  /** Seconds the entry lives; every record was stored with this TTL. */
  ttl: number;
  /** performance.now() when stored. */
  stored: number;
  wire: Buffer | null;
  ttlAt: number[];
  /** Offsets of owner names written out in full as the question name: the client's spelling goes there. */
  ownerAt: number[];
  /** The upstream's AD bit (only passed on to clients that set DO or AD). */
  ad: boolean;
  aa: boolean;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  /** Prefetch popularity: hits with no gap longer than the window, and the last one. */
  hits: number;
  last: number;
  size: number;
}

/** Counters for metrics (prometheus names in brackets). */
export interface CacheStats {
  /** Queries for the cache's zones [coredns_cache_requests_total]. */
  requests: number;
  hits: { success: number; denial: number };
  misses: number;
  /** Background refreshes started (prefetch and serve_stale immediate). */
  prefetches: number;
  servedStale: number;
  /** Answers not cached because their question didn't match the query. */
  drops: number;
  evictions: { success: number; denial: number };
}

export class CachePlugin implements Plugin {
  readonly name = 'cache';
  readonly stats: CacheStats = {
    requests: 0, hits: { success: 0, denial: 0 }, misses: 0, prefetches: 0, servedStale: 0, drops: 0,
    evictions: { success: 0, denial: 0 },
  };
  /** Clock in ms; tests may replace it. */
  now: () => number = () => performance.now();
  private readonly success: LRUCache<string, Entry>;
  private readonly denial: LRUCache<string, Entry>;
  /** Keys with a background refresh in flight: one at a time per key. */
  private readonly refreshing = new Set<string>();

  constructor(readonly opts: CacheOptions) {
    this.success = this.lru(opts.success.capacity, 'success');
    this.denial = this.lru(opts.denial.capacity, 'denial');
  }

  private lru(capacity: number, kind: 'success' | 'denial'): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      max: capacity,
      maxSize: capacity * BYTES_PER_SLOT,
      sizeCalculation: (e) => e.size,
      dispose: (_e, _k, reason) => { if (reason === 'evict') this.stats.evictions[kind]++; },
    });
  }

  /** Entries held now, per store [coredns_cache_entries]. */
  entries(): { success: number; denial: number } {
    return { success: this.success.size, denial: this.denial.size };
  }

  collectMetrics(at: Placement): PluginSample[] {
    return cacheSamples(this.stats, this.entries(), at);
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const lname = req.lname;
    const o = this.opts;
    if (!inZones(lname, o.zones)) return next(req);
    const s = this.stats;
    s.requests++;
    const okSuccess = o.disableSuccess.length === 0 || !inZones(lname, o.disableSuccess);
    const okDenial = o.disableDenial.length === 0 || !inZones(lname, o.disableDenial);
    // Nothing for this name can be cached (kubeadm: cluster.local): no key, no lookup.
    if ((!okSuccess && !okDenial) || req.type === QTYPE.AXFR || req.type === QTYPE.IXFR) {
      s.misses++;
      req.trace?.note('cache', 'not cached: caching is disabled for this name (disable success/denial) or the type', { hit: false });
      return next(req);
    }
    const key = cacheKey(req);
    const now = this.now();
    // A key lives in one store at most (store() deletes it from the other); success is asked first as most hits are there.
    const e = this.success.get(key) ?? this.denial.get(key);
    if (e !== undefined) {
      const ttl = e.ttl - Math.floor((now - e.stored) / 1000);
      if (ttl > 0) {
        if (e.kind === Kind.Success) s.hits.success++; else s.hits.denial++;
        req.trace?.note('cache', `hit: served from the ${e.kind === Kind.Success ? 'success' : 'denial'} cache, ${ttl}s of ${e.ttl}s left`, { hit: true, ttl });
        if (o.prefetch !== null && this.shouldPrefetch(e, now, ttl)) this.background(req, key, e, next);
        return this.answerFrom(e, req, o.keepTtl ? e.ttl : ttl);
      }
      const stale = o.serveStale;
      if (stale !== null && now - (e.stored + e.ttl * 1000) < stale.maxStaleMs) {
        if (e.kind === Kind.Success) s.hits.success++; else s.hits.denial++;
        req.trace?.note('cache', 'hit: expired entry within serve_stale', { hit: true, stale: true });
        if (stale.verify) return this.verifyStale(req, key, e, next, okSuccess, okDenial);
        s.servedStale++;
        this.background(req, key, e, next);
        return this.answerFrom(e, req, 0);
      }
      this.remove(key);
    }
    s.misses++;
    req.trace?.note('cache', 'miss: asked the next plugin', { hit: false });
    const r = next(req);
    if (r instanceof Promise) return r.then((x) => this.store(req, key, x, okSuccess, okDenial, null));
    return this.store(req, key, r, okSuccess, okDenial, null);
  }

  /** Empties both stores (reload, tests). */
  clear(): void {
    this.success.clear();
    this.denial.clear();
  }

  stop(): void {
    this.clear();
  }

  private remove(key: string): void {
    this.success.delete(key);
    this.denial.delete(key);
  }

  /** CoreDNS's rule: AMOUNT hits with no gap over the window, and TTL at or below PERCENTAGE of the original. */
  private shouldPrefetch(e: Entry, now: number, ttl: number): boolean {
    const p = this.opts.prefetch!;
    if (now - e.last > p.windowMs) e.hits = 1; else e.hits++;
    e.last = now;
    return e.hits >= p.amount && ttl <= Math.ceil((p.percentage * e.ttl) / 100);
  }

  /** Refreshes a key behind the client's back (prefetch, stale immediate). A failure keeps the old entry. */
  private background(req: Request, key: string, prev: Entry, next: Handler): void {
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    this.stats.prefetches++;
    const done = (): void => { this.refreshing.delete(key); };
    let p: Reply | Promise<Reply>;
    try {
      p = next(req);
    } catch (err) {
      done();
      log('debug', 'cache', 'refresh failed', { name: req.name, err });
      return;
    }
    Promise.resolve(p).then((r) => {
      if (!usable(r)) return;
      const lname = req.lname;
      const o = this.opts;
      this.remove(key);
      this.store(req, key, r, !inZones(lname, o.disableSuccess), !inZones(lname, o.disableDenial), prev);
    }, (err: unknown) => log('debug', 'cache', 'refresh failed', { name: req.name, err })).finally(done);
  }

  /** serve_stale verify: ask upstream first; a usable answer replaces the entry, anything else serves it stale. */
  private verifyStale(req: Request, key: string, e: Entry, next: Handler, okS: boolean, okD: boolean): Promise<Reply> {
    const stale = (): Reply => { this.stats.servedStale++; return this.answerFrom(e, req, 0); };
    let p: Reply | Promise<Reply>;
    try {
      p = next(req);
    } catch {
      return Promise.resolve(stale());
    }
    return Promise.resolve(p).then((r) => {
      if (!usable(r)) return stale();
      this.remove(key);
      return this.store(req, key, r, okS, okD, e);
    }, stale);
  }

  /** The entry as a reply for this query, every record with `ttl`. */
  private answerFrom(e: Entry, req: Request, ttl: number): Reply {
    const w = e.wire;
    if (w !== null) {
      const edns = req.edns;
      const len = w.length;
      const out = Buffer.allocUnsafe(edns ? len + OPT_SIZE : len);
      w.copy(out, 0, 0, len);
      out.writeUInt16BE(req.id, 0);
      const qf = req.flags;
      // As CoreDNS: AA set on cached answers (some stubs drop non-authoritative ones); RD/CD mirror the query.
      let flags = (out.readUInt16BE(2) & ~(FLAG.RD | FLAG.CD | FLAG.AD | FLAG.TC | 0x7800)) |
        FLAG.QR | FLAG.AA | (qf & (FLAG.RD | FLAG.CD));
      if (e.ad && ((edns !== null && edns.do) || (qf & FLAG.AD) !== 0)) flags |= FLAG.AD;
      out.writeUInt16BE(flags, 2);
      const at = e.ttlAt;
      for (const ttlAt of at) out.writeUInt32BE(ttl, ttlAt);
      const own = e.ownerAt;
      const qEnd = req.questionEnd - 4;
      if (qEnd > 12 && req.raw.length >= qEnd) {
        // The client's spelling, in the question and wherever a record spells the name out.
        req.raw.copy(out, 12, 12, qEnd);
        for (const ownerAt of own) req.raw.copy(out, ownerAt, 12, qEnd);
      }
      if (edns) {
        // Our own OPT (the upstream's may carry cookies or NSID meant for someone else).
        writeOptAt(out, len, UDP_EDNS_CAP, edns, e.rcode);
        out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
      }
      // A fresh copy made for this query: the server sends it without copying again.
      return addressed(e.rcode, 'cache', true, out);
    }
    return records(e.rcode, 'cache', true, withTtl(e.answer, ttl), withTtl(e.authority, ttl), withTtl(e.additional, ttl));
  }

  /**
   * Caches `r` if it may be, and returns what the client gets: the same
   * answer with every TTL set to the cached duration when stored (as
   * CoreDNS), untouched otherwise.
   */
  private store(req: Request, key: string, r: Reply, okS: boolean, okD: boolean, prev: Entry | null): Reply {
    // Drops and transfers are never cached (a transfer's question is AXFR/IXFR, which lookups skip too).
    if (r.error !== undefined || r.kind === 'drop' || r.kind === 'transfer') return r;
    return r.kind === 'relay' ? this.storeWire(req, key, r, okS, okD, prev) : this.storeSections(key, r, okS, okD, prev);
  }

  private storeWire(req: Request, key: string, r: RelayReply, okS: boolean, okD: boolean, prev: Entry | null): RelayReply {
    const wire = r.wire;
    const v = walkMessage(wire);
    if (v === null || (v.flags & FLAG.TC) !== 0) return r;
    if (v.qdcount !== 1 || v.qtype !== req.type || v.qclass !== req.qclass || readNameKey(wire, 12) !== req.lname) {
      this.stats.drops++;
      return r;
    }
    let an = 0, soa: RecordRef | null = null;
    for (const rec of v.records) {
      if (rec.section === 0) an++;
      else if (rec.section === 1 && rec.type === QTYPE.SOA) soa = rec;
    }
    const kind = classify(v.rcode, an, soa !== null);
    if (kind === null || !(kind === Kind.Success ? okS : okD)) return r;
    // OPT is dropped from the stored copy; only the usual place (last) is handled.
    if (v.opt >= 0 && v.opt !== v.records.length - 1) return r;
    const duration = this.duration(kind, () => minimalTtlWire(wire, v, kind === Kind.Denial ? soa : null));
    if (duration <= 0) return r;

    const sent = Buffer.from(wire);
    const ttlAt: number[] = [];
    const ownerAt: number[] = [];
    for (const rec of v.records) {
      if (rec.type === QTYPE.OPT) continue;
      sent.writeUInt32BE(duration, rec.ttlAt);
      ttlAt.push(rec.ttlAt);
      if (rec.nameAt > 12 && sameName(wire, rec.nameAt, v.questionEnd - 4)) ownerAt.push(rec.nameAt);
    }
    const opt = v.opt >= 0 ? v.records[v.opt] : undefined;
    const end = opt !== undefined ? opt.nameAt : sent.length;
    const body = Buffer.allocUnsafe(end);
    sent.copy(body, 0, 0, end);
    body.writeUInt16BE(0, 0);
    if (v.opt >= 0) body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
    this.put(key, {
      kind: kind === Kind.Success ? Kind.Success : Kind.Denial, rcode: v.rcode, ttl: duration, stored: this.now(),
      wire: body, ttlAt, ownerAt, ad: (v.flags & FLAG.AD) !== 0, aa: (v.flags & FLAG.AA) !== 0,
      answer: [], authority: [], additional: [], hits: 0, last: -Infinity,
      size: end + ttlAt.length * 8 + ENTRY_OVERHEAD,
    }, prev);
    return r.addressed ? addressed(r.rcode, r.by, r.aa, sent) : relay(r.rcode, r.by, r.aa, sent);
  }

  private storeSections(key: string, r: RecordsReply, okS: boolean, okD: boolean, prev: Entry | null): RecordsReply {
    // A failure a plugin reports (hosts without a name, kubernetes before its sync,
    // the end of the chain) is not cached: in CoreDNS such rcodes are returned, not
    // written, and never reach the cache. Only an upstream's SERVFAIL message is.
    if (r.rcode === RCODE.SERVFAIL || r.rcode === RCODE.NOTIMP) return r;
    let soa: RR | null = null;
    for (const rr of r.authority) if (rr.type === 'SOA') soa = rr;
    const kind = classify(r.rcode, r.answer.length, soa !== null);
    if (kind === null || !(kind === Kind.Success ? okS : okD)) return r;
    const additional = r.additional.some((rr) => rr.type === 'OPT') ? r.additional.filter((rr) => rr.type !== 'OPT') : r.additional;
    const duration = this.duration(kind, () => minimalTtlSections(r.answer, r.authority, additional, kind === Kind.Denial ? soa : null));
    if (duration <= 0) return r;
    const answer = withTtl(r.answer, duration);
    const authority = withTtl(r.authority, duration);
    const extra = withTtl(additional, duration);
    let size = ENTRY_OVERHEAD;
    for (const list of [answer, authority, extra]) for (const rr of list) size += 96 + rr.name.length * 2 + rrDataSize(rr);
    this.put(key, {
      kind: kind === Kind.Success ? Kind.Success : Kind.Denial, rcode: r.rcode, ttl: duration, stored: this.now(),
      wire: null, ttlAt: [], ownerAt: [], ad: false, aa: r.aa, answer, authority, additional: extra,
      hits: 0, last: -Infinity, size,
    }, prev);
    return records(r.rcode, r.by, r.aa, answer, authority, extra);
  }

  /** CoreDNS's computeTTL: the message's TTL clamped to [MINTTL, TTL]; SERVFAIL gets the servfail duration. */
  private duration(kind: Kind, msgTtl: () => number): number {
    if (kind === Kind.Servfail) return this.opts.servfailTtl;
    const c = kind === Kind.Success ? this.opts.success : this.opts.denial;
    return Math.min(Math.max(msgTtl(), c.minTtl), c.maxTtl);
  }

  private put(key: string, e: Entry, prev: Entry | null): void {
    if (prev !== null) {
      // Popularity survives a refresh, so a hot name keeps being prefetched.
      e.hits = prev.hits;
      e.last = e.stored;
    }
    if (e.kind === Kind.Success) {
      this.denial.delete(key);
      this.success.set(key, e);
    } else {
      this.success.delete(key);
      this.denial.set(key, e);
    }
  }
}

/** Name, type, class, DO and CD: everything an answer depends on. */
export function cacheKey(req: Request): string {
  const d = req.edns !== null && req.edns.do ? '1' : '0';
  const c = (req.flags & FLAG.CD) !== 0 ? '1' : '0';
  return `${req.type}:${req.qclass}:${d}${c}:${req.lname}`;
}

/** A refresh result that may replace an entry (RFC 8767 4: NOERROR or NXDOMAIN). */
function usable(r: Reply): boolean {
  return r.error === undefined && (r.rcode === RCODE.NOERROR || r.rcode === RCODE.NXDOMAIN);
}

/** CoreDNS's response.Typify, reduced to what the cache needs; null = never cached. */
function classify(rcode: number, answers: number, soa: boolean): Kind | null {
  if (rcode === RCODE.NOERROR && answers > 0) return Kind.Success;
  if (soa && (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN)) return Kind.Denial;
  if (rcode === RCODE.SERVFAIL || rcode === RCODE.NOTIMP) return Kind.Servfail;
  if (rcode === RCODE.NOERROR) return Kind.Success; // referral, or empty without SOA
  return null; // NXDOMAIN without SOA (RFC 2308 5: not cacheable), REFUSED, FORMERR...
}

/** Is the name at `at` the question's name (bytes 12..qEnd) written out in full, ignoring ASCII case? */
function sameName(buf: Buffer, at: number, qEnd: number): boolean {
  const n = qEnd - 12;
  if (n <= 1 || at + n > buf.length) return false;
  for (let i = 0; i < n; i++) {
    // In bounds: at + n <= buf.length was checked above, and 12 + n <= qEnd.
    let x = buf[at + i] ?? 0;
    let y = buf[12 + i] ?? 0;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** RFC 2181 8: a TTL with the top bit set is 0. */
function ttl32(t: number): number {
  return t > INT32 ? 0 : t;
}

/**
 * The lowest TTL in the message (at most 3600); for negative answers
 * also the SOA's MINIMUM (RFC 2308 5: min(SOA TTL, MINIMUM)). A message
 * without records gets 5 s.
 */
function minimalTtlWire(wire: Buffer, v: WireView, soa: RecordRef | null): number {
  let min = MAXIMUM_DEFAULT_TTL;
  let any = false;
  for (const rec of v.records) {
    if (rec.type === QTYPE.OPT) continue;
    any = true;
    min = Math.min(min, ttl32(rec.ttl));
  }
  if (!any) return MINIMAL_DEFAULT_TTL;
  if (soa !== null) {
    let off = skipName(wire, soa.rdAt);
    if (off >= 0) off = skipName(wire, off);
    if (off >= 0 && off + 20 <= soa.end) min = Math.min(min, ttl32(wire.readUInt32BE(off + 16)));
  }
  return min;
}

function minimalTtlSections(answer: RR[], authority: RR[], additional: RR[], soa: RR | null): number {
  let min = MAXIMUM_DEFAULT_TTL;
  let any = false;
  for (const list of [answer, authority, additional]) {
    for (const rr of list) {
      any = true;
      min = Math.min(min, ttl32((rr as { ttl?: number }).ttl ?? 0));
    }
  }
  if (!any) return MINIMAL_DEFAULT_TTL;
  if (soa !== null) {
    const m = (soa as { data?: { minimum?: number } }).data?.minimum;
    if (typeof m === 'number') min = Math.min(min, ttl32(m));
  }
  return min;
}

function withTtl(list: RR[], ttl: number): RR[] {
  if (list.length === 0) return [];
  return list.map((rr) => ({ ...rr, ttl }) as RR);
}

function rrDataSize(rr: RR): number {
  const d = (rr as { data?: unknown }).data;
  if (typeof d === 'string') return d.length * 2;
  if (Buffer.isBuffer(d)) return d.length;
  if (Array.isArray(d)) return d.reduce((n: number, x: unknown) => n + (typeof x === 'string' || Buffer.isBuffer(x) ? x.length * 2 : 32), 0);
  return 64;
}
