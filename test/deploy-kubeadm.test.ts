// The kubeadm default Corefile (deploy/configmap.yaml), unchanged but for
// its DNS port, run by the command line as in a pod: in-cluster API config
// (a fake API server behind TLS on 127.0.0.1), `forward . /etc/resolv.conf`
// reaching a test upstream on loopback. The child runs in a private mount
// namespace where /etc/resolv.conf and /var/run/secrets are bind/tmpfs
// mounts, so nothing on this machine changes and no query leaves loopback.

import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import dnsPacket from 'dns-packet';
import { endpointSlice, FakeKubeApi, namespace, service } from './support/kube-api.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { httpGet, until } from './support/ops.js';
import { freePort } from './support/server.js';

const FIXED_PORTS = [8080, 8181, 9153];

/** Root (for mount namespaces and port 53 on loopback), unshare and openssl (the API server's certificate). */
function canUnshare(): boolean {
  if (process.getuid?.() !== 0) return false;
  if (spawnSync('openssl', ['version'], { timeout: 5000 }).status !== 0) return false;
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /run && true'], { timeout: 5000 });
  return r.status === 0;
}

async function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

/** A resolver on ADDR:53 (UDP) answering A 192.0.2.53 for everything, logging the names. */
async function startLoopbackResolver(address: string): Promise<{ names: string[]; close(): void }> {
  const names: string[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let q;
    try { q = dnsPacket.decode(msg); } catch { return; }
    const question = q.questions?.[0];
    if (!question) return;
    names.push(`${question.name} ${question.type}`);
    const answers = question.type === 'A' ? [{ name: question.name, type: 'A' as const, ttl: 60, data: '192.0.2.53' }] : [];
    const out = dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers });
    sock.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(53, address, () => resolve()); });
  return { names, close: () => sock.close() };
}

describe('the kubeadm default Corefile, started as in a pod', function () {
  this.timeout(30_000);
  let child: ChildProcess | null = null;
  let api: FakeKubeApi | null = null;
  let proxy: tls.Server | null = null;
  let resolver: { names: string[]; close(): void } | null = null;

  before(async function () {
    if (!canUnshare()) this.skip();
    for (const p of FIXED_PORTS) if (!(await tcpFree(p))) this.skip();
  });
  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    proxy?.close();
    resolver?.close();
    await api?.stop();
  });

  it('validates, syncs, answers cluster and forwarded names, serves health/ready/metrics, and drains on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-kubeadm-'));
    // The API server: in-cluster config speaks HTTPS to KUBERNETES_SERVICE_HOST:PORT.
    api = new FakeKubeApi();
    await api.start();
    api.upsert('namespaces', namespace('default'));
    api.upsert('namespaces', namespace('kube-system'));
    api.upsert('services', service('default', 'kubernetes', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }));
    api.upsert('services', service('kube-system', 'kube-dns', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
    api.upsert('endpointslices', endpointSlice('default', 'kubernetes', 'kubernetes', 'IPv4', [{ addresses: ['192.0.2.100'], conditions: { ready: true } }], [{ name: 'https', port: 6443, protocol: 'TCP' }]));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const apiPort = Number(new URL(api.url).port);
    proxy = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (s) => {
      const u = net.connect(apiPort, '127.0.0.1');
      s.pipe(u).pipe(s);
      s.on('error', () => u.destroy());
      u.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as net.AddressInfo).port;

    // The node's resolver, as /etc/resolv.conf names it: a loopback address of its own, port 53.
    const upstreamAddr = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    resolver = await startLoopbackResolver(upstreamAddr);
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${upstreamAddr}\noptions ndots:1\n`);
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'test-token');
    writeFileSync(join(sa, 'namespace'), 'kube-system');
    writeFileSync(join(sa, 'ca.crt'), readFileSync(join(dir, 'cert.pem')));

    // The ConfigMap's Corefile with only the DNS port changed.
    const { loadAllYaml } = await import('@kubernetes/client-node');
    const cm = loadAllYaml(readFileSync('deploy/configmap.yaml', 'utf8'))[0] as { data: { Corefile: string } };
    const dns = await freePort();
    const text = cm.data.Corefile.replace(/^\.:53 \{/m, `.:${dns} {`);
    expect(text).to.not.equal(cm.data.Corefile);
    const conf = join(dir, 'Corefile');
    writeFileSync(conf, text);

    const script = [
      'set -e',
      'mount -t tmpfs none /run',
      'mkdir -p /run/secrets/kubernetes.io/serviceaccount',
      `cp ${sa}/* /run/secrets/kubernetes.io/serviceaccount/`,
      `mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf`,
      `exec ${process.execPath} --import tsx src/cli.ts --conf ${conf}`,
    ].join('\n');
    child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(proxyPort) },
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    // Serving, and synced (on a loaded machine the first sync can outlast the 5 s start wait).
    expect(await until(() => (err.includes('[INFO] serving') && /\[INFO\] plugin\/kubernetes: synced/.test(err)) || child!.exitCode !== null, 15_000)).to.equal(true, err);
    expect(err).to.contain('[INFO] serving');
    expect(err, err).to.match(/\[INFO\] plugin\/kubernetes: synced/);
    expect(err).to.match(/^\[INFO\] plugin\/reload: Running configuration SHA512 = [0-9a-f]{128}$/m);

    const k = await udpQuery(dns, 'kubernetes.default.svc.cluster.local', 'A');
    expect(rcodeOf(k)).to.equal('NOERROR');
    expect(k.flag_aa).to.equal(true);
    expect(rrLines(k.answers)).to.deep.equal(['kubernetes.default.svc.cluster.local A 10.96.0.1']);
    const ptr = await udpQuery(dns, '10.0.96.10.in-addr.arpa', 'PTR');
    expect(rrLines(ptr.answers)).to.deep.equal(['10.0.96.10.in-addr.arpa PTR kube-dns.kube-system.svc.cluster.local']);
    expect(rcodeOf(await udpQuery(dns, 'nope.default.svc.cluster.local', 'A'))).to.equal('NXDOMAIN');
    const ext = await udpQuery(dns, 'www.example.com', 'A');
    expect(rrLines(ext.answers)).to.deep.equal(['www.example.com A 192.0.2.53']);
    expect(resolver.names).to.include('www.example.com A');
    await udpQuery(dns, 'www.example.com', 'A'); // from the cache now
    expect(resolver.names.filter((n) => n === 'www.example.com A')).to.have.length(1);

    expect((await httpGet(8080, '/health')).body).to.equal('OK');
    expect((await httpGet(8181, '/ready')).status).to.equal(200);
    const metrics = (await httpGet(9153, '/metrics')).body;
    expect(metrics).to.match(new RegExp(`coredns_dns_requests_total\\{server="dns://:${dns}",zone=".",view="",proto="udp",family="1",type="A"\\} [4-9]`));
    // Every query the resolver got (ours, and the loop plugin's HINFO probe) went through forward.
    expect(resolver.names.some((n) => / HINFO$/.test(n))).to.equal(true, 'the loop probe went upstream');
    expect(metrics).to.contain(`coredns_forward_requests_total{to="${upstreamAddr}:53"} ${resolver.names.length}`);
    expect(metrics).to.match(/coredns_cache_hits_total\{[^}]*type="success"[^}]*\} 1/);
    expect(metrics).to.match(/clusterdns_kubernetes_synced\{zones="[^"]*",kind="services"\} 1/);
    expect(err).to.not.match(/\[ERROR\]|Loop .* detected/);

    // SIGTERM: the 5 s lameduck, then exit 0.
    const exit = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    const t0 = Date.now();
    child.kill('SIGTERM');
    expect(await until(async () => (await httpGet(8181, '/ready').then((r) => r.status, () => 0)) === 503, 500)).to.equal(true);
    expect(rcodeOf(await udpQuery(dns, 'kubernetes.default.svc.cluster.local', 'A'))).to.equal('NOERROR');
    expect(await exit).to.equal(0);
    expect(Date.now() - t0).to.be.within(4900, 9000);
  });
});
