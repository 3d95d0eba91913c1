// The common user edit in front of the kubernetes plugin (manifests mode):
// `rewrite name foo.example.com foo.default.svc.cluster.local`, and its
// `answer auto` / `answer name` variants, from a Corefile fixture.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask, expectAnswer, expectNx, removeDir, SOA_CLUSTER, writeCluster } from './support/kubernetes-fixtures.js';
import { startCorefile, type Running } from './support/server.js';

const FOO = `
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: default}
spec: {clusterIP: 10.96.5.5, ports: [{name: http, port: 80, protocol: TCP}]}
`;

describe('rewrite in front of kubernetes (Corefile fixture)', function () {
  this.timeout(15000);
  let dir: string;
  let srv: Running;

  before(async () => {
    dir = writeCluster({ 'foo.yaml': FOO });
    const text = readFileSync(join(import.meta.dirname, 'fixtures', 'rewrite-kubernetes.Corefile'), 'utf8');
    srv = await startCorefile(text.replace('manifests MANIFESTS_DIR', `manifests ${dir}`));
  });
  after(async () => {
    await srv?.stop();
    removeDir(dir);
  });

  it('the client sees its own name with the Service IP (exact rule)', async () => {
    const a = await ask(srv.port, 'foo.example.com', 'A');
    expectAnswer(a, ['foo.example.com 30 A 10.96.5.5']);
    expect(a.raw.questions).to.deep.equal([{ name: 'foo.example.com', type: 'A', class: 'IN' }]);
  });

  it('answer auto', async () => {
    expectAnswer(await ask(srv.port, 'auto.example.com', 'A'), ['auto.example.com 30 A 10.96.5.5']);
  });

  it('answer name (regex) maps the cluster name back', async () => {
    expectAnswer(await ask(srv.port, 'foo.corp.example.com', 'A'), ['foo.corp.example.com 30 A 10.96.5.5']);
  });

  it('a Service that does not exist: NXDOMAIN from the cluster zone, for the client\'s question', async () => {
    const a = await ask(srv.port, 'nope.corp.example.com', 'A');
    expectNx(a, SOA_CLUSTER(30));
    expect(a.raw.questions?.[0]?.name).to.equal('nope.corp.example.com');
  });

  it('the cluster name itself still answers as before', async () => {
    expectAnswer(await ask(srv.port, 'foo.default.svc.cluster.local', 'A'), ['foo.default.svc.cluster.local 30 A 10.96.5.5']);
  });
});
