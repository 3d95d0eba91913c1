import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { performance } from 'node:perf_hooks';
import { queryBytes, rcodeOf, rrLines, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { capturePlugins, forwardRig, sleep, waitFor } from './support/forward.js';
import { startCorefile } from './support/server.js';

describe('forward: health, failover and deadlines', () => {
  const { logs, servers, upstreams, upstream } = forwardRig();

  async function serve(corefile: string) {
    const cap = capturePlugins();
    const s = await startCorefile(corefile, { plugins: cap.plugins });
    servers.push(s);
    return { ...s, forwards: cap.forwards };
  }

  it('fails over from a silent upstream, marks it down, and takes it back once health checks pass', async () => {
    const a = await upstream({ silent: true });
    const b = await upstream();
    const s = await serve(`. {\n  forward . ${a.hostPort} ${b.hostPort} {\n    policy sequential\n    read_timeout 600ms\n    health_check 100ms\n  }\n}\n`);
    const [ua, ub] = s.forwards[0]!.routes[0]!.upstreams;

    // First query: A is asked, stays silent; B is asked after budget/2 and answers.
    let t0 = performance.now();
    const first = await udpQuery(s.port, 'one.example.org', 'A');
    const firstMs = performance.now() - t0;
    expect(rrLines(first.answers)).to.deep.equal(['one.example.org A 192.0.2.53']);
    expect(firstMs).to.be.within(250, 550);
    expect(a.count('one.example.org')).to.equal(1);
    expect(b.count('one.example.org')).to.equal(1);

    // A's health checks (". IN NS", recursion desired) fail: A goes down.
    expect(await waitFor(() => ua!.down, 2000)).to.equal(true);
    const probes = a.queries.filter((q) => q.name === '' && q.type === 'NS');
    expect(probes.length).to.be.greaterThan(0);
    expect(probes[0]!.rd).to.equal(true);
    expect(ub!.down).to.equal(false);

    // While A is down, queries go straight to B.
    t0 = performance.now();
    const second = await udpQuery(s.port, 'two.example.org', 'A');
    expect(performance.now() - t0).to.be.lessThan(150);
    expect(rrLines(second.answers)).to.deep.equal(['two.example.org A 192.0.2.53']);
    expect(a.count('two.example.org')).to.equal(0);

    // A comes back: the next health check sees it, and sequential prefers it again.
    a.set({ silent: false });
    expect(await waitFor(() => !ua!.down, 1000)).to.equal(true);
    await udpQuery(s.port, 'three.example.org', 'A');
    expect(a.count('three.example.org')).to.equal(1);
    expect(b.count('three.example.org')).to.equal(0);
    const m = s.forwards[0]!.metrics.upstreams.get(a.hostPort)!;
    expect(m.healthcheckFailures).to.be.greaterThan(0);
    expect(logs.some((l) => l.includes('upstream marked down') && l.includes(a.hostPort))).to.equal(true);
    expect(logs.some((l) => l.includes('healthy again') && l.includes(a.hostPort))).to.equal(true);

    // Health checks stop once healthy.
    const n = a.count('', 'NS');
    await sleep(300);
    expect(a.count('', 'NS')).to.equal(n);
  });

  it('gives SERVFAIL within the read_timeout budget (2 s), well before a client retries at 5 s', async function () {
    this.timeout(6000);
    const a = await upstream({ silent: true });
    const b = await upstream({ silent: true });
    const s = await serve(`. {\n  errors\n  forward . ${a.hostPort} ${b.hostPort}\n}\n`);
    const t0 = performance.now();
    const raw = await udpRaw(s.port, queryBytes('lost.example.org', 'A'), 5000);
    const ms = performance.now() - t0;
    expect(raw, 'an answer, not silence').to.not.equal(null);
    expect(rcodeOf(dnsPacket.decode(raw!))).to.equal('SERVFAIL');
    expect(ms).to.be.within(1900, 2500);
    // Both were tried (the second after half the budget).
    expect(a.count('lost.example.org') + b.count('lost.example.org')).to.equal(2);
    expect(s.forwards[0]!.metrics.noAnswer).to.equal(1);
    expect(logs.some((l) => l.startsWith('[ERROR] plugin/errors: 2 ') && l.includes('no answer from'))).to.equal(true);
  });

  it('retries a single silent upstream once within the budget, then SERVFAIL; a TCP client too', async () => {
    const a = await upstream({ silent: true });
    const s = await serve(`. {\n  forward . ${a.hostPort} {\n    read_timeout 400ms\n    health_check 5s\n  }\n}\n`);
    let t0 = performance.now();
    const r = await udpQuery(s.port, 'gone.example.org', 'A');
    expect(rcodeOf(r)).to.equal('SERVFAIL');
    expect(performance.now() - t0).to.be.within(380, 700);
    expect(a.count('gone.example.org')).to.equal(2);
    t0 = performance.now();
    const t = await tcpQuery(s.port, 'gone2.example.org', 'A');
    expect(rcodeOf(t)).to.equal('SERVFAIL');
    expect(performance.now() - t0).to.be.within(380, 700);
  });

  it('when every upstream is down, still tries one at random', async () => {
    const a = await upstream({ silent: true });
    const b = await upstream({ silent: true });
    const s = await serve(`. {\n  forward . ${a.hostPort} ${b.hostPort} {\n    max_fails 1\n    read_timeout 200ms\n    health_check 10s\n  }\n}\n`);
    await udpQuery(s.port, 'x.example.org', 'A');
    const ups = s.forwards[0]!.routes[0]!.upstreams;
    expect(await waitFor(() => ups.every((u) => u.down), 1000)).to.equal(true);
    // Let the first health checks fail (the next ones are 10 s away), then bring both back.
    const m = s.forwards[0]!.metrics;
    expect(await waitFor(() => [a, b].every((u) => m.upstreams.get(u.hostPort)!.healthcheckFailures > 0), 1000)).to.equal(true);
    a.set({ silent: false });
    b.set({ silent: false });
    const r = await udpQuery(s.port, 'y.example.org', 'A');
    expect(rrLines(r.answers)).to.deep.equal(['y.example.org A 192.0.2.53']);
    expect(s.forwards[0]!.metrics.healthcheckBroken).to.be.greaterThan(0);
    // The answer made that upstream healthy again.
    expect(ups.filter((u) => !u.down)).to.have.length(1);
  });

  it('failfast_all_unhealthy_upstreams answers SERVFAIL at once when all are down', async () => {
    const a = await upstream({ silent: true });
    const s = await serve(`. {\n  forward . ${a.hostPort} {\n    max_fails 1\n    read_timeout 200ms\n    health_check 10s\n    failfast_all_unhealthy_upstreams\n  }\n}\n`);
    await udpQuery(s.port, 'x.example.org', 'A');
    expect(await waitFor(() => s.forwards[0]!.routes[0]!.upstreams[0]!.down, 1000)).to.equal(true);
    const t0 = performance.now();
    expect(rcodeOf(await udpQuery(s.port, 'y.example.org', 'A'))).to.equal('SERVFAIL');
    expect(performance.now() - t0).to.be.lessThan(100);
    expect(a.count('y.example.org')).to.equal(0);
  });

  it('max_fails 0: never marked down, never health checked', async () => {
    const a = await upstream({ silent: true });
    const s = await serve(`. {\n  forward . ${a.hostPort} {\n    max_fails 0\n    read_timeout 200ms\n    health_check 50ms\n  }\n}\n`);
    for (let i = 0; i < 3; i++) await udpQuery(s.port, `x${i}.example.org`, 'A');
    await sleep(150);
    expect(s.forwards[0]!.routes[0]!.upstreams[0]!.down).to.equal(false);
    expect(a.count('', 'NS')).to.equal(0);
  });

  it('closes pooled TCP connections idle longer than expire', async () => {
    const a = await upstream();
    const s = await serve(`. {\n  forward . ${a.hostPort} {\n    force_tcp\n    expire 150ms\n  }\n}\n`);
    await udpQuery(s.port, 'a.example.org', 'A');
    await udpQuery(s.port, 'b.example.org', 'A');
    await sleep(300);
    await udpQuery(s.port, 'c.example.org', 'A');
    const c = s.forwards[0]!.metrics.upstreams.get(a.hostPort)!;
    expect([c.connCacheMisses, c.connCacheHits]).to.deep.equal([2, 1]);
    expect(new Set(a.queries.map((q) => q.port)).size).to.equal(2);
  });

  it('retries a query on a fresh connection when the pooled one was closed by the upstream', async () => {
    const a = await upstream();
    const s = await serve(`. {\n  forward . ${a.hostPort} {\n    force_tcp\n  }\n}\n`);
    await udpQuery(s.port, 'a.example.org', 'A');
    // The upstream restarts: its TCP connections are gone (the pooled one included).
    const port = a.port;
    await a.stop();
    upstreams.splice(upstreams.indexOf(a), 1);
    const again = await upstream({ port });
    const r = await udpQuery(s.port, 'b.example.org', 'A');
    expect(rrLines(r.answers)).to.deep.equal(['b.example.org A 192.0.2.53']);
    expect(again.count('b.example.org')).to.equal(1);
  });
});
