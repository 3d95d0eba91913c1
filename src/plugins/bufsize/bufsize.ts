import type { Reply } from '../../dns/reply.js';
import { walkMessage } from '../../dns/wire.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

/**
 * The query with its OPT record's UDP size lowered to `size`: the raw
 * bytes too, since forward sends them upstream as they are. Null when the
 * query's OPT cannot be found in the raw bytes (then nothing is changed).
 */
export function clampQuery(req: Request, size: number): Request | null {
  const edns = req.edns;
  if (edns === null || edns.udpSize <= size) return req;
  const v = walkMessage(req.raw);
  const opt = v === null ? undefined : v.records[v.opt];
  if (opt === undefined) return null;
  const raw = Buffer.from(req.raw);
  // The OPT record's CLASS field holds the requestor's UDP payload size (RFC 6891 6.1.2).
  raw.writeUInt16BE(size, opt.ttlAt - 2);
  return { ...req, raw, edns: { ...edns, udpSize: size } };
}

/**
 * Limits the EDNS buffer size of queries as the rest of the chain and the
 * upstreams see them, and (through udpSizeLimit) of the block's UDP answers.
 */
export class BufsizePlugin implements Plugin {
  readonly name = 'bufsize';

  constructor(readonly udpSizeLimit: number) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    return next(clampQuery(req, this.udpSizeLimit) ?? req);
  }
}
