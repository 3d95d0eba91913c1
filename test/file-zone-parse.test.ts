import { expect } from 'chai';
import { parseZone, ZoneError } from '../src/plugins/file/zone-parse.js';
import { Zone } from '../src/plugins/file/zone.js';
import type { RR } from '../src/dns/reply.js';

const FILE = '/zones/db.example.org';

function zone(text: string, origin = 'example.org'): Zone {
  return new Zone(origin, parseZone(text, origin, FILE), FILE);
}

function problem(text: string, origin = 'example.org'): ZoneError {
  try {
    zone(text, origin);
  } catch (err) {
    if (err instanceof ZoneError) return err;
    throw err;
  }
  throw new Error('expected a ZoneError');
}

function data(rr: RR | undefined): unknown {
  return (rr as { data?: unknown } | undefined)?.data;
}

const SOA = '@ 3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300\n';

describe('file: zone file parser', () => {
  it('reads $ORIGIN, $TTL, @, relative and absolute names, optional class and TTL in either order', () => {
    const z = zone(`$TTL 1h
${SOA}
  IN NS ns1
www A 192.0.2.1
www.example.org. 60 IN AAAA 2001:DB8:0:0::1
$ORIGIN sub.example.org.
host IN 120 A 192.0.2.2
$ORIGIN deeper
x A 192.0.2.3
`);
    const rrs = [...z.records()];
    expect(rrs.map((r) => `${r.name} ${(r as { ttl?: number }).ttl} ${r.type}`)).to.deep.equal([
      'example.org 3600 SOA', 'example.org 3600 NS', 'www.example.org 3600 A', 'www.example.org 60 AAAA',
      'host.sub.example.org 120 A', 'x.deeper.sub.example.org 3600 A',
    ]);
    expect(data(rrs[1])).to.equal('ns1.example.org');
    expect(data(rrs[3])).to.equal('2001:db8::1');
    expect(z.serial).to.equal(2024010101);
    const soa = data(rrs[0]) as { mname: string; rname: string; minimum: number };
    expect(soa.mname).to.equal('ns1.example.org');
    expect(soa.rname).to.equal('hostmaster.example.org');
  });

  it('joins ( … ) across lines, skips ; comments, takes the previous owner for a line starting with a blank', () => {
    const z = zone(`example.org. IN SOA ns1.example.org. hostmaster.example.org. ( ; comment
      7     ; serial
      4H    ; refresh
      1H
      7D
      30M ) ; minimum
mail   300 MX 10 mx1   ; first
       300 MX ( 20
                mx2 )
       TXT "after the multi-line record"
`);
    const soa = data([...z.records()][0]) as Record<string, number>;
    expect(soa).to.include({ serial: 7, refresh: 14400, retry: 3600, expire: 604800, minimum: 1800 });
    const r = z.lookup('mail.example.org', 15);
    expect(r.kind).to.equal('answer');
    if (r.kind !== 'answer') return;
    expect(r.answer.map(data)).to.deep.equal([{ preference: 10, exchange: 'mx1.example.org' }, { preference: 20, exchange: 'mx2.example.org' }]);
    const t = z.lookup('mail.example.org', 16);
    expect(t.kind === 'answer' && t.answer.length).to.equal(1);
  });

  it('reads quoted TXT strings with spaces, escaped quotes and \\DDD, several strings per record', () => {
    const z = zone(`${SOA}txt TXT "v=spf1 a mx ~all" "say \\"hi\\"" semi\\;colon "\\065\\066" ""\n`);
    const r = z.lookup('txt.example.org', 16);
    if (r.kind !== 'answer') throw new Error(r.kind);
    const parts = (data(r.answer[0]) as Buffer[]).map((b) => b.toString('latin1'));
    expect(parts).to.deep.equal(['v=spf1 a mx ~all', 'say "hi"', 'semi;colon', 'AB', '']);
  });

  it('reads SRV, CAA, PTR, HINFO and DS', () => {
    const z = zone(`${SOA}_sip._tcp SRV 10 60 5060 Sip.Example.org.
@ CAA 0 issue "letsencrypt.org"
@ CAA 128 iodef "mailto:sec@example.org"
1 PTR host
h HINFO "PC Intel" Linux
sub NS ns.sub
sub DS 60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118
`);
    const srv = z.lookup('_sip._tcp.example.org', 33);
    expect(srv.kind === 'answer' && data(srv.answer[0])).to.deep.equal({ priority: 10, weight: 60, port: 5060, target: 'Sip.Example.org' });
    const caa = z.lookup('example.org', 257);
    expect(caa.kind === 'answer' && caa.answer.map(data)).to.deep.equal([
      { flags: 0, tag: 'issue', value: 'letsencrypt.org', issuerCritical: false },
      { flags: 128, tag: 'iodef', value: 'mailto:sec@example.org', issuerCritical: true },
    ]);
    expect(data([...z.records()].find((r) => r.type === 'PTR'))).to.equal('host.example.org');
    expect(data([...z.records()].find((r) => r.type === 'HINFO'))).to.deep.equal({ cpu: 'PC Intel', os: 'Linux' });
    const ds = z.lookup('sub.example.org', 43);
    expect(ds.kind).to.equal('answer');
  });

  it('names FILE:LINE for a bad TTL', () => {
    const e = problem(`${SOA}\nwww 3x00 IN A 192.0.2.1\n`);
    expect(e.message).to.equal(`${FILE}:3: bad TTL "3x00": expected seconds from 0 to 2147483647 (or 1h30m)`);
  });

  it('names FILE:LINE for an unknown type, and says why a known one is refused', () => {
    expect(problem(`${SOA}www IN FOO bar\n`).message).to.match(/^\/zones\/db\.example\.org:2: unknown record type "FOO"; supported: A, NS/);
    expect(problem(`${SOA}www IN RRSIG A 8 3 300 x\n`).message).to.match(/:2: record type RRSIG is not supported \(DNSSEC is not served\)/);
  });

  it('names FILE:LINE for a bad IP, pointing at the line of the field inside ( … )', () => {
    expect(problem(`${SOA}www A 192.0.2.256\n`).message).to.equal(`${FILE}:2: bad IPv4 address "192.0.2.256" in A record`);
    expect(problem(`${SOA}www AAAA 2001:db8::g\n`).message).to.equal(`${FILE}:2: bad IPv6 address "2001:db8::g" in AAAA record`);
    expect(problem(`${SOA}www MX (\n  10\n  mx.example.org. extra )\n`).message).to.equal(`${FILE}:2: MX record needs PREFERENCE EXCHANGE, got 3 fields`);
    expect(problem(`${SOA}srv SRV (\n 0 0\n 70000 t )\n`).message).to.equal(`${FILE}:4: bad SRV port "70000": expected an integer from 0 to 65535`);
  });

  it('refuses a zone without SOA, a second SOA, and a SOA away from the origin', () => {
    expect(problem('www A 192.0.2.1\n').message).to.equal(`${FILE}:1: the zone has no SOA record at its origin example.org. (RFC 1035: the SOA comes first)`);
    expect(problem('').message).to.match(/:1: the zone has no SOA record/);
    expect(problem(`${SOA}${SOA}`).message).to.match(/:2: a second SOA record for example\.org\./);
    expect(problem(`www SOA a b 1 2 3 4 5\n`).message).to.match(/:1: SOA record for www\.example\.org\. in zone "example\.org\."/);
    // The CoreDNS README's pitfall: a server block for "." reading example.org's file without naming the zone.
    expect(problem(`$ORIGIN example.org.\n${SOA}`, '').message).to.equal(`${FILE}:2: SOA record for example.org. in zone ".": a zone's SOA is at its origin; name the zone in the directive (file DBFILE example.org) or the server block`);
  });

  it('refuses $INCLUDE, $GENERATE, other classes, and broken syntax, with the line', () => {
    expect(problem(`${SOA}$INCLUDE other.db\n`).message).to.equal(`${FILE}:2: $INCLUDE is not supported: put the included records in this file`);
    expect(problem(`${SOA}$GENERATE 1-9 h$ A 10.0.0.$\n`).message).to.match(/:2: \$GENERATE is not supported/);
    expect(problem(`${SOA}www CH A 192.0.2.1\n`).message).to.match(/:2: class CH is not supported/);
    expect(problem(`${SOA}www TXT "open\n`).message).to.equal(`${FILE}:2: unterminated quoted string`);
    expect(problem(`${SOA}www A (192.0.2.1\n`).message).to.equal(`${FILE}:2: "(" is never closed`);
    expect(problem(`${SOA}www A 192.0.2.1 )\n`).message).to.equal(`${FILE}:2: ")" without "("`);
    expect(problem(` A 192.0.2.1\n${SOA}`).message).to.match(/:1: the line starts with a blank, but no record/);
    expect(problem(`${SOA}$TTL 1y\n`).message).to.match(/:2: bad \$TTL "1y"/);
    expect(problem(`${SOA}www\n`).message).to.equal(`${FILE}:2: missing record type`);
    expect(problem(`${SOA}${'a'.repeat(64)} A 192.0.2.1\n`).message).to.match(/:2: bad domain name/);
  });

  it('writes escaped owner names the way the query parser does, so they match', () => {
    const z = zone(`${SOA}has\\046dot A 192.0.2.1\nsp\\ ace A 192.0.2.2\nback\\\\slash A 192.0.2.3\n`);
    expect([...z.records()].slice(1).map((r) => r.name)).to.deep.equal(['has\\.dot.example.org', 'sp\\032ace.example.org', 'back\\\\slash.example.org']);
    expect(z.lookup('has\\.dot.example.org', 1).kind).to.equal('answer');
    // The escaped dot is inside a label: "dot.example.org" is not an empty non-terminal.
    expect(z.lookup('dot.example.org', 1).kind).to.equal('nxdomain');
  });

  it('ignores records outside the origin and keeps one copy of a repeated record', () => {
    const parsed = parseZone(`${SOA}other.net. A 192.0.2.9\nwww A 192.0.2.1\nwww A 192.0.2.1\n`, 'example.org', FILE);
    expect(parsed.outOfZone).to.equal(1);
    const z = new Zone('example.org', parsed, FILE);
    expect([...z.records()].map((r) => r.type)).to.deep.equal(['SOA', 'A']);
  });
});

describe('file: zone lookup', () => {
  const z = zone(`${SOA}@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.1
a.b.c A 192.0.2.2
*.wild A 192.0.2.3
sub.wild A 192.0.2.4
*.ent.wild TXT "deep"
deep.ent2.wild A 192.0.2.5
cname CNAME www
deleg NS ns.deleg
deleg NS ns.elsewhere.net.
ns.deleg A 192.0.2.54
`);

  it('answers an empty non-terminal with NODATA, not NXDOMAIN', () => {
    const r = z.lookup('b.c.example.org', 1);
    expect(r.kind).to.equal('nodata');
    expect(r.kind === 'nodata' && r.ent).to.equal(true);
    expect(z.lookup('x.b.c.example.org', 1).kind).to.equal('nxdomain');
  });

  it('synthesizes from a wildcard only below its closest encloser (RFC 4592)', () => {
    const r = z.lookup('any.wild.example.org', 1);
    expect(r.kind === 'answer' && r.answer.map((x) => `${x.name} ${String(data(x))}`)).to.deep.equal(['any.wild.example.org 192.0.2.3']);
    expect(z.lookup('x.y.wild.example.org', 1).kind).to.equal('answer');
    // sub.wild exists: a name below it is not covered by *.wild.
    expect(z.lookup('x.sub.wild.example.org', 1).kind).to.equal('nxdomain');
    expect(z.lookup('sub.wild.example.org', 28).kind).to.equal('nodata');
    expect(z.lookup('any.wild.example.org', 28).kind).to.equal('nodata');
    // ent2.wild is an empty non-terminal, so the closest encloser: *.wild does not reach below it.
    expect(z.lookup('x.ent2.wild.example.org', 1).kind).to.equal('nxdomain');
    expect(z.lookup('ent2.wild.example.org', 1).kind).to.equal('nodata');
    // *.ent.wild holds TXT only: other types are NODATA for the names it covers.
    expect(z.lookup('x.ent.wild.example.org', 16).kind).to.equal('answer');
    expect(z.lookup('x.ent.wild.example.org', 1).kind).to.equal('nodata');
  });

  it('refers names at and below a zone cut, with in-bailiwick glue; DS at the cut is answered by the parent', () => {
    for (const [name, type] of [['deleg.example.org', 2], ['x.deleg.example.org', 1], ['ns.deleg.example.org', 1]] as const) {
      const r = z.lookup(name, type);
      expect(r.kind, name).to.equal('referral');
      if (r.kind !== 'referral') return;
      expect(r.authority.map(data)).to.deep.equal(['ns.deleg.example.org', 'ns.elsewhere.net']);
      expect(r.additional.map(data)).to.deep.equal(['192.0.2.54']);
    }
    expect(z.lookup('deleg.example.org', 43).kind).to.equal('nodata');
    expect(z.lookup('x.deleg.example.org', 43).kind).to.equal('referral');
  });

  it('hands a CNAME back for chasing, and the CNAME itself to a CNAME query', () => {
    const r = z.lookup('cname.example.org', 1);
    expect(r.kind === 'cname' && r.target).to.equal('www.example.org');
    expect(z.lookup('cname.example.org', 5).kind).to.equal('answer');
  });

  it('answers the apex NS with glue and the apex SOA with NS in authority', () => {
    const ns = z.lookup('example.org', 2);
    expect(ns.kind === 'answer' && ns.additional.map(data)).to.deep.equal(['192.0.2.53']);
    const soa = z.lookup('example.org', 6);
    expect(soa.kind === 'answer' && soa.authority.map(data)).to.deep.equal(['ns1.example.org']);
  });
});
