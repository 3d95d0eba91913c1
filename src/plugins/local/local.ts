import { QTYPE, RCODE } from '../../dns/constants.js';
import { NO_RECORDS, records, type Reply, type RR } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { PluginSample } from '../../metrics/plugins.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';
import { localSamples } from './families.js';

/** A week, CoreDNS's TTL for every record of these zones. */
export const LOCAL_TTL = 604800;
const ZONES = ['localhost', '0.in-addr.arpa', '127.in-addr.arpa', '255.in-addr.arpa'];
const LOOPBACK_PTR = '1.0.0.127.in-addr.arpa';

/** Every answer of the plugin: never authoritative, as CoreDNS's. */
export function localReply(rcode: number, answer: RR[], authority: RR[] = NO_RECORDS): Reply {
  return records(rcode, 'local', false, answer, authority);
}

function soa(owner: string): RR {
  return {
    name: owner, type: 'SOA', ttl: LOCAL_TTL,
    data: { mname: 'localhost', rname: 'root.localhost', serial: 1, refresh: 0, retry: 0, expire: 0, minimum: LOCAL_TTL },
  };
}

/** The loopback address for A/AAAA, NODATA (SOA owned by the name itself, as CoreDNS) for other types. */
function loopback(owner: string, type: number): Reply {
  if (type === QTYPE.A) return localReply(RCODE.NOERROR, [{ name: owner, type: 'A', ttl: LOCAL_TTL, data: '127.0.0.1' }]);
  if (type === QTYPE.AAAA) return localReply(RCODE.NOERROR, [{ name: owner, type: 'AAAA', ttl: LOCAL_TTL, data: '::1' }]);
  return localReply(RCODE.NOERROR, [], [soa(owner)]);
}

/** The zone of ZONES holding `lname`, or undefined. */
function zoneOf(lname: string): string | undefined {
  return ZONES.find((z) => lname === z || lname.endsWith(`.${z}`));
}

/**
 * Answers the names that must never leave the host (RFC 6761 localhost,
 * and the 0/127/255 in-addr.arpa zones) so they do not go upstream.
 */
export class LocalPlugin implements Plugin {
  readonly name = 'local';
  /** coredns_local_localhost_requests_total: non-apex localhost names answered (no server label, as CoreDNS). */
  localhostRequests = 0;

  collectMetrics(): PluginSample[] {
    return localSamples(this.localhostRequests);
  }

  constructor(private readonly localhostPrefix: boolean) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const lname = req.lname;
    if (lname.endsWith('.localhost') || (this.localhostPrefix && lname.startsWith('localhost.'))) {
      this.localhostRequests++;
      log('debug', 'local', 'intercepting localhost query', { name: lname, type: req.type, client: req.remoteAddress });
      return loopback(req.name, req.type);
    }
    const zone = zoneOf(lname);
    if (zone === undefined) return next(req);
    // The zone as the client spelled it, for the SOA owner.
    const zoneSpelled = req.name.slice(req.name.length - zone.length);
    if (lname === zone) {
      switch (req.type) {
        case QTYPE.A: case QTYPE.AAAA:
          return zone === 'localhost' ? loopback(req.name, req.type) : localReply(RCODE.NOERROR, [], [soa(req.name)]);
        case QTYPE.SOA:
          return localReply(RCODE.NOERROR, [soa(req.name)]);
        case QTYPE.NS:
          return localReply(RCODE.NOERROR, [{ name: req.name, type: 'NS', ttl: LOCAL_TTL, data: 'localhost' }]);
        default:
          return localReply(RCODE.NOERROR, [], [soa(req.name)]);
      }
    }
    if (lname === LOOPBACK_PTR) {
      if (req.type === QTYPE.PTR) return localReply(RCODE.NOERROR, [{ name: req.name, type: 'PTR', ttl: LOCAL_TTL, data: 'localhost' }]);
      return localReply(RCODE.NOERROR, [], [soa(zoneSpelled)]);
    }
    return localReply(RCODE.NXDOMAIN, [], [soa(zoneSpelled)]);
  }
}
