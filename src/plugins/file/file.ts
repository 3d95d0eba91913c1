import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync, statSync } from 'node:fs';
import { Periodic } from '../periodic.js';
import { readFile, stat } from 'node:fs/promises';
import { QTYPE, RCODE } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import { sectionsOf } from '../../dns/relay.js';
import { records, type Reply, type RR } from '../../dns/reply.js';
import type { Fallthrough } from '../../corefile/fallthrough.js';
import { log } from '../../log.js';
import type { Handler, Plugin, Request, SetupContext } from '../../server/plugin.js';
import { type Lookup, Zone } from './zone.js';
import { parseZone, ZoneError } from './zone-parse.js';

export interface FileOptions {
  /** Absolute path of the zone file. */
  path: string;
  /** Origins served from it: lower-case, no trailing dot, root "". */
  origins: string[];
  /** How often the file is checked; 0: never. */
  reloadMs: number;
  /** Reload when the modification time moves, whatever the SOA serial says. */
  reloadByMtime: boolean;
  fallthrough: Fallthrough;
}

/** CNAMEs followed inside our zones before we stop (CoreDNS follows 8 more after the first). */
const MAX_CHAIN = 9;
/** Nested chases through the server (zone A -> outside -> zone A ...): CoreDNS bails out after 8. */
const MAX_DEPTH = 8;
const CHASE_TIMEOUT_MS = 2000;
const chaseDepth = new AsyncLocalStorage<number>();

/** Every reply of this plugin is built here (one place to adapt when Reply changes shape). */
export function zoneReply(rcode: number, aa: boolean, answer?: RR[], authority?: RR[], additional?: RR[]): Reply {
  return records(rcode, 'file', aa, answer, authority, additional);
}

/** The file's text as one zone per origin; throws ZoneError (FILE:LINE). */
export function buildZones(text: string, path: string, origins: readonly string[]): Map<string, Zone> {
  const out = new Map<string, Zone>();
  for (const origin of origins) {
    const parsed = parseZone(text, origin, path);
    if (parsed.outOfZone > 0) log('warn', 'file', 'records outside the zone are ignored', { zone: `${origin}.`, file: path, count: parsed.outOfZone });
    out.set(origin, new Zone(origin, parsed, path));
  }
  return out;
}

/** Reads and parses the file at setup; null when it does not exist (yet). */
export function loadZonesSync(path: string, origins: readonly string[]): { text: string; mtimeMs: number; zones: Map<string, Zone> } | null {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return { text, mtimeMs, zones: buildZones(text, path, origins) };
}

export class FilePlugin implements Plugin {
  readonly name = 'file';
  private zones = new Map<string, Zone>();
  private text: string | null = null;
  private mtimeMs = -1;
  private readonly poll: Periodic;
  private checking = false;
  private lastProblem = '';

  constructor(readonly opts: FileOptions, private readonly resolve: SetupContext['resolve'], initial: ReturnType<typeof loadZonesSync>) {
    this.poll = new Periodic(opts.reloadMs, () => this.check());
    if (initial !== null) {
      this.text = initial.text;
      this.mtimeMs = initial.mtimeMs;
      this.zones = initial.zones;
    }
  }

  /** The zone loaded for an origin (for the transfer plugin: `records()` and `serial`). */
  zone(origin: string): Zone | undefined {
    return this.zones.get(origin);
  }

  /** Transfer source: the zone's records, SOA first, in file order. */
  transfer(zone: string): Iterable<RR> | null {
    return this.zones.get(zone)?.records() ?? null;
  }

  start(): void {
    this.poll.start();
  }

  stop(): void {
    this.poll.stop();
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const origin = this.match(req.lname);
    if (origin === null) return next(req);
    // Zone transfers belong to the transfer plugin; without it they are refused (CoreDNS).
    if (req.type === QTYPE.AXFR || req.type === QTYPE.IXFR) return zoneReply(RCODE.REFUSED, false);
    const zone = this.zones.get(origin);
    if (zone === undefined) return zoneReply(RCODE.SERVFAIL, false);
    const r = zone.lookup(req.lname, req.type);
    if ((r.kind === 'nxdomain' || (r.kind === 'nodata' && r.ent)) && this.fallsThrough(req.lname)) return next(req);
    if (r.kind === 'cname') return this.chase(req.lname, r, zone, req.type);
    return final(r, []);
  }

  /** The longest of our origins holding `lname`, or null. */
  private match(lname: string): string | null {
    let best: string | null = null;
    for (const o of this.opts.origins) {
      if (isSubdomain(lname, o) && (best === null || o.length > best.length)) best = o;
    }
    return best;
  }

  private fallsThrough(lname: string): boolean {
    return this.opts.fallthrough.matches(lname);
  }

  /** Follows a CNAME chain through our zones; a target outside them is asked of the server. */
  private chase(qname: string, first: Lookup & { kind: 'cname' }, zone: Zone, qtype: number): Reply | Promise<Reply> {
    const answer = [...first.cname];
    const seen = new Set([qname]);
    let target = first.target.toLowerCase();
    let last = zone;
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      // A loop inside our zones: each CNAME once, then stop (CoreDNS repeats them up to 9 times).
      if (seen.has(target)) break;
      seen.add(target);
      const origin = this.match(target);
      if (origin === null) return this.outside(answer, target, qtype, last);
      const z = this.zones.get(origin);
      if (z === undefined) return zoneReply(RCODE.SERVFAIL, true, answer);
      last = z;
      const r = z.lookup(target, qtype);
      if (r.kind !== 'cname') return final(r, answer);
      answer.push(...r.cname);
      target = r.target.toLowerCase();
    }
    return zoneReply(RCODE.NOERROR, true, answer, last.nameServers);
  }

  private async outside(answer: RR[], target: string, qtype: number, zone: Zone): Promise<Reply> {
    const depth = chaseDepth.getStore() ?? 0;
    if (depth >= MAX_DEPTH) return zoneReply(RCODE.SERVFAIL, true, answer);
    let timer: NodeJS.Timeout | undefined;
    let r: Reply | null;
    try {
      r = await Promise.race([
        chaseDepth.run(depth + 1, () => Promise.resolve().then(() => this.resolve(target, qtype))),
        new Promise<null>((res) => { timer = setTimeout(() => res(null), CHASE_TIMEOUT_MS); }),
      ]);
    } catch (err) {
      log('debug', 'file', 'CNAME target did not resolve', { target, err });
      r = null;
    } finally {
      clearTimeout(timer);
    }
    if (r === null) return zoneReply(RCODE.SERVFAIL, true, answer);
    const s = r.kind === 'relay' ? sectionsOf(r.wire, r.by, r.rcode) : r;
    const all = [...answer, ...s.answer];
    const soa = [zone.soa];
    // The target's rcode is the answer's (RFC 6604 3); authority from our zone, as CoreDNS.
    if (s.rcode === RCODE.NXDOMAIN) return zoneReply(RCODE.NXDOMAIN, true, all, soa);
    if (s.rcode === RCODE.SERVFAIL) return zoneReply(RCODE.SERVFAIL, true, all);
    if (s.rcode === RCODE.NOERROR && s.answer.length === 0) return zoneReply(RCODE.NOERROR, true, all, soa);
    return zoneReply(RCODE.NOERROR, true, all, zone.nameServers, zone.targets(all));
  }

  /** Every reload interval: re-read the file; a new zone that parses replaces the old one whole. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const { path } = this.opts;
    try {
      const st = await stat(path);
      if (this.opts.reloadByMtime && st.mtimeMs <= this.mtimeMs) return;
      const text = await readFile(path, 'utf8');
      const moved = st.mtimeMs !== this.mtimeMs;
      this.mtimeMs = st.mtimeMs;
      this.lastProblem = '';
      if (text === this.text && !(this.opts.reloadByMtime && moved)) return;
      this.text = text;
      this.apply(buildZones(text, path, this.opts.origins));
    } catch (err) {
      const kept = this.zones.size > 0 ? 'keeping the zone loaded before' : 'the zone answers SERVFAIL until it loads';
      const what = err instanceof ZoneError
        ? `Parsing zone file failed, ${kept}: ${err.message}`
        : `Failed to open zone file "${path}" (${(err as NodeJS.ErrnoException).code ?? String(err)}), ${kept}`;
      // One line per problem, not one per tick.
      if (what !== this.lastProblem) log('error', 'file', what);
      this.lastProblem = what;
    } finally {
      this.checking = false;
    }
  }

  private apply(zones: Map<string, Zone>): void {
    for (const [origin, z] of zones) {
      const old = this.zones.get(origin);
      if (old !== undefined && old.serial === z.serial && !this.opts.reloadByMtime) {
        log('warn', 'file', `Zone "${origin}." changed in "${this.opts.path}" but its SOA serial ${z.serial} did not: not reloaded (raise the serial, or use reload_by_mtime)`);
        continue;
      }
      this.zones.set(origin, z);
      log('info', 'file', `Successfully reloaded zone "${origin}." in "${this.opts.path}" with ${z.serial} SOA serial`);
    }
  }
}

/** A lookup that needs no more chasing -> the reply; `chain` is the CNAMEs that led there. */
function final(r: Exclude<Lookup, { kind: 'cname' }>, chain: RR[]): Reply {
  switch (r.kind) {
    case 'answer': return zoneReply(RCODE.NOERROR, true, chain.length === 0 ? r.answer : [...chain, ...r.answer], r.authority, r.additional);
    case 'nodata': return zoneReply(RCODE.NOERROR, true, chain, r.authority);
    case 'nxdomain': return zoneReply(RCODE.NXDOMAIN, true, chain, r.authority);
    // A referral alone is not authoritative; one after our own CNAMEs keeps AA for them (CoreDNS).
    case 'referral': return zoneReply(RCODE.NOERROR, chain.length > 0, chain, r.authority, r.additional);
  }
}
