import { expect } from 'chai';
import dnsPacket from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { PLUGINS } from '../src/plugins/index.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, tcpRaw, udpQuery, udpRaw } from './support/dns.js';
import { startCorefile } from './support/server.js';

const plugins = [...PLUGINS, answerPlugin];
/** The log plugin's lines carry a marker the server's own lines never have. */
const marked = (lines: string[]): string[] => lines.filter((l) => l.includes('|')).map((l) => l.replace(/^\[INFO\] /, ''));

describe('log formats (CoreDNS replacer fields)', () => {
  const lines: string[] = [];
  before(() => setLogSink((l) => lines.push(l)));
  after(() => setLogSink(null));
  beforeEach(() => { lines.length = 0; });

  it('fills every field over UDP and TCP, from IPv4 and IPv6 clients', async () => {
    const fields = '{remote}|{port}|{type}|{class}|{name}|{proto}|{size}|{rcode}|{>rflags}|{rsize}|{duration}|{>id}|{>do}|{>bufsize}|{>opcode}|{local}';
    const srv = await startCorefile(`example.org {\n  bind 127.0.0.1 ::1\n  log . "${fields}"\n  answer 1\n}\n`, { plugins });
    try {
      const q4 = queryBytes('Www.Example.org', 'A', { id: 321, edns: 1400, do: true });
      const a4 = await udpRaw(srv.port, q4);
      const q6 = queryBytes('nx.example.org', 'MX', { id: 654 });
      const [a6] = await tcpRaw(srv.port, [q6], 1, 3000, '::1');
      const got = marked(lines).map((l) => l.split('|'));
      expect(got).to.have.length(2);
      const [u, t] = got;
      expect(u!.slice(0, 1)).to.deep.equal(['127.0.0.1']);
      expect(Number(u![1])).to.be.within(1, 65535);
      expect(u!.slice(2, 10)).to.deep.equal(['A', 'IN', 'Www.Example.org.', 'udp', String(q4.length), 'NOERROR', 'qr,aa,rd', String(a4!.length)]);
      expect(u![10]).to.match(/^\d+(\.\d{1,9})?s$/);
      expect(u!.slice(11)).to.deep.equal(['321', 'true', '1400', '0', '127.0.0.1']);
      expect(t![0]).to.equal('[::1]');
      expect(t!.slice(2, 10)).to.deep.equal(['MX', 'IN', 'nx.example.org.', 'tcp', String(q6.length), 'NXDOMAIN', 'qr,aa,rd', String(a6!.length)]);
      expect(t!.slice(11)).to.deep.equal(['654', 'false', '65535', '0', '[::1]']);
    } finally {
      await srv.stop();
    }
  });

  it('{common} and {combined} expand inside a longer format; unknown {fields} print as written', async () => {
    const srv = await startCorefile('example.org {\n  log . "A|{combined}|{server_port} {nope}|{/log/class}|{/log/type}|{/other}"\n  answer 1\n}\n', { plugins });
    try {
      await udpQuery(srv.port, 'www.example.org', 'A', { id: 77 });
      await udpQuery(srv.port, 'nx.example.org', 'A', { id: 78 });
      const [l1, l2] = marked(lines);
      expect(l1).to.match(/^A\|127\.0\.0\.1:\d+ - 77 "A IN www\.example\.org\. udp \d+ false 512" NOERROR qr,aa,rd \d+ [\d.]+s "0"\|\{server_port\} \{nope\}\|success\|NOERROR\|-$/);
      expect(l2).to.match(/ NXDOMAIN .*\|denial\|NXDOMAIN\|-$/);
    } finally {
      await srv.stop();
    }
  });

  it('several class lines OR together; `all` logs everything', async () => {
    const srv = await startCorefile('a.example.org {\n  log . "{name}|" {\n    class denial\n    class error\n  }\n  answer 1\n}\nb.example.org {\n  log . "{name}|" {\n    class success all\n  }\n  answer 1\n}\n', { plugins });
    try {
      for (const n of ['ok.a.example.org', 'nx.a.example.org', 'throw.a.example.org', 'ok.b.example.org', 'nx.b.example.org']) {
        await udpQuery(srv.port, n, 'A');
      }
      expect(marked(lines)).to.deep.equal(['nx.a.example.org.|', 'throw.a.example.org.|', 'ok.b.example.org.|', 'nx.b.example.org.|']);
    } finally {
      await srv.stop();
    }
  });

  it('several log lines: the first rule whose NAME covers the query decides, with its own format and classes', async () => {
    const srv = await startCorefile('example.org {\n  log sub.example.org other.example.org "S|{name}" {\n    class denial\n  }\n  log . "ALL|{name}"\n  answer 1\n}\n', { plugins });
    try {
      await udpQuery(srv.port, 'ok.sub.example.org', 'A'); // covered by the first rule, not a denial: no line at all
      await udpQuery(srv.port, 'nx.other.example.org', 'A');
      await udpQuery(srv.port, 'www.example.org', 'A');
      expect(marked(lines)).to.deep.equal(['S|nx.other.example.org.', 'ALL|www.example.org.']);
    } finally {
      await srv.stop();
    }
  });

  it('logs the answer the client got: a truncated UDP answer has tc and its real size', async () => {
    const srv = await startCorefile('example.org {\n  log . "{rsize}|{>rflags}"\n  answer 300\n}\n', { plugins });
    try {
      const raw = await udpRaw(srv.port, queryBytes('big.example.org', 'A', { edns: 1232 }));
      const decoded = dnsPacket.decode(raw!);
      expect((decoded.flags ?? 0) & 0x200).to.not.equal(0);
      expect(marked(lines)).to.deep.equal([`${raw!.length}|qr,aa,tc,rd`]);
    } finally {
      await srv.stop();
    }
  });

  it('an IPv4 client of a dual-stack socket prints as IPv4, as CoreDNS (Go) prints it; a wildcard local as [::]', async () => {
    const srv = await startCorefile('example.org {\n  log . "{remote}|{local}"\n  answer 1\n}\n', { plugins });
    try {
      await srv.server.inject(queryBytes('www.example.org', 'A'), { remoteAddress: '::ffff:10.1.2.3', localAddress: '::' });
      expect(marked(lines)).to.deep.equal(['10.1.2.3|[::]']);
    } finally {
      await srv.stop();
    }
  });

  const build = (body: string) => createServer(parseCorefile(`example.org {\n${body}\n}\n`, { file: 'test.Corefile' }), { plugins });
  const bad: Array<[string, RegExp]> = [
    ['log {\n  class denial bogus\n}', /test\.Corefile:3: log: unknown class "bogus"; accepted: success, denial, error, all/],
    ['log {\n  class\n}', /test\.Corefile:3: log: option "class": wrong number of arguments \(got 0\); usage: class success\|denial\|error\|all/],
    ['log {\n  format x\n}', /test\.Corefile:3: log: unknown option "format"; accepted: class/],
    ['log "{common}"', /test\.Corefile:2: log: a single argument is a NAME, not a format; write: log \. "\{common\}"/],
    ['log\nlog . {\n  class nope\n}', /test\.Corefile:4: log: unknown class "nope"/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => build(body)).to.throw(re);
    });
  }
});
