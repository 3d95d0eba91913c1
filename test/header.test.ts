import { expect } from 'chai';
import type { Answer } from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { rcodeOf, rrLines, tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { defaultAnswer, startUpstream, type Upstream } from './support/upstream.js';

describe('header plugin', () => {
  let up: Upstream;
  let srv: Running;
  before(async () => {
    up = await startUpstream({
      answer: (q) => q.name.startsWith('big.')
        ? { answers: Array.from({ length: 60 }, (_, i): Answer => ({ name: q.name, type: 'A', ttl: 60, data: `192.0.2.${i + 1}` })) }
        : defaultAnswer(q),
    });
    srv = await startCorefile(`fwd.test {
  header {
    response set ra
    response clear ra
    RESPONSE Set AA
  }
  forward . ${up.hostPort}
}
cached.test {
  cache 30
  header {
    response clear ra
  }
  forward . ${up.hostPort}
}
norec.test {
  header {
    query clear rd
  }
  forward . ${up.hostPort}
}
hosts.test {
  header {
    response clear aa
    response set rd ra
  }
  hosts {
    192.0.2.7 a.hosts.test
  }
}
`);
  });
  after(async () => { await srv.stop(); await up.stop(); });

  for (const query of [udpQuery, tcpQuery]) {
    it(`edits the flags of a forwarded (relayed) answer, last rule winning, over ${query.name}`, async () => {
      const plain = await startCorefile(`. {\n  forward . ${up.hostPort}\n}\n`);
      try {
        const before = await query(plain.port, 'x.fwd.test', 'A');
        expect([before.flag_ra, before.flag_aa], 'without header').to.deep.equal([true, false]);
      } finally {
        await plain.stop();
      }
      const p = await query(srv.port, 'x.fwd.test', 'A', { edns: 1232 });
      expect(rcodeOf(p)).to.equal('NOERROR');
      expect(rrLines(p.answers)).to.deep.equal(['x.fwd.test A 192.0.2.53']);
      expect([p.flag_ra, p.flag_aa, p.flag_rd]).to.deep.equal([false, true, true]);
    });

    it(`edits the flags of an answer built from sections (hosts), over ${query.name}`, async () => {
      const p = await query(srv.port, 'a.hosts.test', 'A', { rd: false });
      expect(rrLines(p.answers)).to.deep.equal(['a.hosts.test A 192.0.2.7']);
      expect([p.flag_aa, p.flag_rd, p.flag_ra]).to.deep.equal([false, true, true]);
    });
  }

  it('keeps the edits on a truncated UDP answer (re-encoded from the relayed message)', async () => {
    const p = await udpQuery(srv.port, 'big.fwd.test', 'A');
    expect(p.flag_tc).to.equal(true);
    expect([p.flag_ra, p.flag_aa]).to.deep.equal([false, true]);
  });

  it('the cache (before header) stores the edited answer: hits keep RA cleared', async () => {
    for (let i = 0; i < 3; i++) {
      const p = await udpQuery(srv.port, 'y.cached.test', 'A');
      expect(p.flag_ra, `answer ${i}`).to.equal(false);
    }
    expect(up.count('y.cached.test', 'A')).to.equal(1);
  });

  it('query rules change the query the rest of the chain and the upstream see', async () => {
    const p = await udpQuery(srv.port, 'z.norec.test', 'A');
    expect(rcodeOf(p)).to.equal('NOERROR');
    const sent = up.queries.filter((q) => q.name === 'z.norec.test');
    expect(sent.map((q) => q.rd)).to.deep.equal([false]);
    const other = up.queries.filter((q) => q.name === 'x.fwd.test');
    expect(other.length).to.be.greaterThan(0);
    expect(other.every((q) => q.rd)).to.equal(true);
  });

  const bad: Array<[string, RegExp]> = [
    ['header', /test\.Corefile:2: header: no rules; usage: header \{ query\|response set\|clear FLAGS\.\.\. \}/],
    ['header {\n}', /test\.Corefile:2: header: no rules/],
    ['header extra {\n  response set ra\n}', /test\.Corefile:2: header: unexpected "extra"/],
    ['header {\n  answer set ra\n}', /test\.Corefile:3: header: invalid selector "answer"; accepted: query, response/],
    ['header {\n  response\n}', /test\.Corefile:3: header: response: no flag action given; accepted: set, clear/],
    ['header {\n  response toggle ra\n}', /test\.Corefile:3: header: unknown flag action "toggle"; accepted: set, clear/],
    ['header {\n  response set\n}', /test\.Corefile:3: header: response set: at least one flag is needed/],
    ['header {\n  response set ra cd\n}', /test\.Corefile:3: header: unknown or unsupported flag "cd"; accepted: aa, ra, rd/],
    ['header {\n  query clear ad\n}', /test\.Corefile:3: header: unknown or unsupported flag "ad"/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }))).to.throw(re);
    });
  }
});
