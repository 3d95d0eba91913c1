import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, reloaderFor } from '../src/app.js';
import { parseCorefile, loadCorefile } from '../src/corefile/parse.js';
import { RCODE } from '../src/dns/constants.js';
import { records } from '../src/dns/reply.js';
import { setLogSink } from '../src/log.js';
import { DURATION_BOUNDS } from '../src/metrics/dns.js';
import { PLUGINS } from '../src/plugins/index.js';
import { parsePrometheus } from '../src/plugins/prometheus/setup.js';
import type { PluginDefinition, Request } from '../src/server/plugin.js';
import { answerPlugin } from './support/answer-plugin.js';
import { queryBytes, rcodeOf, tcpQuery, udpQuery, udpRaw } from './support/dns.js';
import { httpGet, until } from './support/ops.js';
import { freePort, startCorefile } from './support/server.js';
import { startUpstream } from './support/upstream.js';

/** `fake`: NXDOMAIN for nx.*, an A record for everything else, as plugin "fake". */
const fakePlugin: PluginDefinition = {
  name: 'fake',
  setup: () => ({
    name: 'fake',
    serve(req: Request) {
      if (req.lname.startsWith('throw.')) throw new Error('boom');
      const nx = req.lname.startsWith('nx.');
      return records(nx ? RCODE.NXDOMAIN : RCODE.NOERROR, 'fake', true, nx || req.type !== 1 ? [] : [{ name: req.name, type: 'A', ttl: 5, data: '192.0.2.7' }]);
    },
  }),
};

const plugins = [...PLUGINS, answerPlugin, fakePlugin];

interface Line { name: string; labels: Record<string, string>; value: number }

function parseExposition(text: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `want`. */
function sum(lines: Line[], name: string, want: Record<string, string> = {}): number {
  return lines.filter((l) => l.name === name && Object.entries(want).every(([k, v]) => l.labels[k] === v)).reduce((a, l) => a + l.value, 0);
}

async function scrape(port: number): Promise<Line[]> {
  const r = await httpGet(port, '/metrics');
  expect(r.status).to.equal(200);
  expect(r.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
}

describe('prometheus', function () {
  this.timeout(10_000);
  before(() => setLogSink(() => undefined));
  after(() => setLogSink(null));

  it('parses prometheus [ADDRESS] and refuses options it lacks', () => {
    const d = (t: string) => parseCorefile(`. {\n${t}\n}\n`, { file: 'p' }).blocks[0]!.directives[0]!;
    expect(parsePrometheus(d('prometheus'))).to.deep.equal({ host: 'localhost', port: 9153 });
    expect(parsePrometheus(d('prometheus :9153'))).to.deep.equal({ host: '', port: 9153 });
    expect(parsePrometheus(d('prometheus 0.0.0.0:9253'))).to.deep.equal({ host: '0.0.0.0', port: 9253 });
    expect(() => parsePrometheus(d('prometheus {\n tls web.yml\n}'))).to.throw(/p:3: prometheus: option "tls" is not supported/);
    expect(() => parsePrometheus(d('prometheus a b'))).to.throw(/wrong number of arguments/);
  });

  it('counts queries refused before any block (no zone, a class nobody serves) under zone "dropped", as CoreDNS', async () => {
    const mp = await freePort();
    const r = await startCorefile(`example.org {\n  prometheus 127.0.0.1:${mp}\n  fake\n}\nother.org {\n  prometheus 127.0.0.1:${mp}\n  answer\n}\n`, { plugins });
    try {
      for (const query of [udpQuery, tcpQuery]) {
        expect(rcodeOf(await query(r.port, 'www.elsewhere.net', 'A'))).to.equal('REFUSED');
        expect(rcodeOf(await query(r.port, 'www.example.org', 'TXT', { qclass: 'CH' }))).to.equal('REFUSED');
        expect(rcodeOf(await query(r.port, 'www.example.org', 'A'))).to.equal('NOERROR');
      }
      const m = await scrape(mp);
      const dropped = { server: `dns://127.0.0.1:${r.port}`, zone: 'dropped', view: '' };
      // Two blocks with prometheus on one listener: still counted once.
      expect(sum(m, 'coredns_dns_requests_total', { ...dropped, proto: 'udp', family: '1', type: 'A' })).to.equal(1);
      expect(sum(m, 'coredns_dns_requests_total', { ...dropped, proto: 'udp', family: '1', type: 'TXT' })).to.equal(1);
      expect(sum(m, 'coredns_dns_requests_total', { ...dropped, proto: 'tcp' })).to.equal(2);
      expect(sum(m, 'coredns_dns_responses_total', { ...dropped, rcode: 'REFUSED', plugin: '' })).to.equal(4);
      expect(sum(m, 'coredns_dns_response_size_bytes_count', dropped)).to.equal(4);
      expect(sum(m, 'coredns_dns_requests_total', { zone: 'example.org.' })).to.equal(2);
      expect(sum(m, 'coredns_dns_requests_total')).to.equal(6);
    } finally {
      await r.stop();
    }
  });

  it("counts known queries by type, proto, rcode and plugin, with CoreDNS's names and labels", async () => {
    const mp = await freePort();
    const r = await startCorefile(`example.org {\n  prometheus 127.0.0.1:${mp}\n  fake\n}\nother.org {\n  answer\n}\n`, { plugins });
    try {
      for (let i = 0; i < 3; i++) await udpQuery(r.port, 'www.example.org', 'A');
      for (let i = 0; i < 2; i++) await udpQuery(r.port, 'www.example.org', 'AAAA');
      await udpQuery(r.port, 'www.example.org', 'MX');
      await udpQuery(r.port, 'www.example.org', 'SPF'); // not a monitored type: "other"
      for (let i = 0; i < 2; i++) expect(rcodeOf(await udpQuery(r.port, 'nx.example.org', 'A'))).to.equal('NXDOMAIN');
      expect(rcodeOf(await udpQuery(r.port, 'throw.example.org', 'A'))).to.equal('SERVFAIL');
      await udpQuery(r.port, 'www.example.org', 'A', { edns: 1232, do: true });
      await tcpQuery(r.port, 'www.example.org', 'A');
      await udpQuery(r.port, 'www.other.org', 'A'); // a block without prometheus: not counted
      expect(await udpRaw(r.port, queryBytes('www.elsewhere.net', 'A'))).to.not.equal(null); // REFUSED, no block

      const m = await scrape(mp);
      const server = `dns://127.0.0.1:${r.port}`;
      const base = { server, zone: 'example.org.', view: '' };
      const req = (proto: string, type: string) => sum(m, 'coredns_dns_requests_total', { ...base, proto, family: '1', type });
      expect(req('udp', 'A')).to.equal(7);
      expect(req('tcp', 'A')).to.equal(1);
      expect(req('udp', 'AAAA')).to.equal(2);
      expect(req('udp', 'MX')).to.equal(1);
      expect(req('udp', 'other')).to.equal(1);
      expect(sum(m, 'coredns_dns_requests_total', { zone: 'example.org.' })).to.equal(12);
      expect(sum(m, 'coredns_dns_requests_total', { zone: 'other.org.' })).to.equal(0);
      expect(sum(m, 'coredns_dns_requests_total', { zone: 'dropped' })).to.equal(1, 'the query no block took');

      const resp = (rcode: string, plugin: string) => sum(m, 'coredns_dns_responses_total', { ...base, rcode, plugin });
      expect(resp('NOERROR', 'fake')).to.equal(9);
      expect(resp('NXDOMAIN', 'fake')).to.equal(2);
      expect(resp('SERVFAIL', '')).to.equal(1, 'the server answered for the throwing plugin: empty plugin label');
      expect(sum(m, 'coredns_panics_total')).to.equal(1);
      expect(sum(m, 'coredns_dns_do_requests_total', { server, zone: 'example.org.' })).to.equal(1);

      // Histograms: cumulative buckets, +Inf = _count, CoreDNS's bounds.
      const dur = m.filter((l) => l.name === 'coredns_dns_request_duration_seconds_bucket' && l.labels.zone === 'example.org.' && l.labels.type === 'A');
      expect(dur.map((l) => l.labels.le)).to.deep.equal([...DURATION_BOUNDS.map(String), '+Inf']);
      expect(dur.at(-1)!.value).to.equal(8);
      for (let i = 1; i < dur.length; i++) expect(dur[i]!.value).to.be.at.least(dur[i - 1]!.value);
      expect(sum(m, 'coredns_dns_request_duration_seconds_count', { ...base, type: 'A' })).to.equal(8);
      expect(sum(m, 'coredns_dns_request_duration_seconds_sum', { ...base, type: 'A' })).to.be.above(0);
      expect(sum(m, 'coredns_dns_request_size_bytes_count', { ...base, proto: 'udp' })).to.equal(11);
      expect(sum(m, 'coredns_dns_request_size_bytes_count', { ...base, proto: 'tcp' })).to.equal(1);
      expect(sum(m, 'coredns_dns_response_size_bytes_bucket', { ...base, proto: 'udp', le: '0' })).to.equal(0);
      expect(sum(m, 'coredns_dns_response_size_bytes_bucket', { ...base, proto: 'udp', le: '511' })).to.equal(11);
      expect(sum(m, 'coredns_dns_response_size_bytes_sum', { ...base, proto: 'udp' })).to.be.above(11 * 12);

      expect(sum(m, 'coredns_plugin_enabled', { ...base, name: 'fake' })).to.equal(1);
      expect(sum(m, 'coredns_plugin_enabled', { ...base, name: 'prometheus' })).to.equal(1);
      expect(m.find((l) => l.name === 'coredns_build_info')?.labels).to.include.keys('version', 'revision', 'goversion');
      // The version is package.json's, as -version and the banner print it.
      const pkgVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
      expect(m.find((l) => l.name === 'coredns_build_info')?.labels.version).to.equal(pkgVersion);
      expect(sum(m, 'coredns_reload_failed_total')).to.equal(0);
      expect(m.some((l) => l.name === 'process_cpu_user_seconds_total')).to.equal(true);
      expect(m.some((l) => l.name === 'process_resident_memory_bytes')).to.equal(true);
    } finally {
      await r.stop();
    }
  });

  it('exports the cache and forward counters, and keeps counters across a reload', async () => {
    const up = await startUpstream();
    const mp = await freePort();
    const dns = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-metrics-'));
    const conf = join(dir, 'Corefile');
    const text = (extra: string) => `.:${dns} {\n  bind 127.0.0.1\n  prometheus 127.0.0.1:${mp}\n  cache 30\n  forward . ${up.hostPort}\n${extra}}\n`;
    writeFileSync(conf, text(''));
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    try {
      await udpQuery(dns, 'www.example.net', 'A');
      await udpQuery(dns, 'www.example.net', 'A');
      let m = await scrape(mp);
      expect(sum(m, 'coredns_forward_requests_total', { to: up.hostPort })).to.equal(1);
      expect(sum(m, 'coredns_forward_responses_total', { to: up.hostPort, rcode: 'NOERROR' })).to.equal(1);
      expect(sum(m, 'coredns_proxy_request_duration_seconds_count', { proxy_name: 'forward', to: up.hostPort, rcode: 'NOERROR' })).to.equal(1);
      expect(sum(m, 'coredns_forward_request_duration_seconds_count', { to: up.hostPort, rcode: 'NOERROR' })).to.equal(1);
      expect(sum(m, 'coredns_cache_requests_total', { server: `dns://127.0.0.1:${dns}`, zones: '.' })).to.equal(2);
      expect(sum(m, 'coredns_cache_hits_total', { type: 'success' })).to.equal(1);
      expect(sum(m, 'coredns_cache_misses_total')).to.equal(1);
      expect(sum(m, 'coredns_cache_entries', { type: 'success' })).to.equal(1);
      expect(sum(m, 'coredns_forward_healthcheck_broken_total')).to.equal(0);

      // A reload replaces the plugin instances: counters carry on, gauges are the new instance's.
      writeFileSync(conf, text('  errors\n'));
      expect(await reloaderFor(server)!.reload('test')).to.equal(true);
      await udpQuery(dns, 'other.example.net', 'A');
      m = await scrape(mp);
      expect(sum(m, 'coredns_forward_requests_total', { to: up.hostPort })).to.equal(2);
      expect(sum(m, 'coredns_cache_requests_total')).to.equal(3);
      expect(sum(m, 'coredns_cache_entries', { type: 'success' })).to.equal(1, 'the new cache holds only the new name');
      expect(sum(m, 'coredns_dns_requests_total', { type: 'A' })).to.equal(3);
      expect(sum(m, 'coredns_plugin_enabled', { name: 'errors' })).to.equal(1);
    } finally {
      await server.stop(500);
      await up.stop();
    }
  });

  it('counts failed reloads', async () => {
    const mp = await freePort();
    const dns = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-metrics-'));
    const conf = join(dir, 'Corefile');
    writeFileSync(conf, `.:${dns} {\n  bind 127.0.0.1\n  prometheus 127.0.0.1:${mp}\n  answer\n}\n`);
    const server = createServer(loadCorefile(conf), { plugins, conf });
    await server.start();
    try {
      writeFileSync(conf, `.:${dns} {\n  bind 127.0.0.1\n  prometheus 127.0.0.1:${mp}\n  frobnicate\n}\n`);
      expect(await reloaderFor(server)!.reload('test')).to.equal(false);
      expect(await reloaderFor(server)!.reload('test')).to.equal(false, 'same broken content: not tried again');
      expect(await reloaderFor(server)!.reload('SIGUSR1', true)).to.equal(false);
      expect(sum(await scrape(mp), 'coredns_reload_failed_total')).to.equal(2);
      expect(rcodeOf(await udpQuery(dns, 'x.example', 'A'))).to.equal('NOERROR');
    } finally {
      await server.stop(500);
    }
  });

  it('with --workers, the primary serves the sum over the workers', async function () {
    this.timeout(15_000);
    const dns = await freePort();
    const mp = await freePort();
    const conf = join(mkdtempSync(join(tmpdir(), 'clusterdns-metrics-')), 'Corefile');
    writeFileSync(conf, `a.example:${dns} {\n  bind 127.0.0.1\n  prometheus 127.0.0.1:${mp}\n  hosts /dev/null {\n    192.0.2.10 www.a.example\n  }\n}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--conf', conf, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      expect(await until(() => (err.match(/\[INFO\] serving/g) ?? []).length === 2, 10_000)).to.equal(true, err);
      for (let i = 0; i < 20; i++) expect(rcodeOf(await udpQuery(dns, 'www.a.example', 'A'))).to.equal('NOERROR');
      for (let i = 0; i < 3; i++) {
        const m = await scrape(mp);
        expect(sum(m, 'coredns_dns_requests_total', { zone: 'a.example.', type: 'A' })).to.equal(20);
        expect(sum(m, 'coredns_build_info')).to.equal(1);
        expect(sum(m, 'coredns_plugin_enabled', { name: 'hosts' })).to.equal(1);
      }
      const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
