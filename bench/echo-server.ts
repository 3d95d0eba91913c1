// The ceiling of one Node.js process on this machine: a UDP (and TCP) server
// that answers every query by flipping the QR bit of the query bytes.
import dgram from 'node:dgram';
import net from 'node:net';

const port = Number(process.argv[2] ?? 0);
// Same send path as clusterdns (replies to an IP literal skip dns.lookup), so the ceiling is fair.
const udp = dgram.createSocket({ type: 'udp4', lookup: (a: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) => cb(null, a, 4) });
udp.on('message', (msg, r) => {
  msg[2] = msg[2]! | 0x80;
  udp.send(msg, r.port, r.address);
});
udp.bind(port, '127.0.0.1', () => {
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      // One write per chunk, as clusterdns does: the ceiling uses the same tricks.
      const out: Buffer[] = [];
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const l = buf.readUInt16BE(0);
        const m = Buffer.from(buf.subarray(0, 2 + l));
        m[4] = m[4]! | 0x80;
        out.push(m);
        buf = buf.subarray(2 + l);
      }
      if (out.length > 0) s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    });
    s.on('error', () => undefined);
  });
  tcp.listen(port, '127.0.0.1', () => process.stdout.write(`echo ready ${port}\n`));
});
process.on('SIGTERM', () => process.exit(0));
