// forward's per-query loop protection (issue 15): two servers forwarding to
// each other, a server forwarding to itself, and what the marker must not
// do: reach clients, upset upstreams, or flag two clients asking alike.

import { expect } from 'chai';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { performance } from 'node:perf_hooks';
import { LOOP_OPTION, markQuery, MAX_HOPS, readMarker, TAG_SIZE } from '../src/plugins/forward/hops.js';
import type { ForwardPlugin } from '../src/plugins/forward/forward.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { capturePlugins, forwardRig, sleep } from './support/forward.js';
import { startLoopPair, type LoopPair } from './support/loop-pair.js';
import { freePort, startCorefile } from './support/server.js';
import { defaultAnswer, type UpstreamQuery } from './support/upstream.js';
import { ask, expectAnswer, removeDir, writeCluster } from './support/kubernetes-fixtures.js';

const KUBE = 'kubernetes.default.svc.cluster.local';

/** The marker options a message carries (OPT options with our code). */
function markers(raw: Buffer): Buffer[] {
  const p = dnsPacket.decode(raw);
  const opt = (p.additionals ?? []).find((r) => r.type === 'OPT') as { options?: Array<{ code: number; data?: Buffer }> } | undefined;
  return (opt?.options ?? []).filter((o) => o.code === LOOP_OPTION).map((o) => o.data ?? Buffer.alloc(0));
}

function hasOpt(p: DecodedPacket): boolean {
  return (p.additionals ?? []).some((r) => r.type === 'OPT');
}

/** A client query carrying a marker of `tags` foreign hops. */
function markedQuery(name: string, tags: number): Buffer {
  return dnsPacket.encode({
    type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: LOOP_OPTION, data: Buffer.alloc(tags * TAG_SIZE, 0xab) }] } as never],
  });
}

function loopsTo(f: ForwardPlugin, to: string): number {
  return f.metrics.upstreams.get(to)?.loops ?? 0;
}

describe('forward: per-query loop protection', function () {
  this.timeout(15000);
  const { logs, servers, upstream } = forwardRig({ clearLogs: true });
  let dir: string;
  let pair: LoopPair | null = null;

  before(() => { dir = writeCluster(); });
  after(() => removeDir(dir));
  afterEach(async () => {
    await pair?.stop();
    pair = null;
  });

  it('two servers forwarding to each other: SERVFAIL at once after 3 hops, both keep serving cluster names', async () => {
    pair = await startLoopPair(dir, 'cache 30');
    const { a, b, hopsA, hopsB } = pair;
    const name = 'loop.example.org';
    const t0 = performance.now();
    const r = await udpQuery(a.port, name, 'A', { edns: 1232 });
    const ms = performance.now() - t0;
    expect(rcodeOf(r)).to.equal('SERVFAIL');
    expect(ms).to.be.below(1000);
    // Settle: a loop would keep going after the client's answer.
    await sleep(200);
    // client -> A -> B -> A (A sees its own tag and stops it).
    expect({ a: hopsA.get(name), b: hopsB.get(name) }).to.deep.equal({ a: 2, b: 1 });
    for (const s of [a, b]) expectAnswer(await ask(s.port, KUBE, 'A'), [`${KUBE} 5 A 10.96.0.1`]);

    const [fa, fb] = pair.captured.forwards;
    expect(loopsTo(fa!, `127.0.0.1:${b.port}`)).to.equal(1);
    expect(loopsTo(fb!, `127.0.0.1:${a.port}`)).to.equal(0, 'B only relayed the SERVFAIL');
    const sample = fa!.collectMetrics()
      .find((s) => s.family === 'clusterdns_forward_loops_total');
    expect(sample?.sample).to.deep.equal({ labels: { to: `127.0.0.1:${b.port}` }, value: 1 });

    // Over TCP too, from B's side this time.
    const t = await tcpQuery(b.port, 'tcp-loop.example.org', 'A');
    expect(rcodeOf(t)).to.equal('SERVFAIL');
    expect(hopsB.get('tcp-loop.example.org')).to.equal(2);
    expect(loopsTo(fb!, `127.0.0.1:${a.port}`)).to.equal(1);
  });

  it('logs a loop once a minute per upstream (with its address and the name), however often it repeats', async () => {
    pair = await startLoopPair(dir);
    const { a, b } = pair;
    for (let i = 0; i < 5; i++) expect(rcodeOf(await udpQuery(a.port, `n${i}.loop.example.org`, 'A', { edns: 1232 }))).to.equal('SERVFAIL');
    // A client without EDNS is protected as well: forward adds the OPT that carries the marker.
    expect(rcodeOf(await udpQuery(a.port, 'plain.loop.example.org', 'A'))).to.equal('SERVFAIL');
    const lines = logs.filter((l) => l.includes('Forwarding loop'));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include('plugin/forward').and.include(`to=127.0.0.1:${b.port}`).and.include('qname=n0.loop.example.org.');
    expect(loopsTo(pair.captured.forwards[0]!, `127.0.0.1:${b.port}`)).to.equal(6);
  });

  it('a server forwarding to itself answers SERVFAIL on the second pass and keeps serving', async () => {
    const port = await freePort();
    const seen: string[] = [];
    const captured = capturePlugins({
      extra: [{ name: 'hopcount', setup: () => ({ name: 'hopcount', serve(req, next) { seen.push(req.lname); return next(req); } }) }],
    });
    const s = await startCorefile(`. {\n    kubernetes cluster.local {\n        manifests ${dir}\n    }\n    hopcount\n    forward . 127.0.0.1:${port}\n}\n`, { forcePort: port, plugins: captured.plugins });
    servers.push(s);
    const r = await udpQuery(port, 'self.example.org', 'A', { edns: 1232 });
    expect(rcodeOf(r)).to.equal('SERVFAIL');
    await sleep(100);
    expect(seen.filter((n) => n === 'self.example.org')).to.have.length(2);
    expect(loopsTo(captured.forwards[0]!, `127.0.0.1:${port}`)).to.equal(1);
    expectAnswer(await ask(port, KUBE, 'A'), [`${KUBE} 5 A 10.96.0.1`]);
  });

  it('a normal forward: the upstream sees the marker, the client never does', async () => {
    // This upstream even puts a marker option in its own OPT: OPT is hop-by-hop, it stays with us.
    const up = await upstream({ edns: { options: [{ code: LOOP_OPTION, data: Buffer.alloc(8, 1) }] } });
    const s = await startCorefile(`. {\n    forward . ${up.hostPort}\n}\n`);
    servers.push(s);

    const withEdns = await udpQuery(s.port, 'www.example.org', 'A', { edns: 1232 });
    expect(rcodeOf(withEdns)).to.equal('NOERROR');
    expect(rrLines(withEdns.answers)).to.deep.equal(['www.example.org A 192.0.2.53']);
    const opt = (withEdns.additionals ?? []).find((x) => x.type === 'OPT') as { options?: unknown[] } | undefined;
    expect(opt?.options ?? []).to.deep.equal([]);
    const sent = up.queries[0]!;
    const m = markers(sent.raw);
    expect(m).to.have.length(1);
    expect(m[0]!.length).to.equal(TAG_SIZE, 'one hop: our tag');
    expect(sent.ednsSize).to.equal(1232);

    // A client without EDNS: the upstream gets an OPT (size 1232) for the marker; the client gets none.
    const plain = await udpQuery(s.port, 'plain.example.org', 'A');
    expect(rcodeOf(plain)).to.equal('NOERROR');
    expect(hasOpt(plain)).to.equal(false);
    const sentPlain = up.queries.find((q) => q.name === 'plain.example.org')!;
    expect(sentPlain.ednsSize).to.equal(1232);
    expect(markers(sentPlain.raw)).to.have.length(1);

    // Over TCP as well.
    const t = await tcpQuery(s.port, 'tcp.example.org', 'A', { edns: 1232 });
    expect(rcodeOf(t)).to.equal('NOERROR');
    expect(((t.additionals ?? []).find((x) => x.type === 'OPT') as { options?: unknown[] } | undefined)?.options ?? []).to.deep.equal([]);
  });

  it('keeps the client\'s OPT as it was (size, DO, other options) and only adds the marker', async () => {
    const up = await upstream();
    const s = await startCorefile(`. {\n    forward . ${up.hostPort}\n}\n`);
    servers.push(s);
    const cookie = Buffer.from('0102030405060708', 'hex');
    const q = dnsPacket.encode({
      type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'opts.example.org', class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1400, flags: dnsPacket.DNSSEC_OK, options: [{ code: 10, data: cookie }, { code: LOOP_OPTION, data: Buffer.alloc(11, 0xcd) }] } as never],
    });
    const r = await udpRaw(s.port, q);
    expect(r && rcodeOf(dnsPacket.decode(r))).to.equal('NOERROR');
    const sent = dnsPacket.decode(up.queries[0]!.raw);
    const opt = (sent.additionals ?? []).find((x) => x.type === 'OPT') as { udpPayloadSize: number; flags: number; options: Array<{ code: number; data: Buffer }> };
    expect(opt.udpPayloadSize).to.equal(1400);
    expect(opt.flags & dnsPacket.DNSSEC_OK).to.not.equal(0);
    expect(opt.options.map((o) => o.code)).to.deep.equal([10, LOOP_OPTION]);
    expect(opt.options[0]!.data.equals(cookie)).to.equal(true);
    // A marker that is not whole tags keeps its whole tags (one here), then ours.
    const tags = opt.options[1]!.data;
    expect(tags.length).to.equal(2 * TAG_SIZE);
    expect(tags.subarray(0, TAG_SIZE).every((x) => x === 0xcd)).to.equal(true);
  });

  it('puts an added OPT before a TSIG record, which must stay last (RFC 8945 5.1)', () => {
    const plain = queryBytes('signed.example.org', 'A');
    const qend = plain.length;
    const tsig = Buffer.from([3, 0x6b, 0x65, 0x79, 0, 0, 250, 0, 255, 0, 0, 0, 0, 0, 2, 0, 0]);
    const q = Buffer.concat([plain, tsig]);
    q.writeUInt16BE(1, 10);
    const tag = Buffer.alloc(TAG_SIZE, 9);
    const out = markQuery(q, qend, tag, 1232);
    expect(out.readUInt16BE(10)).to.equal(2);
    expect([out[qend], out.readUInt16BE(qend + 1), out.readUInt16BE(qend + 3)]).to.deep.equal([0, 41, 1232]);
    expect(out.subarray(out.length - tsig.length).equals(tsig)).to.equal(true);
    expect(readMarker(out, qend).equals(tag)).to.equal(true);
  });

  it('an upstream without EDNS (FORMERR to any OPT) gets the client\'s own bytes again and answers', async () => {
    const up = await upstream({ edns: false, answer: (q: UpstreamQuery) => (q.ednsSize !== null ? { rcode: 'FORMERR' } : defaultAnswer(q)) });
    const s = await startCorefile(`. {\n    forward . ${up.hostPort}\n}\n`);
    servers.push(s);
    const r = await udpQuery(s.port, 'old.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NOERROR');
    expect(rrLines(r.answers)).to.deep.equal(['old.example.org A 192.0.2.53']);
    expect(up.queries.map((q) => q.ednsSize)).to.deep.equal([1232, null]);
  });

  it('a chain of servers is no loop: each adds its tag, many clients asking one name at once all get answers', async () => {
    const up = await upstream({ delayMs: 30 });
    const b = await startCorefile(`. {\n    forward . ${up.hostPort}\n}\n`);
    servers.push(b);
    const captured = capturePlugins();
    const a = await startCorefile(`. {\n    forward . 127.0.0.1:${b.port}\n}\n`, { plugins: captured.plugins });
    servers.push(a);
    const answers = await Promise.all(Array.from({ length: 20 }, () => udpQuery(a.port, 'same.example.org', 'A', { edns: 1232 })));
    expect(answers.map(rcodeOf)).to.deep.equal(new Array(20).fill('NOERROR'));
    expect(loopsTo(captured.forwards[0]!, `127.0.0.1:${b.port}`)).to.equal(0);
    expect(up.count('same.example.org')).to.equal(20);
    for (const q of up.queries) expect(markers(q.raw).map((x) => x.length)).to.deep.equal([2 * TAG_SIZE]);
  });

  it(`a query that already passed ${MAX_HOPS} forwarders is answered SERVFAIL, not sent on`, async () => {
    const up = await upstream();
    const captured = capturePlugins();
    const s = await startCorefile(`. {\n    forward . ${up.hostPort}\n}\n`, { plugins: captured.plugins });
    servers.push(s);
    const full = await udpRaw(s.port, markedQuery('far.example.org', MAX_HOPS));
    expect(full && rcodeOf(dnsPacket.decode(full))).to.equal('SERVFAIL');
    expect(up.count('far.example.org')).to.equal(0);
    expect(loopsTo(captured.forwards[0]!, up.hostPort)).to.equal(1);
    // One hop fewer goes through, with our tag added after the others.
    const ok = await udpRaw(s.port, markedQuery('near.example.org', MAX_HOPS - 1));
    expect(ok && rcodeOf(dnsPacket.decode(ok))).to.equal('NOERROR');
    const sent = up.queries.find((q) => q.name === 'near.example.org')!;
    const tags = markers(sent.raw);
    expect(tags).to.have.length(1);
    expect(tags[0]!.length).to.equal(MAX_HOPS * TAG_SIZE);
    expect(tags[0]!.subarray(0, (MAX_HOPS - 1) * TAG_SIZE).every((x) => x === 0xab)).to.equal(true);
  });
});
