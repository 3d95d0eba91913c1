// The `kubernetes` directive refuses what it can't do with file:line, and
// the embedded default config/Corefile serves its demo cluster.

import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from '../src/app.js';
import { CorefileError } from '../src/corefile/errors.js';
import { loadCorefile, parseCorefile } from '../src/corefile/parse.js';
import { parseKubernetes } from '../src/plugins/kubernetes/setup.js';
import { matchSelector, parseSelector } from '../src/plugins/kubernetes/selector.js';
import { freePort } from './support/server.js';
import { ask, expectAnswer } from './support/kubernetes-fixtures.js';

const Z = 'cluster.local';

function refuse(text: string, line: number, reason: RegExp): void {
  let err: unknown;
  try {
    createServer(parseCorefile(text, { file: 'Corefile' }), { forcePort: 1 });
  } catch (e) {
    err = e;
  }
  expect(err, `expected a CorefileError for:\n${text}`).to.be.instanceOf(CorefileError);
  const ce = err as CorefileError;
  expect(ce.reason).to.match(reason);
  expect(ce.line, ce.message).to.equal(line);
  expect(ce.message).to.equal(`Corefile:${line}: ${ce.reason}`);
}

describe('kubernetes: configuration errors', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'clusterdns-k8s-cfg-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const block = (body: string, keys = 'cluster.local in-addr.arpa') => `${keys} {\n    kubernetes {\n${body}\n    }\n}\n`;

  it('unknown options, with what is accepted', () => {
    refuse(block('        pods insecure\n        bogus 1'), 4, /kubernetes: unknown option "bogus"; accepted: endpoint, tls, kubeconfig, namespaces, labels, namespace_labels, pods, endpoint_pod_names, ttl, noendpoints, fallthrough, ignore, startup_timeout, snapshot, manifests/);
  });

  it('obsolete CoreDNS options say so', () => {
    refuse(block('        upstream'), 3, /kubernetes: option "upstream" is not supported: it was removed from CoreDNS/);
    refuse(block('        resyncperiod 30s'), 3, /option "resyncperiod" is not supported: it was removed/);
  });

  it('wrong argument counts', () => {
    refuse(block('        ttl'), 3, /kubernetes: option "ttl": wrong number of arguments \(got 0\); usage: ttl TTL/);
    refuse(block('        pods insecure verified'), 3, /option "pods": wrong number of arguments/);
    refuse(block('        tls a b'), 3, /usage: tls CERT KEY CACERT/);
    refuse(block('        kubeconfig'), 3, /usage: kubeconfig KUBECONFIG \[CONTEXT\]/);
    refuse(block('        namespaces'), 3, /usage: namespaces NAMESPACE\.\.\./);
    refuse(block('        endpoint_pod_names yes'), 3, /option "endpoint_pod_names": wrong number of arguments/);
    refuse(block('        noendpoints 1'), 3, /option "noendpoints": wrong number/);
    refuse(block('        ignore'), 3, /usage: ignore empty_service/);
    refuse(block('        manifests'), 3, /usage: manifests PATH/);
    refuse(block('        labels'), 3, /usage: labels EXPRESSION/);
  });

  it('bad values', () => {
    refuse(block('        ttl 3601'), 3, /invalid ttl "3601": expected an integer from 0 to 3600/);
    refuse(block('        ttl -1'), 3, /invalid ttl/);
    refuse(block('        pods sometimes'), 3, /unknown pods mode "sometimes"; accepted: disabled, insecure, verified/);
    refuse(block('        ignore empty_services'), 3, /only empty_service is accepted/);
    refuse(block('        endpoint not-a-url'), 3, /endpoint "not-a-url" is not a URL/);
    refuse(block('        endpoint ftp://x'), 3, /must be http:\/\/ or https:\/\//);
    refuse(block('        namespaces Demo'), 3, /"Demo" is not a namespace name/);
    refuse(block('        labels app in (a, b'), 3, /labels: invalid label selector "app in \(a, b"/);
    refuse(block('        namespace_labels team > 3'), 3, /namespace_labels: invalid label selector/);
    refuse(block('        startup_timeout soon'), 3, /invalid duration "soon"/);
    refuse(block('        manifests /definitely/not/here'), 3, /manifests path \/definitely\/not\/here does not exist/);
    refuse(block('        fallthrough bad..zone'), 3, /"bad\.\.zone": empty label/);
    refuse(block('        ttl 5 {\n        }'), 3, /kubernetes: option "ttl" takes no block/);
  });

  it('options given twice; manifests with an API connection', () => {
    refuse(block('        ttl 5\n        ttl 6'), 4, /kubernetes: option "ttl" is given twice; give it once/);
    refuse(block(`        endpoint https://10.0.0.1:6443\n        manifests ${dir}`), 4, /manifests replaces the API connection; remove endpoint or manifests/);
  });

  it('zones must lie within the block', () => {
    refuse('cluster.local {\n    kubernetes cluster.local in-addr.arpa\n}\n', 2, /zone in-addr\.arpa is not within this server block's zones \(cluster\.local\)/);
    refuse('.:53 {\n    kubernetes cluster..local\n}\n', 2, /invalid zone "cluster\.\.local"/);
    refuse('.:53 {\n    kubernetes cluster.local:53\n}\n', 2, /invalid zone/);
  });

  it('one kubernetes per block', () => {
    refuse(`cluster.local {\n    kubernetes\n    kubernetes\n}\n`, 3, /kubernetes appears more than once/);
  });

  it('refuses a kubeconfig client-node could not use, saying what is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-kcfg-'));
    const good = 'clusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:6443"}\ncontexts:\n- name: ctx\n  context: {cluster: c}\ncurrent-context: ctx\n';
    const kc = (name: string, text: string, ctx = ''): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return `cluster.local {\n    kubernetes {\n        kubeconfig ${p}${ctx}\n    }\n}\n`;
    };
    const at = (name: string): string => join(dir, name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    refuse(kc('empty', ''), 3, new RegExp(`kubeconfig ${at('empty')}: is not a kubeconfig`));
    refuse(kc('list', '- a\n'), 3, /is not a kubeconfig \(expected a mapping with clusters, contexts and users\)/);
    refuse(kc('server', 'clusters:\n- name: c\n  cluster: {}\n'), 3, /clusters\[0\]\.cluster\.server is missing/);
    refuse(kc('ctxs', 'contexts: {a: b}\n'), 3, /contexts is not a list/);
    refuse(kc('nocurrent', good.replace('current-context: ctx\n', '')), 3, /has no current-context; name one: kubeconfig PATH CONTEXT/);
    refuse(kc('cluster', good.replace('cluster: c}', 'cluster: gone}')), 3, /context "ctx" uses cluster "gone", which is not among its clusters/);
    refuse(kc('bad-yaml', 'clusters: [\n'), 3, /not valid YAML \(line 2, column 1: /);
    refuse(`cluster.local {\n    kubernetes {\n        kubeconfig ${dir}\n    }\n}\n`, 3, /cannot read: is a directory/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses the kubeadm block and CoreDNS forms into typed options', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clusterdns-kcfg-'));
    // The kubeconfig is checked when the Corefile is loaded: it must exist.
    writeFileSync(join(dir, 'kube.conf'), 'clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]\ncontexts: [{name: ctx, context: {cluster: c}}]\n');
    const [b] = parseCorefile(`.:53 {
    kubernetes Cluster.Local. in-addr.arpa ip6.arpa 10.96.0.0/12 {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
       namespaces demo default
       labels environment in (production, staging), !legacy
       endpoint_pod_names
       ignore empty_service
       startup_timeout 1m30s
       kubeconfig ./kube.conf ctx
    }
}`, { file: join(dir, 'Corefile') }).blocks;
    const o = parseKubernetes(b!.directives[0]!, { zones: ['.'], directives: [{ name: 'bind', args: ['10.0.0.53'], block: null, file: '', line: 1 }] });
    expect(o.zones).to.deep.equal(['cluster.local', 'in-addr.arpa', 'ip6.arpa', ...Array.from({ length: 16 }, (_, i) => `${96 + i}.10.in-addr.arpa`)]);
    expect(o.reverseZones).to.have.length(18);
    expect(o.primaryZone).to.equal('cluster.local');
    expect(o.pods).to.equal('insecure');
    expect(o.fallthrough.zones).to.deep.equal(['in-addr.arpa', 'ip6.arpa']);
    expect(o.fallthrough.matches('1.0.0.10.in-addr.arpa')).to.equal(true);
    expect(o.fallthrough.matches('x.cluster.local')).to.equal(false);
    expect(o.ttl).to.equal(30);
    expect([...o.namespaces!]).to.deep.equal(['demo', 'default']);
    expect(o.labels!.text).to.equal('environment in (production, staging), !legacy');
    expect(o.endpointPodNames).to.equal(true);
    expect(o.ignoreEmptyService).to.equal(true);
    expect(o.startupTimeoutMs).to.equal(90_000);
    expect(o.kubeconfig).to.deep.equal({ path: join(dir, 'kube.conf'), context: 'ctx' });
    expect(o.bindAddresses).to.deep.equal(['10.0.0.53']);
    expect(o.manifests).to.deep.equal([]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('kubernetes: label selectors', () => {
  const m = (sel: string, labels: Record<string, string>) => matchSelector(parseSelector(sel), labels);
  it('matches =, ==, !=, in, notin, exists, !exists', () => {
    expect(m('', {})).to.equal(true);
    expect(m('a=1', { a: '1' })).to.equal(true);
    expect(m('a==1', { a: '2' })).to.equal(false);
    expect(m('a!=1', {})).to.equal(true);
    expect(m('a!=1', { a: '1' })).to.equal(false);
    expect(m('a in (1, 2),b', { a: '2', b: '' })).to.equal(true);
    expect(m('a in (1,2)', {})).to.equal(false);
    expect(m('a notin (1,2)', {})).to.equal(true);
    expect(m('a notin (1,2)', { a: '1' })).to.equal(false);
    expect(m('!a', { b: '1' })).to.equal(true);
    expect(m('!a', { a: '1' })).to.equal(false);
    expect(m('app.kubernetes.io/name=web', { 'app.kubernetes.io/name': 'web' })).to.equal(true);
  });
  it('refuses what the API would', () => {
    for (const bad of ['a in 1', 'a in (1', 'a > 1', '=1', 'a=1,', 'a b', 'a=-x', '/a=1']) {
      expect(() => parseSelector(bad), bad).to.throw(Error);
    }
  });
});

describe('kubernetes: the embedded default (config/Corefile)', function () {
  this.timeout(10000);

  it('serves the demo cluster from config/cluster', async () => {
    const corefile = loadCorefile(resolve('config/Corefile'));
    const server = createServer(corefile, { forcePort: await freePort() });
    await server.start();
    try {
      const port = server.addresses()[0]!.port;
      expectAnswer(await ask(port, `kubernetes.default.svc.${Z}`, 'A'), [`kubernetes.default.svc.${Z} 30 A 10.96.0.1`]);
      expectAnswer(await ask(port, `_https._tcp.kubernetes.default.svc.${Z}`, 'SRV'), [`_https._tcp.kubernetes.default.svc.${Z} 30 SRV 0 100 443 kubernetes.default.svc.${Z}`]);
      expectAnswer(await ask(port, `web.demo.svc.${Z}`, 'SRV'), [
        `web.demo.svc.${Z} 30 SRV 0 50 80 web.demo.svc.${Z}`, `web.demo.svc.${Z} 30 SRV 0 50 443 web.demo.svc.${Z}`,
      ]);
      expectAnswer(await ask(port, `db.demo.svc.${Z}`, 'A'), [`db.demo.svc.${Z} 30 A 10.244.2.10`, `db.demo.svc.${Z} 30 A 10.244.2.11`]);
      expectAnswer(await ask(port, `db-1.db.demo.svc.${Z}`, 'A'), [`db-1.db.demo.svc.${Z} 30 A 10.244.2.11`]);
      expectAnswer(await ask(port, `docs.demo.svc.${Z}`, 'A'), [`docs.demo.svc.${Z} 30 CNAME web.demo.svc.${Z}`, `web.demo.svc.${Z} 30 A 10.96.100.10`]);
      expectAnswer(await ask(port, `api.demo.svc.${Z}`, 'AAAA'), [`api.demo.svc.${Z} 30 AAAA fd00:10:96::100:20`]);
      expectAnswer(await ask(port, '10.0.96.10.in-addr.arpa', 'PTR'), [`10.0.96.10.in-addr.arpa 30 PTR kube-dns.kube-system.svc.${Z}`]);
      expectAnswer(await ask(port, `10-244-1-10.demo.pod.${Z}`, 'A'), [`10-244-1-10.demo.pod.${Z} 30 A 10.244.1.10`]);
      expectAnswer(await ask(port, Z, 'NS'), [`${Z} 30 NS ns.dns.${Z}`], [`ns.dns.${Z} 30 A 127.0.0.1`]);
    } finally {
      await server.stop(100);
    }
  });
});
