import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { queryBytes, rcodeOf, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

describe('whoami plugin', () => {
  let srv: Running;
  before(async () => { srv = await startCorefile('example.org {\n  whoami\n}\n. {\n  whoami\n}\n'); });
  after(async () => { await srv.stop(); });

  it('answers over UDP with the client address (A) and _udp SRV in additional, answer empty, AA', async () => {
    const p = await udpQuery(srv.port, 'example.org', 'A');
    expect(rcodeOf(p)).to.equal('NOERROR');
    expect(p.flag_aa).to.equal(true);
    expect(p.answers ?? []).to.have.length(0);
    expect(p.authorities ?? []).to.have.length(0);
    const extra = p.additionals ?? [];
    expect(extra.map((r) => `${r.name} ${r.type} ${(r as { ttl?: number }).ttl ?? -1}`)).to.deep.equal(['example.org A 0', '_udp.example.org SRV 0']);
    expect((extra[0] as { data: string }).data).to.equal('127.0.0.1');
    const srvData = (extra[1] as { data: { port: number; target: string; priority: number; weight: number } }).data;
    expect(srvData.port).to.be.within(1, 65535);
    expect(srvData.target).to.equal('.');
    expect([srvData.priority, srvData.weight]).to.deep.equal([0, 0]);
  });

  it('reports the client source port in the SRV record', async () => {
    const dgram = await import('node:dgram');
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const myPort = sock.address().port;
    const answer = new Promise<Buffer>((r) => sock.once('message', (m) => r(m)));
    sock.send(queryBytes('example.org', 'A'), srv.port, '127.0.0.1');
    const p = dnsPacket.decode(await answer);
    sock.close();
    const srvRR = (p.additionals ?? []).find((r) => r.type === 'SRV') as { data: { port: number } };
    expect(srvRR.data.port).to.equal(myPort);
  });

  it('says _tcp over TCP', async () => {
    const p = await tcpQuery(srv.port, 'example.org', 'A');
    expect((p.additionals ?? []).map((r) => `${r.name} ${r.type}`)).to.deep.equal(['example.org A', '_tcp.example.org SRV']);
  });

  it('preserves the question spelling and answers any type', async () => {
    const p = await udpQuery(srv.port, 'Example.ORG', 'MX');
    expect((p.additionals ?? []).map((r) => r.name)).to.deep.equal(['Example.ORG', '_udp.Example.ORG']);
  });

  it('names the SRV _udp. for the root', async () => {
    const p = await udpQuery(srv.port, '.', 'A');
    expect((p.additionals ?? []).map((r) => `${r.name}|${r.type}`)).to.deep.equal(['.|A', '_udp|SRV']);
  });

  it('gives an IPv6 client an AAAA record', async function () {
    let v6: Running;
    try {
      v6 = await startCorefile('. {\n  bind ::1\n  whoami\n}\n');
    } catch {
      this.skip();
      return;
    }
    try {
      const raw = await udpRaw(v6.port, queryBytes('example.org', 'AAAA'), 2000, '::1');
      expect(raw).to.not.equal(null);
      const p = dnsPacket.decode(raw!);
      expect((p.additionals ?? []).map((r) => `${r.name} ${r.type} ${String((r as { data: unknown }).data)}`)[0]).to.equal('example.org AAAA ::1');
    } finally {
      await v6.stop();
    }
  });

  it('refuses arguments and a block with file:line', () => {
    const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }));
    expect(() => build('whoami extra')).to.throw(/test\.Corefile:2: whoami: wrong number of arguments \(got 1\); usage: whoami/);
    expect(() => build('whoami {\n  x\n}')).to.throw(/test\.Corefile:2: whoami takes no block/);
  });
});
