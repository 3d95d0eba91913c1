import type net from 'node:net';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';
import { QTYPE, RCODE } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import { failure, records, transfer, type Reply, type RR } from '../../dns/reply.js';
import { zoneText } from '../../corefile/zones.js';
import { log } from '../../log.js';
import type { Handler, Plugin, Request } from '../../server/plugin.js';

/** One `transfer` directive: the zones it covers and who may transfer them. */
export interface TransferRule {
  zones: string[];
  /** `to *` */
  anyone: boolean;
  allowed: net.BlockList;
}

/**
 * Answer bytes per message, as CoreDNS counts them (uncompressed records,
 * leaving room under 64 KiB for the header and question).
 */
export const MESSAGE_BUDGET = 63_000;

/**
 * Answers AXFR, and IXFR as CoreDNS does without a journal (a full transfer,
 * or only the SOA when the client is up to date), over TCP, for zones a
 * plugin of the same block is the source of (Plugin.transfer).
 */
export class TransferPlugin implements Plugin {
  readonly name = 'transfer';
  private rules: TransferRule[];
  private sources: Plugin[] = [];

  constructor(readonly own: TransferRule) {
    this.rules = [own];
  }

  linkBlock(plugins: readonly Plugin[]): void {
    this.sources = plugins.filter((p) => p.transfer !== undefined);
    // Every `transfer` line of the block counts, whichever instance runs first.
    this.rules = plugins.filter((p): p is TransferPlugin => p instanceof TransferPlugin).map((p) => p.own);
  }

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    if (req.type !== QTYPE.AXFR && req.type !== QTYPE.IXFR) return next(req);
    // A transfer is several messages: UDP cannot carry it (CoreDNS refuses it too).
    if (req.proto !== 'tcp') return failure(RCODE.REFUSED, this.name);
    const rule = this.match(req.lname);
    if (rule === null) return next(req);
    if (!this.permits(rule, req.remoteAddress)) {
      log('warn', 'transfer', 'zone transfer refused', { zone: zoneText(req.lname), client: req.remoteAddress });
      return failure(RCODE.REFUSED, this.name);
    }
    let clientSerial: number | null = null;
    if (req.type === QTYPE.IXFR) {
      clientSerial = ixfrSerial(req.raw);
      if (clientSerial === null) return failure(RCODE.SERVFAIL, this.name, new Error('IXFR without exactly one SOA in its authority section'));
    }
    for (const s of this.sources) {
      const recs = s.transfer?.(req.lname) ?? null;
      if (recs !== null) return this.send(req, recs, clientSerial);
    }
    return next(req);
  }

  private match(lname: string): TransferRule | null {
    let best: TransferRule | null = null;
    let bestZone = '';
    for (const r of this.rules) {
      for (const z of r.zones) {
        if (!isSubdomain(lname, z)) continue;
        if (best === null || z.length > bestZone.length) { best = r; bestZone = z; }
      }
    }
    return best;
  }

  private permits(rule: TransferRule, address: string): boolean {
    if (rule.anyone) return true;
    const family = isIP(address);
    return family !== 0 && rule.allowed.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  private async send(req: Request, recs: Iterable<RR> | AsyncIterable<RR>, clientSerial: number | null): Promise<Reply> {
    const messages: RR[][] = [];
    let current: RR[] = [];
    let bytes = 0;
    let soa: RR | null = null;
    let count = 0;
    for await (const rr of recs) {
      if (soa === null) {
        if (rr.type !== 'SOA') return failure(RCODE.SERVFAIL, this.name, new Error(`zone transfer source for ${zoneText(req.lname)} did not start with its SOA`));
        soa = rr;
        // Up to date (RFC 1995 2: no newer version): the current SOA alone.
        if (clientSerial !== null && !newer(serialOf(rr), clientSerial)) return records(RCODE.NOERROR, this.name, true, [rr]);
      }
      const size = dnsPacket.answer.encodingLength(rr);
      if (current.length > 0 && bytes + size > MESSAGE_BUDGET) {
        messages.push(current);
        current = [];
        bytes = 0;
      }
      current.push(rr);
      bytes += size;
      count++;
    }
    if (soa === null) return failure(RCODE.SERVFAIL, this.name, new Error(`zone transfer source for ${zoneText(req.lname)} gave no records`));
    // The closing SOA ends the transfer (RFC 5936 2.2).
    if (bytes + dnsPacket.answer.encodingLength(soa) > MESSAGE_BUDGET) { messages.push(current); current = []; }
    current.push(soa);
    messages.push(current);
    log('info', 'transfer', `Outgoing transfer of ${count + 1} records of zone "${zoneText(req.lname)}." to ${req.remoteAddress} for ${serialOf(soa)} SOA serial`);
    return transfer(this.name, messages);
  }
}

function serialOf(soa: RR): number {
  const data = (soa as { data?: { serial?: unknown } }).data;
  return typeof data?.serial === 'number' ? data.serial >>> 0 : 0;
}

/** RFC 1982: is `a` newer than `b`? */
function newer(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x8000_0000;
}

/** The client's serial: the SOA an IXFR carries in its authority section; null when it is not exactly one SOA. */
function ixfrSerial(raw: Buffer): number | null {
  let msg: dnsPacket.Packet;
  try {
    msg = dnsPacket.decode(raw);
  } catch {
    return null;
  }
  const auth = msg.authorities ?? [];
  const first = auth[0];
  if (auth.length !== 1 || first === undefined || first.type !== 'SOA') return null;
  return (first.data.serial ?? 0) >>> 0;
}
