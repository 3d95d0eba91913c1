// Rule parsing and matching of the rewrite plugin, modelled on CoreDNS's
// setup_test.go / rewrite_test.go tables, and the Corefile errors a user
// sees (file:line).

import { expect } from 'chai';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { QCLASS } from '../src/dns/constants.js';
import { compileRegex, normalize } from '../src/plugins/rewrite/match.js';
import { wireName } from '../src/plugins/rewrite/message.js';
import { parseRule, parseTtlRange } from '../src/plugins/rewrite/setup.js';
import { QueryState, type ResponseRule } from '../src/plugins/rewrite/rules.js';

/** A query state for NAME (type A, class IN) from a client at 10.1.2.3 over UDP, without EDNS. */
function state(name: string, type = 1): QueryState {
  return new QueryState(normalize(name), normalize(name), type, QCLASS.IN, () => null, {
    remoteAddress: '10.1.2.3', remotePort: 5353, proto: 'udp', server: 'dns://127.0.0.1:53',
  });
}

/** Runs one rule line on NAME: the name sent on (or null when the rule did not apply) and its response rules. */
function run(line: string, name: string): { sent: string | null; responses: ResponseRule[] | null } {
  const q = state(name);
  const responses = parseRule(line.split(/\s+/)).apply(q);
  return { sent: responses === null ? null : q.newName ?? q.name, responses };
}

describe('rewrite rules', () => {
  it('accepts the rule forms CoreDNS accepts', () => {
    for (const line of [
      'name a.com b.com', 'stop name a.com b.com', 'continue name a.com b.com', 'STOP NAME a.com b.com',
      'name exact a.com b.com', 'name prefix a. b.', 'name suffix .a.com .b.com', 'name substring a b',
      'name regex (.*)\\.a\\.com {1}.b.com', 'name regex foo bar answer name bar foo',
      'name regex foo bar answer name bar foo answer value bar foo', 'name regex foo bar answer name bar foo value bar foo',
      'name suffix .a. .b. answer auto', 'name exact a. b. answer value x y',
      'type ANY HINFO', 'type a aaaa', 'class CH IN', 'class IN HS',
      'edns0 local set 0xffee abcd', 'edns0 local append 0xffee 0x61626364', 'edns0 local replace 65518 abc revert',
      'edns0 local unset 0xffee', 'edns0 local set 0xffee {client_ip}', 'edns0 local set 0xffee {qname} revert',
      'edns0 nsid set', 'edns0 nsid append revert', 'edns0 nsid unset', 'edns0 subnet set 24 56', 'edns0 subnet replace 0 0',
      'edns0 subnet append 32 128 revert', 'edns0 subnet unset',
      'ttl example.com. 30', 'ttl regex (.*)\\.example\\.com 10-300', 'ttl suffix .com 30-', 'ttl prefix www -30',
      'rcode example.com SERVFAIL NOERROR', 'rcode regex (.*)\\.example 2 0', 'rcode suffix .com BADCOOKIE 0',
      'cname a.example. b.example.', 'cname regex (.*).cdn.example.net. {1}.other.cdn.com.', 'cname suffix .a. .b.',
    ]) {
      expect(() => parseRule(line.split(' ')), line).not.to.throw();
    }
  });

  it('refuses what CoreDNS refuses, saying why', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /no rule type specified/],
      ['stop', /stop rule must begin with a rule type/],
      ['continue', /continue rule must begin with a rule type/],
      ['foo a b', /unknown field "foo"; accepted: name, type, class, edns0, ttl, rcode, cname/],
      ['answer name a b', /response rewrites must begin with a name rule/],
      ['name a.com', /too few arguments for a name rule/],
      ['name fuzzy a b', /name rule supports only exact, prefix, suffix, substring, and regex name matching, received: fuzzy/],
      ['name regex [bad[ bar', /invalid regex pattern "\[bad\["/],
      ['name regex foo {1}', /uses more groups than the pattern "foo" has/],
      ['name regex (foo) {1} answer', /invalid arguments for regex rule/],
      ['name regex (foo) {1} extra words', /unexpected "extra"/],
      ['name regex (foo) {1} answer name bar', /name answer rule for regex rule: 2 arguments required/],
      ['name regex (foo) {1} answer bogus a b', /invalid type "bogus" for answer rule/],
      ['name regex (foo) {1} answer auto answer name a b', /auto name answer rule cannot be combined/],
      ['name regex foo bar answer name [x bar', /name answer rule for regex rule: invalid regex pattern/],
      ['type ANY', /type rules must have exactly two arguments/],
      ['type ANY FOO', /invalid type "FOO"/],
      ['class CH XX', /invalid class "XX"/],
      ['class CH IN HS', /class rules must have exactly two arguments/],
      ['edns0 local', /too few arguments for an EDNS0 rule/],
      ['edns0 local frob 0xffee abcd', /invalid EDNS0 action "frob"/],
      ['edns0 local set 0xfffff abcd', /invalid EDNS0 local option code "0xfffff"/],
      ['edns0 local set zz abcd', /invalid EDNS0 local option code "zz"/],
      ['edns0 local set 0xffee', /edns0 local rules take CODE and DATA/],
      ['edns0 local set 0xffee 0xabc', /invalid hex data "0xabc"/],
      ['edns0 local set 0xffee {dummy}', /unsupported variable name "\{dummy\}"/],
      ['edns0 local unset', /edns0 local unset takes exactly one argument/],
      ['edns0 nsid set extra', /edns0 nsid takes no arguments/],
      ['edns0 subnet set 24', /edns0 subnet rules take IPV4_BITS and IPV6_BITS/],
      ['edns0 subnet set 33 56', /invalid IPv4 bit mask length "33"/],
      ['edns0 subnet set 24 129', /invalid IPv6 bit mask length "129"/],
      ['edns0 subnet append 24 56 72', /edns0 subnet rules take IPV4_BITS and IPV6_BITS/],
      ['edns0 cookie set', /invalid EDNS0 rule type "cookie"/],
      ['ttl example.com.', /too few \(1\) arguments for a ttl rule/],
      ['ttl example.com. abc', /invalid TTL "abc"/],
      ['ttl example.com. 300-10', /invalid TTL "300-10"/],
      ['ttl example.com. -', /invalid TTL "-"/],
      ['ttl fuzzy example.com. 30', /ttl rule supports only exact/],
      ['ttl regex ([ 30', /invalid regex pattern/],
      ['ttl a b c d', /too many \(4\) arguments for a ttl rule/],
      ['rcode example.com SERVFAIL', /too few \(2\) arguments for a rcode rule/],
      ['rcode example.com WHAT NOERROR', /invalid matching RCODE "WHAT"/],
      ['rcode example.com 2 24', /invalid replacement RCODE "24"/],
      ['cname a.', /wrong number \(1\) of arguments for a cname rule/],
      ['cname fuzzy a. b.', /unknown cname rewrite type: fuzzy/],
    ];
    for (const [line, re] of cases) {
      expect(() => parseRule(line === '' ? [] : line.split(' ')), line).to.throw(re);
    }
  });

  it('name rules: exact, prefix, suffix, substring and regex with groups', () => {
    expect(run('name example.com to.example.com', 'EXAMPLE.com').sent).to.equal('to.example.com.');
    expect(run('name example.com to.example.com', 'www.example.com').sent).to.equal(null);
    expect(run('name prefix foo bar', 'foo.example.org').sent).to.equal('bar.example.org.');
    expect(run('name suffix .example.org .example.net', 'a.b.example.org').sent).to.equal('a.b.example.net.');
    expect(run('name substring us-west us-east', 'svc.us-west.example').sent).to.equal('svc.us-east.example.');
    expect(run('name regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul', 'ftp-us-west-1.example.org').sent)
      .to.equal('ftp.service.us-west-1.consul.');
    expect(run('name regex ^(?P<host>[a-z]+)\\.old\\.$ {1}.new', 'web.old').sent).to.equal('web.new.');
    expect(run('name regex (?i)^WEB\\. site.', 'web.example').sent).to.equal('site.');
  });

  it('an exact rule maps answers back on its own; auto maps the name and names below it', () => {
    const { responses } = run('name a.example. b.example.', 'a.example');
    const owner = responses?.find((r) => r.kind === 'owner');
    if (owner?.kind !== 'owner') throw new Error('no owner rule');
    expect(owner.rewrite('b.example.')).to.equal('a.example.');
    expect(owner.rewrite('B.Example.')).to.equal('a.example.');
    expect(owner.rewrite('x.b.example.')).to.equal('x.a.example.');
    expect(owner.rewrite('xb.example.')).to.equal('xb.example.');
    expect(run('name prefix a. b.', 'a.example').responses).to.deep.equal([]);
  });

  it('ttl ranges: SECONDS, MIN-MAX, MIN-, -MAX', () => {
    expect(parseTtlRange('30')).to.deep.equal({ min: 30, max: 30 });
    expect(parseTtlRange('10-300')).to.deep.equal({ min: 10, max: 300 });
    expect(parseTtlRange('30-')).to.deep.equal({ min: 30, max: 2147483647 });
    expect(parseTtlRange('-30')).to.deep.equal({ min: 0, max: 30 });
    for (const bad of ['-', '', '1-2-3', '300-10', 'x', '4294967296', '-1-']) expect(parseTtlRange(bad), bad).to.equal(null);
  });

  it('ttl and rcode rules match the name; they hand back response rules', () => {
    expect(run('ttl example.com. 10-300', 'example.com').responses).to.deep.equal([{ kind: 'ttl', min: 10, max: 300 }]);
    expect(run('ttl example.com. 10-300', 'www.example.com').responses).to.equal(null);
    expect(run('rcode suffix example.com SERVFAIL NOERROR', 'www.example.com').responses).to.deep.equal([{ kind: 'rcode', from: 2, to: 0 }]);
  });

  it('edns0 subnet uses the client address, cut to the prefix', () => {
    const q = state('example.org');
    expect(parseRule('edns0 subnet set 20 56'.split(' ')).apply(q)).to.deep.equal([]);
    expect(q.currentOpt()?.options).to.deep.equal([{ code: 8, data: Buffer.from([0, 1, 20, 0, 10, 1, 0]) }]);
    expect(q.currentOpt()?.udpSize).to.equal(4096);
  });

  it('checks a rewritten name before it goes on the wire', () => {
    expect(wireName('foo.default.svc.')?.toString('hex')).to.equal('03666f6f0764656661756c740373766300');
    expect(wireName('foo.default.svc')?.toString('hex')).to.equal('03666f6f0764656661756c740373766300');
    expect(wireName('.')?.toString('hex')).to.equal('00');
    expect(wireName('a\\.b.c.')?.toString('hex')).to.equal('03612e620163' + '00');
    expect(wireName('a\\065.')?.toString('hex')).to.equal('02614100');
    for (const bad of ['a..b.', '..', `${'x'.repeat(64)}.a.`, `${'abcdefg.'.repeat(32)}`, 'caf\u0101.']) expect(wireName(bad), bad).to.equal(null);
    expect(wireName(`${'x'.repeat(63)}.a.`)).not.to.equal(null);
  });

  it('translates the RE2-only spellings', () => {
    expect(compileRegex('\\Afoo\\z').test('foo')).to.equal(true);
    expect(compileRegex('(?i)FOO').test('foo')).to.equal(true);
    expect(() => compileRegex('x'.repeat(10001))).to.throw(/regex pattern too long/);
  });
});

describe('rewrite configuration errors', () => {
  const build = (body: string) => createServer(parseCorefile(`. {\n${body}\n}\n`, { file: 'test.Corefile' }));
  it('name the file and line', () => {
    expect(() => build('rewrite frobnicate a b')).to.throw(/test\.Corefile:2: rewrite: unknown field "frobnicate"/);
    expect(() => build('rewrite name regex (.*\\.example b')).to.throw(/test\.Corefile:2: rewrite: invalid regex pattern/);
    expect(() => build('rewrite edns0 local set 0xZZ abcd')).to.throw(/test\.Corefile:2: rewrite: invalid EDNS0 local option code "0xZZ"/);
    expect(() => build('rewrite name a.example.')).to.throw(/test\.Corefile:2: rewrite: too few arguments for a name rule/);
    expect(() => build('rewrite')).to.throw(/test\.Corefile:2: rewrite: no rule type specified/);
    expect(() => build('log\nrewrite stop')).to.throw(/test\.Corefile:3: rewrite: stop rule must begin with a rule type/);
  });

  it('the multi-line form: one rule from the whole block, errors at its first line', () => {
    expect(() => build('rewrite stop {\n    name regex foo bar\n    answer name bar foo\n}')).not.to.throw();
    expect(() => build('rewrite stop {\n    answer name bar foo\n    name regex foo bar\n}')).to.throw(/test\.Corefile:3: rewrite: response rewrites must begin with a name rule/);
    expect(() => build('rewrite stop {\n    name regex foo bar\n    answer name bar foo\n    name baz\n}')).to.throw(/test\.Corefile:3: rewrite: name answer rule for regex rule: 2 arguments required/);
    expect(() => build('rewrite name a. b. {\n    answer auto\n}')).to.throw(/test\.Corefile:2: rewrite: a rule on the rewrite line takes no block/);
  });
});
