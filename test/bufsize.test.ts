import { expect } from 'chai';
import type { Answer } from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { queryBytes, rcodeOf, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { defaultAnswer, startUpstream, type Upstream } from './support/upstream.js';

describe('bufsize plugin', () => {
  let up: Upstream;
  let srv: Running;
  before(async () => {
    // mid.*: 60 A records, about 1,000 bytes: fits 1232, not 900.
    up = await startUpstream({
      answer: (q) => q.name.startsWith('mid.')
        ? { answers: Array.from({ length: 60 }, (_, i): Answer => ({ name: q.name, type: 'A', ttl: 60, data: `192.0.2.${i + 1}` })) }
        : defaultAnswer(q),
    });
    srv = await startCorefile(`default.test {
  bufsize
  forward . ${up.hostPort}
}
small.test {
  bufsize 900
  forward . ${up.hostPort}
}
. {
  forward . ${up.hostPort}
}
`);
  });
  after(async () => { await srv.stop(); await up.stop(); });

  const sentSize = (name: string): Array<number | null> => up.queries.filter((q) => q.name === name).map((q) => q.ednsSize);

  it('lowers a larger EDNS size to 1232 by default in the query sent upstream', async () => {
    await udpQuery(srv.port, 'a.default.test', 'A', { edns: 4096 });
    await tcpQuery(srv.port, 'b.default.test', 'A', { edns: 1400 });
    expect(sentSize('a.default.test')).to.deep.equal([1232]);
    expect(sentSize('b.default.test')).to.deep.equal([1232]);
  });

  it('lowers to SIZE, never raises, and leaves queries without EDNS alone', async () => {
    await udpQuery(srv.port, 'a.small.test', 'A', { edns: 4096 });
    await udpQuery(srv.port, 'b.small.test', 'A', { edns: 600 });
    await udpQuery(srv.port, 'c.small.test', 'A');
    expect(sentSize('a.small.test')).to.deep.equal([900]);
    expect(sentSize('b.small.test')).to.deep.equal([600]);
    // A query without EDNS reaches the upstream with forward's own OPT (it carries the loop marker, forward/README).
    expect(sentSize('c.small.test')).to.deep.equal([1232]);
    await udpQuery(srv.port, 'a.other.test', 'A', { edns: 4096 });
    expect(sentSize('a.other.test'), 'a block without bufsize').to.deep.equal([4096]);
  });

  it('cuts the block\'s UDP answers at SIZE (TC), not its TCP answers', async () => {
    const big = await udpRaw(srv.port, queryBytes('mid.small.test', 'A', { edns: 4096 }));
    expect(big).to.not.equal(null);
    expect(big!.length).to.be.at.most(900);
    expect(big![2]! & 0x02, 'TC').to.equal(0x02);
    const whole = await tcpQuery(srv.port, 'mid.small.test', 'A', { edns: 4096 });
    expect(rcodeOf(whole)).to.equal('NOERROR');
    expect(whole.answers ?? []).to.have.length(60);
    const other = await udpRaw(srv.port, queryBytes('mid.other.test', 'A', { edns: 4096 }));
    expect(other!.length, 'without bufsize: the server cap (1232)').to.be.within(901, 1232);
    expect(other![2]! & 0x02).to.equal(0);
  });

  const bad: Array<[string, RegExp]> = [
    ['bufsize 5000', /test\.Corefile:2: invalid bufsize SIZE "5000": expected an integer from 512 to 4096/],
    ['bufsize 511', /test\.Corefile:2: invalid bufsize SIZE "511"/],
    ['bufsize abc123', /test\.Corefile:2: invalid bufsize SIZE "abc123"/],
    ['bufsize 512 512', /test\.Corefile:2: bufsize: wrong number of arguments \(got 2\); usage: bufsize \[SIZE\]/],
    ['bufsize {\n  size 1000\n}', /test\.Corefile:2: bufsize takes no block/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }))).to.throw(re);
    });
  }
});
