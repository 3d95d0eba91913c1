// checkUpstreamReply, byte by byte: what an upstream reply must be before
// forward relays or caches it, and what is taken out of it (OPT and what
// follows it; bytes after the last record).

import { expect } from 'chai';
import dnsPacket, { type Packet } from 'dns-packet';
import { checkUpstreamReply, type CheckedReply } from '../src/dns/wire.js';

function reply(extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'response', id: 7, flags: 0x8180, questions: [{ name: 'www.example.org', type: 'A', class: 'IN' }],
    answers: [{ name: 'www.example.org', type: 'CNAME', ttl: 60, data: 'edge.example.net' }, { name: 'edge.example.net', type: 'A', ttl: 60, data: '192.0.2.1' }],
    authorities: [{ name: 'example.org', type: 'SOA', ttl: 60, data: { mname: 'ns.example.org', rname: 'h.example.org', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 } }],
    ...extra,
  });
}

const ok = (r: CheckedReply | string): CheckedReply => {
  if (typeof r === 'string') throw new Error(`refused: ${r}`);
  return r;
};

describe('checkUpstreamReply', () => {
  it('passes a well-formed reply through untouched', () => {
    const w = reply();
    const r = ok(checkUpstreamReply(w));
    expect(r.wire).to.equal(w);
    expect(r.rcode).to.equal(0);
  });

  it('takes the OPT record out, with whatever follows it, and keeps the extended rcode', () => {
    const w = reply({
      additionals: [
        { name: 'ns.example.org', type: 'A', ttl: 60, data: '192.0.2.9' },
        { type: 'OPT', name: '.', udpPayloadSize: 8192, extendedRcode: 1, flags: 0, options: [{ code: 3, data: Buffer.from('x') }] } as never,
        { name: 'late.example.org', type: 'A', ttl: 60, data: '192.0.2.10' },
      ],
    });
    const r = ok(checkUpstreamReply(w));
    expect(r.rcode).to.equal(16);
    const p = dnsPacket.decode(r.wire);
    expect((p.additionals ?? []).map((a) => a.type)).to.deep.equal(['A']);
    expect(p.answers).to.have.length(2);
  });

  it('cuts bytes after the last record', () => {
    const w = reply();
    const r = ok(checkUpstreamReply(Buffer.concat([w, Buffer.from([1, 2, 3])])));
    expect(r.wire.equals(w)).to.equal(true);
  });

  const refused: Array<[string, (w: Buffer) => Buffer]> = [
    ['more records claimed than present', (w) => { const b = Buffer.from(w); b.writeUInt16BE(5, 6); return b; }],
    ['a message cut inside a record', (w) => w.subarray(0, w.length - 3)],
    ['two questions', (w) => { const b = Buffer.from(w); b.writeUInt16BE(2, 4); return b; }],
    ['a forward compression pointer (the only way to a loop)', () => {
      // One CNAME whose owner points forward, at its own (valid) RDATA name.
      const head = dnsPacket.encode({ type: 'response', id: 7, flags: 0x8180, questions: [{ name: 'www.example.org', type: 'CNAME', class: 'IN' }] });
      head.writeUInt16BE(1, 6);
      const at = head.length;
      const target = Buffer.from('\x04edge\x07example\x03net\x00', 'latin1');
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc000 | (at + 12), 0);
      rr.writeUInt16BE(5, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(target.length, 10);
      const b = Buffer.concat([head, rr, target]);
      // The same with the name written out is fine: only the pointer's direction is wrong.
      const plain = Buffer.concat([head, Buffer.from('\x03www\x07example\x03org\x00', 'latin1'), rr.subarray(2), target]);
      expect(checkUpstreamReply(plain)).to.not.be.a('string');
      return b;
    }],
    ['an A record of 5 bytes', () => {
      const w = reply({ answers: [{ name: 'www.example.org', type: 'A', ttl: 60, data: '192.0.2.1' }], authorities: [] });
      const b = Buffer.concat([w, Buffer.from([0])]);
      b.writeUInt16BE(5, b.length - 7); // RDLENGTH of the last (only) record
      return b;
    }],
    ['two OPT records', () => reply({ additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never,
      { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never,
    ] })],
    ['a label longer than 63', (w) => { const b = Buffer.from(w); b[12] = 64; return b; }],
  ];
  for (const [what, make] of refused) {
    it(`refuses ${what}`, () => {
      expect(checkUpstreamReply(make(reply()))).to.be.a('string');
    });
  }
});
