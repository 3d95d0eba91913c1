import { expect } from 'chai';
import { hostname } from 'node:os';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { packageVersion } from '../src/version.js';
import { rcodeOf, rrLines, tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

describe('chaos plugin', () => {
  let srv: Running;
  let plain: Running;
  before(async () => {
    srv = await startCorefile('. {\n  chaos CoreDNS-001 "Miek Gieben" bob alice bob\n  whoami\n}\n');
    plain = await startCorefile('version.bind version.server authors.bind hostname.bind id.server {\n  chaos\n}\n');
  });
  after(async () => { await srv.stop(); await plain.stop(); });

  for (const query of [udpQuery, tcpQuery]) {
    it(`answers CH TXT version.bind and version.server with VERSION over ${query.name}`, async () => {
      for (const name of ['version.bind', 'version.server']) {
        const p = await query(srv.port, name, 'TXT', { qclass: 'CH' });
        expect(rcodeOf(p)).to.equal('NOERROR');
        expect(p.flag_aa).to.equal(false);
        expect(rrLines(p.answers)).to.deep.equal([`${name} TXT CoreDNS-001`]);
        const rr = p.answers![0] as { class: string; ttl: number };
        expect([rr.class, rr.ttl]).to.deep.equal(['CH', 0]);
      }
    });
  }

  it('answers hostname.bind and id.server with the host name, keeping the question spelling', async () => {
    for (const name of ['hostname.bind', 'ID.Server']) {
      const p = await udpQuery(srv.port, name, 'TXT', { qclass: 'CH' });
      expect(rrLines(p.answers)).to.deep.equal([`${name} TXT ${hostname()}`]);
    }
  });

  it('answers authors.bind with each distinct author, shuffled', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const p = await udpQuery(srv.port, 'authors.bind', 'TXT', { qclass: 'CH' });
      const lines = rrLines(p.answers);
      expect([...lines].sort()).to.deep.equal(['authors.bind TXT Miek Gieben', 'authors.bind TXT alice', 'authors.bind TXT bob']);
      seen.add(lines.join('|'));
    }
    expect(seen.size, 'orders seen in 30 answers').to.be.greaterThan(1);
  });

  it('defaults VERSION to clusterdns-<version> and authors to none', async () => {
    const v = await udpQuery(plain.port, 'version.bind', 'TXT', { qclass: 'CH' });
    expect(rrLines(v.answers)).to.deep.equal([`version.bind TXT clusterdns-${packageVersion()}`]);
    const a = await udpQuery(plain.port, 'authors.bind', 'TXT', { qclass: 'CH' });
    expect(rcodeOf(a)).to.equal('NOERROR');
    expect(a.answers ?? []).to.have.length(0);
  });

  it('passes other CH questions on (REFUSED at the end of the CH chain) and never answers IN', async () => {
    const srvType = await udpQuery(srv.port, 'authors.bind', 'SRV', { qclass: 'CH' });
    expect(rcodeOf(srvType)).to.equal('REFUSED');
    const other = await udpQuery(srv.port, 'example.org', 'TXT', { qclass: 'CH' });
    expect(rcodeOf(other)).to.equal('REFUSED');
    const inClass = await udpQuery(srv.port, 'version.bind', 'TXT');
    expect(rcodeOf(inClass)).to.equal('NOERROR');
    expect(inClass.answers ?? [], 'IN goes to whoami, which answers in additional').to.have.length(0);
    expect((inClass.additionals ?? []).map((r) => r.type)).to.include('SRV');
  });

  it('cuts text longer than 255 octets', async () => {
    const s = await startCorefile(`. {\n  chaos ${'v'.repeat(300)}\n}\n`);
    try {
      const p = await udpQuery(s.port, 'version.bind', 'TXT', { qclass: 'CH' });
      expect(rrLines(p.answers)).to.deep.equal([`version.bind TXT ${'v'.repeat(255)}`]);
    } finally {
      await s.stop();
    }
  });

  it('refuses a block with file:line', () => {
    const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }));
    expect(() => build('chaos v2 {\n  unknown\n}')).to.throw(/test\.Corefile:3: chaos: unknown property "unknown"/);
    expect(() => build('chaos v2 {\n}')).to.throw(/test\.Corefile:2: chaos takes no block/);
  });
});
