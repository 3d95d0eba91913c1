import { FLAG, QTYPE, RCODE, UDP_EDNS_CAP } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import { addressed, drop, type Reply } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { PluginSample } from '../../metrics/plugins.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { aclSamples } from './families.js';
import { ipBytes, type NetSet } from './cidr.js';

export type Action = 'allow' | 'block' | 'filter' | 'drop';

/** One line of an acl block: its action, for the query types (null: all) and sources it names. */
export interface Policy {
  action: Action;
  types: ReadonlySet<number> | null;
  nets: NetSet;
}

/** One `acl [ZONES...] { ... }` directive. */
export interface AclRule {
  /** Lower-case, "" for the root. */
  zones: string[];
  policies: Policy[];
}

/** RFC 8914 extended DNS error codes CoreDNS attaches. */
const EDE_BLOCKED = 15;
const EDE_FILTERED = 17;

/**
 * CoreDNS's coredns_acl_*_requests_total, as plain numbers keyed by
 * "server\tzone" (allowed: by server; CoreDNS gives it no zone label).
 */
export class AclCounts {
  readonly blocked = new Map<string, number>();
  readonly filtered = new Map<string, number>();
  readonly dropped = new Map<string, number>();
  readonly allowed = new Map<string, number>();
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/**
 * Rules in file order; in each, the first policy matching the query's type
 * and source decides. `allow` ends the search; a rule whose zones do not
 * cover the name, or whose policies do not match, passes to the next rule.
 */
export class AclPlugin implements Plugin {
  readonly name = 'acl';
  readonly counts = new AclCounts();

  collectMetrics(): PluginSample[] {
    return aclSamples(this.counts);
  }

  constructor(private readonly rules: readonly AclRule[]) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const rules = this.rules;
    let ip: Uint8Array | null | undefined;
    for (let r = 0; r < rules.length; r++) {
      const rule = rules[r];
      if (rule === undefined) continue;
      const zone = longestZone(req.lname, rule.zones);
      if (zone === null) continue;
      if (ip === undefined) ip = ipBytes(req.remoteAddress);
      const action = ip === null ? unparsable(req) : decide(rule.policies, req.type, ip);
      if (action === null) continue;
      if (action === 'allow') break;
      const key = `${req.server}\t${zone === '' ? '.' : `${zone}.`}`;
      if (action === 'drop') { bump(this.counts.dropped, key); return drop('acl'); }
      if (action === 'block') { bump(this.counts.blocked, key); return refusal(req, RCODE.REFUSED, EDE_BLOCKED); }
      bump(this.counts.filtered, key);
      return refusal(req, RCODE.NOERROR, EDE_FILTERED);
    }
    bump(this.counts.allowed, req.server);
    return next(req);
  }
}

function longestZone(lname: string, zones: readonly string[]): string | null {
  let best: string | null = null;
  for (let i = 0; i < zones.length; i++) {
    const z = zones[i];
    if (z !== undefined && isSubdomain(lname, z) && (best === null || z.length > best.length)) best = z;
  }
  return best;
}

function decide(policies: readonly Policy[], qtype: number, ip: Uint8Array): Action | null {
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i];
    if (p === undefined) continue;
    if (p.types !== null && !p.types.has(qtype)) continue;
    if (!p.nets.has(ip)) continue;
    return p.action;
  }
  return null;
}

/** As CoreDNS: a source that is not an address is blocked. */
function unparsable(req: Request): Action {
  log('error', 'acl', `Blocking request. Unable to parse source address: ${req.remoteAddress}`);
  return 'block';
}

/**
 * The whole answer, made here because it carries an extended DNS error
 * (RFC 8914) in our OPT when the client speaks EDNS: no records, the
 * question echoed, RD/CD mirrored, no RA (as CoreDNS's acl answers).
 */
function refusal(req: Request, rcode: number, ede: number): Reply {
  const qlen = req.questionEnd - 12;
  const edns = req.edns;
  const out = Buffer.alloc(12 + qlen + (edns !== null ? 11 + 6 : 0));
  out.writeUInt16BE(req.id, 0);
  out.writeUInt16BE(FLAG.QR | (req.flags & (0x7800 | FLAG.RD | FLAG.CD)) | rcode, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(edns !== null ? 1 : 0, 10);
  req.raw.copy(out, 12, 12, req.questionEnd);
  if (edns !== null) {
    let at = 12 + qlen;
    out[at++] = 0; // root owner
    out.writeUInt16BE(QTYPE.OPT, at); at += 2;
    out.writeUInt16BE(UDP_EDNS_CAP, at); at += 2;
    out.writeUInt32BE(edns.do ? 0x8000 : 0, at); at += 4;
    out.writeUInt16BE(6, at); at += 2;
    out.writeUInt16BE(15, at); at += 2; // option code: Extended DNS Error
    out.writeUInt16BE(2, at); at += 2;
    out.writeUInt16BE(ede, at);
  }
  return addressed(rcode, 'acl', false, out);
}
