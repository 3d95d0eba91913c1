import { expect } from 'chai';
import { formatLine, setLogFormat, setLogSink } from '../src/log.js';
import { PLUGINS } from '../src/plugins/index.js';
import { answerPlugin } from './support/answer-plugin.js';
import { tcpQuery, udpQuery } from './support/dns.js';
import { startCorefile } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin];
/** The `log` plugin's query lines, not the server's own [INFO] lines. */
const queryLines = (lines: string[]): string[] => lines.filter((l) => /^\[INFO\] \S+:\d+ - \d+ "/.test(l));

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
      const q = queryLines(lines);
      expect(q).to.have.length(2);
      expect(q[0]).to.match(/^\[INFO\] 127\.0\.0\.1:\d+ - 4242 "A IN Www\.Example\.org\. udp \d+ true 1232" NOERROR qr,aa,rd \d+ \d+(\.\d{1,9})?s$/);
      // CoreDNS's request.Size(): a TCP query's buffer is 64K whatever its OPT says.
      expect(q[1]).to.match(/^\[INFO\] 127\.0\.0\.1:\d+ - 7 "AAAA IN nx\.example\.org\. tcp \d+ false 65535" NXDOMAIN qr,aa,rd \d+ \d+(\.\d{1,9})?s$/);
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
      const q = queryLines(lines);
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
      const q = queryLines(lines);
      expect(q).to.have.length(1);
      expect(q[0]).to.contain('a.sub.example.org.');
    } finally {
      await srv.stop();
    }
  });
});

describe("operational logs in CoreDNS's form", () => {
  afterEach(() => setLogFormat('coredns'));

  it('prints [LEVEL] plugin/NAME: message, the server itself without a plugin, fields after', () => {
    expect(formatLine('info', 'reload', 'Running configuration SHA512 = ab12')).to.equal('[INFO] plugin/reload: Running configuration SHA512 = ab12');
    expect(formatLine('error', 'errors', '2 example.org. A: forward: no answer from 10.0.0.1:53')).to.equal('[ERROR] plugin/errors: 2 example.org. A: forward: no answer from 10.0.0.1:53');
    expect(formatLine('warn', 'kubernetes', 'starting server with unsynced Kubernetes API')).to.equal('[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API');
    expect(formatLine('info', 'server', 'SIGTERM: Shutting down servers then terminating')).to.equal('[INFO] SIGTERM: Shutting down servers then terminating');
    expect(formatLine('debug', 'cache', 'x', { key: 'a b', n: 3, gone: undefined, err: new Error('boom') })).to.equal('[DEBUG] plugin/cache: x key="a b" n=3 err=boom');
    expect(formatLine('error', 'server', 'fatal', { stack: 'Error: x\n    at y' })).to.equal('[ERROR] fatal stack="Error: x\\n    at y"', 'one event, one line');
  });

  it('-log.format json: one JSON object per line with the same facts', () => {
    setLogFormat('json');
    const o = JSON.parse(formatLine('warn', 'kubernetes', 'watch failed, retrying', { kind: 'services', err: new Error('ECONNRESET') })) as Record<string, unknown>;
    expect(o).to.deep.include({ level: 'warning', plugin: 'kubernetes', msg: 'watch failed, retrying', kind: 'services', err: 'ECONNRESET' });
    expect(new Date(o.ts as string).getTime()).to.be.closeTo(Date.now(), 60_000);
  });

  it('the log plugin keeps its query lines in either format', async () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    setLogFormat('json');
    const srv = await startCorefile('example.org {\n  log\n  answer 1\n}\n', { plugins });
    try {
      await udpQuery(srv.port, 'www.example.org', 'A', { id: 99 });
      expect(queryLines(lines)).to.have.length(1);
      expect(queryLines(lines)[0]).to.match(/^\[INFO\] 127\.0\.0\.1:\d+ - 99 "A IN www\.example\.org\. udp/);
    } finally {
      await srv.stop();
      setLogSink(null);
    }
  });
});
