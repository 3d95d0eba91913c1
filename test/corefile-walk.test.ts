// The option walker every setup.ts uses: one wording per kind of error,
// each at the option's FILE:LINE; and the shared Fallthrough and root-zone
// helpers.

import { expect } from 'chai';
import type { Directive } from '../src/corefile/ast.js';
import { CorefileError } from '../src/corefile/errors.js';
import { Fallthrough } from '../src/corefile/fallthrough.js';
import { givenTwice, walkOptions, type OptionTable } from '../src/corefile/walk.js';
import { internalZone, ROOT_ZONE, zoneText } from '../src/corefile/zones.js';

const line = (name: string, args: string[] = [], n = 3, block: Directive[] | null = null): Directive => ({ name, args, block, file: 'Corefile', line: n });
const plugin = (opts: Directive[]): Directive => ({ name: 'demo', args: [], block: opts, file: 'Corefile', line: 2 });

interface Demo { ttl: number; tags: string[]; quiet: boolean }
const TABLE: OptionTable<Demo> = {
  ttl: { args: [1, 1], usage: 'ttl SECONDS', apply(d, o) { d.ttl = Number(o.args[0]); } },
  tag: { args: [1, Infinity], usage: 'tag NAME...', repeat: true, apply(d, o) { d.tags.push(...o.args); } },
  quiet: { args: [0, 0], usage: 'quiet', apply(d) { d.quiet = true; } },
};
const fresh = (): Demo => ({ ttl: 0, tags: [], quiet: false });

function fails(fn: () => unknown, at: number, message: string): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).to.be.instanceOf(CorefileError);
  expect((err as CorefileError).message).to.equal(`Corefile:${at}: ${message}`);
}

describe('corefile option walker', () => {
  it('applies each option in order and reports which were given', () => {
    const d = fresh();
    const seen = walkOptions(plugin([line('ttl', ['5']), line('tag', ['a']), line('tag', ['b', 'c'], 5)]), 'demo', TABLE, d);
    expect(d).to.deep.equal({ ttl: 5, tags: ['a', 'b', 'c'], quiet: false });
    expect([...seen]).to.deep.equal(['ttl', 'tag']);
    expect([...walkOptions({ ...plugin([]), block: null }, 'demo', TABLE, fresh())]).to.deep.equal([]);
  });

  it('words each kind of error one way, at the line of the option', () => {
    fails(() => walkOptions(plugin([line('ttl', ['1']), line('ttl', ['2'], 4)]), 'demo', TABLE, fresh()), 4, 'demo: option "ttl" is given twice; give it once');
    fails(() => walkOptions(plugin([line('ttl')]), 'demo', TABLE, fresh()), 3, 'demo: option "ttl": wrong number of arguments (got 0); usage: ttl SECONDS');
    fails(() => walkOptions(plugin([line('quiet', ['yes'])]), 'demo', TABLE, fresh()), 3, 'demo: option "quiet": wrong number of arguments (got 1); usage: quiet');
    fails(() => walkOptions(plugin([line('tll', ['1'])]), 'demo', TABLE, fresh()), 3, 'demo: unknown option "tll"; accepted: ttl, tag, quiet');
    fails(() => walkOptions(plugin([line('ttl', ['1'], 3, [])]), 'demo', TABLE, fresh()), 3, 'demo: option "ttl" takes no block');
    fails(() => walkOptions(plugin([line('x')]), 'demo', {}, null), 3, 'demo: unknown option "x"; demo takes no options');
    fails(() => walkOptions(plugin([line('tls')]), 'demo', TABLE, fresh(), { unsupported: { tls: 'no TLS here' } }), 3, 'demo: option "tls" is not supported: no TLS here');
    fails(() => { throw givenTwice(line('disable', ['success'], 7), 'demo', 'disable success'); }, 7, 'demo: option "disable success" is given twice; give it once');
  });

  it('hands lines that name no option to `other`, and names it among the accepted', () => {
    const taken: string[] = [];
    const other = { take: (o: Directive) => (o.name.startsWith('10.') ? (taken.push(o.name), true) : false), hint: 'or an inline "IP NAME..." line' };
    walkOptions(plugin([line('10.0.0.1', ['a']), line('quiet')]), 'demo', TABLE, fresh(), { other });
    expect(taken).to.deep.equal(['10.0.0.1']);
    fails(() => walkOptions(plugin([line('bogus')]), 'demo', TABLE, fresh(), { other }), 3, 'demo: unknown option "bogus"; accepted: ttl, tag, quiet, or an inline "IP NAME..." line');
  });
});

describe('fallthrough and the root zone', () => {
  it('reads fallthrough [ZONES...] one way for every plugin', () => {
    expect(Fallthrough.never.enabled).to.equal(false);
    expect(Fallthrough.never.matches('a.example')).to.equal(false);
    const all = Fallthrough.parse(line('fallthrough'), 'hosts');
    expect(all.enabled).to.equal(true);
    expect(all.matches('anything.example')).to.equal(true);
    const some = Fallthrough.parse(line('fallthrough', ['Example.ORG.', '10.0.0.0/24']), 'hosts');
    expect(some.zones).to.deep.equal(['example.org', '0.0.10.in-addr.arpa']);
    expect(some.matches('www.example.org')).to.equal(true);
    expect(some.matches('example.org')).to.equal(true);
    expect(some.matches('5.0.0.10.in-addr.arpa')).to.equal(true);
    expect(some.matches('example.net')).to.equal(false);
    expect(Fallthrough.parse(line('fallthrough', ['.']), 'hosts').matches('x.y')).to.equal(true);
    fails(() => Fallthrough.parse(line('fallthrough', ['example.org:53']), 'hosts'), 3, 'hosts: zone "example.org:53" must not carry a port');
  });

  it('spells the root "" inside and "." to users', () => {
    expect(ROOT_ZONE).to.equal('');
    expect(internalZone('.')).to.equal('');
    expect(internalZone('example.org')).to.equal('example.org');
    expect(zoneText('')).to.equal('.');
    expect(zoneText('example.org')).to.equal('example.org');
  });
});
