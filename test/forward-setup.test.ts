import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../src/app.js';
import { CorefileError } from '../src/corefile/errors.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { parseForward, parseResolvConf, parseTo, readResolvConf } from '../src/plugins/forward/setup.js';
import type { Directive } from '../src/corefile/ast.js';

const dir = (args: string[], block: Directive[] | null = null): Directive => ({ name: 'forward', args, block, file: 'Corefile', line: 3 });
const opt = (name: string, ...args: string[]): Directive => ({ name, args, block: null, file: 'Corefile', line: 4 });

function fails(fn: () => unknown, reason: RegExp, line?: number): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err, `expected a CorefileError matching ${reason}`).to.be.instanceOf(CorefileError);
  expect((err as CorefileError).reason).to.match(reason);
  if (line !== undefined) expect((err as CorefileError).line).to.equal(line);
}

describe('forward: configuration', () => {
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'clusterdns-fwd-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads the TO forms: IP, IP:PORT, dns://, [v6]:PORT', () => {
    expect(parseTo('10.0.0.1', { file: 'C', line: 1 })).to.deep.equal([{ host: '10.0.0.1', port: 53 }]);
    expect(parseTo('10.0.0.1:5353', { file: 'C', line: 1 })).to.deep.equal([{ host: '10.0.0.1', port: 5353 }]);
    expect(parseTo('dns://10.0.0.1', { file: 'C', line: 1 })).to.deep.equal([{ host: '10.0.0.1', port: 53 }]);
    expect(parseTo('dns://10.0.0.1:1053', { file: 'C', line: 1 })).to.deep.equal([{ host: '10.0.0.1', port: 1053 }]);
    expect(parseTo('[2001:db8::1]:5300', { file: 'C', line: 1 })).to.deep.equal([{ host: '2001:db8::1', port: 5300 }]);
    expect(parseTo('2001:db8::1', { file: 'C', line: 1 })).to.deep.equal([{ host: '2001:db8::1', port: 53 }]);
  });

  it('refuses transports other than dns:// and tls://, host names and bad ports, with a clear message', () => {
    fails(() => parseForward(dir(['.', 'grpc://9.9.9.9'])), /grpc:\/\/ is not supported/, 3);
    fails(() => parseForward(dir(['.', 'https://9.9.9.9'])), /https:\/\/ is not supported/);
    fails(() => parseForward(dir(['.', 'dns.google'])), /not an IP address/);
    fails(() => parseForward(dir(['.', '10.0.0.1:0'])), /invalid address/);
    fails(() => parseForward(dir(['.', '10.0.0.1:99999'])), /invalid address/);
    fails(() => parseForward(dir(['.'])), /wrong number of arguments/);
    fails(() => parseForward(dir(['example.org:53', '10.0.0.1'])), /takes no port/);
  });

  it('reads nameserver lines of a resolv.conf file, all on port 53', () => {
    const text = [
      '# generated',
      'search default.svc.cluster.local svc.cluster.local',
      'nameserver 127.0.0.1',
      'nameserver   ::1 # comment',
      'nameserver not-an-ip',
      'options ndots:5',
      ' ; nameserver 10.9.9.9',
      'nameserver 10.1.2.3',
    ].join('\n');
    expect(parseResolvConf(text)).to.deep.equal(['127.0.0.1', '::1', '10.1.2.3']);
    const path = join(tmp, 'resolv.conf');
    writeFileSync(path, text);
    expect(readResolvConf(path, { file: 'C', line: 1 })).to.deep.equal([
      { host: '127.0.0.1', port: 53 }, { host: '::1', port: 53 }, { host: '10.1.2.3', port: 53 },
    ]);
    // A TO containing a slash is a resolv.conf path (parsed only: no server is started here).
    const r = parseForward(dir(['.', path, '10.0.0.9:1053']));
    expect(r.to.map((a) => `${a.host}:${a.port}`)).to.deep.equal(['127.0.0.1:53', '::1:53', '10.1.2.3:53', '10.0.0.9:1053']);
    fails(() => parseForward(dir(['.', join(tmp, 'missing.conf')])), /cannot read .*missing\.conf: ENOENT/);
    const empty = join(tmp, 'empty.conf');
    writeFileSync(empty, 'search x\n');
    fails(() => parseForward(dir(['.', empty])), /no nameserver lines/);
  });

  it('allows at most 15 upstreams', () => {
    const ips = Array.from({ length: 15 }, (_, i) => `10.0.0.${i + 1}`);
    expect(parseForward(dir(['.', ...ips])).to).to.have.length(15);
    fails(() => parseForward(dir(['.', ...ips, '10.0.0.99'])), /16 upstreams; at most 15/);
  });

  it('reads the options and their defaults', () => {
    const d = parseForward(dir(['Example.ORG.', '10.0.0.1']));
    expect(d.from).to.equal('example.org');
    expect(d.policy).to.equal('random');
    expect(d.transport.maxFails).to.equal(2);
    expect(d.transport.healthCheckMs).to.equal(500);
    expect(d.transport.expireMs).to.equal(10_000);
    expect(d.readTimeoutMs).to.equal(2000);
    expect(d.maxConcurrent).to.equal(0);
    expect(parseForward(dir(['.', '10.0.0.1'])).from).to.equal('');

    const o = parseForward(dir(['.', '10.0.0.1'], [
      opt('except', 'Internal.Example.', 'corp'),
      opt('force_tcp'),
      opt('prefer_udp'),
      opt('expire', '30s'),
      opt('max_fails', '0'),
      opt('policy', 'round_robin'),
      opt('health_check', '2s', 'no_rec', 'domain', 'example.net'),
      opt('max_concurrent', '1000'),
      opt('next', 'NXDOMAIN', 'servfail'),
      opt('failover', 'REFUSED'),
      opt('read_timeout', '1500ms'),
    ]));
    expect(o.except).to.deep.equal(['internal.example', 'corp']);
    expect(o.forceTcp && o.preferUdp && o.transport.forceTcp).to.equal(true);
    expect(o.transport.expireMs).to.equal(30_000);
    expect(o.transport.maxFails).to.equal(0);
    expect(o.policy).to.equal('round_robin');
    expect(o.transport.healthCheckMs).to.equal(2000);
    expect(o.transport.healthCheckRecursion).to.equal(false);
    expect(o.transport.healthCheckDomain).to.equal('example.net');
    expect(o.maxConcurrent).to.equal(1000);
    expect([...o.next]).to.deep.equal([3, 2]);
    expect([...o.failover]).to.deep.equal([5]);
    expect(o.readTimeoutMs).to.equal(1500);
    expect(o.transport.healthCheckTimeoutMs).to.equal(1000);
  });

  it('refuses bad options, pointing at their line', () => {
    const f = (o: Directive) => () => parseForward(dir(['.', '10.0.0.1'], [o]));
    fails(f(opt('policy', 'fastest')), /unknown policy "fastest"; accepted: random, round_robin, sequential/, 4);
    fails(f(opt('maxfails', '3')), /unknown option "maxfails"; accepted: except, tls, tls_servername, force_tcp/, 4);
    fails(f(opt('max_fails', '-1')), /invalid max_fails/);
    fails(f(opt('max_concurrent', '0')), /invalid max_concurrent/);
    fails(f(opt('tls', 'a', 'b', 'c')), /forward: cannot read certificate file a: ENOENT/, 4);
    fails(f(opt('read_timeout', '10s')), /too long: clients retry after 5s/);
    fails(f(opt('read_timeout', '0s')), /greater than 0/);
    fails(f(opt('expire', 'soon')), /invalid duration/);
    fails(f(opt('next', 'NXDOMIAN')), /unknown RCODE "NXDOMIAN"/);
    fails(f(opt('failover', 'NOERROR')), /NOERROR cannot be used/);
    fails(f(opt('except')), /forward: option "except": wrong number of arguments \(got 0\); usage: except IGNORED_NAMES\.\.\./);
    fails(f(opt('next')), /forward: option "next": wrong number of arguments \(got 0\); usage: next RCODE\.\.\./);
    fails(f(opt('force_tcp', 'yes')), /wrong number of arguments/);
    fails(f(opt('health_check', '1s', 'sometimes')), /unexpected "sometimes"/);
    fails(() => parseForward(dir(['.', '10.0.0.1'], [opt('policy', 'random'), opt('policy', 'sequential')])), /given twice/);
  });

  it('accepts several forward lines in one block; errors name the line', () => {
    const ok = parseCorefile('. {\n  forward . 10.0.0.1\n  forward example.org 10.0.0.2\n}\n', { file: 'Corefile' });
    expect(() => createServer(ok, { defaultPort: 0 })).not.to.throw();
    const bad = parseCorefile('. {\n  forward . 10.0.0.1\n  forward example.org https://10.0.0.2\n}\n', { file: 'Corefile' });
    fails(() => createServer(bad, { defaultPort: 0 }), /https/, 3);
  });
});
