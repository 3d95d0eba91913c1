import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { performance } from 'node:perf_hooks';
import { LOOP_OPTION } from '../src/plugins/forward/hops.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, tcpRaw, udpQuery, udpRaw } from './support/dns.js';
import { capturePlugins, forwardRig } from './support/forward.js';
import { startCorefile } from './support/server.js';
import { encodeAnswer, type UpstreamQuery } from './support/upstream.js';

describe('forward: relaying to upstreams', () => {
  const { servers, upstream } = forwardRig();

  async function serve(corefile: string, extra: Parameters<typeof capturePlugins>[0] = {}) {
    const cap = capturePlugins({ after: [answerPlugin], ...extra });
    const s = await startCorefile(corefile, { plugins: cap.plugins });
    servers.push(s);
    return { ...s, forwards: cap.forwards };
  }

  it('passes the answer on as it came: rcode, TTLs, AA, authority; sets RA', async () => {
    const up = await upstream({
      answer: (q) => {
        if (q.name.toLowerCase().startsWith('nx.')) {
          return { rcode: 'NXDOMAIN', aa: true, authorities: [{ name: 'example.org', type: 'SOA', ttl: 123, data: { mname: 'ns.example.org', rname: 'host.example.org', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 45 } }] };
        }
        return { answers: [{ name: q.name, type: 'A', ttl: 4242, data: '198.51.100.7' }, { name: q.name, type: 'A', ttl: 4242, data: '198.51.100.8' }] };
      },
    });
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'www.example.org', 'A', { id: 777 });
    expect(a.id).to.equal(777);
    expect(rcodeOf(a)).to.equal('NOERROR');
    expect(a.flag_ra).to.equal(true);
    expect(a.flag_aa).to.equal(false);
    expect(rrLines(a.answers)).to.deep.equal(['www.example.org A 198.51.100.7', 'www.example.org A 198.51.100.8']);
    expect(a.answers!.map((r) => (r as { ttl?: number }).ttl)).to.deep.equal([4242, 4242]);

    const nx = await udpQuery(s.port, 'nx.example.org', 'AAAA');
    expect(rcodeOf(nx)).to.equal('NXDOMAIN');
    expect(nx.flag_aa).to.equal(true);
    expect(nx.authorities![0]!.type).to.equal('SOA');
    expect((nx.authorities![0] as { ttl?: number }).ttl).to.equal(123);
    const f = s.forwards[0]!.metrics;
    expect(f.requests).to.equal(2);
    const c = f.upstreams.get(up.hostPort)!;
    expect(c.requests).to.equal(2);
    expect(c.responses.get(0)).to.equal(1);
    expect(c.responses.get(3)).to.equal(1);
    expect(c.durations.get(0)!.count).to.equal(1);
  });

  it('sends the client query with a fresh random ID, keeping its case, flags and EDNS OPT', async () => {
    const up = await upstream();
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const a = await udpQuery(s.port, 'MiXeD.ExAmPlE.oRg', 'A', { id: 4242, edns: 1400, do: true });
      expect(a.id).to.equal(4242);
      expect(a.questions![0]!.name).to.equal('MiXeD.ExAmPlE.oRg');
    }
    const plain = await udpQuery(s.port, 'plain.example.org', 'TXT', { id: 4242 });
    expect(rcodeOf(plain)).to.equal('NOERROR');
    const seen = up.queries;
    expect(seen).to.have.length(6);
    for (const q of seen.slice(0, 5)) {
      ids.add(q.id);
      expect(q.name).to.equal('MiXeD.ExAmPlE.oRg');
      expect(q.rd).to.equal(true);
      expect(q.ednsSize).to.equal(1400);
      const opt = dnsPacket.decode(q.raw).additionals!.find((r) => r.type === 'OPT') as { flags?: number };
      expect((opt.flags ?? 0) & dnsPacket.DNSSEC_OK).to.not.equal(0, 'DO bit forwarded');
    }
    // A query without OPT gets one for the loop marker only (forward README, "Forwarding loops"): size 1232, no DO.
    const added = dnsPacket.decode(seen[5]!.raw).additionals!.find((r) => r.type === 'OPT') as { udpPayloadSize?: number; flags?: number; options?: Array<{ code: number }> };
    expect(added.udpPayloadSize).to.equal(1232);
    expect((added.flags ?? 0) & dnsPacket.DNSSEC_OK).to.equal(0, 'no DO bit the client did not ask for');
    expect(added.options?.map((o) => o.code)).to.deep.equal([LOOP_OPTION]);
    expect(ids.size).to.be.greaterThan(3, 'IDs are random, not the client\'s');
    expect([...ids]).to.not.include(4242);
    // A fresh UDP socket (kernel-chosen port) per query.
    expect(new Set(seen.map((q) => q.port)).size).to.equal(6);
  });

  it('accepts an upstream that changes the question case, and answers in the client\'s case', async () => {
    const up = await upstream({
      answer: (q) => encodeAnswer({ ...q, name: q.name.toLowerCase() }, { answers: [{ name: q.name.toLowerCase(), type: 'A', ttl: 30, data: '192.0.2.9' }] }),
    });
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'UPPER.Example.Org', 'A');
    expect(rcodeOf(a)).to.equal('NOERROR');
    expect(a.questions![0]!.name).to.equal('UPPER.Example.Org');
    expect(rrLines(a.answers)).to.deep.equal(['upper.example.org A 192.0.2.9'], 'records as the upstream sent them');
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const up = await upstream({ truncateUdp: true });
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'big.example.org', 'A', { edns: 1232 });
    expect(a.flag_tc).to.equal(false);
    expect(rrLines(a.answers)).to.deep.equal(['big.example.org A 192.0.2.53']);
    expect(up.queries.map((q) => q.proto)).to.deep.equal(['udp', 'tcp']);
  });

  it('truncates a large upstream answer for a UDP client (TC), whole over TCP', async () => {
    const many = (q: UpstreamQuery) => ({ answers: Array.from({ length: 60 }, (_, i) => ({ name: q.name, type: 'A' as const, ttl: 60, data: `198.51.100.${i + 1}` })) });
    const up = await upstream({ answer: many });
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'many.example.org', 'A');
    expect(a.flag_tc).to.equal(true);
    expect(a.answers!.length).to.be.lessThan(60);
    const t = await tcpQuery(s.port, 'many.example.org', 'A');
    expect(t.answers).to.have.length(60);
  });

  it('forwards TCP clients over TCP, reusing the pooled connection', async () => {
    const up = await upstream();
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    for (const n of ['a', 'b', 'c']) {
      const a = await tcpQuery(s.port, `${n}.example.org`, 'A');
      expect(rrLines(a.answers)).to.deep.equal([`${n}.example.org A 192.0.2.53`]);
    }
    expect(up.queries.map((q) => q.proto)).to.deep.equal(['tcp', 'tcp', 'tcp']);
    expect(new Set(up.queries.map((q) => q.port)).size).to.equal(1, 'one connection');
    const c = s.forwards[0]!.metrics.upstreams.get(up.hostPort)!;
    expect([c.connCacheMisses, c.connCacheHits]).to.deep.equal([1, 2]);
  });

  it('uses TCP for UDP clients with force_tcp, UDP for TCP clients with prefer_udp', async () => {
    const up = await upstream();
    const s = await serve(`a.test {\n  forward . ${up.hostPort} {\n    force_tcp\n  }\n}\nb.test {\n  forward . ${up.hostPort} {\n    prefer_udp\n  }\n}\n`);
    await udpQuery(s.port, 'x.a.test', 'A');
    await tcpQuery(s.port, 'x.b.test', 'A');
    expect(up.queries.map((q) => `${q.name} ${q.proto}`)).to.deep.equal(['x.a.test tcp', 'x.b.test udp']);
  });

  it('drops replies with a wrong ID or question from the right port, and waits for the real one', async () => {
    const up = await upstream({
      spoof: (q) => [
        encodeAnswer(q, { answers: [{ name: q.name, type: 'A', ttl: 86400, data: '6.6.6.6' }] }, { id: q.id ^ 0x5555 }),
        encodeAnswer({ ...q, name: `evil.${q.name}` }, { answers: [{ name: q.name, type: 'A', ttl: 86400, data: '6.6.6.7' }] }),
        encodeAnswer({ ...q, type: 'AAAA' }, { answers: [{ name: q.name, type: 'AAAA', ttl: 86400, data: '::6' }] }),
        Buffer.from('not dns'),
      ],
      delayMs: 20,
    });
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'bank.example.org', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['bank.example.org A 192.0.2.53']);
    const d = s.forwards[0]!.metrics.dropped;
    expect(d).to.deep.equal({ id: 1, question: 2, source: 0, malformed: 1 });
    expect(s.forwards[0]!.metrics.droppedTotal).to.equal(4);
  });

  it('never accepts a reply from another port (the socket is connected to the upstream)', async () => {
    const up = await upstream({
      spoofFromOtherPort: (q) => [encodeAnswer(q, { answers: [{ name: q.name, type: 'A', ttl: 86400, data: '6.6.6.6' }] })],
      delayMs: 30,
    });
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'bank.example.org', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['bank.example.org A 192.0.2.53']);
  });

  it('passes names under `except`, or outside FROM, down the chain', async () => {
    const up = await upstream();
    const s = await serve(`. {\n  forward example.org ${up.hostPort} {\n    except internal.example.org\n  }\n  answer\n}\n`);
    const fwd = await udpQuery(s.port, 'www.example.org', 'A');
    expect(rrLines(fwd.answers)).to.deep.equal(['www.example.org A 192.0.2.53']);
    const exc = await udpQuery(s.port, 'db.Internal.example.org', 'A');
    expect(rrLines(exc.answers)).to.deep.equal(['db.Internal.example.org A 192.0.2.1']);
    const out = await udpQuery(s.port, 'example.net', 'A');
    expect(rrLines(out.answers)).to.deep.equal(['example.net A 192.0.2.1']);
    expect(up.queries.map((q) => q.name)).to.deep.equal(['www.example.org']);
  });

  it('with several forward lines, the most specific FROM wins whatever the order', async () => {
    const general = await upstream();
    const special = await upstream({ answer: (q) => ({ answers: [{ name: q.name, type: 'A', ttl: 5, data: '203.0.113.1' }] }) });
    const s = await serve(`. {\n  forward . ${general.hostPort}\n  forward lab.example.local ${special.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'x.lab.example.local', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['x.lab.example.local A 203.0.113.1']);
    const b = await udpQuery(s.port, 'x.example.local', 'A');
    expect(rrLines(b.answers)).to.deep.equal(['x.example.local A 192.0.2.53']);
    expect(s.forwards).to.have.length(1, 'one plugin instance holds both lines');
  });

  it('`next NXDOMAIN` hands the query to the next forward line', async () => {
    const first = await upstream({ answer: (q) => (q.name.startsWith('only-second') ? { rcode: 'NXDOMAIN' } : {}) });
    const second = await upstream();
    const s = await serve(`. {\n  forward . ${first.hostPort} {\n    next NXDOMAIN\n  }\n  forward . ${second.hostPort}\n}\n`);
    const a = await udpQuery(s.port, 'only-second.example.org', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['only-second.example.org A 192.0.2.53']);
    const b = await udpQuery(s.port, 'both.example.org', 'TXT');
    expect(rcodeOf(b)).to.equal('NOERROR');
    expect(b.answers).to.have.length(0, 'NODATA from the first, not passed on');
    expect(first.count()).to.equal(2);
    expect(second.count()).to.equal(1);
  });

  it('`failover SERVFAIL` asks the next upstream', async () => {
    const bad = await upstream({ answer: () => ({ rcode: 'SERVFAIL' }) });
    const good = await upstream();
    const s = await serve(`. {\n  forward . ${bad.hostPort} ${good.hostPort} {\n    policy sequential\n    failover SERVFAIL\n  }\n}\n`);
    const a = await udpQuery(s.port, 'www.example.org', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['www.example.org A 192.0.2.53']);
    // Without failover the SERVFAIL is the answer.
    const s2 = await serve(`. {\n  forward . ${bad.hostPort} ${good.hostPort} {\n    policy sequential\n  }\n}\n`);
    expect(rcodeOf(await udpQuery(s2.port, 'www.example.org', 'A'))).to.equal('SERVFAIL');
  });

  it('policy sequential always asks the first; round_robin takes turns; random spreads', async () => {
    const ups = await Promise.all([upstream(), upstream(), upstream()]);
    const to = ups.map((u) => u.hostPort).join(' ');
    const s = await serve(`seq.test {\n  forward . ${to} {\n    policy sequential\n  }\n}\nrr.test {\n  forward . ${to} {\n    policy round_robin\n  }\n}\nrnd.test {\n  forward . ${to}\n}\n`);
    for (let i = 0; i < 6; i++) await udpQuery(s.port, `q${i}.seq.test`, 'A');
    expect(ups.map((u) => u.queries.length)).to.deep.equal([6, 0, 0]);
    for (let i = 0; i < 9; i++) await udpQuery(s.port, `q${i}.rr.test`, 'A');
    expect(ups.map((u) => u.queries.filter((q) => q.name.endsWith('rr.test')).length)).to.deep.equal([3, 3, 3]);
    // Consecutive round_robin queries go to different upstreams.
    const order = ups.flatMap((u, i) => u.queries.filter((q) => q.name.endsWith('rr.test')).map((q) => ({ i, at: q.name }))).sort((a, b) => a.at.localeCompare(b.at)).map((x) => x.i);
    for (let i = 1; i < order.length; i++) expect(order[i]).to.not.equal(order[i - 1]);
    for (let i = 0; i < 30; i++) await udpQuery(s.port, `q${i}.rnd.test`, 'A');
    const spread = ups.map((u) => u.queries.filter((q) => q.name.endsWith('rnd.test')).length);
    expect(spread.every((n) => n > 0), `random spread ${spread}`).to.equal(true);
  });

  it('refuses queries above max_concurrent', async () => {
    const up = await upstream({ delayMs: 300 });
    const s = await serve(`. {\n  forward . ${up.hostPort} {\n    max_concurrent 2\n  }\n}\n`);
    const answers = await Promise.all([0, 1, 2, 3].map((i) => udpRaw(s.port, queryBytes(`c${i}.example.org`, 'A'), 3000)));
    const rcodes = answers.map((b) => rcodeOf(dnsPacket.decode(b!))).sort();
    expect(rcodes).to.deep.equal(['NOERROR', 'NOERROR', 'REFUSED', 'REFUSED']);
    expect(s.forwards[0]!.metrics.maxConcurrentRejects).to.equal(2);
    expect(up.queries).to.have.length(2);
    // Rejections do not count against the upstream.
    expect(s.forwards[0]!.routes[0]!.upstreams[0]!.fails).to.equal(0);
  });

  it('relays the server\'s own queries (CNAME chasing): real query bytes with RD and our EDNS size', async () => {
    const up = await upstream();
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const r = await s.server.resolveInternal('Target.Example.org', 28);
    expect(r.by).to.equal('forward');
    expect(r.rcode).to.equal(0);
    if (r.kind !== 'relay') throw new Error(`expected the upstream's message, got ${r.kind}`);
    const p = dnsPacket.decode(r.wire);
    expect(rrLines(p.answers)).to.deep.equal(['target.example.org AAAA 2001:db8::53']);
    expect(up.queries[0]!.ednsSize).to.equal(1232);
    expect(up.queries[0]!.rd).to.equal(true);
  });

  it('fails over at once when an upstream port refuses (ICMP unreachable)', async () => {
    const { freePort } = await import('./support/server.js');
    const closed = await freePort();
    const good = await upstream();
    const s = await serve(`. {\n  forward . 127.0.0.1:${closed} ${good.hostPort} {\n    policy sequential\n    health_check 10s\n  }\n}\n`);
    const t0 = performance.now();
    const a = await udpQuery(s.port, 'www.example.org', 'A');
    expect(rrLines(a.answers)).to.deep.equal(['www.example.org A 192.0.2.53']);
    expect(performance.now() - t0).to.be.lessThan(500, 'no waiting for a timeout');
    expect(s.forwards[0]!.routes[0]!.upstreams[0]!.fails).to.be.greaterThan(0);
  });

  it('answers over TCP from a forwarded large answer (pipelined client queries)', async () => {
    const up = await upstream();
    const s = await serve(`. {\n  forward . ${up.hostPort}\n}\n`);
    const out = await tcpRaw(s.port, [queryBytes('p1.example.org', 'A'), queryBytes('p2.example.org', 'A'), queryBytes('p3.example.org', 'A')]);
    expect(out.map((b) => rrLines(dnsPacket.decode(b).answers)[0]).sort()).to.deep.equal([
      'p1.example.org A 192.0.2.53', 'p2.example.org A 192.0.2.53', 'p3.example.org A 192.0.2.53',
    ]);
  });
});
