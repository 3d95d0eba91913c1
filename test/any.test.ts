import { expect } from 'chai';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { rcodeOf, rrLines, tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

describe('any plugin (RFC 8482)', () => {
  let up: Upstream;
  let srv: Running;
  before(async () => {
    up = await startUpstream();
    srv = await startCorefile(`example.org {
  any
  hosts {
    192.0.2.7 a.example.org
    fallthrough
  }
  forward . ${up.hostPort}
}
. {
  hosts {
    192.0.2.8 b.example.net
    fallthrough
  }
  forward . ${up.hostPort}
}
`);
  });
  after(async () => { await srv.stop(); await up.stop(); });

  for (const query of [udpQuery, tcpQuery]) {
    it(`answers ANY with one HINFO (TTL 8482), spelling kept, over ${query.name}, without asking the chain`, async () => {
      const before = up.queries.length;
      for (const name of ['a.example.org', 'Nothing.Example.ORG']) {
        const p = await query(srv.port, name, 'ANY');
        expect(rcodeOf(p)).to.equal('NOERROR');
        expect(p.flag_aa).to.equal(false);
        expect(p.answers ?? []).to.have.length(1);
        const rr = p.answers![0] as { name: string; type: string; ttl: number; class: string; data: { cpu: string; os: string } };
        expect([rr.name, rr.type, rr.ttl, rr.class]).to.deep.equal([name, 'HINFO', 8482, 'IN']);
        expect(rr.data).to.deep.equal({ cpu: 'ANY obsoleted', os: 'See RFC 8482' });
        expect(p.authorities ?? []).to.have.length(0);
      }
      expect(up.queries.length - before, 'upstream queries').to.equal(0);
    });
  }

  it('passes other types down the chain', async () => {
    expect(rrLines((await udpQuery(srv.port, 'a.example.org', 'A')).answers)).to.deep.equal(['a.example.org A 192.0.2.7']);
    const before = up.count('c.example.org', 'MX');
    await udpQuery(srv.port, 'c.example.org', 'MX');
    expect(up.count('c.example.org', 'MX') - before).to.equal(1);
  });

  it('leaves ANY alone in a block without it: it goes through the chain as before', async () => {
    const before = up.count('x.example.net', 'ANY');
    const p = await udpQuery(srv.port, 'x.example.net', 'ANY');
    expect(up.count('x.example.net', 'ANY') - before).to.equal(1);
    expect((p.answers ?? []).some((r) => r.type === 'HINFO')).to.equal(false);
  });

  it('refuses arguments and options with file:line', () => {
    const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }));
    expect(() => build('any all')).to.throw(/test\.Corefile:2: any: wrong number of arguments \(got 1\); usage: any/);
    expect(() => build('any {\n  strict\n}')).to.throw(/test\.Corefile:3: any: unknown property "strict"/);
  });
});
