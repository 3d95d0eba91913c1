// EDNS compliance, modelled on ISC's ednscomp / genreport checks as RFC 8906
// section 8 writes them down (plain, edns, edns1, ednsopt, ednsflags, do,
// edns1 with an option / a flag / DO, optlist, truncation, TCP), asked of a
// cluster name (kubernetes, manifests source), a name forwarded to an
// upstream that speaks EDNS (with its own size, options and no DO bit), and
// one forwarded to an upstream that does not (it ignores OPT). Each check is
// asked twice: the first answer is a cache miss (relayed), the second a hit.
// OPT is hop-by-hop (RFC 6891 6.1.1): what the client gets is always our
// own OPT, never the upstream's.

import { expect } from 'chai';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';
import { CachePlugin } from '../src/plugins/cache/cache.js';
import { tcpRaw, udpRaw } from './support/dns.js';
import { CLUSTER, headlessYaml, removeDir, writeCluster } from './support/kubernetes-fixtures.js';
import { forwardRig } from './support/forward.js';
import { startCorefile, type Running } from './support/server.js';
import { defaultAnswer, type AnswerSpec, type Upstream, type UpstreamQuery } from './support/upstream.js';

/** What we advertise (UDP_EDNS_CAP). */
const OUR_SIZE = 1232;
const OPTION = { NSID: 3, ECS: 8, EXPIRE: 9, COOKIE: 10, UNKNOWN: 100 } as const;

interface Ask {
  /** null: no OPT (plain DNS). */
  edns: null | { version?: number; flags?: number; options?: Array<{ code: number; data: Buffer }>; size?: number };
  proto: 'udp' | 'tcp';
}

interface Check {
  name: string;
  ask: Ask;
  /** Full rcode expected (BADVERS = 16). */
  rcode: number;
  /** The answer section holds the asked record (false: must be empty). */
  answered: boolean;
  /** Expected DO bit in our OPT. */
  do?: boolean;
  /** Ask the target's big name: the answer cannot fit in 512 bytes. */
  big?: boolean;
}

const v0 = (o: Partial<NonNullable<Ask['edns']>> = {}): Ask['edns'] => ({ version: 0, ...o });
const DO = 0x8000;

// RFC 8906 8.1.1, 8.2.1-8.2.10 (ISC: plain, edns, edns1, ednsopt, ednsflags, do, edns1opt, edns1flags, edns1do, optlist, ednstcp, ednstc).
const CHECKS: Check[] = [
  { name: 'plain: no OPT in, none out', ask: { edns: null, proto: 'udp' }, rcode: 0, answered: true },
  { name: 'edns: OPT version 0, our size, no options', ask: { edns: v0(), proto: 'udp' }, rcode: 0, answered: true, do: false },
  { name: 'edns1: version 1 gets BADVERS with a version 0 OPT', ask: { edns: v0({ version: 1 }), proto: 'udp' }, rcode: 16, answered: false, do: false },
  { name: 'ednsopt: an unknown option is ignored, not echoed', ask: { edns: v0({ options: [{ code: OPTION.UNKNOWN, data: Buffer.alloc(0) }] }), proto: 'udp' }, rcode: 0, answered: true, do: false },
  { name: 'ednsflags: an unknown flag is ignored, not echoed', ask: { edns: v0({ flags: 0x0040 }), proto: 'udp' }, rcode: 0, answered: true, do: false },
  { name: 'do: DO is echoed (RFC 3225)', ask: { edns: v0({ flags: DO }), proto: 'udp' }, rcode: 0, answered: true, do: true },
  { name: 'edns1opt: version 1 with an unknown option: BADVERS, no option', ask: { edns: v0({ version: 1, options: [{ code: OPTION.UNKNOWN, data: Buffer.alloc(0) }] }), proto: 'udp' }, rcode: 16, answered: false, do: false },
  { name: 'edns1flags: version 1 with an unknown flag: BADVERS, flag clear', ask: { edns: v0({ version: 1, flags: 0x0040 }), proto: 'udp' }, rcode: 16, answered: false, do: false },
  { name: 'edns1do: version 1 with DO: BADVERS, DO echoed', ask: { edns: v0({ version: 1, flags: DO }), proto: 'udp' }, rcode: 16, answered: false, do: true },
  {
    name: 'optlist: NSID, ECS, EXPIRE, COOKIE asked: NOERROR, OPT version 0',
    ask: {
      edns: v0({ options: [
        { code: OPTION.NSID, data: Buffer.alloc(0) },
        { code: OPTION.ECS, data: Buffer.from([0, 1, 0, 0]) },
        { code: OPTION.EXPIRE, data: Buffer.alloc(0) },
        { code: OPTION.COOKIE, data: Buffer.from('0123456789abcdef', 'hex') },
      ] }),
      proto: 'udp',
    },
    rcode: 0, answered: true, do: false,
  },
  { name: 'tcp plain: no OPT', ask: { edns: null, proto: 'tcp' }, rcode: 0, answered: true },
  { name: 'tcp edns: OPT version 0, DO echoed', ask: { edns: v0({ flags: DO }), proto: 'tcp' }, rcode: 0, answered: true, do: true },
  { name: 'tcp edns1: BADVERS', ask: { edns: v0({ version: 1 }), proto: 'tcp' }, rcode: 16, answered: false, do: false },
  { name: 'truncation: DO, bufsize 512, a big answer: TC, NOERROR, OPT version 0', ask: { edns: v0({ flags: DO, size: 512 }), proto: 'udp' }, rcode: 0, answered: false, do: true, big: true },
  { name: 'truncation over TCP: the whole answer, OPT version 0', ask: { edns: v0({ flags: DO, size: 512 }), proto: 'tcp' }, rcode: 0, answered: true, do: true, big: true },
];

function query(name: string, type: string, ask: Ask): Buffer {
  const p: Packet = { type: 'query', id: Math.floor(Math.random() * 65535), flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: 'IN' }] };
  const e = ask.edns;
  if (e !== null) {
    p.additionals = [{ type: 'OPT', name: '.', udpPayloadSize: e.size ?? 4096, ednsVersion: e.version ?? 0, flags: e.flags ?? 0, options: e.options ?? [] } as never];
  }
  return dnsPacket.encode(p);
}

/** One query; waits long enough for forward's whole read_timeout (serve_stale verify waits for it). */
async function send(port: number, msg: Buffer, proto: 'udp' | 'tcp'): Promise<Buffer> {
  if (proto === 'tcp') return (await tcpRaw(port, [msg], 1, 5000))[0]!;
  const a = await udpRaw(port, msg, 5000);
  if (a === null) throw new Error('no UDP answer');
  return a;
}

interface Opt { udpPayloadSize: number; extendedRcode: number; ednsVersion: number; flags: number; options: unknown[] }

/** Every expectation of one check on one answer. */
function verify(c: Check, raw: Buffer, qname: string, qtype: string, what: string): void {
  const p: DecodedPacket = dnsPacket.decode(raw);
  const opts = (p.additionals ?? []).filter((r) => r.type === 'OPT') as unknown as Opt[];
  const header = raw[3]! & 0xf;
  if (c.ask.edns === null) {
    expect(opts, `${what}: no OPT to a client without EDNS`).to.have.length(0);
    expect(header, `${what}: rcode`).to.equal(c.rcode);
  } else {
    expect(opts, `${what}: exactly one OPT`).to.have.length(1);
    const o = opts[0]!;
    expect(o.ednsVersion, `${what}: OPT version`).to.equal(0);
    expect(o.udpPayloadSize, `${what}: our UDP size, not an upstream's`).to.equal(OUR_SIZE);
    expect(o.options, `${what}: no options (none echoed, none of an upstream's)`).to.deep.equal([]);
    expect(o.flags & 0x7fff, `${what}: no flag but DO`).to.equal(0);
    expect((o.flags & DO) !== 0, `${what}: DO`).to.equal(c.do ?? false);
    expect((o.extendedRcode << 4) | header, `${what}: rcode`).to.equal(c.rcode);
  }
  const tc = (raw[2]! & 0x02) !== 0;
  if (c.big && c.ask.proto === 'udp') expect(tc, `${what}: TC`).to.equal(true);
  else expect(tc, `${what}: TC`).to.equal(false);
  const hits = (p.answers ?? []).filter((r) => r.name.toLowerCase() === qname.toLowerCase() && r.type === qtype);
  if (c.answered) expect(hits.length, `${what}: the answer`).to.be.greaterThan(0);
  else if (!c.big) expect(p.answers ?? [], `${what}: no answer`).to.have.length(0);
}

/** An upstream's answers: SOA for SOA, a big TXT set for big.*. */
function upstreamAnswer(q: UpstreamQuery): AnswerSpec {
  if (q.name.toLowerCase().startsWith('big.')) {
    return { answers: Array.from({ length: 8 }, (_, i) => ({ name: q.name, type: 'TXT' as const, ttl: 60, data: [`${i}${'x'.repeat(150)}`] })) };
  }
  if (q.type === 'SOA') {
    return { answers: [{ name: q.name, type: 'SOA', ttl: 60, data: { mname: 'ns.example', rname: 'hostmaster.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } }] };
  }
  return defaultAnswer(q);
}

/** A headless service with enough ready endpoints that its A answer cannot fit 512 bytes. */
const BIG = headlessYaml('demo', 'big', Array.from({ length: 40 }, (_, i) => `10.9.0.${i + 1}`));

interface Target {
  label: string;
  /** The name and type a check asks (`check` makes forwarded names unique, so the first ask is a cache miss). */
  ask(c: Check, i: number): { name: string; type: string };
}

describe('EDNS compliance (ISC ednscomp / RFC 8906 checks) over UDP and TCP', function () {
  this.timeout(30_000);
  const rig = forwardRig();
  let dir: string;
  let srv: Running;
  let ednsUp: Upstream;
  let plainUp: Upstream;
  // Shared across the checks: started once.
  const shared: { servers: Running[]; upstreams: Upstream[] } = { servers: [], upstreams: [] };

  before(async () => {
    dir = writeCluster({ ...CLUSTER, 'demo/big.yaml': BIG });
    // An upstream that speaks EDNS, with its own size and options and never DO.
    ednsUp = await rig.upstream({
      answer: upstreamAnswer,
      edns: { udpPayloadSize: 8192, options: [{ code: OPTION.NSID, data: Buffer.from('upstream') }, { code: OPTION.COOKIE, data: Buffer.alloc(24, 7) }] },
    });
    plainUp = await rig.upstream({ answer: upstreamAnswer, edns: false });
    rig.upstreams.length = 0; // kept for the whole suite, stopped in after()
    shared.upstreams.push(ednsUp, plainUp);
    srv = await startCorefile(`
.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       manifests ${dir}
       startup_timeout 25s
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    forward . ${ednsUp.hostPort}
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
}
old.example:53 {
    cache 30
    forward . ${plainUp.hostPort}
}
`);
    shared.servers.push(srv);
  });

  after(async () => {
    await Promise.all(shared.servers.map((s) => s.stop()));
    await Promise.all(shared.upstreams.map((u) => u.stop()));
    removeDir(dir);
  });

  const targets: Target[] = [
    { label: 'cluster name (kubernetes)', ask: (c) => (c.big ? { name: 'big.demo.svc.cluster.local', type: 'A' } : { name: 'cluster.local', type: 'SOA' }) },
    { label: 'forwarded, upstream speaks EDNS', ask: (c, i) => (c.big ? { name: `big.c${i}.fwd.example`, type: 'TXT' } : { name: `c${i}.fwd.example`, type: 'SOA' }) },
    { label: 'forwarded, upstream without EDNS', ask: (c, i) => (c.big ? { name: `big.c${i}.old.example`, type: 'TXT' } : { name: `c${i}.old.example`, type: 'SOA' }) },
  ];

  for (const t of targets) {
    describe(t.label, () => {
      CHECKS.forEach((c, i) => {
        it(c.name, async () => {
          const { name, type } = t.ask(c, i);
          for (const round of ['first (cache miss)', 'repeat (cache hit)']) {
            const raw = await send(srv.port, query(name, type, c.ask), c.ask.proto);
            verify(c, raw, name, type, `${name} ${type} ${c.ask.proto}, ${round}`);
          }
        });
      });
    });
  }

  // Mocha runs a describe's own tests before its nested ones: these come last on purpose.
  describe('after the checks', () => {
    it('the upstreams were really asked with EDNS', () => {
      expect(ednsUp.queries.some((q) => q.ednsSize !== null)).to.equal(true);
      expect(plainUp.queries.some((q) => q.ednsSize !== null)).to.equal(true);
    });

    it('serve_stale answers (refreshed and stale) carry our OPT, never the upstream\'s', async () => {
      const s = await startCorefile(`.:53 {\n    cache 30 {\n        serve_stale 1h verify\n    }\n    forward . ${ednsUp.hostPort}\n}\n`);
      shared.servers.push(s);
      const cache = s.server.currentBlocks()[0]?.plugins.find((p) => p.name === 'cache');
      if (!(cache instanceof CachePlugin)) throw new Error('the block has no cache plugin');
      let now = 1_000_000;
      cache.now = () => now;
      const c: Check = { name: 'stale', ask: { edns: v0({ flags: DO }), proto: 'udp' }, rcode: 0, answered: true, do: true };
      for (const proto of ['udp', 'tcp'] as const) {
        const name = `stale-${proto}.fwd.example`;
        const ask = { ...c, ask: { ...c.ask, proto } };
        verify(ask, await send(s.port, query(name, 'SOA', ask.ask), proto), name, 'SOA', `${proto} first`);
        now += 3_600_000; // expired: verify asks the upstream again and relays its fresh answer
        verify(ask, await send(s.port, query(name, 'SOA', ask.ask), proto), name, 'SOA', `${proto} stale, refreshed`);
        ednsUp.set({ silent: true });
        now += 3_600_000 - 60_000;
        try {
          verify(ask, await send(s.port, query(name, 'SOA', ask.ask), proto), name, 'SOA', `${proto} stale, served`);
        } finally {
          ednsUp.set({ silent: false });
        }
      }
    });
  });
});
