import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGINS } from '../src/plugins/index.js';
import { nearestFlag } from '../src/startup.js';
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
    expect(r.out.split('\n')[0]).to.equal(`clusterdns ${pkg.version}`);
    expect(r.out.split('\n')[1]).to.equal(`${process.platform}/${process.arch}, node ${process.version}`);
  });

  it('-plugins lists every plugin compiled in, in CoreDNS\'s layout', () => {
    const r = run(['-plugins']);
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/^Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n/);
    const listed = r.out.split('Other plugins:\n')[1]!.trim().split('\n').map((l) => l.trim());
    expect(listed).to.deep.equal(PLUGINS.map((p) => `dns.${p.name}`).sort());
  });

  it('--validate reports every problem in the file, each with FILE:LINE, and counts them', () => {
    const p = file('many', [
      'example.org:1053 {', //            1
      '  errors', //                      2
      '  frobnicate on', //               3
      '  log {', //                       4
      '    colour red', //                5
      '  }', //                           6
      '  cache -5', //                    7
      '}', //                             8
      'example.net:99999 {', //           9
      '  bind 300.1.1.1', //              10
      '  errors', //                      11
      '  errors', //                      12
      '  sign db.example.net', //         13
      '}', //                             14
      '',
    ].join('\n'));
    const r = run(['-validate', '-conf', p]);
    expect(r.code).to.equal(1);
    const lines = r.err.trim().split('\n');
    const at = lines.slice(0, -1).map((l) => l.slice(0, l.indexOf(': ')));
    expect(at).to.deep.equal([`${p}:3`, `${p}:5`, `${p}:7`, `${p}:9`, `${p}:10`, `${p}:12`, `${p}:13`], r.err);
    expect(r.err).to.contain(`${p}:3: unknown directive frobnicate`);
    expect(r.err).to.contain(`${p}:13: CoreDNS plugin sign is not supported`);
    expect(lines.at(-1)).to.equal(`${p}: 7 problems`);
  });

  it('--validate stops at a syntax error: the rest of the file has no structure to check', () => {
    const p = file('syntax', 'example.org {\n  errors\n}\n}\nexample.net {\n  frobnicate\n}\n');
    const r = run(['--validate', '--conf', p]);
    expect(r.code).to.equal(1);
    expect(r.err.trim().split('\n')).to.deep.equal([`${p}:4: unexpected '}' outside any block`, `${p}: 1 problem`]);
  });

  it('an unknown flag names the nearest known one', () => {
    const r = run(['-vallidate']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('unknown flag -vallidate; did you mean -validate?');
    const known = ['--conf', '-conf', '--validate', '-validate', '--pidfile', '-dns.port', '-quiet', '--quiet'];
    for (const [typo, near] of [['--conff', '--conf'], ['--pidfle', '--pidfile'], ['-dns.prot', '-dns.port'], ['-quite', '-quiet'], ['--valdate', '--validate']] as const) {
      expect(nearestFlag(typo, known), typo).to.equal(near);
    }
    expect(nearestFlag('--zzzzzzzzzz', known)).to.equal(null);
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

  it('refuses a Corefile with no server blocks (empty, comments or snippets only) instead of serving nothing', function () {
    this.timeout(90_000);
    for (const [name, text] of <Array<[string, string]>>[['empty', ''], ['comments', '# truncated\n\n'], ['snippets', '(common) {\n  errors\n}\n']]) {
      const p = file(name, text);
      const v = run(['--validate', '--conf', p]);
      expect(v.code, `${name}: ${v.out}`).to.equal(1);
      expect(v.err).to.contain(`${p}: no server blocks`);
    }
    // Serving, not only --validate: it exits 1 and never says "serving".
    const p = file('empty', '');
    const s = run(['--conf', p, '--port', '0']);
    expect(s.code, s.err).to.equal(1);
    expect(s.err).to.contain(`${p}: no server blocks`);
    expect(s.out + s.err).not.to.contain('[INFO] serving');
  });

  it('--validate checks the kubeconfig and says what is wrong, at the directive\'s FILE:LINE', function () {
    this.timeout(90_000);
    const good = 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:6443"}\ncontexts:\n- name: ctx\n  context: {cluster: c, user: u}\ncurrent-context: ctx\nusers:\n- name: u\n  user: {token: t}\n';
    const conf = (kc: string, ctx = ''): string => file('kc-corefile', `cluster.local:1053 {\n  kubernetes {\n    kubeconfig ${kc}${ctx}\n  }\n}\n`);
    const refused = (kc: string, why: string, ctx = ''): void => {
      const p = conf(kc, ctx);
      const r = run(['--validate', '--conf', p]);
      expect(r.code, r.out + r.err).to.equal(1);
      expect(r.err).to.contain(`${p}:3: kubernetes: kubeconfig ${kc}: ${why}`);
    };
    refused('/nonexistent', 'cannot read: no such file');
    refused(file('kc-yaml', 'clusters:\n- name: c\n   cluster: {server: x}\n'), 'not valid YAML (line 3');
    refused(file('kc-ctx', good), 'has no context "other" (contexts: ctx)', ' other');
    const ok = run(['--validate', '--conf', conf(file('kc-good', good))]);
    expect(ok.code, ok.err).to.equal(0);
  });

  it('rejects unknown flags and bad ports', () => {
    expect(run(['--frob']).code).to.equal(2);
    const r = run(['--port', '70000', '--validate']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('not a port');
  });

  it('serves with --port for blocks without one, logs CoreDNS\'s way on stdout, keeps a pidfile, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const p = file('serve', 'example.org {\n  bind 127.0.0.1\n  errors\n}\n');
    const pidfile = join(dir, 'serve.pid');
    const child = spawn(process.execPath, [...CLI, '--conf', p, '--port', String(port), '-pidfile', pidfile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      for (let i = 0; i < 100 && !out.includes('[INFO] serving'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).to.contain('[INFO] serving');
      expect(err).to.equal('', 'nothing on stderr');
      const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
      // CoreDNS's banner: server keys, version, platform; then the log lines.
      expect(out, out).to.contain(`\nexample.org.:${port}\nclusterdns-${pkg.version}\n${process.platform}/${process.arch}, node ${process.version}\n[INFO] serving`);
      expect(out).to.match(/^\[INFO\] serving conf=\S+ version=/m);
      expect(readFileSync(pidfile, 'utf8')).to.equal(`${child.pid}\n`);
      const a = await udpQuery(port, 'example.org', 'A');
      expect(rcodeOf(a)).to.equal('SERVFAIL', 'no plugin answers: the end of the chain is SERVFAIL');
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).to.equal(0);
      expect(out).to.contain('[INFO] SIGTERM: Shutting down servers then terminating');
      expect(existsSync(pidfile), 'pidfile removed at exit').to.equal(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('-quiet drops the banner; -log.format json prints one JSON object per log line', async function () {
    this.timeout(90_000);
    const port = await freePort();
    const p = file('quiet', 'example.org {\n  bind 127.0.0.1\n  errors\n}\n');
    for (const [flags, check] of [
      [['-quiet'], (out: string) => { for (const l of out.trim().split('\n')) expect(l).to.match(/^\[INFO\] /); }],
      [['-log.format', 'json'], (out: string) => {
        const first = JSON.parse(out.split('\n')[0]!) as Record<string, unknown>;
        expect(first).to.include({ level: 'info', plugin: 'server' });
        for (const l of out.trim().split('\n')) expect(() => JSON.parse(l), l).to.not.throw();
      }],
    ] as const) {
      const child = spawn(process.execPath, [...CLI, '--conf', p, '--port', String(port), ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      try {
        // SIGTERM only once serving: before its handlers are installed it would just kill the process.
        for (let i = 0; i < 300 && !/serving/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
        expect(out, out).to.match(/serving/);
        const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        child.kill('SIGTERM');
        expect(await exit).to.equal(0);
        check(out);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    const bad = run(['-log.format', 'xml']);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain('"xml" is not a log format; accepted: coredns, json');
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
