import { expect } from 'chai';
import { setLogSink } from '../src/log.js';
import { PLUGINS } from '../src/plugins/index.js';
import { answerPlugin } from './support/answer-plugin.js';
import { tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin];

describe('log plugin', () => {
  const lines: string[] = [];
  before(() => setLogSink((l) => lines.push(l)));
  after(() => setLogSink(null));
  beforeEach(() => { lines.length = 0; });

  it("prints CoreDNS's default line for every query", async () => {
    const srv = await startCorefile('example.org {\n  log\n  answer 1\n}\n', { plugins });
    try {
      await udpQuery(srv.port, 'Www.Example.org', 'A', { id: 4242, edns: 1232, do: true });
      await tcpQuery(srv.port, 'nx.example.org', 'AAAA', { id: 7 });
      const q = lines.filter((l) => l.startsWith('[INFO]'));
      expect(q).to.have.length(2);
      expect(q[0]).to.match(/^\[INFO\] 127\.0\.0\.1:\d+ - 4242 "A IN Www\.Example\.org\. udp \d+ true 1232" NOERROR qr,aa,rd \d+ \d+\.\d{9}s$/);
      expect(q[1]).to.match(/^\[INFO\] 127\.0\.0\.1:\d+ - 7 "AAAA IN nx\.example\.org\. tcp \d+ false 512" NXDOMAIN qr,aa,rd \d+ \d+\.\d{9}s$/);
    } finally {
      await srv.stop();
    }
  });

  it('class denial error: success is not logged, NXDOMAIN and SERVFAIL are', async () => {
    const srv = await startCorefile('example.org {\n  log {\n    class denial error\n  }\n  answer 1\n}\n', { plugins });
    try {
      await udpQuery(srv.port, 'ok.example.org', 'A');
      await udpQuery(srv.port, 'nx.example.org', 'A');
      await udpQuery(srv.port, 'throw.example.org', 'A');
      const q = lines.filter((l) => l.startsWith('[INFO]'));
      expect(q.map((l) => l.split('"')[1]!.split(' ')[2])).to.deep.equal(['nx.example.org.', 'throw.example.org.']);
      expect(q[1]).to.contain('SERVFAIL');
    } finally {
      await srv.stop();
    }
  });

  it('NAMES limits logging to names below them', async () => {
    const srv = await startCorefile('example.org {\n  log sub.example.org\n  answer 1\n}\n', { plugins });
    try {
      await udpQuery(srv.port, 'a.example.org', 'A');
      await udpQuery(srv.port, 'a.sub.example.org', 'A');
      const q = lines.filter((l) => l.startsWith('[INFO]'));
      expect(q).to.have.length(1);
      expect(q[0]).to.contain('a.sub.example.org.');
    } finally {
      await srv.stop();
    }
  });
});
