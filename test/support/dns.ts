import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';

/** Builds query bytes; `edns` adds an OPT record with that UDP size; `qclass` defaults to IN. */
export function queryBytes(name: string, type: string, opts: { id?: number; edns?: number; do?: boolean; rd?: boolean; qclass?: 'IN' | 'CS' | 'CH' | 'HS' | 'ANY' } = {}): Buffer {
  const p: Packet = {
    type: 'query',
    id: opts.id ?? Math.floor(Math.random() * 65535),
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as 'A', name, class: opts.qclass ?? 'IN' }],
  };
  if (opts.edns !== undefined) {
    p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns, flags: opts.do ? dnsPacket.DNSSEC_OK : 0, options: [] } as never];
  }
  return dnsPacket.encode(p);
}

/** Sends raw bytes over UDP to 127.0.0.1:port; resolves with the raw answer or null on timeout. */
export function udpRaw(port: number, msg: Buffer, timeoutMs = 2000, host = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => { sock.close(); resolve(null); }, timeoutMs);
    sock.on('message', (m) => { clearTimeout(t); sock.close(); resolve(m); });
    sock.on('error', () => { clearTimeout(t); sock.close(); resolve(null); });
    sock.send(msg, port, host);
  });
}

/** One UDP query, decoded. Rejects on timeout. */
export async function udpQuery(port: number, name: string, type: string, opts: Parameters<typeof queryBytes>[2] = {}): Promise<DecodedPacket> {
  const ans = await udpRaw(port, queryBytes(name, type, opts));
  if (ans === null) throw new Error(`no UDP answer for ${name} ${type}`);
  return dnsPacket.decode(ans);
}

/** Sends several framed messages on one TCP connection; resolves with `expect` raw answers. */
export function tcpRaw(port: number, msgs: Buffer[], expect = msgs.length, timeoutMs = 3000, host = '127.0.0.1'): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`TCP: ${out.length}/${expect} answers`)); }, timeoutMs);
    sock.on('connect', () => {
      for (const m of msgs) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        sock.write(Buffer.concat([len, m]));
      }
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const l = buf.readUInt16BE(0);
        out.push(buf.subarray(2, 2 + l));
        buf = buf.subarray(2 + l);
      }
      if (out.length >= expect) { clearTimeout(t); sock.destroy(); resolve(out); }
    });
    sock.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

export async function tcpQuery(port: number, name: string, type: string, opts: Parameters<typeof queryBytes>[2] = {}): Promise<DecodedPacket> {
  const [a] = await tcpRaw(port, [queryBytes(name, type, opts)]);
  return dnsPacket.decode(a!);
}

/** rcode text of a decoded answer (dns-packet puts it in flags' low bits). */
export function rcodeOf(p: DecodedPacket): string {
  return (p as unknown as { rcode: string }).rcode;
}

/** "name type data" lines, for compact assertions. */
export function rrLines(rrs: DecodedPacket['answers']): string[] {
  return (rrs ?? []).filter((r) => r.type !== 'OPT').map((r) => {
    const d = (r as { data: unknown }).data;
    const text = typeof d === 'string' ? d : Buffer.isBuffer(d) ? d.toString() : Array.isArray(d) ? d.map(String).join(' ') : JSON.stringify(d);
    return `${r.name} ${r.type} ${text}`;
  });
}
