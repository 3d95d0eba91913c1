import { hostname } from 'node:os';
import { QCLASS, QTYPE, RCODE } from '../../dns/constants.js';
import { records, type Reply, type RR } from '../../dns/reply.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

export interface ChaosOptions {
  version: Buffer;
  authors: Buffer[];
}

/** A TXT character-string holds at most 255 octets: longer text is cut there, as CoreDNS cuts it. */
export function trim255(s: string): Buffer {
  const b = Buffer.from(s);
  return b.length > 255 ? b.subarray(0, 255) : b;
}

/** CH TXT records owned by the question name as spelled; TTL 0, not authoritative (as CoreDNS). */
export function chaosReply(req: Request, texts: Buffer[]): Reply {
  const answer: RR[] = texts.map((data) => ({ name: req.name, type: 'TXT', class: 'CH', ttl: 0, data }));
  return records(RCODE.NOERROR, 'chaos', false, answer);
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const a = out[i];
    const b = out[j];
    if (a !== undefined && b !== undefined) { out[i] = b; out[j] = a; }
  }
  return out;
}

/** Answers CH TXT version.bind, version.server, authors.bind, hostname.bind and id.server. */
export class ChaosPlugin implements Plugin {
  readonly name = 'chaos';
  readonly classes = [QCLASS.CH];

  constructor(private readonly opts: ChaosOptions) {}

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    if (req.qclass !== QCLASS.CH || req.type !== QTYPE.TXT) return next(req);
    switch (req.lname) {
      case 'version.bind':
      case 'version.server':
        return chaosReply(req, [this.opts.version]);
      case 'authors.bind':
        // CoreDNS shuffles the authors on every answer.
        return chaosReply(req, shuffled(this.opts.authors));
      case 'hostname.bind':
      case 'id.server':
        // Read per query, as CoreDNS does: a renamed host answers with its new name.
        return chaosReply(req, [trim255(hostname() || 'localhost')]);
      default:
        return next(req);
    }
  }
}
