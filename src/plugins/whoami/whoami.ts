import { isIPv4 } from 'node:net';
import { RCODE } from '../../dns/constants.js';
import { records, type Reply, type RR } from '../../dns/reply.js';
import type { Plugin, Request } from '../../server/plugin.js';

/**
 * The client's address as A (IPv4, including IPv4-mapped IPv6 such as
 * ::ffff:192.0.2.1, which is how a dual-stack socket reports IPv4 clients)
 * or AAAA, owned by the question name as the client spelled it.
 */
export function addressRecord(owner: string, remote: string): RR {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)?.[1];
  const v4 = mapped ?? (isIPv4(remote) ? remote : undefined);
  if (v4 !== undefined) return { name: owner, type: 'A', ttl: 0, data: v4 };
  // A zone id (fe80::1%eth0) is not part of an AAAA record.
  return { name: owner, type: 'AAAA', ttl: 0, data: remote.replace(/%.*$/, '') };
}

/** CoreDNS's whoami answer: empty answer section, the client's address and `_<proto>.<qname>` SRV in additional. */
export function whoamiReply(req: Request): Reply {
  const owner = req.name;
  const srvName = owner === '' ? `_${req.proto}` : `_${req.proto}.${owner}`;
  const srv: RR = { name: srvName, type: 'SRV', ttl: 0, data: { priority: 0, weight: 0, port: req.remotePort, target: '.' } };
  return records(RCODE.NOERROR, 'whoami', true, [], [], [addressRecord(owner, req.remoteAddress), srv]);
}

/** Answers every query with who asked: it never calls the next plugin. */
export class WhoamiPlugin implements Plugin {
  readonly name = 'whoami';

  serve(req: Request): Reply {
    return whoamiReply(req);
  }
}
