// Unit tests of the template plugin's three small languages: Go regexp
// (translated to JS), Go text/template (the subset CoreDNS Corefiles use)
// and zone-file RR text. The plugin over real sockets is in template.test.ts.

import { expect } from 'chai';
import { GoRegexError, goRegExp } from '../src/plugins/template/goregex.js';
import { GoTemplate, NO_VALUE, TemplateExecError, type GoObject, type Value } from '../src/plugins/template/gotemplate-exec.js';
import { TemplateSyntaxError } from '../src/plugins/template/gotemplate.js';
import { parseRR as parseRecord, RRSyntaxError } from '../src/plugins/template/rr.js';

/** A stand-in for the plugin's data: fields from a record. */
function data(fields: Record<string, Value>): GoObject {
  return { goType: '*template.templateData', field: (n) => fields[n] };
}

/** A record as the tests look at it: dns-packet's shape, data included. */
const parseRR = (text: string): { name: string; type: string; class?: string; ttl?: number; data: unknown } =>
  parseRecord(text) as { name: string; type: string; data: unknown };

const render = (src: string, d: Value = data({})): string => GoTemplate.parse('answer', src).render(d);

describe('template engine', () => {
  describe('Go regexp -> JS', () => {
    it('translates (?P<name>) groups and keeps RE2 meaning for CoreDNS README patterns', () => {
      const re = goRegExp('(^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$');
      const m = re.exec('x.ip-10-1-2-3.example.');
      expect(m?.groups).to.deep.equal({ a: '10', b: '1', c: '2', d: '3' });
      expect(goRegExp('^(?:[^.]+\\.){4,}internal\\.cloudapp\\.net\\.$').test('a.b.c.d.internal.cloudapp.net.')).to.equal(true);
      expect(goRegExp('^(?:[^.]+\\.){4,}internal\\.cloudapp\\.net\\.$').test('b.c.d.internal.cloudapp.net.')).to.equal(false);
      expect(goRegExp('$^').test('some.test.')).to.equal(false);
    });

    it('rewrites inline flags, \\A \\z, POSIX classes, \\Q..\\E, a leading ] and literal braces', () => {
      expect(goRegExp('(?i)^FOO[.]').test('foo.example.')).to.equal(true);
      expect(goRegExp('a(?i)b').test('aB')).to.equal(true);
      expect(goRegExp('a(?i)b').test('AB')).to.equal(false);
      expect(goRegExp('(?i:X)y').test('xy')).to.equal(true);
      expect(goRegExp('\\Aab\\z').test('ab')).to.equal(true);
      expect(goRegExp('\\Aab\\z').test('abc')).to.equal(false);
      expect(goRegExp('^[[:digit:]]+[.]$').test('123.')).to.equal(true);
      expect(goRegExp('^\\Qa.b\\E$').test('a.b')).to.equal(true);
      expect(goRegExp('^\\Qa.b\\E$').test('axb')).to.equal(false);
      expect(goRegExp('^[]a]+$').test(']a]')).to.equal(true);
      expect(goRegExp('^a{,2}$').test('a{,2}')).to.equal(true);
    });

    it('ends an inline (?i) with its enclosing group and refuses unbalanced parentheses', () => {
      expect(goRegExp('^(a(?i)b)c$').test('aBc')).to.equal(true);
      expect(goRegExp('^(a(?i)b)c$').test('aBC')).to.equal(false);
      expect(goRegExp('^(?:x(?i)(y(?s)z)w)$').test('xYZW')).to.equal(true);
      expect(() => goRegExp('a)')).to.throw(GoRegexError, /unexpected \)/);
      expect(() => goRegExp('(a(?i)b')).to.throw(GoRegexError, /missing closing \)/);
    });

    it('refuses what Go refuses or JS cannot do the same way, naming it', () => {
      const refused: Array<[string, RegExp]> = [
        ['(a)\\1', /backreferences/],
        ['(?=a)', /lookaround/],
        ['(?U)a+', /ungreedy/],
        ['\\pL', /Unicode class/],
        ['[[:^alpha:]]', /negated POSIX/],
        ['[[:nope:]]', /character class/],
        ['a{1001}', /repetition count/],
        ['(a', /missing closing \)/],
        ['a)', /unexpected \)/],
        ['*a', /Nothing to repeat/],
        ['\\y', /invalid escape/],
        ['x'.repeat(10001), /too long/],
      ];
      for (const [p, why] of refused) {
        expect(() => goRegExp(p), p.slice(0, 20)).to.throw(GoRegexError, why);
      }
    });
  });

  describe('Go text/template subset', () => {
    it('renders fields, map keys, index and parseInt as CoreDNS templates use them', () => {
      const d = data({
        Name: 'ip0a5f0c09.example.', Match: ['ip0a5f0c09.example.', '5f'],
        Group: new Map<string, Value>([['0', 'whole'], ['b', '5f'], ['c', '0c']]), Class: 'IN',
      });
      expect(render('{{ .Name }} 60 {{ .Class }} A 10.{{ parseInt .Group.b 16 8 }}.{{ parseInt .Group.c 16 8 }}.9', d))
        .to.equal('ip0a5f0c09.example. 60 IN A 10.95.12.9');
      expect(render('{{ index .Match 1 }}|{{ index .Group "b" }}|{{ index .Group "zz" }}|{{ .Group.zz }}', d)).to.equal('5f|5f||<no value>');
      expect(render('{{ .Match }} {{ .Group }}', d)).to.equal('[ip0a5f0c09.example. 5f] map[0:whole b:5f c:0c]');
      expect(render('{{$.Name}}{{- "  x  " -}}  y', data({ Name: 'n' }))).to.equal('n  x  y');
    });

    it('trims around {{- -}}, drops comments, runs pipelines and parenthesized chains', () => {
      const q: GoObject = { goType: '*dns.Question', field: (n) => (n === 'Name' ? 'Q.example.' : undefined) };
      const d = data({ Name: 'n.', Message: { goType: '*dns.Msg', field: (n) => (n === 'Question' ? [q] : undefined) } });
      expect(render('a  {{- .Name -}}  b {{/* note */}}c', d)).to.equal('an.b c');
      expect(render('{{ (index .Message.Question 0).Name }}', d)).to.equal('Q.example.');
      // A pipeline passes its value as the last argument: index .Match 0.
      expect(render('{{ 0 | index .Match }}', data({ Match: ['m0'] }))).to.equal('m0');
      expect(() => render('{{ "ff" | parseInt 16 8 }}', d)).to.throw(TemplateExecError, /expected string; got int/);
    });

    it('fails at render time as Go does: index out of range, bad parseInt, unknown field', () => {
      const d = data({ Match: ['a.example.'], Name: 'a.example.' });
      expect(() => render('{{ index .Match 2 }}', d)).to.throw(TemplateExecError, /index out of range: 2/);
      expect(() => render('{{ parseInt "gg" 16 8 }}', d)).to.throw(TemplateExecError, /parsing "gg": invalid syntax/);
      expect(() => render('{{ parseInt "1ff" 16 8 }}', d)).to.throw(TemplateExecError, /value out of range/);
      expect(() => render('{{ parseInt }}', d)).to.throw(TemplateExecError, /want 3 got 0/);
      expect(() => render('{{ .Grup.d }}', d)).to.throw(TemplateExecError, /can't evaluate field Grup/);
      expect(() => render('{{ .Name "x" }}', d)).to.throw(TemplateExecError, /non-function/);
      expect(render('{{ .Name }}', data({ Name: NO_VALUE }))).to.equal('<no value>');
    });

    it('refuses unsupported constructs at parse time, naming them', () => {
      const refused: Array<[string, RegExp]> = [
        ['{{ if .Name }}x{{ end }}', /\{\{if\}\} is not supported/],
        ['{{ range .Match }}{{ . }}{{ end }}', /\{\{range\}\} is not supported/],
        ['{{ $x := .Name }}', /variables/],
        ['{{ printf "%s" .Name }}', /function "printf" is not supported/],
        ['{{ notAFunction }}', /function "notAFunction" not defined/],
        ['{{', /unclosed action/],
        ['{{ .Name ', /unclosed action/],
        ['{{ (index .Match 0 }}', /unclosed left paren/],
      ];
      for (const [src, why] of refused) expect(() => GoTemplate.parse('answer', src), src).to.throw(TemplateSyntaxError, why);
      // Go accepts these at parse time: the arity is checked when run.
      expect(() => GoTemplate.parse('answer', '{{ parseInt }}')).not.to.throw();
    });

    it('prints itself back as Go prints the parse tree (the metric label)', () => {
      expect(GoTemplate.parse('a', '{{ .Name }} 60 IN A {{index .Match 1}} {{- " x" }} {{ (index .Message.Question 0).Name }}').text)
        .to.equal('{{.Name}} 60 IN A {{index .Match 1}}{{" x"}} {{(index .Message.Question 0).Name}}');
    });
  });

  describe('RR text', () => {
    it('reads the record forms of the CoreDNS examples', () => {
      expect(parseRR('ip-10-1-2-3.example. 60 IN A 10.1.2.3')).to.deep.equal({ name: 'ip-10-1-2-3.example', type: 'A', class: 'IN', ttl: 60, data: '10.1.2.3' });
      expect(parseRR('example. IN NS ns0.example.com.')).to.deep.include({ ttl: 3600, data: 'ns0.example.com' });
      expect(parseRR('x.example 60 MX 10 x.example')).to.deep.include({ type: 'MX', data: { preference: 10, exchange: 'x.example' } });
      expect(parseRR('invalid. 60 IN SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)').data).to.deep.equal({
        mname: 'ns.invalid', rname: 'hostmaster.invalid', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: 60,
      });
      expect(parseRR('a 1h IN SOA m r (\n 2 1h 30m 1w 5 ) ; comment').data).to.deep.include({ refresh: 3600, retry: 1800, expire: 604800 });
      expect(parseRR('foogle.com 60 IN CNAME google.com')).to.deep.include({ name: 'foogle.com', data: 'google.com' });
      expect(parseRR('_x._tcp.a. 60 IN SRV 0 5 443 t.a.')).to.deep.include({ data: { priority: 0, weight: 5, port: 443, target: 't.a' } });
      expect(parseRR('a. 60 IN AAAA 2001:DB8:0:0::1').data).to.equal('2001:db8::1');
      expect(parseRR('coredns.invalid. 60 CH TXT "test" two "a \\"q\\""')).to.deep.include({ class: 'CH', data: [Buffer.from('test'), Buffer.from('two'), Buffer.from('a "q"')] });
      expect(parseRR('4.3.2.1.in-addr.arpa. 60 IN PTR ip-1-2-3-4.example.').data).to.equal('ip-1-2-3-4.example');
    });

    it('refuses text that is not one valid record, saying why', () => {
      const bad: Array<[string, RegExp]> = [
        ['test.example.', /no RR type/],
        ['', /empty/],
        ['a. 60 IN A 10.1.2', /bad A address/],
        ['a. 60 IN A <no value>.1.2.3', /A: extra text/],
        ['a. 60 IN A 10.0.0.1 extra', /extra text/],
        ['a. 60 IN MX 70000 b.', /MX preference/],
        ['a. 60 IN CAA 0 issue "x"', /CAA is not supported/],
        ['a. 60 IN BOGUS x', /unknown RR type/],
        ['a..b. 60 IN A 10.0.0.1', /empty label/],
        [`${'x'.repeat(64)}. 60 IN A 10.0.0.1`, /63 octets/],
        ['a. 60 IN SOA m r (1 2 3 4 5', /unclosed parenthesis/],
        ['a. 60 IN TXT "open', /unterminated/],
        ['a. 60 IN A 10.0.0.1\nb. 60 IN A 10.0.0.2', /more than one record/],
      ];
      for (const [text, why] of bad) expect(() => parseRR(text), text).to.throw(RRSyntaxError, why);
    });
  });
});
