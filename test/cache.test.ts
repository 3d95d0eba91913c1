import { expect } from 'chai';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { parseCorefile } from '../src/corefile/parse.js';
import { createServer } from '../src/app.js';
import { RCODE } from '../src/dns/constants.js';
import { failure, records, relay, type Reply, type RR } from '../src/dns/reply.js';
import { setLogSink } from '../src/log.js';
import { CachePlugin } from '../src/plugins/cache/cache.js';
import { PLUGINS } from '../src/plugins/index.js';
import type { PluginDefinition, Request } from '../src/server/plugin.js';
import { queryBytes, rcodeOf, rrLines, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

/**
 * `testup`: the end of the chain in these tests. It counts calls per
 * lower-case name and answers whatever `behave` says, so "the upstream's
 * counter does not move" is checkable.
 */
class Origin {
  calls = new Map<string, number>();
  behave: (req: Request) => Reply | Promise<Reply> = (req) => sections(req);
  count(name: string): number { return this.calls.get(name) ?? 0; }
  total(): number { let n = 0; for (const v of this.calls.values()) n += v; return n; }
}
const origin = new Origin();
const testup: PluginDefinition = {
  name: 'testup',
  setup: () => ({
    name: 'testup',
    serve(req: Request) {
      origin.calls.set(req.lname, origin.count(req.lname) + 1);
      return origin.behave(req);
    },
  }),
};
const plugins = [...PLUGINS, testup];

/** A NOERROR answer as plugins build it: sections. */
function sections(req: Request, ttl = 30, ips = ['192.0.2.1']): Reply {
  return records(RCODE.NOERROR, 'testup', true, ips.map((data) => ({ name: req.name, type: 'A', ttl, data }) as RR));
}

/** A whole upstream message for req, as forward returns it (Reply.wire), OPT echoed. */
function wire(req: Request, spec: { rcode?: number; answers?: Answer[]; authorities?: Answer[]; tc?: boolean; ad?: boolean } = {}): Reply {
  const rcode = spec.rcode ?? 0;
  const p: Packet = {
    type: 'response', id: req.id,
    flags: 0x8000 | 0x0100 | 0x0080 | (spec.tc ? 0x0200 : 0) | (spec.ad ? 0x0020 : 0) | rcode,
    questions: [{ name: req.name, type: typeOf(req.type), class: 'IN' }],
    answers: spec.answers ?? [], authorities: spec.authorities ?? [],
    additionals: req.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [] } as never] : [],
  };
  return relay(rcode, 'forward', false, dnsPacket.encode(p));
}
const typeOf = (t: number): 'A' => ({ 1: 'A', 28: 'AAAA', 16: 'TXT', 12: 'PTR', 15: 'MX' } as Record<number, string>)[t] as 'A';

function soa(zone: string, ttl: number, minimum: number): Answer {
  return { name: zone, type: 'SOA', ttl, data: { mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum } };
}

function cacheOf(srv: Running, block = 0): CachePlugin {
  const found = srv.server.currentBlocks()[block]?.plugins.find((p) => p.name === 'cache');
  if (!(found instanceof CachePlugin)) throw new Error(`block ${block} has no cache plugin`);
  return found;
}

/** A clock the test moves by hand (ms). */
function fakeClock(c: CachePlugin): { advance(ms: number): void } {
  let t = 1_000_000;
  c.now = () => t;
  return { advance: (ms) => { t += ms; } };
}

const ttlsOf = (p: dnsPacket.DecodedPacket): number[] =>
  [...(p.answers ?? []), ...(p.authorities ?? [])].map((r) => (r as { ttl: number }).ttl);

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cache', () => {
  let srv: Running;
  let c: CachePlugin;

  before(async () => {
    setLogSink(() => undefined);
    srv = await startCorefile(`
example.org {
    cache {
        success 100 3600 0
        denial 100 3600 0
        disable success nocache-s.example.org
        disable denial nocache-d.example.org
    }
    testup
}
`, { plugins });
    c = cacheOf(srv);
  });
  after(async () => {
    await srv.stop();
    setLogSink(null);
  });
  beforeEach(() => {
    c.clear();
    c.now = () => performance.now();
    origin.calls.clear();
    origin.behave = (req) => sections(req);
  });

  it('answers a repeated question from the cache: the origin is asked once', async () => {
    const a = await udpQuery(srv.port, 'hit.example.org', 'A');
    const b = await udpQuery(srv.port, 'HIT.example.org', 'A', { id: 77 });
    const d = await tcpQuery(srv.port, 'hit.example.org', 'A');
    expect(origin.count('hit.example.org')).to.equal(1);
    expect(rrLines(a.answers)).to.deep.equal(['hit.example.org A 192.0.2.1']);
    expect(rrLines(b.answers)).to.deep.equal(['HIT.example.org A 192.0.2.1']);
    expect(b.id).to.equal(77);
    expect(b.flag_aa).to.equal(true);
    expect(rrLines(d.answers)).to.deep.equal(['hit.example.org A 192.0.2.1']);
    expect(c.stats.hits.success).to.equal(2);
    expect(c.entries().success).to.equal(1);
  });

  it('counts the TTL down in served answers (real clock)', async function () {
    this.timeout(5000);
    origin.behave = (req) => req.type === 1 ? sections(req, 30) : wire(req, { answers: [{ name: req.name, type: 'TXT', ttl: 30, data: ['x'] }] });
    const first = await udpQuery(srv.port, 'count.example.org', 'A');
    const firstW = await udpQuery(srv.port, 'count.example.org', 'TXT', { edns: 1232 });
    expect(ttlsOf(first)).to.deep.equal([30]);
    expect(ttlsOf(firstW)).to.deep.equal([30]);
    await tick(1100);
    const later = await udpQuery(srv.port, 'count.example.org', 'A');
    const laterW = await udpQuery(srv.port, 'count.example.org', 'TXT', { edns: 1232 });
    expect(ttlsOf(later)[0]).to.be.within(28, 29);
    expect(ttlsOf(laterW)[0]).to.be.within(28, 29);
    expect(origin.count('count.example.org')).to.equal(2, 'one A and one TXT miss, then hits');
  });

  it('caps TTLs at the configured maximum and sets every record to the same TTL (as CoreDNS)', async () => {
    origin.behave = (req) => wire(req, { answers: [
      { name: req.name, type: 'CNAME', ttl: 7200, data: 'target.example.net' },
      { name: 'target.example.net', type: 'A', ttl: 90, data: '198.51.100.1' },
    ] });
    const a = await udpQuery(srv.port, 'cap.example.org', 'A');
    expect(ttlsOf(a)).to.deep.equal([90, 90]);
    const b = await udpQuery(srv.port, 'cap.example.org', 'A');
    expect(ttlsOf(b)).to.deep.equal([90, 90]);
    expect(rrLines(b.answers)).to.deep.equal(['cap.example.org CNAME target.example.net', 'target.example.net A 198.51.100.1']);
  });

  it('caches NXDOMAIN for min(SOA TTL, SOA MINIMUM) and then asks again', async () => {
    const clock = fakeClock(c);
    origin.behave = (req) => wire(req, { rcode: RCODE.NXDOMAIN, authorities: [soa('example.org', 300, 7)] });
    const a = await udpQuery(srv.port, 'gone.example.org', 'A');
    expect(rcodeOf(a)).to.equal('NXDOMAIN');
    expect(ttlsOf(a)).to.deep.equal([7], 'the SOA goes out with the negative TTL');
    clock.advance(6000);
    const b = await udpQuery(srv.port, 'gone.example.org', 'A');
    expect(rcodeOf(b)).to.equal('NXDOMAIN');
    expect(ttlsOf(b)).to.deep.equal([1]);
    expect(origin.count('gone.example.org')).to.equal(1);
    expect(c.stats.hits.denial).to.equal(1);
    clock.advance(1000);
    await udpQuery(srv.port, 'gone.example.org', 'A');
    expect(origin.count('gone.example.org')).to.equal(2, 'expired after 7 s');
  });

  it('caches NODATA (sections with SOA) by the SOA, and the SOA TTL when it is lower', async () => {
    origin.behave = () => records(RCODE.NOERROR, 'testup', true, [], [{ ...soa('example.org', 4, 60), name: 'example.org' } as RR]);
    const a = await udpQuery(srv.port, 'nodata.example.org', 'AAAA');
    expect(rcodeOf(a)).to.equal('NOERROR');
    expect(ttlsOf(a)).to.deep.equal([4]);
    await udpQuery(srv.port, 'nodata.example.org', 'AAAA');
    expect(origin.count('nodata.example.org')).to.equal(1);
    expect(c.entries().denial).to.equal(1);
  });

  it('does not cache NXDOMAIN without SOA, REFUSED, truncated answers, or plugin SERVFAILs', async () => {
    origin.behave = (req) => {
      switch (req.lname.split('.')[0]) {
        case 'nosoa': return wire(req, { rcode: RCODE.NXDOMAIN });
        case 'refused': return wire(req, { rcode: RCODE.REFUSED });
        case 'tc': return wire(req, { tc: true });
        default: return failure(RCODE.SERVFAIL, 'testup');
      }
    };
    for (const n of ['nosoa', 'refused', 'tc', 'fail']) {
      await udpQuery(srv.port, `${n}.example.org`, 'A');
      await udpQuery(srv.port, `${n}.example.org`, 'A');
      expect(origin.count(`${n}.example.org`)).to.equal(2, n);
    }
    expect(c.entries()).to.deep.equal({ success: 0, denial: 0 });
  });

  it('caches an upstream SERVFAIL message for the servfail duration (5 s)', async () => {
    const clock = fakeClock(c);
    origin.behave = (req) => wire(req, { rcode: RCODE.SERVFAIL });
    await udpQuery(srv.port, 'sf.example.org', 'A');
    clock.advance(4900);
    const b = await udpQuery(srv.port, 'sf.example.org', 'A');
    expect(rcodeOf(b)).to.equal('SERVFAIL');
    expect(origin.count('sf.example.org')).to.equal(1);
    clock.advance(200);
    await udpQuery(srv.port, 'sf.example.org', 'A');
    expect(origin.count('sf.example.org')).to.equal(2);
  });

  it('never caches failures the origin reports as errors', async () => {
    origin.behave = () => failure(RCODE.SERVFAIL, 'forward', new Error('timeout'));
    await udpQuery(srv.port, 'err.example.org', 'A');
    await udpQuery(srv.port, 'err.example.org', 'A');
    expect(origin.count('err.example.org')).to.equal(2);
  });

  it('keys on DO and CD: a DNSSEC query does not get the plain answer', async () => {
    await udpQuery(srv.port, 'bits.example.org', 'A');
    await udpQuery(srv.port, 'bits.example.org', 'A', { edns: 1232, do: true });
    expect(origin.count('bits.example.org')).to.equal(2);
    await udpQuery(srv.port, 'bits.example.org', 'A', { edns: 1232, do: true });
    expect(origin.count('bits.example.org')).to.equal(2);
    const cd = queryBytes('bits.example.org', 'A');
    cd.writeUInt16BE(cd.readUInt16BE(2) | 0x0010, 2);
    const r1 = dnsPacket.decode((await udpRaw(srv.port, cd))!);
    expect(r1.flag_cd).to.equal(true);
    expect(origin.count('bits.example.org')).to.equal(3, 'CD set: another key');
    await udpRaw(srv.port, cd);
    expect(origin.count('bits.example.org')).to.equal(3);
    // Type and class are in the key too.
    await udpQuery(srv.port, 'bits.example.org', 'AAAA');
    expect(origin.count('bits.example.org')).to.equal(4);
  });

  it('serves wire entries with the client\'s ID, question spelling and EDNS, not the first client\'s', async () => {
    origin.behave = (req) => wire(req, { ad: true, answers: [{ name: req.name, type: 'A', ttl: 60, data: '203.0.113.5' }] });
    const a = await udpQuery(srv.port, 'Wire.Example.org', 'A', { edns: 1232, do: true, id: 1 });
    expect(origin.count('wire.example.org')).to.equal(1);
    const b = await udpQuery(srv.port, 'wIRE.example.ORG', 'A', { id: 2, edns: 1232, do: true });
    expect(b.id).to.equal(2);
    expect(b.questions![0]!.name).to.equal('wIRE.example.ORG');
    expect(rrLines(b.answers)).to.deep.equal(['wIRE.example.ORG A 203.0.113.5']);
    expect(b.flag_ad).to.equal(true, 'AD kept for a DO client');
    expect(b.flag_ra).to.equal(true, 'the upstream\'s RA is kept');
    const opt = (b.additionals ?? []).find((r) => r.type === 'OPT') as unknown as { flag_do: boolean; udpPayloadSize: number };
    expect(opt.flag_do).to.equal(true);
    expect(a.answers).to.have.length(1);
    // Without EDNS: no OPT in the answer (another key: DO differs).
    const plain = await udpQuery(srv.port, 'wire.example.org', 'A', { rd: false });
    const plain2 = await udpQuery(srv.port, 'wire.example.org', 'A', { rd: false });
    expect(origin.count('wire.example.org')).to.equal(2);
    expect(plain2.additionals ?? []).to.have.length(0);
    expect(plain2.flag_rd).to.equal(false);
    expect(plain2.flag_ad).to.equal(false, 'AD is not passed to a client that asked for neither DO nor AD');
    expect(plain.answers).to.have.length(1);
  });

  it('drops upstream answers whose question does not match the query', async () => {
    origin.behave = (req) => {
      const r = wire({ ...req, name: 'other.example.org' }, { answers: [{ name: 'other.example.org', type: 'A', ttl: 60, data: '192.0.2.7' }] });
      return r;
    };
    await udpQuery(srv.port, 'mismatch.example.org', 'A');
    await udpQuery(srv.port, 'mismatch.example.org', 'A');
    expect(origin.count('mismatch.example.org')).to.equal(2);
    expect(c.stats.drops).to.equal(2);
  });

  it('disable success / denial ZONES: those answers are never cached', async () => {
    origin.behave = (req) => req.lname.startsWith('neg.')
      ? wire(req, { rcode: RCODE.NXDOMAIN, authorities: [soa('example.org', 60, 60)] })
      : sections(req);
    const twice = async (name: string) => { await udpQuery(srv.port, name, 'A'); await udpQuery(srv.port, name, 'A'); return origin.count(name); };
    expect(await twice('a.nocache-s.example.org')).to.equal(2, 'success disabled');
    expect(await twice('neg.nocache-s.example.org')).to.equal(1, 'denial still cached');
    expect(await twice('a.nocache-d.example.org')).to.equal(1, 'success still cached');
    expect(await twice('neg.nocache-d.example.org')).to.equal(2, 'denial disabled');
  });

  it('keeps at most CAPACITY entries, whatever the query mix', async () => {
    const small = await startCorefile(`
example.net {
    cache {
        success 10
        denial 5
    }
    testup
}
`, { plugins });
    try {
      const sc = cacheOf(small);
      origin.behave = (req) => req.lname.startsWith('n')
        ? wire(req, { rcode: RCODE.NXDOMAIN, authorities: [soa('example.net', 60, 60)] })
        : sections(req);
      for (let i = 0; i < 40; i++) {
        await udpQuery(small.port, `p${i}.example.net`, 'A');
        await udpQuery(small.port, `n${i}.example.net`, 'A');
      }
      expect(sc.entries()).to.deep.equal({ success: 10, denial: 5 });
      expect(sc.stats.evictions).to.deep.equal({ success: 30, denial: 35 });
      // The most recent names are the ones kept.
      await udpQuery(small.port, 'p39.example.net', 'A');
      expect(origin.count('p39.example.net')).to.equal(1);
      await udpQuery(small.port, 'p0.example.net', 'A');
      expect(origin.count('p0.example.net')).to.equal(2);
    } finally {
      await small.stop();
    }
  });

  it('passes names outside its zones straight through', async () => {
    const two = await startCorefile(`
. {
    cache 30 example.com
    testup
}
`, { plugins });
    try {
      await udpQuery(two.port, 'x.example.com', 'A');
      await udpQuery(two.port, 'x.example.com', 'A');
      await udpQuery(two.port, 'x.example.net', 'A');
      await udpQuery(two.port, 'x.example.net', 'A');
      expect(origin.count('x.example.com')).to.equal(1);
      expect(origin.count('x.example.net')).to.equal(2);
      const a = await udpQuery(two.port, 'y.example.com', 'A');
      expect(ttlsOf(a)).to.deep.equal([30], '`cache 30` caps the served TTL too');
    } finally {
      await two.stop();
    }
  });

  it('keepttl serves the TTL the entry was stored with', async () => {
    const k = await startCorefile(`
example.org {
    cache {
        keepttl
    }
    testup
}
`, { plugins });
    try {
      const kc = cacheOf(k);
      const clock = fakeClock(kc);
      await udpQuery(k.port, 'keep.example.org', 'A');
      clock.advance(10_000);
      const b = await udpQuery(k.port, 'keep.example.org', 'A');
      expect(ttlsOf(b)).to.deep.equal([30]);
      expect(origin.count('keep.example.org')).to.equal(1);
    } finally {
      await k.stop();
    }
  });
});

describe('cache serve_stale and prefetch', () => {
  let srv: Running;
  let c: CachePlugin;
  let cv: CachePlugin;
  let cp: CachePlugin;
  let failing = false;

  before(async () => {
    setLogSink(() => undefined);
    srv = await startCorefile(`
stale.test {
    cache {
        success 100 3600 0
        serve_stale 1h
    }
    testup
}
verify.test {
    cache {
        success 100 3600 0
        serve_stale 10m verify
    }
    testup
}
prefetch.test {
    cache {
        success 100 3600 0
        prefetch 2 1m 50%
    }
    testup
}
`, { plugins });
    c = cacheOf(srv, 0);
    cv = cacheOf(srv, 1);
    cp = cacheOf(srv, 2);
  });
  after(async () => {
    await srv.stop();
    setLogSink(null);
  });
  beforeEach(() => {
    origin.calls.clear();
    failing = false;
    let n = 0;
    origin.behave = (req) => {
      if (failing) {
        if (req.lname.startsWith('throw')) throw new Error('origin down');
        if (req.lname.startsWith('slow')) return new Promise((_r, reject) => setTimeout(() => reject(new Error('timeout')), 20));
        return failure(RCODE.SERVFAIL, 'testup', new Error('upstream down'));
      }
      n++;
      return sections(req, 10, [`192.0.2.${n}`]);
    };
  });

  it('immediate: serves an expired entry with TTL 0 while the origin fails, and refreshes in the background', async () => {
    const clock = fakeClock(c);
    const first = await udpQuery(srv.port, 'a.stale.test', 'A');
    expect(rrLines(first.answers)).to.deep.equal(['a.stale.test A 192.0.2.1']);
    clock.advance(11_000);
    failing = true;
    const s1 = await udpQuery(srv.port, 'a.stale.test', 'A');
    expect(rcodeOf(s1)).to.equal('NOERROR');
    expect(rrLines(s1.answers)).to.deep.equal(['a.stale.test A 192.0.2.1']);
    expect(ttlsOf(s1)).to.deep.equal([0]);
    await tick(10);
    const s2 = await udpQuery(srv.port, 'a.stale.test', 'A');
    expect(ttlsOf(s2)).to.deep.equal([0], 'a failed refresh keeps the stale entry');
    expect(c.stats.servedStale).to.equal(2);
    expect(origin.count('a.stale.test')).to.equal(3, 'one miss, two background refreshes');
    // Thrown errors and rejected promises are failures too.
    for (const n of ['throw.stale.test', 'slow.stale.test']) {
      failing = false;
      await udpQuery(srv.port, n, 'A');
      clock.advance(11_000);
      failing = true;
      const s = await udpQuery(srv.port, n, 'A');
      expect(ttlsOf(s), n).to.deep.equal([0]);
    }
    // The origin is back: the stale answer goes out once more, the refresh replaces it.
    failing = false;
    const s3 = await udpQuery(srv.port, 'a.stale.test', 'A');
    expect(ttlsOf(s3)).to.deep.equal([0]);
    await tick(30);
    const fresh = await udpQuery(srv.port, 'a.stale.test', 'A');
    expect(ttlsOf(fresh)).to.deep.equal([10]);
    expect(rrLines(fresh.answers)[0]).to.not.equal('a.stale.test A 192.0.2.1');
  });

  it('immediate: an entry stale for longer than DURATION is not served', async () => {
    const clock = fakeClock(c);
    await udpQuery(srv.port, 'old.stale.test', 'A');
    clock.advance(10_000 + 3_600_000);
    failing = true;
    const r = await udpQuery(srv.port, 'old.stale.test', 'A');
    expect(rcodeOf(r)).to.equal('SERVFAIL');
  });

  it('verify: asks the origin first, serves stale only when it fails', async () => {
    const clock = fakeClock(cv);
    await udpQuery(srv.port, 'b.verify.test', 'A');
    clock.advance(11_000);
    const fresh = await udpQuery(srv.port, 'b.verify.test', 'A');
    expect(ttlsOf(fresh)).to.deep.equal([10], 'the origin answered: its answer, not the stale one');
    expect(origin.count('b.verify.test')).to.equal(2);
    clock.advance(11_000);
    failing = true;
    const stale = await udpQuery(srv.port, 'b.verify.test', 'A');
    expect(ttlsOf(stale)).to.deep.equal([0]);
    expect(rrLines(stale.answers)).to.deep.equal(['b.verify.test A 192.0.2.2']);
    expect(cv.stats.servedStale).to.equal(1);
  });

  it('prefetch: a popular entry near expiry is refreshed before it expires', async () => {
    const clock = fakeClock(cp);
    await udpQuery(srv.port, 'hot.prefetch.test', 'A'); // miss, TTL 10
    await udpQuery(srv.port, 'hot.prefetch.test', 'A'); // hit 1
    clock.advance(4000);
    await udpQuery(srv.port, 'hot.prefetch.test', 'A'); // hit 2, TTL 6 > 5: not yet
    await tick(10);
    expect(origin.count('hot.prefetch.test')).to.equal(1);
    clock.advance(1000);
    const r = await udpQuery(srv.port, 'hot.prefetch.test', 'A'); // hit 3, TTL 5 <= 50%: prefetch
    expect(ttlsOf(r)).to.deep.equal([5], 'the client still gets the cached answer');
    await tick(20);
    expect(origin.count('hot.prefetch.test')).to.equal(2);
    expect(cp.stats.prefetches).to.equal(1);
    const after = await udpQuery(srv.port, 'hot.prefetch.test', 'A');
    expect(ttlsOf(after)).to.deep.equal([10], 'the refreshed entry');
    expect(origin.count('hot.prefetch.test')).to.equal(2);
    // An unpopular entry is left to expire.
    await udpQuery(srv.port, 'cold.prefetch.test', 'A');
    clock.advance(6000);
    await udpQuery(srv.port, 'cold.prefetch.test', 'A');
    await tick(10);
    expect(origin.count('cold.prefetch.test')).to.equal(1);
  });
});

describe('cache with the forward plugin', () => {
  let up: Upstream;
  let srv: Running;

  before(async () => {
    setLogSink(() => undefined);
    up = await startUpstream();
    srv = await startCorefile(`
. {
    cache 30
    forward . ${up.hostPort}
}
`);
  });
  after(async () => {
    await srv.stop();
    await up.stop();
    setLogSink(null);
  });

  it('answers forwarded names from the cache: the upstream is asked once', async () => {
    const a = await udpQuery(srv.port, 'www.example.com', 'A', { edns: 1232 });
    const b = await udpQuery(srv.port, 'WWW.example.com', 'A', { edns: 1232 });
    const t = await tcpQuery(srv.port, 'www.example.com', 'A', { edns: 1232 });
    expect(up.count('www.example.com', 'A')).to.equal(1);
    expect(rrLines(a.answers)).to.deep.equal(['www.example.com A 192.0.2.53']);
    expect(rrLines(b.answers)).to.deep.equal(['WWW.example.com A 192.0.2.53']);
    expect(rrLines(t.answers)).to.deep.equal(['www.example.com A 192.0.2.53']);
    expect(ttlsOf(a)).to.deep.equal([30]);
  });

  it('keeps the full answer forward fetched over TCP after a truncated UDP one', async () => {
    up.set({ truncateUdp: true });
    try {
      const a = await udpQuery(srv.port, 'tc.example.com', 'TXT', { edns: 1232 });
      expect(a.flag_tc).to.equal(false);
      expect(up.queries.filter((q) => q.name === 'tc.example.com').map((q) => q.proto)).to.deep.equal(['udp', 'tcp']);
      const b = await udpQuery(srv.port, 'tc.example.com', 'TXT', { edns: 1232 });
      expect(rrLines(b.answers)).to.deep.equal(['tc.example.com TXT upstream']);
      expect(up.count('tc.example.com', 'TXT')).to.equal(2);
    } finally {
      up.set({ truncateUdp: false });
    }
  });
});

describe('cache configuration', () => {
  const build = (text: string) => createServer(parseCorefile(text, { file: 'test.Corefile' }), { plugins });
  const bad: Array<[string, RegExp]> = [
    ['cache 0', /test\.Corefile:2: .*cache TTL/],
    ['cache -5', /test\.Corefile:2: .*cache TTL/],
    ['cache {\n  success\n}', /test\.Corefile:3: cache: option "success": wrong number of arguments/],
    ['cache {\n  success many\n}', /test\.Corefile:3: invalid success capacity "many"/],
    ['cache {\n  success 0\n}', /test\.Corefile:3: invalid success capacity "0"/],
    ['cache {\n  denial 100 0\n}', /test\.Corefile:3: invalid denial TTL/],
    ['cache {\n  denial 100 60 -1\n}', /test\.Corefile:3: invalid denial MINTTL/],
    ['cache {\n  success 100 60 90\n}', /test\.Corefile:3: cache: success MINTTL 90 is larger than its TTL 60/],
    ['cache {\n  prefetch\n}', /test\.Corefile:3: cache: option "prefetch": wrong number of arguments/],
    ['cache {\n  prefetch -1\n}', /test\.Corefile:3: invalid prefetch AMOUNT/],
    ['cache {\n  prefetch 2 soon\n}', /test\.Corefile:3: invalid duration "soon"/],
    ['cache {\n  prefetch 2 1m 5%\n}', /test\.Corefile:3: invalid prefetch percentage "5"/],
    ['cache {\n  prefetch 2 1m 50\n}', /test\.Corefile:3: cache: prefetch percentage "50" must end with %/],
    ['cache {\n  serve_stale 1h later\n}', /test\.Corefile:3: cache: unknown serve_stale refresh mode "later"; accepted: immediate, verify/],
    ['cache {\n  serve_stale -1h\n}', /test\.Corefile:3: invalid duration "-1h": must not be negative/],
    ['cache {\n  servfail 10m\n}', /test\.Corefile:3: cache: caching SERVFAIL for more than 5m/],
    ['cache {\n  disable everything\n}', /test\.Corefile:3: cache: disable takes success or denial/],
    ['cache {\n  disable\n}', /test\.Corefile:3: cache: option "disable": wrong number of arguments/],
    ['cache {\n  keepttl 5\n}', /test\.Corefile:3: cache: option "keepttl": wrong number of arguments/],
    ['cache {\n  success 10\n  success 20\n}', /test\.Corefile:4: cache: option "success" is given twice/],
    ['cache {\n  disable success\n  disable denial example.org\n  disable success example.org\n}', /test\.Corefile:5: cache: option "disable success" is given twice/],
    ['cache {\n  success 10 {\n  }\n}', /test\.Corefile:3: cache: option "success" takes no block/],
    ['cache {\n  positive 10\n}', /test\.Corefile:3: cache: unknown option "positive"; accepted: success, denial/],
    ['cache example.org:53', /test\.Corefile:2: cache: zone "example.org:53" must not carry a port/],
    ['cache\ncache', /test\.Corefile:3: cache appears more than once/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${JSON.stringify(body)}`, () => {
      expect(() => build(`. {\n${body}\n}\n`)).to.throw(re);
    });
  }

  it('accepts the kubeadm form and CoreDNS\'s full syntax', () => {
    build(`. {\ncache 30 {\n  disable success cluster.local\n  disable denial cluster.local\n}\n}\n`);
    build(`. {\ncache 300 example.org 10.0.0.0/8 {\n  success 5000 600 10\n  denial 2500 60 1\n  prefetch 10 1m 20%\n  serve_stale 2h verify\n  servfail 0\n  keepttl\n}\n}\n`);
    build(`. {\ncache {\n  prefetch 3 30%\n  serve_stale\n}\n}\n`);
  });
});
