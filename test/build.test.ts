// The built server (npm run build, what `npm start`, the image and `npx
// clusterdns` run) is not the code the other tests run through tsx: its
// Kubernetes client chunk leaves out the parts of client-node we never call
// (build.mjs). This builds into a temporary folder and runs the bundle in API
// mode against the test API server behind TLS, with a CA file, a client
// certificate and a bearer token, the options those left-out parts might
// have been needed for.
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { FakeKubeApi, endpointSlice, namespace, service } from './support/kube-api.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { until } from './support/ops.js';
import { freePort } from './support/server.js';
import { makeCerts, type Certs } from './support/tls.js';

describe('build: the bundled server (dist)', function () {
  this.timeout(90_000);
  let out: string;
  let certs: Certs;
  let api: FakeKubeApi;
  let front: tls.Server;
  const seen = { clientCert: 0, bearer: 0 };

  before(async () => {
    out = mkdtempSync(join(tmpdir(), 'clusterdns-build-'));
    execFileSync(process.execPath, ['build.mjs'], { env: { ...process.env, BUILD_OUTDIR: out }, stdio: ['ignore', 'ignore', 'inherit'] });
    certs = makeCerts();
    api = new FakeKubeApi();
    await api.start(0);
    api.upsert('namespaces', namespace('default'));
    api.upsert('services', service('default', 'web', { clusterIP: '10.96.7.7', clusterIPs: ['10.96.7.7'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] }));
    api.upsert('endpointslices', endpointSlice('default', 'web-x', 'web', 'IPv4', [{ addresses: ['10.244.7.7'], conditions: { ready: true } }], [{ name: 'http', protocol: 'TCP', port: 8080 }]));
    const apiPort = Number(new URL(api.url).port);
    // TLS in front of the plain-HTTP test API: it demands a client certificate
    // signed by the test CA and notes whether requests carry the token.
    front = tls.createServer({
      key: readFileSync(certs.key), cert: readFileSync(certs.cert), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true,
    }, (s) => {
      if (s.authorized) seen.clientCert++;
      const upstream = net.connect(apiPort, '127.0.0.1');
      s.on('data', (d: Buffer) => { if (/\r\nauthorization: Bearer build-test-token\r\n/i.test(d.toString('latin1'))) seen.bearer++; });
      s.pipe(upstream).pipe(s);
      s.on('error', () => upstream.destroy());
      upstream.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    front.close();
    await api.stop();
    certs.remove();
    rmSync(out, { recursive: true, force: true });
  });

  it('loads node built-ins with require(), so their costly ESM getters are never read', () => {
    const chunks = readdirSync(join(out, 'src', 'chunks')).filter((f) => f.endsWith('.js')).map((f) => join(out, 'src', 'chunks', f));
    for (const f of [join(out, 'src', 'cli.js'), ...chunks]) {
      const esmBuiltins = readFileSync(f, 'utf8').match(/^import .* from ["']node:(?!module["'])[a-z_/]+["']/gm) ?? [];
      expect(esmBuiltins, f).to.deep.equal([]);
    }
  });

  it('bundles client-node\'s KubeConfig without the fetch transport or the generated API', () => {
    const client = readdirSync(join(out, 'src', 'chunks')).filter((f) => /^client-.*\.js$/.test(f));
    expect(client).to.have.length(1);
    const file = join(out, 'src', 'chunks', client[0] ?? '');
    const text = readFileSync(file, 'utf8');
    expect(text).to.match(/class _?KubeConfig\b/);
    expect(text, 'undici (llhttp) is bundled').not.to.include('llhttp');
    expect(text, 'the generated API is bundled').not.to.include('CoreV1Api');
    expect(statSync(file).size).to.be.below(1_000_000);
  });

  it('turns on Node\'s compile cache in <tmpdir> before loading the bundle, unless NODE_DISABLE_COMPILE_CACHE=1', () => {
    // TMPDIR, not NODE_COMPILE_CACHE: with that variable set Node would turn the cache on by itself.
    const cached = (env: Record<string, string>): string[] => {
      const tmp = mkdtempSync(join(tmpdir(), 'clusterdns-ccache-'));
      try {
        const { NODE_COMPILE_CACHE: _unset, ...base } = process.env;
        execFileSync(process.execPath, [join(out, 'src', 'cli.js'), '--version'], { env: { ...base, TMPDIR: tmp, ...env }, stdio: 'ignore' });
        const root = join(tmp, 'node-compile-cache');
        return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    };
    // The chunk of src/cli.ts and the chunks it imports: compiled after the cache was on.
    expect(cached({}).length).to.be.at.least(3);
    expect(cached({ NODE_DISABLE_COMPILE_CACHE: '1' })).to.deep.equal([]);
  });

  it('syncs from an HTTPS API server with a CA file, a client certificate and a token, and answers', async () => {
    const frontPort = (front.address() as net.AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-build-run-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config',
      'clusters:', '- name: c', '  cluster:', `    server: https://127.0.0.1:${frontPort}`, `    certificate-authority: ${certs.ca}`,
      'users:', '- name: u', '  user:', `    client-certificate: ${certs.clientCert}`, `    client-key: ${certs.clientKey}`, '    token: build-test-token',
      'contexts:', '- name: x', '  context:', '    cluster: c', '    user: u',
      'current-context: x', '',
    ].join('\n'));
    const port = await freePort();
    writeFileSync(join(dir, 'Corefile'), `cluster.local:${port} {\n  bind 127.0.0.1\n  kubernetes cluster.local {\n    kubeconfig ${kubeconfig}\n  }\n}\n`);
    const child = spawn(process.execPath, [join(out, 'src', 'cli.js'), '--conf', join(dir, 'Corefile')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    try {
      const answered = await until(async () => {
        if (child.exitCode !== null) return true;
        const a = await udpQuery(port, 'web.default.svc.cluster.local', 'A').catch(() => null);
        return a !== null && rcodeOf(a) === 'NOERROR' && (a.answers?.length ?? 0) === 1;
      }, 45_000);
      expect(answered && child.exitCode === null, log).to.equal(true);
      const a = await udpQuery(port, 'web.default.svc.cluster.local', 'A');
      expect(rrLines(a.answers)).to.deep.equal(['web.default.svc.cluster.local A 10.96.7.7']);
      expect(seen.clientCert, 'TLS connections with a verified client certificate').to.be.greaterThan(0);
      expect(seen.bearer, 'requests carrying the bearer token').to.be.greaterThan(0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
