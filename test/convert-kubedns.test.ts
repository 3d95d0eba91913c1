import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { ConvertError, convertKubeDnsText, kubeDnsToCorefile, parseKubeDnsData, pickConfigMap, runConvertKubeDns } from '../src/convert-kubedns.js';

/** The kube-dns ConfigMap with `data` (its keys, indented by two spaces). */
const kubeDnsConfigMap = (data: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-dns
  namespace: kube-system
data:
${data}`;

// The example of the Kubernetes docs, "Customizing DNS Service" (kube-dns ConfigMap).
const DOCS_EXAMPLE = kubeDnsConfigMap(`  stubDomains: |
    {"acme.local": ["1.2.3.4"]}
  upstreamNameservers: |
    ["8.8.8.8", "8.8.4.4"]
`);

// The docs' "equivalent configuration" example.
const DOCS_EQUIVALENT = kubeDnsConfigMap(`  stubDomains: |
    {"abc.com" : ["1.2.3.4"], "my.cluster.local" : ["2.3.4.5"]}
  upstreamNameservers: |
    ["8.8.8.8", "8.8.4.4"]
  federations: |
    {"foo" : "foo.feddomain.com"}
`);

const KUBEADM_BLOCK = (forward: string, domain = 'cluster.local') => `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${domain} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . ${forward} {
       max_concurrent 1000
    }
    cache 30 {
       disable success ${domain}
       disable denial ${domain}
    }
    loop
    reload
    loadbalance
}
`;

describe('convert-kubedns', function () {
  this.timeout(10_000); // the first test pays for importing client-node's YAML reader
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'clusterdns-kubedns-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('converts the docs example: kubeadm block forwarding to the upstreams, a block per stub domain', async () => {
    const { corefile, source } = await convertKubeDnsText(DOCS_EXAMPLE);
    expect(source).to.equal('kube-system/kube-dns');
    expect(corefile).to.equal(`${KUBEADM_BLOCK('8.8.8.8 8.8.4.4')}acme.local:53 {
    errors
    cache 30
    forward . 1.2.3.4
}
`);
  });

  it('produces a Corefile clusterdns accepts (parsed and built, never started)', async () => {
    const { corefile } = await convertKubeDnsText(DOCS_EQUIVALENT);
    const parsed = parseCorefile(corefile, { file: 'converted' });
    expect(parsed.blocks.map((b) => b.keys.join(' '))).to.deep.equal(['.:53', 'abc.com:53', 'my.cluster.local:53']);
    // Building validates every directive; no socket is opened, nothing is sent.
    expect(() => createServer(parsed, { defaultPort: 53 })).to.not.throw();
  });

  it('forwards to /etc/resolv.conf without upstreamNameservers, keeps ports, honours --domain', () => {
    const cfg = parseKubeDnsData({ stubDomains: '{"Consul.Local.": ["10.150.0.1:8600", "[fd00::1]:5353", "fd00::2"]}' });
    expect(cfg.stubDomains).to.deep.equal([['consul.local', ['10.150.0.1:8600', '[fd00::1]:5353', 'fd00::2']]]);
    const text = kubeDnsToCorefile(cfg, { domain: 'corp.example' });
    expect(text).to.equal(`${KUBEADM_BLOCK('/etc/resolv.conf', 'corp.example')}consul.local:53 {
    errors
    cache 30
    forward . 10.150.0.1:8600 [fd00::1]:5353 fd00::2
}
`);
    expect(kubeDnsToCorefile(parseKubeDnsData({}))).to.equal(KUBEADM_BLOCK('/etc/resolv.conf'));
    expect(parseKubeDnsData({ upstreamNameservers: '["10.0.0.1:53"]' }).upstreamNameservers).to.deep.equal(['10.0.0.1']);
  });

  it('refuses what kube-dns refused, with the reason', () => {
    const bad = (data: Record<string, unknown>, why: RegExp) => {
      expect(() => parseKubeDnsData(data)).to.throw(ConvertError, why);
    };
    bad({ upstreamNameservers: '["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"]' }, /4 given; kube-dns allows at most 3/);
    bad({ upstreamNameservers: '["dns.google"]' }, /not an IP address/);
    bad({ upstreamNameservers: '{"a": 1}' }, /must be a JSON list/);
    bad({ upstreamNameservers: '["8.8.8.8",' }, /not valid JSON/);
    bad({ stubDomains: '{"acme.local": []}' }, /non-empty list/);
    bad({ stubDomains: '{"acme..local": ["1.2.3.4"]}' }, /not a valid domain name/);
    bad({ stubDomains: '{"acme.local": ["1.2.3.4:99999"]}' }, /invalid port/);
    bad({ stubDomains: '["1.2.3.4"]' }, /must be a JSON object/);
  });

  it('finds the ConfigMap among several documents or in a List', () => {
    const other = { kind: 'ConfigMap', metadata: { name: 'coredns' }, data: { Corefile: '.' } };
    const kd = { kind: 'ConfigMap', metadata: { name: 'kube-dns', namespace: 'kube-system' }, data: { stubDomains: '{}' } };
    expect(pickConfigMap([{ kind: 'Service' }, other, kd])).to.equal(kd);
    expect(pickConfigMap([{ kind: 'List', items: [other, kd] }])).to.equal(kd);
    expect(() => pickConfigMap([other])).to.throw(ConvertError, /no kube-dns ConfigMap/);
    expect(() => pickConfigMap([{ kind: 'Service' }])).to.throw(ConvertError, /no ConfigMap found/);
  });

  it('runs as a subcommand: Corefile on stdout, warnings on stderr, exit codes', async () => {
    const file = join(tmp, 'kube-dns.yaml');
    writeFileSync(file, DOCS_EQUIVALENT);
    let out = '';
    let err = '';
    const code = await runConvertKubeDns([file], (s) => { out += s; }, (s) => { err += s; });
    expect(code).to.equal(0);
    expect(out).to.match(/^# Converted from the kube-dns ConfigMap kube-system\/kube-dns/);
    expect(out).to.include('abc.com:53 {\n    errors\n    cache 30\n    forward . 1.2.3.4\n}\n');
    expect(out).to.include('my.cluster.local:53 {\n    errors\n    cache 30\n    forward . 2.3.4.5\n}\n');
    expect(err).to.include('data.federations is not converted');

    err = '';
    expect(await runConvertKubeDns([join(tmp, 'missing.yaml')], () => undefined, (s) => { err += s; })).to.equal(1);
    expect(err).to.match(/cannot read .*missing\.yaml: ENOENT/);
    const broken = join(tmp, 'broken.yaml');
    writeFileSync(broken, 'kind: ConfigMap\nmetadata: {name: kube-dns}\ndata:\n  upstreamNameservers: "[1,2"\n');
    err = '';
    expect(await runConvertKubeDns([broken], () => undefined, (s) => { err += s; })).to.equal(1);
    expect(err).to.match(/upstreamNameservers is not valid JSON/);
    expect(await runConvertKubeDns([], () => undefined, () => undefined)).to.equal(2);
  });

  it('is wired into the command line', () => {
    const file = join(tmp, 'cli.yaml');
    writeFileSync(file, DOCS_EXAMPLE);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'convert-kubedns', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include('forward . 8.8.8.8 8.8.4.4 {');
    expect(r.stdout).to.include('acme.local:53 {');
  });
});
