import { QTYPE, typeName } from '../dns/constants.js';
import { fqdn } from '../dns/names.js';
import type { RR } from '../dns/reply.js';

const BY_NAME = new Map<string, number>(Object.entries(QTYPE).filter(([k]) => k !== 'OPT'));

/** "A", "srv", "TYPE65", "65" -> the type code; null for anything else. */
export function parseType(text: string): number | null {
  const t = text.toUpperCase();
  const known = BY_NAME.get(t);
  if (known !== undefined) return known;
  const m = /^(?:TYPE)?(\d{1,5})$/.exec(t);
  if (m === null) return null;
  const n = Number(m[1]);
  return n >= 1 && n <= 65535 ? n : null;
}

export { typeName };

/** One record in zone-file form: "web.demo.svc.cluster.local. 5 IN A 10.96.0.10". */
export function recordLine(rr: RR): string {
  const owner = rr.name === '' || rr.name === '.' ? '.' : `${rr.name}.`;
  const ttl = 'ttl' in rr && typeof rr.ttl === 'number' ? rr.ttl : 0;
  return `${owner} ${ttl} IN ${rr.type} ${dataText(rr)}`;
}


function dataText(rr: RR): string {
  const data: unknown = 'data' in rr ? rr.data : undefined;
  switch (rr.type) {
    case 'A': case 'AAAA': return String(data);
    case 'CNAME': case 'PTR': case 'NS': return fqdn(String(data));
    case 'SRV': {
      const d = data as { priority: number; weight: number; port: number; target: string };
      return `${d.priority} ${d.weight} ${d.port} ${fqdn(d.target)}`;
    }
    case 'SOA': {
      const d = data as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
      return `${fqdn(d.mname)} ${fqdn(d.rname)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    case 'TXT': {
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((p) => JSON.stringify(Buffer.isBuffer(p) ? p.toString() : String(p))).join(' ');
    }
    default:
      return Buffer.isBuffer(data) ? `\\# ${data.length} ${data.toString('hex')}` : JSON.stringify(data);
  }
}
