// `snapshot FILE`: the store written to disk after sync and changes, served
// at a restart during an API outage, replaced by live data once the API is
// back; a file that is not sound is never served.

import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSnapshot, encodeSnapshot } from '../src/plugins/kubernetes/snapshot.js';
import { setLogSink } from '../src/log.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { FakeKubeApi, endpointSlice, namespace, service } from './support/kube-api.js';
import { httpGet } from './support/ops.js';
import { freePort, startCorefile, type Running } from './support/server.js';

const Z = 'cluster.local';

async function poll<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() - t0 > ms) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function snapshotServices(file: string): string[] {
  if (!existsSync(file)) return [];
  const read = decodeSnapshot(readFileSync(file));
  if (!read.ok) return [];
  return (read.snapshot.records.services ?? []).map((s) => `${s.namespace}/${s.name}`).sort();
}

describe('kubernetes: snapshot', function () {
  this.timeout(20000);
  let dir: string;
  let file: string;
  let api: FakeKubeApi;
  let apiPort: number;
  let metricsPort: number;
  let srv: Running | undefined;
  const logs: string[] = [];

  const corefile = (): string => `
cluster.local {
    kubernetes cluster.local {
        endpoint http://127.0.0.1:${apiPort}
        startup_timeout 200ms
        snapshot ${file}
    }
    prometheus 127.0.0.1:${metricsPort}
}
`;
  const ask = async (name: string): Promise<{ rcode: string; answer: string[] }> => {
    if (!srv) throw new Error('server not running');
    const p = await udpQuery(srv.port, name, 'A');
    return { rcode: rcodeOf(p), answer: rrLines(p.answers) };
  };
  const restart = async (): Promise<number> => {
    await srv?.stop();
    srv = undefined;
    logs.length = 0;
    const t0 = performance.now();
    srv = await startCorefile(corefile());
    const first = await poll(() => ask(`web.demo.svc.${Z}`), (a) => a.rcode === 'NOERROR', 2000);
    expect(first.rcode).to.equal('NOERROR');
    return performance.now() - t0;
  };

  before(async () => {
    setLogSink((l) => logs.push(l));
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-snapshot-'));
    file = join(dir, 'dns.snapshot');
    api = new FakeKubeApi();
    apiPort = await api.start();
    metricsPort = await freePort();
    api.upsert('namespaces', namespace('demo'));
    api.upsert('services', service('demo', 'web', { clusterIP: '10.96.7.1', clusterIPs: ['10.96.7.1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    api.upsert('services', service('demo', 'db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }));
    api.upsert('endpointslices', endpointSlice('demo', 'db-1', 'db', 'IPv4',
      [{ addresses: ['10.7.0.1'], hostname: 'db-0', conditions: { ready: true } }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  });
  after(async () => {
    await srv?.stop();
    await api.stop();
    setLogSink(null);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is written after the first sync and again after a change', async () => {
    srv = await startCorefile(corefile());
    expect(await poll(() => snapshotServices(file), (s) => s.length === 2, 5000)).to.deep.equal(['demo/db', 'demo/web']);
    const header = readFileSync(file).subarray(0, 200).toString('latin1');
    expect(header).to.match(/^clusterdns-snapshot 1 [0-9a-f]{64} \d+ \d+\n/);

    api.upsert('services', service('demo', 'new', { clusterIP: '10.96.7.2', clusterIPs: ['10.96.7.2'], ports: [{ name: 'http', port: 80 }] }));
    expect(await poll(() => snapshotServices(file), (s) => s.length === 3, 5000)).to.deep.equal(['demo/db', 'demo/new', 'demo/web']);
    expect(readFileSync(file).length).to.be.above(100);
  });

  it('answers from the snapshot within a second of a restart while the API is down', async () => {
    await api.stop();
    const ms = await restart();
    expect(ms, `first answer ${ms.toFixed(0)} ms after start`).to.be.below(1000);
    expect(await ask(`web.demo.svc.${Z}`)).to.deep.equal({ rcode: 'NOERROR', answer: [`web.demo.svc.${Z} A 10.96.7.1`] });
    expect(await ask(`db.demo.svc.${Z}`)).to.deep.equal({ rcode: 'NOERROR', answer: [`db.demo.svc.${Z} A 10.7.0.1`] });
    expect((await ask(`gone.demo.svc.${Z}`)).rcode).to.equal('NXDOMAIN');
    expect(logs.some((l) => l.includes('serving the snapshot'))).to.equal(true);
    const metrics = (await httpGet(metricsPort, '/metrics')).body;
    const age = /^clusterdns_kubernetes_snapshot_age_seconds\{[^}]*\} ([0-9.e+-]+)$/m.exec(metrics);
    expect(age, 'snapshot age gauge').to.not.equal(null);
    expect(Number(age?.[1])).to.be.within(0, 60);
    // Nothing live was listed: the file on disk is still the last live state.
    expect(snapshotServices(file)).to.deep.equal(['demo/db', 'demo/new', 'demo/web']);
  });

  it('switches to live data when the API comes back', async () => {
    api.upsert('services', service('demo', 'web', { clusterIP: '10.96.7.9', clusterIPs: ['10.96.7.9'], ports: [{ name: 'http', port: 80 }] }));
    await api.start(apiPort);
    const live = await poll(() => ask(`web.demo.svc.${Z}`), (a) => a.answer[0]?.endsWith('10.96.7.9') === true, 8000);
    expect(live.answer).to.deep.equal([`web.demo.svc.${Z} A 10.96.7.9`]);
    expect(logs.some((l) => l.includes('live data replaced the snapshot'))).to.equal(true);
    const metrics = (await httpGet(metricsPort, '/metrics')).body;
    expect(metrics).to.not.match(/^clusterdns_kubernetes_snapshot_age_seconds\{/m);
  });

  it('ignores a corrupted snapshot with a warning and serves nothing from it', async () => {
    await srv?.stop();
    srv = undefined;
    await poll(() => snapshotServices(file), (s) => s.includes('demo/new'), 3000);
    const bytes = readFileSync(file);
    const at = bytes.indexOf('10.96.7.9');
    expect(at).to.be.above(0);
    bytes[at + 6] = '8'.charCodeAt(0); // 10.96.7.9 -> 10.96.8.9: still valid JSON, wrong data
    writeFileSync(file, bytes);
    await api.stop();
    logs.length = 0;
    srv = await startCorefile(corefile());
    const a = await ask(`web.demo.svc.${Z}`);
    expect(a.rcode).to.equal('SERVFAIL');
    expect(logs.find((l) => l.includes('snapshot not used'))).to.contain('checksum mismatch');
    await srv.stop();
    srv = undefined;
    await api.start(apiPort);
  });
});

describe('kubernetes: snapshot file checks', () => {
  const body = JSON.stringify({ services: [{ namespace: 'a', name: 'b' }], namespaces: [{ name: 'a', labels: {} }] });

  it('reads back what it wrote', () => {
    const r = decodeSnapshot(encodeSnapshot(body, 1_700_000_000_000));
    expect(r.ok).to.equal(true);
    if (r.ok) {
      expect(r.snapshot.writtenAt).to.equal(1_700_000_000_000);
      expect(r.snapshot.records.services).to.deep.equal([{ namespace: 'a', name: 'b' }]);
    }
  });

  it('refuses truncated, padded, corrupted, foreign and future files, naming why', () => {
    const good = encodeSnapshot(body);
    const problem = (b: Buffer): string => {
      const r = decodeSnapshot(b);
      return r.ok ? 'accepted' : r.problem;
    };
    expect(problem(good.subarray(0, good.length - 3))).to.match(/truncated/);
    expect(problem(Buffer.concat([good, Buffer.from('x')]))).to.match(/truncated or padded/);
    const flipped = Buffer.from(good);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 5) ^ 1, flipped.length - 5);
    expect(problem(flipped)).to.match(/checksum/);
    expect(problem(Buffer.from('{"services":[]}\n'))).to.match(/not a clusterdns snapshot/);
    expect(problem(Buffer.from('PK\u0003\u0004 binary'))).to.match(/not a clusterdns snapshot/);
    expect(problem(Buffer.from(good.toString('latin1').replace('clusterdns-snapshot 1 ', 'clusterdns-snapshot 2 '), 'latin1'))).to.match(/version 2/);
    expect(problem(encodeSnapshot('{"widgets":[]}'))).to.match(/unknown kind "widgets"/);
    expect(problem(encodeSnapshot('[1,2]'))).to.match(/not an object/);
  });
});
