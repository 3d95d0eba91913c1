// Port 53 the way the image binds it, without a container runtime: a copy of
// this node binary given cap_net_bind_service=+ep (the Dockerfile's setcap),
// run as a non-root user whose bounding set holds only NET_BIND_SERVICE and
// with no_new_privs set — what runc does for CoreDNS's Deployment
// securityContext (runAsNonRoot, drop ALL, add NET_BIND_SERVICE,
// allowPrivilegeEscalation: false). Everything runs in a private network
// namespace with only loopback. Needs root (setcap, setpriv, unshare -n).

import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { until } from './support/ops.js';

const UID = 65532; // the image's user (distroless "nonroot")
const CAP_NET_BIND_SERVICE = 10;

function available(): boolean {
  if (process.getuid?.() !== 0) return false;
  for (const [cmd, arg] of [['setcap', '-v'], ['setpriv', '--version'], ['unshare', '--version'], ['nsenter', '--version'], ['ip', '-V']] as const) {
    const r = spawnSync(cmd, [arg], { timeout: 5000 });
    if (r.error) return false;
  }
  return spawnSync('unshare', ['-n', 'true'], { timeout: 5000 }).status === 0;
}

describe('port 53 as a non-root user holding only CAP_NET_BIND_SERVICE (the image\'s setcap)', function () {
  this.timeout(60_000);
  let dir = '';
  const children: ChildProcess[] = [];

  before(function () {
    if (!available()) {
      console.log('      (skipped: needs root, setcap, setpriv, unshare, nsenter, ip)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-cap-'));
    chmodSync(dir, 0o755);
    copyFileSync(process.execPath, join(dir, 'node-cap'));
    copyFileSync(process.execPath, join(dir, 'node-plain'));
    chmodSync(join(dir, 'node-cap'), 0o755);
    chmodSync(join(dir, 'node-plain'), 0o755);
    const set = spawnSync('setcap', ['cap_net_bind_service=+ep', join(dir, 'node-cap')], { encoding: 'utf8' });
    expect(set.status, set.stderr).to.equal(0);
    writeFileSync(join(dir, 'Corefile'), '.:53 {\n  bind 127.0.0.1\n  errors\n  hosts /dev/null {\n    192.0.2.53 www.example.test\n  }\n}\n');
    chmodSync(join(dir, 'Corefile'), 0o644);
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** The server in a fresh network namespace, as UID with `bounding` as its capability bounding set and no_new_privs. */
  function start(node: string, bounding: string): { child: ChildProcess; out: () => string } {
    const cmd = [
      'ip link set lo up',
      `exec setpriv --reuid=${UID} --regid=${UID} --clear-groups --inh-caps=-all --bounding-set=${bounding} --no-new-privs `
        + `${join(dir, node)} --import tsx ${resolve('src/cli.ts')} -conf ${join(dir, 'Corefile')}`,
    ].join(' && ');
    const child = spawn('unshare', ['-n', 'sh', '-c', cmd], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: resolve('.'),
      // tsx keeps its cache under TMPDIR per user; HOME for anything else that looks.
      env: { ...process.env, HOME: dir, TMPDIR: tmpdir() },
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    return { child, out: () => out };
  }

  const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.on('exit', (code) => r(code))));

  it('binds :53 with the file capability, holds nothing else, and answers over UDP on loopback', async () => {
    const { child, out } = start('node-cap', '-all,+net_bind_service');
    expect(await until(() => out().includes('[INFO] serving') || child.exitCode !== null, 30_000)).to.equal(true, out());
    expect(out()).to.contain('[INFO] serving');
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).to.equal(String(UID));
    expect(BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)![1]}`)).to.equal(1n << BigInt(CAP_NET_BIND_SERVICE), 'effective: NET_BIND_SERVICE only');
    expect(BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)/m.exec(status)![1]}`)).to.equal(1n << BigInt(CAP_NET_BIND_SERVICE));
    expect(/^NoNewPrivs:\s+(\d)/m.exec(status)![1]).to.equal('1');
    // A query from inside the same network namespace (only loopback there).
    const script = `
      const dgram = require('node:dgram');
      const q = Buffer.from('123401000001000000000000' + '03777777076578616d706c650474657374' + '00' + '0001' + '0001', 'hex');
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, 5000);
      s.on('message', (m) => { clearTimeout(t); console.log((m[3] & 15) + ' ' + m.readUInt16BE(6) + ' ' + [...m.subarray(-4)].join('.')); s.close(); });
      s.send(q, 53, '127.0.0.1');`;
    const q = spawnSync('nsenter', ['-t', String(child.pid), '-n', process.execPath, '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(q.stdout.trim(), q.stderr).to.equal('0 1 192.0.2.53', 'NOERROR, one answer, the hosts entry');
    child.kill('SIGTERM');
    expect(await exited(child)).to.equal(0);
  });

  it('without the file capability: exits 1 saying how to fix it (capability, sysctl or -dns.port)', async () => {
    const { child, out } = start('node-plain', '-all,+net_bind_service');
    expect(await exited(child)).to.equal(1);
    expect(out()).to.match(/^\[ERROR\] cannot bind 127\.0\.0\.1:53: permission denied\. Ports below 1024 need one of: the CAP_NET_BIND_SERVICE capability/m);
    expect(out()).to.contain('capabilities.add: ["NET_BIND_SERVICE"]');
    expect(out()).to.contain('net.ipv4.ip_unprivileged_port_start=0');
    expect(out()).to.contain('-dns.port 1053');
  });

  it('drop ALL without adding NET_BIND_SERVICE: the kernel refuses to exec the setcap\'d binary (why the Deployment adds it)', async () => {
    const { child, out } = start('node-cap', '-all');
    const code = await exited(child);
    expect(code).to.not.equal(0);
    expect(out()).to.match(/Operation not permitted|Permission denied/i);
    expect(out()).to.not.contain('[INFO] serving');
  });
});
