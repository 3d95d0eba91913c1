// The manifests source: reading files and folders, YAML streams, Lists and
// JSON; noticing changes; keeping the last good content of a broken file.

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setLogSink } from '../src/log.js';
import { ALIAS_EXPANSION_BUDGET, readObjects } from '../src/plugins/kubernetes/manifests.js';
import { freePort, type Running } from './support/server.js';
import { ask, expectAnswer, expectNx, removeDir, SOA_CLUSTER, start, untilAnswer, writeCluster } from './support/kubernetes-fixtures.js';

const Z = 'cluster.local';

const service = (name: string, ip: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: live}
spec: {clusterIP: ${ip}, ports: [{name: http, port: 80}]}
`;

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
    const { value, elapsed } = await untilAnswer(() => ask(srv.port, `one.live.svc.${Z}`, 'A'), (a) => a.answer[0]?.endsWith('10.96.9.11') === true, 3000);
    expectAnswer(value, [`one.live.svc.${Z} 5 A 10.96.9.11`]);
    expect(elapsed).to.be.below(1000);
  });

  it('files added to and removed from a watched folder', async () => {
    writeFileSync(join(dir, 'sub', 'three.json'), JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'three', namespace: 'live' }, spec: { clusterIP: '10.96.9.3', ports: [{ name: 'http', port: 80 }] },
    }));
    const added = await untilAnswer(() => ask(srv.port, `three.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 3000);
    expectAnswer(added.value, [`three.live.svc.${Z} 5 A 10.96.9.3`]);
    expect(added.elapsed).to.be.below(1000);
    rmSync(join(dir, 'sub', 'dir', 'two.yml'));
    const gone = await untilAnswer(() => ask(srv.port, `two.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NXDOMAIN', 3000);
    expectNx(gone.value, SOA_CLUSTER(5));
    expect(gone.elapsed).to.be.below(1000);
  });

  it('a broken file is logged and its last good content kept; fixing it is picked up', async () => {
    logs.length = 0;
    writeFileSync(join(dir, 'live.yaml'), `${service('one', '10.96.9.21')}\n---\nkind: [oops\n`);
    const logged = await untilAnswer(async () => logs.filter((l) => /^\[ERROR\] plugin\/kubernetes: manifests: cannot load .*live\.yaml; keeping its last good content/.test(l)), (l) => l.length > 0, 3000);
    expect(logged.value, 'an error line naming the file').to.have.length.greaterThan(0);
    expect(logged.value[0]).to.match(/invalid YAML at line 9, column 1: unexpected end of the stream within a flow collection/);
    expectAnswer(await ask(srv.port, `one.live.svc.${Z}`, 'A'), [`one.live.svc.${Z} 5 A 10.96.9.11`]);
    writeFileSync(join(dir, 'live.yaml'), service('one', '10.96.9.31'));
    const fixed = await untilAnswer(() => ask(srv.port, `one.live.svc.${Z}`, 'A'), (a) => a.answer[0]?.endsWith('10.96.9.31') === true, 3000);
    expectAnswer(fixed.value, [`one.live.svc.${Z} 5 A 10.96.9.31`]);
  });
});

/** Anchors nested `levels` deep, ten uses each: 10^levels Services from under a kilobyte. */
function aliasBomb(levels: number): string {
  const lines = ['apiVersion: v1', 'kind: List', 'x0: &a0 {apiVersion: v1, kind: Service, metadata: {name: bomb, namespace: live}, spec: {clusterIP: 10.96.9.9}}'];
  for (let i = 1; i < levels; i++) lines.push(`x${i}: &a${i} {kind: List, items: [${Array(10).fill(`*a${i - 1}`).join(', ')}]}`);
  lines.push(`items: [${Array(10).fill(`*a${levels - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

describe('kubernetes: an alias bomb among the manifests', function () {
  this.timeout(60_000);
  let child: ChildProcess | null = null;
  let dir = '';
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dir) removeDir(dir);
  });

  // A child process with a small heap: before the bound, the bomb took it down.
  it('is refused with a clear error while the other files serve', async () => {
    dir = writeCluster({ 'good.yaml': service('one', '10.96.9.1'), 'bomb.yaml': aliasBomb(6) });
    const port = await freePort();
    const conf = join(dir, 'Corefile');
    writeFileSync(conf, `cluster.local:${port} {\n  bind 127.0.0.1\n  kubernetes {\n    manifests ${dir}\n  }\n}\n`);
    child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', 'src/cli.ts', '--conf', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    const refused = /\[ERROR\] plugin\/kubernetes: manifests: cannot load .*bomb\.yaml; skipping it err="bomb\.yaml: YAML aliases expand the file to more than \d+ nodes/;
    const t0 = Date.now();
    while (!(refused.test(err) && err.includes('[INFO] serving')) && child.exitCode === null && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    expect(err).to.match(refused);
    const first = await untilAnswer(() => ask(port, `one.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 20_000);
    expectAnswer(first.value, [`one.live.svc.${Z} 5 A 10.96.9.1`]);
    expectNx(await ask(port, `bomb.live.svc.${Z}`, 'A'), SOA_CLUSTER(5));
    const exit = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).to.equal(0);
  });
});

describe('kubernetes: manifests that cannot be read', function () {
  this.timeout(60_000);
  let child: ChildProcess | null = null;
  let dir = '';
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dir) { chmodSync(join(dir, 'sub'), 0o755); removeDir(dir); }
  });

  // chmod 000 is what makes a folder unreadable (as EMFILE or EIO would):
  // root reads through it, so as root the server runs as nobody (setpriv).
  it('a folder that cannot be listed keeps its last good objects and logs why; a real deletion still deletes', async () => {
    dir = writeCluster({ 'sub/one.yaml': service('one', '10.96.9.1'), 'two.yaml': service('two', '10.96.9.2') });
    const port = await freePort();
    const conf = join(dir, 'Corefile');
    writeFileSync(conf, `cluster.local:${port} {\n  bind 127.0.0.1\n  kubernetes {\n    manifests ${dir}\n  }\n}\n`);
    const asRoot = process.getuid?.() === 0;
    const argv = [process.execPath, '--import', 'tsx', 'src/cli.ts', '--conf', conf];
    if (asRoot) {
      for (const p of [dir, join(dir, 'sub'), join(dir, 'sub', 'one.yaml'), join(dir, 'two.yaml'), conf]) chownSync(p, 65534, 65534);
      argv.unshift('setpriv', '--reuid=65534', '--regid=65534', '--clear-groups');
    }
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { err += d.toString(); });
    const wait = async (ok: () => boolean, ms: number): Promise<boolean> => {
      const t0 = Date.now();
      while (!ok() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 50));
      return ok();
    };
    expect(await wait(() => err.includes('[INFO] serving'), 30_000)).to.equal(true, err);
    // On a loaded machine the first read may outlast startup_timeout (SERVFAIL until then).
    const first = await untilAnswer(() => ask(port, `one.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NOERROR', 20_000);
    expectAnswer(first.value, [`one.live.svc.${Z} 5 A 10.96.9.1`]);

    chmodSync(join(dir, 'sub'), 0o000);
    // The 2 s poll (or a folder event) rescans; the failed listing is logged.
    expect(await wait(() => /\[ERROR\] plugin\/kubernetes: manifests: cannot read .*sub; keeping the last good content of the 1 file\(s\) seen under it err=.*EACCES/.test(err), 10_000)).to.equal(true, err);
    expectAnswer(await ask(port, `one.live.svc.${Z}`, 'A'), [`one.live.svc.${Z} 5 A 10.96.9.1`]);
    expectAnswer(await ask(port, `two.live.svc.${Z}`, 'A'), [`two.live.svc.${Z} 5 A 10.96.9.2`]);

    // Readable again, then a file really removed: that is a deletion.
    chmodSync(join(dir, 'sub'), 0o755);
    expect(await wait(() => err.includes('plugin/kubernetes: manifests: path is readable again'), 10_000)).to.equal(true, err);
    rmSync(join(dir, 'sub', 'one.yaml'));
    const gone = await untilAnswer(() => ask(port, `one.live.svc.${Z}`, 'A'), (a) => a.rcode === 'NXDOMAIN', 10_000);
    expect(gone.value.rcode).to.equal('NXDOMAIN');
    const exit = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).to.equal(0);
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
    await bad('c.yaml', 'kind: Service\nmetadata: {name: a}\n---\nmetadata:\n  name: x\n   bad: 1\n', /c\.yaml: invalid YAML at line 6, column 7: bad indentation of a mapping entry$/);
    await bad('d.yaml', '- a\n- b\n', /d\.yaml: document 1 is not a Kubernetes object/);
    await bad('e.yaml', 'metadata: {name: a}\n', /e\.yaml: document 1 has no kind/);
    await bad('f.json', '{"kind": ', /f\.json: invalid JSON/);
  });

  it('splits documents only at column-0 markers', async () => {
    const p = file('g.yaml', 'kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\ntext: |\n  ---\n  more\n--- \nkind: C\nmetadata: {name: c}\n');
    expect(kinds(await readObjects(p))).to.deep.equal(['A/a', 'B/b', 'C/c']);
  });

  it('refuses a file whose aliases expand past the budget, or refer to themselves', async () => {
    const refused = async (name: string, text: string, why: RegExp) => {
      let err: Error | null = null;
      try { await readObjects(file(name, text)); } catch (e) { err = e as Error; }
      expect(err, name).to.be.instanceOf(Error);
      expect(err!.message).to.match(why);
    };
    await refused('bomb.yaml', aliasBomb(9), /bomb\.yaml: YAML aliases expand the file to more than \d+ nodes .*; refusing it/);
    await refused('loop.yaml', 'a: &a {kind: List, items: [*a]}\nkind: List\nitems: [*a]\n', /loop\.yaml: YAML aliases expand/);
    // Aliases within the budget are fine: each use is its own object.
    const ok = file('alias.yaml', 'kind: List\nx: &s {kind: Service, metadata: {name: s}}\nitems: [*s, *s, *s]\n');
    expect(kinds(await readObjects(ok))).to.deep.equal(['Service/s', 'Service/s', 'Service/s']);
    expect(ALIAS_EXPANSION_BUDGET).to.be.at.least(100_000, 'room for real files that use anchors');
  });
});
