// The manifests source: reading files and folders, YAML streams, Lists and
// JSON; noticing changes; keeping the last good content of a broken file.

import { expect } from 'chai';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setLogSink } from '../src/log.js';
import { readObjects, splitDocuments } from '../src/plugins/kubernetes/manifests.js';
import type { Running } from './support/server.js';
import { ask, expectAnswer, expectNx, removeDir, SOA_CLUSTER, start, writeCluster } from './kubernetes-fixtures.js';

const Z = 'cluster.local';

const service = (name: string, ip: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: live}
spec: {clusterIP: ${ip}, ports: [{name: http, port: 80}]}
`;

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<{ value: T; elapsed: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await fn();
    const elapsed = Date.now() - t0;
    if (ok(value) || elapsed > ms) return { value, elapsed };
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kubernetes: manifests source', function () {
  this.timeout(15000);
  let dir: string;
  let srv: Running;
  const logs: string[] = [];

  before(async () => {
    dir = writeCluster({ 'live.yaml': service('one', '10.96.9.1'), 'sub/dir/two.yml': service('two', '10.96.9.2') });
    setLogSink((l) => logs.push(l));
    srv = await start(`
cluster.local {
    kubernetes {
        manifests ${join(dir, 'live.yaml')} ${join(dir, 'sub')}
    }
}
`);
  });
  after(async () => {
    await srv?.stop();
    setLogSink(null);
    removeDir(dir);
  });

  it('reads files and folders (recursively)', async () => {
    expectAnswer(await ask(srv.port, `one.live.svc.${Z}`, 'A'), [`one.live.svc.${Z} 5 A 10.96.9.1`]);
    expectAnswer(await ask(srv.port, `two.live.svc.${Z}`, 'A'), [`two.live.svc.${Z} 5 A 10.96.9.2`]);
  });

  it('a changed file is answered from within a second', async () => {
    writeFileSync(join(dir, 'live.yaml'), service('one', '10.96.9.11'));
    const { value, elapsed } = await until(() => ask(srv.port, `one.live.svc.${Z}`, 'A'), (a) => a.answer[0]?.endsWith('10.96.9.11') === true, 3000);
    expectAnswer(value, [`one.live.svc.${Z} 5 A 10.96.9.11`]);
    expect(elapsed).to.be.below(1000);
  });

  it('files added to and removed from a watched folder', async () => {
    writeFileSync(join(dir, 'sub', 'three.json'), JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'three', namespace: 'live' }, spec: { clusterIP: '10.96.9.3', ports: [{ name: 'http', port: 80 }] },
    }));
    const added = await until(() => ask(srv.port, `three.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 3000);
    expectAnswer(added.value, [`three.live.svc.${Z} 5 A 10.96.9.3`]);
    expect(added.elapsed).to.be.below(1000);
    rmSync(join(dir, 'sub', 'dir', 'two.yml'));
    const gone = await until(() => ask(srv.port, `two.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NXDOMAIN', 3000);
    expectNx(gone.value, SOA_CLUSTER(5));
    expect(gone.elapsed).to.be.below(1000);
  });

  it('a broken file is logged and its last good content kept; fixing it is picked up', async () => {
    logs.length = 0;
    writeFileSync(join(dir, 'live.yaml'), `${service('one', '10.96.9.21')}\n---\nkind: [oops\n`);
    const logged = await until(async () => logs.filter((l) => /^\[ERROR\] plugin\/kubernetes: manifests: cannot load .*live\.yaml; keeping its last good content/.test(l)), (l) => l.length > 0, 3000);
    expect(logged.value, 'an error line naming the file').to.have.length.greaterThan(0);
    expect(logged.value[0]).to.match(/invalid YAML in the document starting at line 7/);
    expectAnswer(await ask(srv.port, `one.live.svc.${Z}`, 'A'), [`one.live.svc.${Z} 5 A 10.96.9.11`]);
    writeFileSync(join(dir, 'live.yaml'), service('one', '10.96.9.31'));
    const fixed = await until(() => ask(srv.port, `one.live.svc.${Z}`, 'A'), (a) => a.answer[0]?.endsWith('10.96.9.31') === true, 3000);
    expectAnswer(fixed.value, [`one.live.svc.${Z} 5 A 10.96.9.31`]);
  });
});

describe('kubernetes: manifest files', () => {
  let dir: string;
  before(() => { dir = writeCluster({}); });
  after(() => removeDir(dir));

  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const kinds = (objs: unknown[]) => objs.map((o) => `${(o as { kind: string }).kind}/${(o as { metadata: { name: string } }).metadata.name}`);

  it('reads YAML streams with empty and comment-only documents, Lists and *List kinds', async () => {
    const p = file('a.yaml', `---
# only a comment
---
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Service, metadata: {name: s1}, spec: {clusterIP: 10.0.0.1}}
  - apiVersion: v1
    kind: ServiceList
    items: [{apiVersion: v1, kind: Service, metadata: {name: s2}, spec: {clusterIP: 10.0.0.2}}]
...
---
`);
    expect(kinds(await readObjects(p))).to.deep.equal(['Namespace/a', 'Service/s1', 'Service/s2']);
  });

  it('reads JSON objects, arrays and Lists', async () => {
    const p = file('b.json', JSON.stringify([{ kind: 'Namespace', metadata: { name: 'x' } }, { kind: 'List', items: [{ kind: 'Pod', metadata: { name: 'p' } }] }]));
    expect(kinds(await readObjects(p))).to.deep.equal(['Namespace/x', 'Pod/p']);
  });

  it('explains what is wrong, with the document\'s line', async () => {
    const bad = async (name: string, text: string, why: RegExp) => {
      let err: Error | null = null;
      try { await readObjects(file(name, text)); } catch (e) { err = e as Error; }
      expect(err, name).to.be.instanceOf(Error);
      expect(err!.message).to.match(why);
    };
    await bad('c.yaml', 'kind: Service\nmetadata: {name: a}\n---\nmetadata:\n  name: x\n   bad: 1\n', /c\.yaml: invalid YAML in the document starting at line 3: bad indentation of a mapping entry \(6:7\)/);
    await bad('d.yaml', '- a\n- b\n', /d\.yaml: document 1 is not a Kubernetes object/);
    await bad('e.yaml', 'metadata: {name: a}\n', /e\.yaml: document 1 has no kind/);
    await bad('f.json', '{"kind": ', /f\.json: invalid JSON/);
  });

  it('splits documents only at column-0 markers', () => {
    const docs = splitDocuments('a: 1\n---\nb: |\n  ---\n  text\n--- \nc: 3\n');
    expect(docs.map((d) => d.line)).to.deep.equal([1, 2, 6]);
    expect(docs[1]!.text.split('\n')[1]).to.equal('');
  });
});
