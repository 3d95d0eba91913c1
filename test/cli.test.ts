import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGINS } from '../src/plugins/index.js';
import { rcodeOf, tcpQuery, udpQuery } from './support/dns.js';
import { freePort } from './support/server.js';

const CLI = ['--import', 'tsx', 'src/cli.ts'];

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('command line', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-cli-'));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('prints its version', () => {
    const r = run(['--version']);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(r.code).to.equal(0);
    expect(r.out.trim()).to.equal(`clusterdns ${pkg.version}`);
  });

  it('--validate accepts a good Corefile and serves nothing', () => {
    const r = run(['--validate', '--conf', file('good', 'example.org:1053 {\n  errors\n  log\n}\n')]);
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('OK');
  });

  it('refuses an unknown directive with FILE:LINE and what is accepted', () => {
    const p = file('bad', 'example.org {\n  errors\n  frobnicate on\n}\n');
    const r = run(['-conf', p, '--validate']);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`${p}:3: unknown directive frobnicate`);
    expect(r.err).to.contain('supported: ');
  });

  it('refuses an unknown option inside a known directive', () => {
    const p = file('badopt', 'example.org {\n  log {\n    colour red\n  }\n}\n');
    const r = run(['--conf', p, '--validate']);
    expect(r.code).to.equal(1);
    expect(r.err).to.match(new RegExp(`${p}:3: log: unknown option "colour"`));
  });

  it('refuses an unparsable address', () => {
    const p = file('badbind', 'example.org {\n  bind 300.1.1.1\n}\n');
    const r = run(['--conf', p, '--validate']);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`${p}:2: bind: "300.1.1.1" is not an IP address`);
  });

  it('validates the kubeadm default Corefile, or names exactly the plugins still missing', () => {
    const text = readFileSync('Corefile.example', 'utf8');
    const r = run(['--conf', file('kubeadm', text), '--validate']);
    const used = ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'];
    const missing = used.filter((n) => !PLUGINS.some((p) => p.name === n));
    if (missing.length === 0) {
      expect(r.code, r.err).to.equal(0);
    } else {
      expect(r.code).to.equal(1);
      for (const m of missing) expect(r.err).to.contain(m);
      expect(r.err).to.contain('not supported');
    }
  });

  it('rejects unknown flags and bad ports', () => {
    expect(run(['--frob']).code).to.equal(2);
    const r = run(['--port', '70000', '--validate']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('not a port');
  });

  it('serves with --port for blocks without one, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const p = file('serve', 'example.org {\n  bind 127.0.0.1\n  errors\n}\n');
    const child = spawn(process.execPath, [...CLI, '--conf', p, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      for (let i = 0; i < 100 && !err.includes('[INFO] serving'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(err).to.contain('[INFO] serving');
      const a = await udpQuery(port, 'example.org', 'A');
      expect(rcodeOf(a)).to.equal('SERVFAIL', 'no plugin answers: the end of the chain is SERVFAIL');
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('--workers 2 serves UDP and TCP from two processes and stops both on SIGTERM', async () => {
    const port = await freePort();
    const p = file('workers', 'example.org {\n  bind 127.0.0.1\n  errors\n}\n');
    const child = spawn(process.execPath, [...CLI, '--conf', p, '--port', String(port), '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    try {
      for (let i = 0; i < 150 && (err.match(/\[INFO\] serving/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      expect((err.match(/\[INFO\] serving/g) ?? []).length, err).to.equal(2);
      const pids = err.match(/pids=(\d+),(\d+)/);
      expect(pids, err).to.not.equal(null);
      for (let i = 0; i < 10; i++) expect(rcodeOf(await udpQuery(port, 'example.org', 'A'))).to.equal('SERVFAIL');
      expect(rcodeOf(await tcpQuery(port, 'example.org', 'A'))).to.equal('SERVFAIL');
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).to.equal(0);
      for (const pid of [pids![1], pids![2]]) {
        expect(() => process.kill(Number(pid), 0), `worker ${pid} still running`).to.throw();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
