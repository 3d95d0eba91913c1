import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The clients pods really use — glibc (getent) and BIND's dig +search —
 * reading a pod's resolv.conf (search path, ndots:5). The server and the
 * clients run in a private network and mount namespace: 127.0.0.1:53 is
 * ours alone there, /etc/resolv.conf is bind-mounted over, and no query
 * can leave the namespace's loopback.
 */

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default}
spec:
  clusterIP: 10.96.0.1
  clusterIPs: [10.96.0.1]
  ports: [{name: https, port: 443, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  clusterIP: 10.96.10.10
  clusterIPs: [10.96.10.10]
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: demo
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
  - addresses: [10.244.1.5]
    conditions: {ready: true}
ports: [{name: http, port: 8080, protocol: TCP}]
`;

function canUseNamespaces(): boolean {
  const r = spawnSync('unshare', ['-m', '-n', 'sh', '-c', 'ip link set lo up'], { timeout: 5000 });
  return r.status === 0 && spawnSync('sh', ['-c', 'command -v dig && command -v getent && command -v nsenter']).status === 0;
}

describe('pod resolvers (glibc getent, dig +search) through a pod resolv.conf', function () {
  this.timeout(30_000);
  let server: ChildProcess | null = null;
  let logs = '';

  before(async function () {
    if (!canUseNamespaces()) {
      // CI installs dig and runs as root; elsewhere say plainly why this is skipped.
      console.log('      (skipped: needs unshare -m -n as root, nsenter, dig, getent)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-pod-'));
    writeFileSync(join(dir, 'cluster.yaml'), MANIFESTS);
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\nsearch demo.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
    writeFileSync(join(dir, 'Corefile'), `.:53 {
    bind 127.0.0.1
    errors
    kubernetes cluster.local in-addr.arpa {
        manifests ${dir}/cluster.yaml
    }
}
`);
    const cli = resolve('src/cli.ts');
    server = spawn('unshare', ['-m', '-n', 'sh', '-c',
      `ip link set lo up && mount --bind ${dir}/resolv.conf /etc/resolv.conf && exec ${process.execPath} --import tsx ${cli} --conf ${dir}/Corefile`],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve('.') });
    server.stderr!.on('data', (d: Buffer) => { logs += d.toString(); });
    server.stdout!.on('data', (d: Buffer) => { logs += d.toString(); });
    for (let i = 0; i < 100 && !logs.includes('[INFO] serving'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(logs, logs).to.contain('[INFO] serving');
  });

  after(() => {
    if (server && server.exitCode === null) server.kill('SIGTERM');
  });

  /** Runs a command inside the server's namespaces (same loopback, same resolv.conf). */
  function inPod(cmd: string[]): { code: number | null; out: string } {
    const r = spawnSync('nsenter', ['-t', String(server!.pid), '-m', '-n', ...cmd], { encoding: 'utf8', timeout: 10_000 });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  it('getent ahosts resolves kubernetes.default through the search path', () => {
    const r = inPod(['getent', 'ahosts', 'kubernetes.default']);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.contain('10.96.0.1');
  });

  it('getent ahosts resolves a short service name in the pod namespace', () => {
    const r = inPod(['getent', 'ahosts', 'web']);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.contain('10.96.10.10');
  });

  it('getent ahosts resolves svc-name.ns.svc', () => {
    const r = inPod(['getent', 'ahosts', 'web.demo.svc']);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.contain('10.96.10.10');
  });

  it('getent fails cleanly for a name that exists nowhere', () => {
    const r = inPod(['getent', 'ahosts', 'nosuchservice']);
    expect(r.code).to.equal(2);
  });

  it('dig +search finds A records and SRV records through the search path', () => {
    const a = inPod(['dig', '+search', '+short', '+tries=1', '+time=2', 'kubernetes.default', 'A']);
    expect(a.out.trim()).to.equal('10.96.0.1');
    const srv = inPod(['dig', '+search', '+short', '+tries=1', '+time=2', '_http._tcp.web.demo.svc', 'SRV']);
    expect(srv.out.trim()).to.equal('0 100 80 web.demo.svc.cluster.local.');
    const short = inPod(['dig', '+search', '+short', '+tries=1', '+time=2', 'web', 'A']);
    expect(short.out.trim()).to.equal('10.96.10.10');
  });
});
