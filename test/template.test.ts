// The template plugin over real UDP and TCP, from Corefile strings: the
// examples of CoreDNS's template README and template_test.go, AKS's
// Corefile, and what is refused at start. Engine details are unit-tested in
// template-engine.test.ts.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { CorefileError } from '../src/corefile/errors.js';
import { setLogSink } from '../src/log.js';
import { ask } from './support/kubernetes-fixtures.js';
import { endpointSlice, FakeKubeApi, namespace, service } from './support/kube-api.js';
import { rcodeOf, rrLines, tcpQuery, udpQuery } from './support/dns.js';
import { httpGet } from './support/ops.js';
import { freePort, startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';

const IP_A = '(^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$';
const IP_PTR = '^(?P<d>[0-9]*)[.](?P<c>[0-9]*)[.](?P<b>[0-9]*)[.](?P<a>[0-9]*)[.]in-addr[.]arpa[.]$';

describe('template', function () {
  this.timeout(15_000);
  let up: Upstream;
  let run: Running | null = null;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    up = await startUpstream();
  });
  after(async () => {
    setLogSink(null);
    await up.stop();
  });
  afterEach(async () => {
    await run?.stop();
    run = null;
  });

  const start = async (body: string): Promise<number> => {
    run = await startCorefile(`. {\n${body}\n  forward . ${up.hostPort}\n}\n`);
    return run.port;
  };

  it('answers A from named groups and PTR from reversed groups (README "Resolve A/PTR for .example")', async () => {
    const port = await start(`
  template IN A example {
    match ${IP_A}
    answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    fallthrough
  }
  template IN PTR in-addr.arpa {
    match ${IP_PTR}
    answer "{{ .Name }} 60 IN PTR ip-{{ .Group.a }}-{{ .Group.b }}-{{ .Group.c }}-{{ .Group.d }}.example."
  }`);
    const a = await ask(port, 'ip-10-95-12-8.example', 'A');
    expect(a.rcode).to.equal('NOERROR');
    expect(a.aa).to.equal(true);
    expect(a.answer).to.deep.equal(['ip-10-95-12-8.example 60 A 10.95.12.8']);
    // The regex allows a prefix: any name below the IP name answers too (README's "wildcard").
    expect((await ask(port, 'www.ip-1-2-3-4.example', 'A')).answer).to.deep.equal(['www.ip-1-2-3-4.example 60 A 1.2.3.4']);
    const ptr = await ask(port, '8.12.95.10.in-addr.arpa', 'PTR');
    expect(ptr.answer).to.deep.equal(['8.12.95.10.in-addr.arpa 60 PTR ip-10-95-12-8.example']);
    // No match, fallthrough: the next plugin (forward) answers.
    const before = up.count('other.example', 'A');
    expect((await ask(port, 'other.example', 'A')).answer).to.deep.equal(['other.example 60 A 192.0.2.53']);
    expect(up.count('other.example', 'A') - before).to.equal(2);
    // No match, no fallthrough: SERVFAIL, and nothing is forwarded.
    const nx = await ask(port, 'not.a.reverse.in-addr.arpa', 'PTR');
    expect(nx.rcode).to.equal('SERVFAIL');
    expect(nx.aa).to.equal(false);
    expect(up.count('not.a.reverse.in-addr.arpa')).to.equal(0);
  });

  it('answers NXDOMAIN for everything under a zone with an SOA in authority, in any class (README examples)', async () => {
    const port = await start(`
  template IN ANY example.com.dc1.example.com {
    rcode NXDOMAIN
    authority "{{ .Zone }} 60 IN SOA ns.example.com hostmaster.example.com (1 60 60 60 60)"
  }
  template ANY ANY invalid {
    rcode NXDOMAIN
    authority "invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)"
  }`);
    const a = await ask(port, 'www.example.com.dc1.example.com', 'AAAA');
    expect(a.rcode).to.equal('NXDOMAIN');
    expect(a.aa).to.equal(true);
    expect(a.answer).to.deep.equal([]);
    expect(a.authority).to.deep.equal(['example.com.dc1.example.com 60 SOA ns.example.com hostmaster.example.com SERIAL 60 60 60 60']);
    expect((await ask(port, 'invalid', 'MX')).authority).to.deep.equal(['invalid 60 SOA ns.invalid hostmaster.invalid SERIAL 60 60 60 60']);
    for (const query of [udpQuery, tcpQuery]) {
      const ch = await query(port, 'version.invalid', 'TXT', { qclass: 'CH' });
      expect(rcodeOf(ch)).to.equal('NXDOMAIN');
      expect(ch.authorities?.[0]).to.deep.include({ name: 'invalid', type: 'SOA', class: 'CH' });
    }
    // Outside the template zones, forward answers.
    expect((await ask(port, 'www.example.com', 'A')).answer).to.deep.equal(['www.example.com 60 A 192.0.2.53']);
  });

  it('resolves a templated CNAME target through the server: hosts, and forward (README "Fabricate a CNAME")', async () => {
    const port = await start(`
  template IN ANY foogle.com {
    match "^foogle\\.com\\.$"
    answer "foogle.com 60 IN CNAME google.com"
    upstream
  }
  template IN A bar.test {
    answer "{{ .Name }} 60 IN CNAME target.up.example."
  }
  hosts {
    192.0.2.80 google.com
    fallthrough
  }`);
    expect((await ask(port, 'foogle.com', 'A')).answer).to.deep.equal(['foogle.com 60 CNAME google.com', 'google.com 3600 A 192.0.2.80']);
    // The target has no AAAA: the CNAME alone.
    expect((await ask(port, 'foogle.com', 'AAAA')).answer).to.deep.equal(['foogle.com 60 CNAME google.com']);
    // Only A and AAAA questions are chased (CoreDNS).
    expect((await ask(port, 'foogle.com', 'TXT')).answer).to.deep.equal(['foogle.com 60 CNAME google.com']);
    expect((await ask(port, 'x.bar.test', 'A')).answer).to.deep.equal(['x.bar.test 60 CNAME target.up.example', 'target.up.example 60 A 192.0.2.53']);
    expect(up.count('target.up.example', 'A')).to.be.at.least(1);
  });

  it('filters on class and type; a question of type or class ANY matches every template', async () => {
    const port = await start(`
  template IN A t.example {
    answer "{{ .Name }} 60 {{ .Class }} A 192.0.2.1"
    additional "info.t.example. 60 IN TXT {{ .Type }}"
  }`);
    expect((await ask(port, 'a.t.example', 'A')).answer).to.deep.equal(['a.t.example 60 A 192.0.2.1']);
    expect((await ask(port, 'a.t.example', 'AAAA')).answer).to.deep.equal(['a.t.example 60 AAAA 2001:db8::53'], 'another type goes on');
    for (const query of [udpQuery, tcpQuery]) {
      // Another class goes on too, and nothing after template serves CH: REFUSED.
      expect(rcodeOf(await query(port, 'a.t.example', 'A', { qclass: 'CH' }))).to.equal('REFUSED');
      // Class ANY / type ANY: the template's own class and type are shown.
      const any = await query(port, 'a.t.example', 'ANY', { qclass: 'ANY' });
      expect(rrLines(any.answers)).to.deep.equal(['a.t.example A 192.0.2.1']);
      expect(rrLines(any.additionals)).to.deep.equal(['info.t.example TXT A']);
    }
  });

  it('runs several templates in Corefile order: first match wins, no match without fallthrough is SERVFAIL (template_test.go TestMultiSection)', async () => {
    const port = await start(`
  template IN A test {
    rcode REFUSED
  }
  template IN TXT test {
    match "$^"
    rcode SERVFAIL
    fallthrough
  }
  template CH TXT coredns.invalid {
    answer "{{ .Name }} 60 CH TXT \\"test\\""
  }
  template IN A example {
    match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$
    answer "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    fallthrough
  }
  template IN MX example {
    match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$
    answer "{{ .Name }} 60 IN MX 10 {{ .Name }}"
    additional "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
  }
  template IN TXT multi.example {
    match ^a[.] "^(a|b)[.]"
    match ^c[.]
    answer "{{ .Name }} 60 IN TXT \\"{{ .Regex }}\\""
  }`);
    const refused = await ask(port, 'some.test', 'A');
    expect(refused.rcode).to.equal('REFUSED');
    expect(refused.aa).to.equal(true);
    expect((await ask(port, 'some.test', 'TXT')).answer).to.deep.equal(['some.test 60 TXT "upstream"'], 'fell through to forward');
    for (const query of [udpQuery, tcpQuery]) {
      const ch = await query(port, 'coredns.invalid', 'TXT', { qclass: 'CH' });
      expect(rrLines(ch.answers)).to.deep.equal(['coredns.invalid TXT test']);
    }
    expect((await ask(port, 'ip-10-11-12-13.example', 'A')).answer).to.deep.equal(['ip-10-11-12-13.example 60 A 10.11.12.13']);
    const mx = await ask(port, 'ip-10-11-12-13.example', 'MX');
    expect(mx.answer).to.have.length(1);
    expect(mx.answer[0]).to.match(/^ip-10-11-12-13\.example 60 MX /);
    expect(mx.additional).to.deep.equal(['ip-10-11-12-13.example 60 A 10.11.12.13']);
    expect((await ask(port, 'something.example', 'A')).answer).to.deep.equal(['something.example 60 A 192.0.2.53']);
    const sf = await ask(port, 'something.example', 'MX');
    expect(sf.rcode).to.equal('SERVFAIL');
    expect(up.count('something.example', 'MX')).to.equal(0);
    expect((await ask(port, 'a.multi.example', 'TXT')).answer).to.deep.equal(['a.multi.example 60 TXT "^a[.]"']);
    expect((await ask(port, 'b.multi.example', 'TXT')).answer).to.deep.equal(['b.multi.example 60 TXT "^(a|b)[.]"']);
    expect((await ask(port, 'c.multi.example', 'TXT')).answer).to.deep.equal(['c.multi.example 60 TXT "^c[.]"']);
  });

  it('gives templates every field CoreDNS does: .Name .Zone .Class .Type .Regex .Match .Group .Question .Message .Remote', async () => {
    const port = await start(`
  template IN TXT fields.example {
    match "^(?P<host>[a-z]+)[.](fields)[.]example[.]$"
    answer "{{ .Name }} 60 IN TXT {{ .Zone }} {{ .Class }} {{ .Type }} {{ index .Match 2 }} {{ .Group.host }} {{ index .Group \\"1\\" }}"
    additional "{{ .Name }} 60 IN TXT \\"{{ .Question }}\\" {{ .Question.Name }} {{ .Question.Qtype }} {{ (index .Message.Question 0).Qclass }} {{ .Message.RecursionDesired }} {{ .Remote }} {{ .Meta \\"x\\" }}x \\"{{ .Regex }}\\""
  }`);
    const r = await ask(port, 'WWW.Fields.example', 'TXT');
    // Owner names compress to the question, so they come back in its spelling: compare them case-blind.
    const owners = (lines: string[]): string[] => lines.map((l) => l.replace(/^\S+/, (o) => o.toLowerCase()));
    r.answer = owners(r.answer);
    r.additional = owners(r.additional);
    expect(r.answer).to.deep.equal(['www.fields.example 60 TXT "fields.example." "IN" "TXT" "fields" "www" "www"']);
    expect(r.additional).to.deep.equal([
      'www.fields.example 60 TXT ";WWW.Fields.example.\tIN\t TXT" "WWW.Fields.example." "16" "1" "true" "127.0.0.1" "x" "^(?P<host>[a-z]+)[.](fields)[.]example[.]$"',
    ]);
  });

  it('fallthrough ZONES passes on only the names in those zones', async () => {
    const port = await start(`
  template IN A example.org {
    match ^ip[.]
    answer "{{ .Name }} 60 IN A 192.0.2.9"
    fallthrough sub.example.org
  }`);
    expect((await ask(port, 'ip.example.org', 'A')).answer).to.deep.equal(['ip.example.org 60 A 192.0.2.9']);
    expect((await ask(port, 'x.sub.example.org', 'A')).answer).to.deep.equal(['x.sub.example.org 60 A 192.0.2.53']);
    expect((await ask(port, 'x.example.org', 'A')).rcode).to.equal('SERVFAIL');
  });

  it('a rendered record that does not parse, or a template that fails, is SERVFAIL, logged by errors and counted', async () => {
    const mp = await freePort();
    const port = await start(`
  errors
  prometheus 127.0.0.1:${mp}
  template IN A e.test {
    match ^(?P<x>[a-z]+)[.]e[.]test[.]$
    answer "{{ .Name }} 60 IN A {{ .Group.y }}"
  }
  template IN TXT e.test {
    answer "{{ .Name }} 60 IN TXT \\"{{ index .Match 2 }}\\""
  }
  template IN MX e.test {
    answer "{{ .Name }} 60 IN MX 10 {{ .Name }}"
    authority "{{ .Name }}"
  }`);
    for (const type of ['A', 'TXT', 'MX']) {
      const r = await ask(port, 'x.e.test', type);
      expect(r.rcode, type).to.equal('SERVFAIL');
      expect(r.aa, type).to.equal(false);
    }
    expect(logs.some((l) => l.includes('template: answer:') && l.includes('A: extra text'))).to.equal(true, logs.join('\n'));
    expect(logs.some((l) => l.includes('index out of range: 2'))).to.equal(true);
    const text = (await httpGet(mp, '/metrics')).body;
    const server = `server="dns://127.0.0.1:${port}"`;
    expect(text).to.contain(`coredns_template_matches_total{${server},zone="e.test.",class="IN",type="A",view=""} 2`);
    expect(text).to.contain(`coredns_template_rr_failures_total{${server},zone="e.test.",class="IN",type="A",section="answer",template="{{.Name}} 60 IN A {{.Group.y}}",view=""} 2`);
    expect(text).to.contain(`coredns_template_template_failures_total{${server},zone="e.test.",class="IN",type="TXT",section="answer",template="{{.Name}} 60 IN TXT \\"{{index .Match 2}}\\"",view=""} 2`);
    expect(text).to.contain(`coredns_template_rr_failures_total{${server},zone="e.test.",class="IN",type="MX",section="authority",template="{{.Name}}",view=""} 2`);
  });

  it('refuses at start what cannot work, at FILE:LINE, naming the construct', async () => {
    const cases: Array<[string, RegExp]> = [
      ['template IN', /missing TYPE/],
      ['template in A', /invalid query class "in"/],
      ['template IN XYZ', /invalid query type "XYZ"/],
      ['template IN A {\n    match (a\n  }', /could not parse regex "\(a": missing closing \)/],
      ['template IN A {\n    match (?=x)\n  }', /lookaround/],
      ['template IN A {\n    answer "{{ if .Name }}x{{ end }}"\n  }', /\{\{if\}\} is not supported/],
      ['template IN A {\n    answer "{{ printf \\"%s\\" .Name }}"\n  }', /function "printf" is not supported/],
      ['template IN A {\n    answer "example. 60 IN A 10.0.0"\n  }', /invalid resource record .*bad A address/],
      ['template IN A {\n    answer "{{ .Name }} 60 IN CAA 0 issue x"\n  }', /RR type CAA is not supported/],
      ['template IN A {\n    answer "{{ . }}"\n  }', /printing the whole data/],
      ['template IN A {\n    answer\n  }', /option "answer": wrong number of arguments \(got 0\); usage: answer RR/],
      ['template IN A {\n    rcode BOGUS\n  }', /unknown rcode "BOGUS"/],
      ['template IN A {\n    var ip 1\n  }', /var .* is not supported/],
      ['template IN A {\n    ederror 21\n  }', /ederror is not supported/],
      ['template IN A {\n    notavailable\n  }', /unknown option "notavailable"/],
    ];
    for (const [directive, why] of cases) {
      let err: unknown = null;
      try {
        await start(`  ${directive}`);
      } catch (e) {
        err = e;
      }
      expect(err, directive).to.be.instanceOf(CorefileError);
      const e = err as CorefileError;
      const line = directive.includes('\n') ? 3 : 2;
      expect(e.message, directive).to.match(new RegExp(`^test\\.Corefile:${line}: template: `));
      expect(e.message, directive).to.match(why);
    }
  });

  it('warns at start about a field the data lacks; matching queries then fail as in CoreDNS', async () => {
    logs.length = 0;
    const port = await start(`
  template ANY A example.com {
    match ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]com
    answer "{{ .Name }} A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Grup.d }}."
    fallthrough
  }`);
    expect(logs.some((l) => l.includes('test.Corefile:5') && l.includes('field .Grup does not exist'))).to.equal(true, logs.join('\n'));
    expect((await ask(port, 'ip-1-2-3-4.example.com', 'A')).rcode).to.equal('SERVFAIL');
    expect((await ask(port, 'www.example.com', 'A')).answer).to.deep.equal(['www.example.com 60 A 192.0.2.53']);
  });

  describe("AKS's Corefile (test/fixtures/aks-Corefile)", function () {
    // Importing @kubernetes/client-node alone takes seconds on a loaded machine.
    this.timeout(40_000);
    let api: FakeKubeApi;
    before(async () => {
      api = new FakeKubeApi();
      await api.start();
      api.upsert('namespaces', namespace('default'));
      api.upsert('services', service('default', 'kubernetes', { clusterIP: '10.0.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }));
      api.upsert('endpointslices', endpointSlice('default', 'kubernetes', 'kubernetes', 'IPv4', [{ addresses: ['192.0.2.100'], conditions: { ready: true } }], [{ name: 'https', port: 6443, protocol: 'TCP' }]));
    });
    after(async () => { await api.stop(); });

    /** The fixture with loopback addresses for the node's resolver, the API and the side servers; nothing else changed. */
    async function aksCorefile(): Promise<string> {
      let text = readFileSync(new URL('./fixtures/aks-Corefile', import.meta.url), 'utf8');
      const swap = (from: string, to: string): void => {
        expect(text, from).to.contain(from);
        text = text.replace(from, to);
      };
      swap('forward . /etc/resolv.conf', `forward . ${up.hostPort}`);
      swap('      ttl 30\n', `      ttl 30\n      endpoint ${api.url}\n`);
      swap('    ready\n', `    ready 127.0.0.1:${await freePort()}\n`);
      swap('    health {', `    health 127.0.0.1:${await freePort()} {`);
      swap('prometheus :9153', `prometheus 127.0.0.1:${await freePort()}`);
      return text;
    }

    it('answers NXDOMAIN for reddog.microsoft.com and deep internal.cloudapp.net names, passes the rest on', async () => {
      run = await startCorefile(await aksCorefile());
      const port = run.port;
      // (The loop plugin's probe goes upstream too: count only the names asked here.)
      const asked = (): number => up.queries.filter((q) => /reddog|internal\.cloudapp/.test(q.name)).length;
      const n0 = asked();
      for (const name of ['reddog.microsoft.com', 'www.example.com.reddog.microsoft.com', 'test.aks-agentpool-1234-vmss000000.abcdef.xx.internal.cloudapp.net']) {
        for (const type of ['A', 'AAAA']) {
          const r = await ask(port, name, type);
          expect(r.rcode, `${name} ${type}`).to.equal('NXDOMAIN');
          expect(r.aa, `${name} ${type}`).to.equal(true);
          expect(r.answer).to.deep.equal([]);
        }
      }
      expect(asked() - n0, 'no template NXDOMAIN reaches the upstream').to.equal(0);
      // A node name (three labels under internal.cloudapp.net) does not match: forward answers it.
      // (cache 30 caps the TTLs and counts them down: compare without them.)
      const noTtl = (lines: string[]): string[] => lines.map((l) => l.replace(/ \d+ /, ' '));
      const node = await ask(port, 'aks-agentpool-1234-vmss000000.abcdef.xx.internal.cloudapp.net', 'A');
      expect(noTtl(node.answer)).to.deep.equal(['aks-agentpool-1234-vmss000000.abcdef.xx.internal.cloudapp.net A 192.0.2.53']);
      expect(up.count('aks-agentpool-1234-vmss000000.abcdef.xx.internal.cloudapp.net', 'A')).to.be.at.least(1);
      // Cluster names and other names are untouched.
      expect(noTtl((await ask(port, 'kubernetes.default.svc.cluster.local', 'A')).answer)).to.deep.equal(['kubernetes.default.svc.cluster.local A 10.0.0.1']);
      expect(noTtl((await ask(port, 'www.example.com', 'A')).answer)).to.deep.equal(['www.example.com A 192.0.2.53']);
      for (const query of [udpQuery, tcpQuery]) {
        const ch = await query(port, 'x.reddog.microsoft.com', 'TXT', { qclass: 'CH' });
        expect(rcodeOf(ch), 'ANY class template: CH too').to.equal('NXDOMAIN');
      }
    });
  });
});
