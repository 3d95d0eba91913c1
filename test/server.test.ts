import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { QCLASS, QTYPE, RCODE } from '../src/dns/constants.js';
import { records, type RR } from '../src/dns/reply.js';
import { PLUGINS } from '../src/plugins/index.js';
import type { Handler, PluginDefinition, Request } from '../src/server/plugin.js';
import { setLogSink } from '../src/log.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, tcpRaw, udpQuery, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin];

/** `badrecords`: a CNAME to a 256-octet name, an SRV with port 70000, or (fine.*) a valid SRV. */
const badRecordsPlugin: PluginDefinition = {
  name: 'badrecords',
  setup: () => ({
    name: 'badrecords',
    serve(req: Request) {
      const long = `${'b'.repeat(63)}.${'b'.repeat(63)}.${'b'.repeat(63)}.${'b'.repeat(62)}`; // 256 octets
      const answer: RR[] = req.lname.startsWith('longtarget.')
        ? [{ name: req.name, type: 'CNAME', ttl: 5, data: long }]
        : [{ name: req.name, type: 'SRV', ttl: 5, data: { priority: 0, weight: 1, port: req.lname.startsWith('fine.') ? 80 : 70_000, target: 'x.example.net' } }];
      return records(RCODE.NOERROR, 'badrecords', true, answer);
    },
  }),
};

/** `chaostest`: answers CH TXT for version.<zone>, passes everything else on (a stand-in for a chaos plugin). */
const chaosTestPlugin: PluginDefinition = {
  name: 'chaostest',
  setup: () => ({
    name: 'chaostest',
    classes: [QCLASS.CH],
    serve(req: Request, next: Handler) {
      if (req.qclass !== QCLASS.CH || req.type !== QTYPE.TXT || !req.lname.startsWith('version.')) return next(req);
      return records(RCODE.NOERROR, 'chaostest', true, [{ name: req.name, type: 'TXT', class: 'CH', ttl: 0, data: 'clusterdns-test' }]);
    },
  }),
};

describe('server core over real sockets', () => {
  let srv: Running;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    srv = await startCorefile(`
example.org {
    errors
    answer 100
}
sub.example.org {
    answer 1
}
`, { plugins });
  });
  after(async () => {
    await srv.stop();
    setLogSink(null);
  });

  it('answers over UDP, echoing the question spelling, ID and RD', async () => {
    const a = await udpQuery(srv.port, 'WWW.Example.ORG', 'A', { id: 4242 });
    expect(a.id).to.equal(4242);
    expect(rcodeOf(a)).to.equal('NOERROR');
    expect(a.questions![0]!.name).to.equal('WWW.Example.ORG');
    expect(a.flag_rd).to.equal(true);
    expect(a.flag_aa).to.equal(true);
    expect(a.flag_ra).to.equal(false, 'no forward in the block: no recursion available');
    expect(rrLines(a.answers)).to.deep.equal(['WWW.Example.ORG A 192.0.2.1']);
  });

  it('answers later queries for a reusable reply from its kept encoding, patched', async () => {
    const first = await udpQuery(srv.port, 'reuse.example.org', 'A', { id: 1 });
    expect(rrLines(first.answers)).to.deep.equal(['reuse.example.org A 192.0.2.9']);
    const again = await udpQuery(srv.port, 'REUSE.Example.org', 'A', { id: 2, rd: false });
    expect(again.id).to.equal(2);
    expect(again.flag_rd).to.equal(false);
    expect(again.questions![0]!.name).to.equal('REUSE.Example.org');
    expect(rrLines(again.answers)).to.deep.equal(['REUSE.Example.org A 192.0.2.9'], 'the owner points at the question');
    const withEdns = await udpQuery(srv.port, 'reuse.example.org', 'A', { id: 3, edns: 1232, do: true });
    const opt = withEdns.additionals!.find((r) => r.type === 'OPT') as unknown as { flag_do: boolean };
    expect(opt.flag_do).to.equal(true);
    const plain = await udpQuery(srv.port, 'reuse.example.org', 'A', { id: 4 });
    expect(plain.additionals ?? []).to.have.length(0, 'no OPT for a query without EDNS');
  });

  it('inject() answers in process exactly as the UDP listener does, TCP without truncation, and names a missing listener', async () => {
    const q = queryBytes('Big.Example.org', 'A', { id: 77 });
    const viaSocket = await udpRaw(srv.port, q, 2000);
    const injected = await srv.server.inject(q);
    expect(injected).to.deep.equal(viaSocket);
    const overTcp = await srv.server.inject(q, { proto: 'tcp', port: srv.port, remoteAddress: '192.0.2.50', remotePort: 4000 });
    if (overTcp === null || Array.isArray(overTcp)) throw new Error('no single answer over TCP');
    const p = dnsPacket.decode(overTcp);
    expect(p.flag_tc).to.equal(false);
    expect(p.answers).to.have.length(100);
    expect(srv.server.inject(Buffer.from([1, 2, 3]))).to.equal(null, 'a runt is dropped, as on the socket');
    const busy = srv.port === 1 ? 2 : 1;
    expect(() => srv.server.inject(q, { port: busy })).to.throw(`no listener on port ${busy}`);
  });

  it('answers over TCP', async () => {
    const a = await tcpQuery(srv.port, 'x.example.org', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['x.example.org A 192.0.2.1']);
  });

  it('routes to the longest matching zone', async () => {
    const a = await udpQuery(srv.port, 'big.sub.example.org', 'A');
    expect(a.answers).to.have.length(1, 'sub.example.org block answers 1 record');
    const b = await tcpQuery(srv.port, 'big.example.org', 'A');
    expect(b.answers).to.have.length(100);
  });

  it('REFUSES zones no block serves', async () => {
    const a = await udpQuery(srv.port, 'example.com', 'A');
    expect(rcodeOf(a)).to.equal('REFUSED');
  });

  it('truncates at a record boundary and sets TC for plain 512-byte UDP', async () => {
    const raw = await udpRaw(srv.port, queryBytes('big.example.org', 'A'));
    expect(raw!.length).to.be.at.most(512);
    const a = dnsPacket.decode(raw!);
    expect(a.flag_tc).to.equal(true);
    expect(a.answers!.length).to.be.greaterThan(0).and.lessThan(100);
  });

  it('honours the EDNS buffer size, caps it at 1232 and echoes OPT with DO', async () => {
    const raw = await udpRaw(srv.port, queryBytes('big.example.org', 'A', { edns: 1000, do: true }));
    expect(raw!.length).to.be.at.most(1000);
    const a = dnsPacket.decode(raw!);
    expect(a.flag_tc).to.equal(true);
    const opt = a.additionals!.find((r) => r.type === 'OPT') as unknown as { udpPayloadSize: number; flag_do: boolean };
    expect(opt).to.not.equal(undefined);
    expect(opt.flag_do).to.equal(true);
    const raw2 = await udpRaw(srv.port, queryBytes('big.example.org', 'A', { edns: 4096 }));
    expect(raw2!.length).to.be.at.most(1232);
    const c = dnsPacket.decode(raw2!);
    const ours = c.additionals!.find((r) => r.type === 'OPT') as unknown as { udpPayloadSize: number };
    expect(ours.udpPayloadSize).to.equal(1232, 'we advertise the size we keep to');
    // (1232 - 12 header - 21 question - 11 OPT) / 16 bytes per compressed A record.
    expect(c.answers).to.have.length(74);
    expect(c.flag_tc).to.equal(true);
  });

  it('compresses names: 100 A records for one owner are small', async () => {
    const [raw] = await tcpRaw(srv.port, [queryBytes('big.example.org', 'A')]);
    // Header 12 + question 21 + 100 * (2-byte pointer + 10 + 4) = 1633.
    expect(raw!.length).to.equal(12 + 21 + 100 * 16);
    expect(dnsPacket.decode(raw!).answers).to.have.length(100);
  });

  it('never truncates TCP', async () => {
    const a = await tcpQuery(srv.port, 'big.example.org', 'A');
    expect(a.flag_tc).to.equal(false);
    expect(a.answers).to.have.length(100);
  });

  it('answers pipelined TCP queries, slow and fast, on one connection', async () => {
    const msgs = [
      queryBytes('slow.example.org', 'A', { id: 1 }),
      queryBytes('fast.example.org', 'A', { id: 2 }),
      queryBytes('x.sub.example.org', 'A', { id: 3 }),
    ];
    const answers = await tcpRaw(srv.port, msgs);
    const ids = answers.map((b) => b.readUInt16BE(0));
    expect([...ids].sort()).to.deep.equal([1, 2, 3]);
    expect(ids[2]).to.equal(1, 'the slow answer comes last: no head-of-line blocking');
  });

  it('handles a TCP length prefix and message split across writes', async () => {
    const net = await import('node:net');
    const q = queryBytes('split.example.org', 'A', { id: 77 });
    const framed = Buffer.concat([Buffer.from([0, q.length]), q]);
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(srv.port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { s.destroy(); resolve(buf.subarray(2)); } });
      s.on('error', reject);
      s.on('connect', () => {
        // Three writes 20 ms apart, so the server sees the length prefix split across reads.
        const pieces = [framed.subarray(0, 1), framed.subarray(1, 5), framed.subarray(5)];
        pieces.forEach((piece, i) => setTimeout(() => s.write(piece), i * 20));
      });
    });
    expect(answer.readUInt16BE(0)).to.equal(77);
  });

  it('answers FORMERR for undecodable queries with a readable header', async () => {
    const q = queryBytes('x.example.org', 'A', { id: 9 });
    const cut = q.subarray(0, q.length - 3);
    const raw = await udpRaw(srv.port, cut);
    const a = dnsPacket.decode(raw!);
    expect(a.id).to.equal(9);
    expect(rcodeOf(a)).to.equal('FORMERR');
  });

  it('answers FORMERR when QDCOUNT is not 1', async () => {
    const q = Buffer.from(queryBytes('x.example.org', 'A', { id: 10 }));
    q.writeUInt16BE(2, 4);
    const a = dnsPacket.decode((await udpRaw(srv.port, q))!);
    expect(rcodeOf(a)).to.equal('FORMERR');
  });

  it('answers NOTIMP for opcodes other than QUERY', async () => {
    const q = Buffer.from(queryBytes('x.example.org', 'A', { id: 11 }));
    q.writeUInt16BE(q.readUInt16BE(2) | (2 << 11), 2);
    const a = dnsPacket.decode((await udpRaw(srv.port, q))!);
    expect(rcodeOf(a)).to.equal('NOTIMP');
  });

  it('drops responses and runts', async () => {
    const q = Buffer.from(queryBytes('x.example.org', 'A'));
    q.writeUInt16BE(q.readUInt16BE(2) | 0x8000, 2);
    expect(await udpRaw(srv.port, q, 300)).to.equal(null);
    expect(await udpRaw(srv.port, Buffer.from([1, 2, 3]), 300)).to.equal(null);
  });

  it('rejects a header claiming 65535 records at once', async () => {
    const q = Buffer.alloc(12);
    q.writeUInt16BE(5, 0);
    q.writeUInt16BE(1, 4);
    q.writeUInt16BE(65535, 10);
    const a = dnsPacket.decode((await udpRaw(srv.port, q))!);
    expect(rcodeOf(a)).to.equal('FORMERR');
  });

  it('answers BADVERS for EDNS versions above 0', async () => {
    const q = Buffer.from(queryBytes('x.example.org', 'A', { edns: 1232 }));
    // OPT is the last 11 bytes: name, type, class, then TTL = ext-rcode, version, flags.
    q[q.length - 5] = 1;
    const raw = await udpRaw(srv.port, q);
    const a = dnsPacket.decode(raw!);
    const opt = a.additionals!.find((r) => r.type === 'OPT') as unknown as { extendedRcode: number };
    expect(opt.extendedRcode).to.equal(1, 'BADVERS is 16: upper bits 1 in OPT, 0 in the header');
  });

  it('answers ANY through the chain like any other type (RFC 8482 HINFO is the any plugin\'s, not ours)', async () => {
    for (const query of [udpQuery, tcpQuery]) {
      const a = await query(srv.port, 'x.example.org', 'ANY');
      expect(rcodeOf(a)).to.equal('NOERROR');
      expect(rrLines(a.answers)).to.deep.equal(['x.example.org A 192.0.2.1'], 'what the block\'s plugin answers');
      const nx = await query(srv.port, 'nx.example.org', 'ANY');
      expect(rcodeOf(nx)).to.equal('NXDOMAIN', 'a name that does not exist stays NXDOMAIN');
      expect(nx.answers ?? []).to.have.length(0);
    }
  });

  it('REFUSES questions of class CH, HS or ANY: no IN data for other classes', async () => {
    for (const query of [udpQuery, tcpQuery]) {
      for (const qclass of ['CH', 'HS', 'ANY'] as const) {
        const a = await query(srv.port, 'x.example.org', 'A', { qclass });
        expect(rcodeOf(a), `${qclass} over ${query.name}`).to.equal('REFUSED');
        expect(a.answers ?? []).to.have.length(0);
        expect(a.questions![0]!.class).to.equal(qclass, 'the question is echoed');
      }
    }
  });

  it('lets a plugin that declares CH answer it; the rest of the chain never sees CH', async () => {
    const s2 = await startCorefile('example.net {\n chaostest\n answer\n}\n', { plugins: [...plugins, chaosTestPlugin] });
    try {
      for (const query of [udpQuery, tcpQuery]) {
        const v = await query(s2.port, 'version.example.net', 'TXT', { qclass: 'CH' });
        expect(rcodeOf(v)).to.equal('NOERROR');
        expect(rrLines(v.answers)).to.deep.equal(['version.example.net TXT clusterdns-test']);
        const other = await query(s2.port, 'x.example.net', 'A', { qclass: 'CH' });
        expect(rcodeOf(other)).to.equal('REFUSED', 'chaostest passed it on; the IN-only answer plugin is not in the CH chain');
        const hs = await query(s2.port, 'version.example.net', 'TXT', { qclass: 'HS' });
        expect(rcodeOf(hs)).to.equal('REFUSED');
        const inClass = await query(s2.port, 'x.example.net', 'A');
        expect(rrLines(inClass.answers)).to.deep.equal(['x.example.net A 192.0.2.1']);
      }
    } finally {
      await s2.stop();
    }
  });

  it('takes question names of 255 octets and answers FORMERR from 256 (RFC 1035 3.1)', async () => {
    // Wire length: one octet per label length, the labels, and the root's 0.
    const named = (octets: number): string => {
      const zone = 'example.org'; // 13 octets on the wire with the root
      let rest = octets - 13;
      const labels: string[] = [];
      while (rest > 0) { const l = Math.min(63, rest - 1); labels.push('a'.repeat(l)); rest -= l + 1; }
      return `${labels.join('.')}.${zone}`;
    };
    expect(Buffer.byteLength(named(255)) + 2).to.equal(255);
    expect(Buffer.byteLength(named(256)) + 2).to.equal(256);
    for (const query of [udpQuery, tcpQuery]) {
      expect(rcodeOf(await query(srv.port, named(255), 'A'))).to.equal('NOERROR');
      const a = await query(srv.port, named(256), 'A');
      expect(rcodeOf(a)).to.equal('FORMERR');
      expect(a.answers ?? []).to.have.length(0);
    }
  });

  it('never encodes a name over 255 octets or a port over 65535: SERVFAIL instead of a broken answer', async () => {
    const s2 = await startCorefile('example.net {\n badrecords\n}\n', { plugins: [...plugins, badRecordsPlugin] });
    try {
      for (const query of [udpQuery, tcpQuery]) {
        for (const name of ['longtarget.example.net', 'bigport.example.net']) {
          const a = await query(s2.port, name, 'A');
          expect(rcodeOf(a), name).to.equal('SERVFAIL');
          expect(a.answers ?? []).to.have.length(0);
        }
        expect(rcodeOf(await query(s2.port, 'fine.example.net', 'A'))).to.equal('NOERROR');
      }
    } finally {
      await s2.stop();
    }
  });

  it('turns a throwing plugin into SERVFAIL, logged by errors, and goes on', async () => {
    const a = await udpQuery(srv.port, 'throw.example.org', 'A');
    expect(rcodeOf(a)).to.equal('SERVFAIL');
    expect(logs.some((l) => l.startsWith('[ERROR] plugin/errors: 2 ') && l.includes('test plugin failure') && l.includes('throw.example.org.'))).to.equal(true);
    const b = await udpQuery(srv.port, 'ok.example.org', 'A');
    expect(rcodeOf(b)).to.equal('NOERROR');
  });

  it('an answer that resolves after stop() closed the UDP socket is dropped, not thrown (the process lives on)', async () => {
    // The answer is held until the socket is closed: no timing to lose on a loaded machine.
    let arrived!: () => void;
    const asking = new Promise<void>((r) => { arrived = r; });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const heldPlugin: PluginDefinition = {
      name: 'held',
      setup: () => ({
        name: 'held',
        serve(req: Request) {
          arrived();
          return released.then(() => records(RCODE.NOERROR, 'held', true, [{ name: req.name, type: 'A', ttl: 5, data: '192.0.2.7' }]));
        },
      }),
    };
    const s2 = await startCorefile('example.net {\n held\n}\n', { plugins: [...plugins, heldPlugin] });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => { unhandled.push(e); };
    process.prependListener('unhandledRejection', onUnhandled);
    try {
      const asked = udpRaw(s2.port, queryBytes('held.example.net', 'A'), 300);
      await asking;
      await s2.server.stop(0); // no grace: the socket closes while the answer is pending
      release();
      expect(await asked).to.equal(null);
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled.map(String)).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('gives SERVFAIL when the chain ends without an answer', async () => {
    const s2 = await startCorefile('example.net {\n errors\n}\n', { plugins });
    try {
      const a = await udpQuery(s2.port, 'example.net', 'A');
      expect(rcodeOf(a)).to.equal('SERVFAIL');
    } finally {
      await s2.stop();
    }
  });
});
