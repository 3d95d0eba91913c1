// `explain`: the HTTP endpoint of a running server and the `clusterdns
// explain` command, each checked against what the server really answers
// over UDP for the same name.

import { expect } from 'chai';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { ExplainReport } from '../src/explain/chain.js';
import { setLogSink } from '../src/log.js';
import type { ClusterExplanation } from '../src/plugins/kubernetes/explain.js';
import { parseExplain } from '../src/plugins/explain/setup.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { FakeKubeApi, namespace, service } from './support/kube-api.js';
import { freePort, startCorefile, type Running } from './support/server.js';
import { startUpstream, type Upstream } from './support/upstream.js';
import { removeDir, writeCluster } from './support/kubernetes-fixtures.js';

const Z = 'cluster.local';

const SHOP = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.5.5, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, ports: [{name: postgres, port: 5432}, {port: 9187}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-abcde, namespace: shop, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
endpoints:
  - {addresses: [10.244.7.10], hostname: db-0, conditions: {ready: true}}
  - {addresses: [10.244.7.11], hostname: db-1, conditions: {ready: false}}
  - {addresses: [10.244.7.12], conditions: {ready: true}}
ports: [{name: postgres, port: 5432, protocol: TCP}, {port: 9187, protocol: TCP}]
`;

function httpGet(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

function runCli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const timer = setTimeout(() => child.kill(), 25_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

const kube = (r: ExplainReport): ClusterExplanation => {
  const e = r.explanations.find((x) => x.plugin === 'kubernetes');
  expect(e, 'a kubernetes explanation').to.not.equal(undefined);
  return e?.data as ClusterExplanation;
};

describe('explain', function () {
  this.timeout(30_000);
  let dir: string;
  let up: Upstream;
  let srv: Running;
  let hp: number;
  let conf: string;
  const logs: string[] = [];

  const explainJson = async (name: string, type = 'A'): Promise<ExplainReport> => {
    const res = await httpGet(hp, `/explain?name=${encodeURIComponent(name)}&type=${type}&json`);
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/application\/json/);
    return JSON.parse(res.body) as ExplainReport;
  };

  before(async () => {
    setLogSink((l) => logs.push(l));
    dir = writeCluster({ 'shop.yaml': SHOP });
    up = await startUpstream();
    hp = await freePort();
    const text = `cluster.local {
    kubernetes {
        manifests ${dir}
    }
    explain 127.0.0.1:${hp}
}
. {
    cache 30
    forward . ${up.hostPort}
}
`;
    conf = join(dir, 'Corefile');
    writeFileSync(conf, text);
    srv = await startCorefile(text);
  });
  after(async () => {
    await srv?.stop();
    await up?.stop();
    setLogSink(null);
    removeDir(dir);
  });

  it('a served name: the block, the chain, the answer and the objects behind it (as served over UDP)', async () => {
    const name = `db-0.db.shop.svc.${Z}`;
    const served = await udpQuery(srv.port, name, 'A');
    expect(rrLines(served.answers)).to.deep.equal([`${name} A 10.244.7.10`]);
    const res = await httpGet(hp, `/explain?name=${name}`);
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/text\/plain/);
    expect(res.body).to.include(`question: ${name}. A`);
    expect(res.body).to.include('server block: cluster.local (test.Corefile:1)');
    expect(res.body).to.include('chain: kubernetes (answered)');
    expect(res.body).to.include('answer: NOERROR (authoritative) from kubernetes');
    expect(res.body).to.include(`${name}. 5 IN A 10.244.7.10`);
    expect(res.body).to.include('Service shop/db: type Headless');
    expect(res.body).to.include('EndpointSlice db-abcde');
    expect(res.body).to.match(/endpoint 10\.244\.7\.12 \(ready; no hostname; label 10-244-7-12\): left out: answers to "10-244-7-12" \(no hostname: named by its dashed IP\), not "db-0"/);
  });

  it('a not-ready endpoint: left out of the service\'s records, and its own name is NXDOMAIN saying why', async () => {
    const served = await udpQuery(srv.port, `db.shop.svc.${Z}`, 'A');
    expect(rrLines(served.answers).sort()).to.deep.equal([`db.shop.svc.${Z} A 10.244.7.10`, `db.shop.svc.${Z} A 10.244.7.12`]);
    const r = await explainJson(`db.shop.svc.${Z}`);
    const eps = kube(r).slices?.[0]?.endpoints ?? [];
    expect(eps.map((e) => [e.ip, e.used])).to.deep.equal([['10.244.7.10', true], ['10.244.7.11', false], ['10.244.7.12', true]]);
    expect(eps[1]?.why).to.match(/^not ready/);
    const one = await explainJson(`db-1.db.shop.svc.${Z}`);
    expect(rcodeOf(await udpQuery(srv.port, `db-1.db.shop.svc.${Z}`, 'A'))).to.equal('NXDOMAIN');
    expect(one.reply.rcode).to.equal('NXDOMAIN');
    expect(kube(one).missing).to.deep.equal({ piece: 'endpoint', why: 'the endpoint "db-1" exists but is not ready' });
  });

  it('SRV: an unnamed port is left out with the reason', async () => {
    const r = await explainJson(`db.shop.svc.${Z}`, 'SRV');
    expect(r.reply.answer).to.have.length(2);
    const ports = kube(r).slices?.[0]?.ports ?? [];
    expect(ports.find((p) => p.port === 9187)).to.deep.include({ used: false, why: 'port unnamed: SRV records need a port name' });
    expect(ports.find((p) => p.port === 5432)).to.deep.include({ used: true });
  });

  it('a missing service: NXDOMAIN, the service is the first missing piece', async () => {
    expect(rcodeOf(await udpQuery(srv.port, `nope.shop.svc.${Z}`, 'A'))).to.equal('NXDOMAIN');
    const r = await explainJson(`nope.shop.svc.${Z}`);
    expect(r.reply.rcode).to.equal('NXDOMAIN');
    expect(r.answeredBy).to.equal('kubernetes');
    expect(kube(r).namespace).to.deep.include({ name: 'shop', exposed: true });
    expect(kube(r).missing).to.deep.equal({ piece: 'service', why: 'no Service "nope" in namespace "shop"' });
  });

  it('a missing namespace: the namespace is the first missing piece', async () => {
    expect(rcodeOf(await udpQuery(srv.port, `web.nowhere.svc.${Z}`, 'A'))).to.equal('NXDOMAIN');
    const r = await explainJson(`web.nowhere.svc.${Z}`);
    expect(kube(r).missing?.piece).to.equal('namespace');
    expect(kube(r).missing?.why).to.equal('namespace "nowhere" does not exist (no Namespace object and no Service in it)');
    expect(kube(r).service).to.equal(undefined);
  });

  it('a search-path expansion is recognised as one', async () => {
    const name = `web.shop.svc.${Z}.shop.svc.${Z}`;
    expect(rcodeOf(await udpQuery(srv.port, name, 'A'))).to.equal('NXDOMAIN');
    const r = await explainJson(name);
    expect(kube(r).missing?.piece).to.equal('name');
    expect(kube(r).searchPath).to.deep.include({ original: `web.shop.svc.${Z}`, searchDomain: `shop.svc.${Z}` });
    const text = (await httpGet(hp, `/explain?name=${name}`)).body;
    expect(text).to.include(`search path: looks like a search-path expansion of web.shop.svc.${Z}.`);
  });

  it('a forwarded name: the upstream asked, then the second time the cache answers without it', async () => {
    const before = up.queries.length;
    const first = await explainJson('explain-fwd.example', 'A');
    expect(first.block?.zones).to.deep.equal(['.']);
    expect(first.chain).to.deep.equal([{ plugin: 'cache', outcome: 'passed' }, { plugin: 'forward', outcome: 'answered' }]);
    expect(first.answeredBy).to.equal('forward');
    expect(first.reply.rcode).to.equal('NOERROR');
    expect(first.notes.map((n) => `${n.plugin}: ${n.text}`)).to.deep.equal([
      'cache: miss: asked the next plugin',
      `forward: asked upstream ${up.hostPort} over udp (policy random, attempt 1 of 2)`,
      `forward: answer from ${up.hostPort}`,
    ]);
    expect(up.queries.length).to.equal(before + 1);
    const second = await explainJson('explain-fwd.example', 'A');
    expect(second.chain).to.deep.equal([{ plugin: 'cache', outcome: 'answered' }]);
    expect(second.answeredBy).to.equal('cache');
    expect(second.notes[0]?.plugin).to.equal('cache');
    expect(second.notes[0]?.text).to.match(/^hit: served from the success cache, \d+s of \d+s left$/);
    const noTtl = (lines: string[]): string[] => lines.map((l) => l.replace(/ \d+ IN /, ' IN '));
    expect(noTtl(second.reply.answer)).to.deep.equal(noTtl(first.reply.answer)).and.to.have.length(1);
    expect(up.queries.length).to.equal(before + 1);
    // A client's query is now a cache hit too: explain ran the real chain.
    expect(rcodeOf(await udpQuery(srv.port, 'explain-fwd.example', 'A'))).to.equal('NOERROR');
    expect(up.queries.length).to.equal(before + 1);
  });

  it('a short name (db-0.db.shop): the kubernetes plugin of another block says what the search list makes of it', async () => {
    const r = await explainJson('db-0.db.shop');
    expect(r.block?.zones).to.deep.equal(['.']);
    const e = r.explanations.find((x) => x.plugin === 'kubernetes');
    expect(e?.summary).to.equal(`not a cluster name; in a pod, the search list makes db-0.db.shop.svc.${Z} one of the resolver's tries: Service shop/db (Headless): 1 of 3 endpoint addresses in the answer`);
    expect(e?.data).to.deep.include({ candidate: `db-0.db.shop.svc.${Z}`, searchDomain: `svc.${Z}` });
  });

  it('the HTTP endpoint: 400 without a name or with a bad type; loopback unless told otherwise', async () => {
    expect((await httpGet(hp, '/explain')).status).to.equal(400);
    expect((await httpGet(hp, '/explain?name=a.example&type=BOGUS')).status).to.equal(400);
    const d = (line: string) => {
      const found = parseCorefile(`. {\n  ${line}\n}\n`, { file: 'x' }).blocks[0]?.directives[0];
      if (found === undefined) throw new Error(`no directive in ${line}`);
      return found;
    };
    expect(parseExplain(d('explain'))).to.deep.equal({ host: '127.0.0.1', port: 8053 });
    expect(parseExplain(d('explain :9000'))).to.deep.equal({ host: '127.0.0.1', port: 9000 });
    expect(parseExplain(d('explain [::1]:9000'))).to.deep.equal({ host: '::1', port: 9000 });
    expect(() => parseExplain(d('explain a b'))).to.throw(/wrong number of arguments/);
  });

  it('clusterdns explain: text and --json from the manifests, exit 0 whatever the rcode; 1 with FILE:LINE on a Corefile error', async () => {
    const text = await runCli(['explain', '--conf', conf, `web.shop.svc.${Z}`]);
    expect(text.code).to.equal(0);
    expect(text.out).to.include(`web.shop.svc.${Z}. 5 IN A 10.96.5.5`);
    expect(text.out).to.include('kubernetes: Service shop/web (ClusterIP 10.96.5.5)');
    expect(text.out).to.not.include('[INFO]');
    const json = await runCli(['explain', '--conf', conf, `db-1.db.shop.svc.${Z}`, 'AAAA', '--json']);
    expect(json.code).to.equal(0);
    const r = JSON.parse(json.out) as ExplainReport;
    expect(r.question).to.deep.equal({ name: `db-1.db.shop.svc.${Z}.`, type: 'AAAA' });
    expect(r.reply.rcode).to.equal('NXDOMAIN');
    expect(kube(r).missing?.piece).to.equal('endpoint');
    const bad = join(dir, 'Corefile.bad');
    writeFileSync(bad, '. {\n  kubernetes {\n    frobnicate\n  }\n}\n');
    const broken = await runCli(['explain', '--conf', bad, 'x.example']);
    expect(broken.code).to.equal(1);
    expect(broken.err).to.include(`${bad}:3`);
    expect((await runCli(['explain', '--conf', conf])).code).to.equal(2);
  });

  it('clusterdns explain against the API: waits for the sync, and names a namespace excluded by namespace_labels', async () => {
    const api = new FakeKubeApi();
    await api.start();
    try {
      api.upsert('namespaces', namespace('demo', { team: 'demo' }));
      api.upsert('namespaces', namespace('hidden', { team: 'x' }));
      api.upsert('services', service('demo', 'web', { clusterIP: '10.96.6.1', clusterIPs: ['10.96.6.1'], ports: [{ name: 'http', port: 80 }] }));
      api.upsert('services', service('hidden', 'web', { clusterIP: '10.96.6.9', ports: [{ name: 'http', port: 80 }] }));
      const apiConf = join(dir, 'Corefile.api');
      writeFileSync(apiConf, `cluster.local {\n  kubernetes {\n    endpoint ${api.url}\n    namespace_labels team=demo\n  }\n}\n`);
      const ok = await runCli(['explain', '--conf', apiConf, `web.demo.svc.${Z}`, '--json']);
      expect(ok.code, ok.err).to.equal(0);
      const served = JSON.parse(ok.out) as ExplainReport;
      expect(served.reply.answer).to.deep.equal([`web.demo.svc.${Z}. 5 IN A 10.96.6.1`]);
      expect(kube(served).synced).to.equal(true);
      const hidden = JSON.parse((await runCli(['explain', '--conf', apiConf, `web.hidden.svc.${Z}`, '--json'])).out) as ExplainReport;
      expect(hidden.reply.rcode).to.equal('NXDOMAIN');
      expect(kube(hidden).missing).to.deep.equal({
        piece: 'namespace',
        why: 'namespace "hidden" is excluded: its labels {kubernetes.io/metadata.name=hidden, team=x} do not match `namespace_labels team=demo`',
      });
    } finally {
      await api.stop();
    }
  });
});
