import { expect } from 'chai';
import dnsPacket, { type Answer } from 'dns-packet';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { RCODE } from '../src/dns/constants.js';
import { records, relay, reusable, type RecordsReply, type Reply, type RR } from '../src/dns/reply.js';
import { setLogSink } from '../src/log.js';
import { shuffleWire } from '../src/plugins/loadbalance/loadbalance.js';
import { PLUGINS } from '../src/plugins/index.js';
import type { PluginDefinition, Request } from '../src/server/plugin.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';

const IPS = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
let calls = 0;
const memo = new Map<string, RecordsReply>();

/** `origin`: answers by the first label; counts calls. */
const origin: PluginDefinition = {
  name: 'origin',
  setup: () => ({
    name: 'origin',
    serve(req: Request): Reply {
      calls++;
      const first = req.lname.split('.')[0]!;
      const a = (name: string): RR[] => IPS.map((data) => ({ name, type: 'A', ttl: 60, data }) as RR);
      const cname: RR = { name: req.name, type: 'CNAME', ttl: 60, data: 'target.example.net' };
      switch (first) {
        case 'mixed': // addresses around the CNAME: CNAME must come out first
          return records(RCODE.NOERROR, 'origin', true, [...a('target.example.net').slice(0, 1), cname, ...a('target.example.net').slice(1)]);
        case 'wire':
        case 'wirebad': {
          const answers: Answer[] = [cname as Answer, ...a('target.example.net') as Answer[]];
          if (first === 'wirebad') answers.push(answers.shift()!);
          const w = dnsPacket.encode({ type: 'response', id: req.id, flags: 0x8180,
            questions: [{ name: req.name, type: 'A', class: 'IN' }], answers });
          return relay(RCODE.NOERROR, 'forward', false, w);
        }
        case 'memo': { // a plugin's memoized reply: the same object every time
          let r = memo.get(req.lname);
          if (!r) memo.set(req.lname, r = reusable(RCODE.NOERROR, 'origin', true, a(req.lname)));
          return r;
        }
        case 'gone':
          return records(RCODE.NXDOMAIN, 'origin', true);
        default:
          return records(RCODE.NOERROR, 'origin', true, a(req.name));
      }
    },
  }),
};
const plugins = [...PLUGINS, origin];

/** Asks `n` times; returns every answer's lines. */
async function ask(port: number, name: string, n = 40): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) out.push(rrLines((await udpQuery(port, name, 'A')).answers));
  return out;
}

const addressesOf = (lines: string[]) => lines.filter((l) => l.includes(' A ')).map((l) => l.split(' ')[2]);

describe('loadbalance', () => {
  let srv: Running;

  before(async () => {
    setLogSink(() => undefined);
    srv = await startCorefile(`
example.org {
    loadbalance round_robin
    origin
}
cached.test {
    loadbalance
    cache
    origin
}
`, { plugins });
  });
  after(async () => {
    await srv.stop();
    setLogSink(null);
  });
  beforeEach(() => { calls = 0; });

  it('shuffles A records: every address comes first sometimes, none is lost', async () => {
    const answers = await ask(srv.port, 'www.example.org');
    const firsts = new Set(answers.map((a) => addressesOf(a)[0]));
    expect(firsts.size).to.be.at.least(3);
    for (const a of answers) expect([...addressesOf(a)].sort()).to.deep.equal(IPS);
  });

  it('puts CNAMEs before the shuffled addresses', async () => {
    const answers = await ask(srv.port, 'mixed.example.org');
    for (const a of answers) {
      expect(a[0]).to.equal('mixed.example.org CNAME target.example.net');
      expect([...addressesOf(a)].sort()).to.deep.equal(IPS);
    }
    expect(new Set(answers.map((a) => addressesOf(a)[0])).size).to.be.at.least(3);
  });

  it('shuffles upstream wire messages in place of their RDATA, CNAME first', async () => {
    for (const name of ['wire.example.org', 'wirebad.example.org']) {
      const answers = await ask(srv.port, name);
      for (const a of answers) {
        expect(a[0], name).to.equal(`${name} CNAME target.example.net`);
        expect([...addressesOf(a)].sort()).to.deep.equal(IPS);
        expect(a.slice(1).every((l) => l.startsWith('target.example.net A '))).to.equal(true);
      }
      expect(new Set(answers.map((a) => addressesOf(a)[0])).size, name).to.be.at.least(3);
    }
  });

  it('varies a memoized (reusable) reply through fixed rotations, without touching it', async () => {
    const answers = await ask(srv.port, 'memo.example.org');
    expect(new Set(answers.map((a) => addressesOf(a)[0])).size).to.be.at.least(3);
    for (const a of answers) {
      const ips = addressesOf(a);
      const k = IPS.indexOf(ips[0]!);
      expect(ips).to.deep.equal([...IPS.slice(k), ...IPS.slice(0, k)], 'a rotation');
    }
    expect(memo.get('memo.example.org')?.answer.map((rr) => (rr as { data: string }).data)).to.deep.equal(IPS);
  });

  it('leaves other rcodes alone', async () => {
    const r = await udpQuery(srv.port, 'gone.example.org', 'A');
    expect(rcodeOf(r)).to.equal('NXDOMAIN');
  });

  it('shuffles answers served from the cache too', async () => {
    const answers = await ask(srv.port, 'www.cached.test');
    expect(calls).to.equal(1);
    expect(new Set(answers.map((a) => addressesOf(a)[0])).size).to.be.at.least(3);
  });

  it('shuffleWire keeps a message without address sets as it is', () => {
    const w = dnsPacket.encode({ type: 'response', id: 1, flags: 0x8180, questions: [{ name: 'a.b', type: 'A', class: 'IN' }],
      answers: [{ name: 'a.b', type: 'A', ttl: 1, data: '192.0.2.1' }, { name: 'c.b', type: 'A', ttl: 1, data: '192.0.2.2' }] });
    expect(shuffleWire(w)).to.equal(w, 'two owners, one record each: nothing to shuffle');
    expect(shuffleWire(Buffer.from([1, 2, 3]))).to.deep.equal(Buffer.from([1, 2, 3]));
  });
});

describe('loadbalance configuration', () => {
  const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }), { plugins });
  it('refuses weighted, unknown policies, extra arguments and options', () => {
    expect(() => build('loadbalance weighted /etc/weights')).to.throw(/test\.Corefile:2: loadbalance: the weighted policy .* is not supported by clusterdns; use round_robin/);
    expect(() => build('loadbalance random')).to.throw(/test\.Corefile:2: loadbalance: unknown policy "random"; accepted: round_robin/);
    expect(() => build('loadbalance round_robin extra')).to.throw(/test\.Corefile:2: loadbalance: unexpected "extra"/);
    expect(() => build('loadbalance {\n  prefer 10.0.0.0/8\n}')).to.throw(/test\.Corefile:3: loadbalance: option "prefer" is not supported/);
    expect(() => build('loadbalance\nloadbalance')).to.throw(/test\.Corefile:3: loadbalance appears more than once/);
  });
  it('accepts loadbalance and loadbalance round_robin', () => {
    build('loadbalance');
    build('loadbalance round_robin');
  });
});
