// Upstream replies that pass the poisoning checks (our ID, our question) but
// do not decode: they must never reach a client or the cache. Each gets
// SERVFAIL and counts against the upstream.

import { expect } from 'chai';
import { queryBytes, tcpRaw, udpRaw } from './support/dns.js';
import { capturePlugins, forwardRig } from './support/forward.js';
import { startCorefile } from './support/server.js';
import type { UpstreamQuery } from './support/upstream.js';

/** Header + the query's question, as an upstream would start its reply. */
function replyHead(q: UpstreamQuery, counts: { an: number; ns?: number; ar?: number }): Buffer {
  const question = q.raw.subarray(12, questionEnd(q.raw));
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id, 0);
  h.writeUInt16BE(0x8180, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(counts.an, 6);
  h.writeUInt16BE(counts.ns ?? 0, 8);
  h.writeUInt16BE(counts.ar ?? 0, 10);
  return Buffer.concat([h, question]);
}

function questionEnd(raw: Buffer): number {
  let off = 12;
  while (raw[off] !== 0) off += 1 + raw[off]!;
  return off + 5;
}

/** An A record whose owner name is `owner` (wire bytes). */
function aRecord(owner: Buffer): Buffer {
  const fixed = Buffer.from([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 66]);
  return Buffer.concat([owner, fixed]);
}

/** A reply whose answer's owner name is a compression pointer to itself. */
function pointerLoop(q: UpstreamQuery): Buffer {
  const head = replyHead(q, { an: 1 });
  const at = head.length;
  return Buffer.concat([head, aRecord(Buffer.from([0xc0 | (at >> 8), at & 0xff]))]);
}

/** A reply claiming three answers but carrying one. */
function shortOfRecords(q: UpstreamQuery): Buffer {
  return Buffer.concat([replyHead(q, { an: 3 }), aRecord(Buffer.from([0xc0, 12]))]);
}

/** The same, well formed: one answer pointing at the question's name. */
function wellFormed(q: UpstreamQuery): Buffer {
  return Buffer.concat([replyHead(q, { an: 1 }), aRecord(Buffer.from([0xc0, 12]))]);
}

const rcode = (m: Buffer): number => m[3]! & 0xf;

describe('forward: malformed upstream replies are never relayed or cached', () => {
  const rig = forwardRig({ clearLogs: true });

  for (const [what, build] of [['an owner name that is a compression-pointer loop', pointerLoop], ['a header claiming three answers over one record', shortOfRecords]] as const) {
    it(`${what}: SERVFAIL every time over UDP and TCP, nothing cached, counted against the upstream`, async () => {
      const up = await rig.upstream({ answer: build });
      const cap = capturePlugins();
      const s = await startCorefile(`.:53 {\n    errors\n    cache 30\n    forward . ${up.hostPort}\n}\n`, { plugins: cap.plugins });
      rig.servers.push(s);
      for (let i = 0; i < 3; i++) {
        const before = up.count();
        const a = await udpRaw(s.port, queryBytes('www.example.com', 'A', { edns: 1232 }));
        expect(a, 'a UDP answer').to.not.equal(null);
        expect(rcode(a!), `UDP query ${i + 1}`).to.equal(2);
        expect(a!.readUInt16BE(6), 'no answer records').to.equal(0);
        expect(up.count(), 'asked upstream again: nothing was cached').to.be.greaterThan(before);
      }
      const [t] = await tcpRaw(s.port, [queryBytes('www.example.com', 'A')]);
      expect(rcode(t!), 'TCP').to.equal(2);
      expect(t!.readUInt16BE(6)).to.equal(0);
      const counters = cap.forwards[0]!.metrics.upstreams.get(up.hostPort)!;
      expect(counters.malformed).to.be.greaterThan(0);
      expect(counters.failures).to.be.greaterThan(0);
      expect(rig.logs.some((l) => l.includes('[ERROR] plugin/errors:') && l.includes('malformed reply'))).to.equal(true);
    });
  }

  it('the same reply, well formed, is relayed and cached', async () => {
    const up = await rig.upstream({ answer: wellFormed });
    const s = await startCorefile(`.:53 {\n    cache 30\n    forward . ${up.hostPort}\n}\n`);
    rig.servers.push(s);
    const a = await udpRaw(s.port, queryBytes('www.example.com', 'A'));
    expect(rcode(a!)).to.equal(0);
    expect(a!.readUInt16BE(6)).to.equal(1);
    const [t] = await tcpRaw(s.port, [queryBytes('www.example.com', 'A')]);
    expect(rcode(t!)).to.equal(0);
    expect(up.count()).to.equal(1);
  });
});
