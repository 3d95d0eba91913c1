// `clusterdns node-local` as NodeLocal DNSCache runs it, inside a private
// network + mount namespace: the ConfigMap and args of deploy/node-local/
// unchanged (plus a short -syncinterval so repairs show within the test),
// a cluster DNS (clusterdns with the kubernetes plugin) on 127.0.0.2 behind
// KUBE_DNS_UPSTREAM_SERVICE_HOST, and the node's resolv.conf upstream (a
// clusterdns answering from hosts) on 127.0.0.3.

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { NetNs, netnsUnavailable, until, type NsProcess } from './support/netns.js';

const CLI = resolve('src/cli.ts');
const LOCAL_IP = '169.254.20.10';
// The manifests carry the usual kube-dns Service IP (10.96.0.10) as node-local's
// second address; the test swaps in a link-local stand-in so that, even inside
// the private namespace, no test address falls in 10/8.
const STORED_DNS_SERVER_IP = '10.96.0.10';
const DNS_SERVER_IP = '169.254.20.11';
const NODE = [process.execPath, '--import', 'tsx', CLI];
const TOOLS = ['iptables-nft', 'iptables-legacy', 'iptables-nft-save', 'iptables-legacy-save', 'dig'];

const CLUSTER = JSON.stringify({
  apiVersion: 'v1', kind: 'List', items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] } },
  ],
});

const CLUSTER_COREFILE = `.:53 {
    bind 127.0.0.2
    log
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        manifests /etc/clusterdns-test/cluster.json
        fallthrough in-addr.arpa ip6.arpa
    }
}
`;

const UPSTREAM_COREFILE = `.:53 {
    bind 127.0.0.3
    log
    hosts {
        192.0.2.80 www.example.org
        fallthrough
    }
}
`;

/** The Corefile of deploy/node-local/configmap.yaml and the container args of daemonset.yaml, as stored. */
async function deployed(): Promise<{ corefile: string; args: string[] }> {
  const { loadAllYaml } = await import('@kubernetes/client-node');
  const cm = loadAllYaml(readFileSync('deploy/node-local/configmap.yaml', 'utf8'))[0] as { data: { Corefile: string } };
  const ds = loadAllYaml(readFileSync('deploy/node-local/daemonset.yaml', 'utf8'))[0] as {
    spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
  };
  const swap = (t: string) => t.split(STORED_DNS_SERVER_IP).join(DNS_SERVER_IP);
  return { corefile: swap(cm.data.Corefile), args: ds.spec.template.spec.containers[0]!.args.map(swap) };
}

describe('node-local in a private network namespace (NodeLocal DNSCache DaemonSet args and ConfigMap)', function () {
  this.timeout(60_000);
  let ns: NetNs | null = null;
  let nodeLocal: NsProcess | null = null;
  let cluster: NsProcess | null = null;
  let upstream: NsProcess | null = null;
  let args: string[] = [];

  const sh = (cmd: string) => ns!.run(['sh', '-c', cmd]);
  const dig = (...a: string[]) => ns!.run(['dig', '+short', '+tries=1', '+time=3', ...a]).stdout.trim();
  const ruleCount = (variant: 'nft' | 'legacy'): number =>
    sh(`iptables-${variant}-save 2>/dev/null`).stdout.split('\n').filter((l) => l.includes('NodeLocal DNS Cache')).length;
  const startNodeLocal = (env: Record<string, string> = {}): NsProcess =>
    ns!.spawn([...NODE, 'node-local', ...args, '-syncinterval', '1'], { KUBE_DNS_UPSTREAM_SERVICE_HOST: '127.0.0.2', ...env });
  const queriesFor = (p: NsProcess, what: string): string[] => p.output().split('\n').filter((l) => l.includes(what));

  before(async function () {
    const why = netnsUnavailable(TOOLS);
    if (why) {
      console.log(`      (skipped: ${why}; CI installs iptables and dig and allows unshare -rnm)`);
      this.skip();
    }
    const dep = await deployed();
    args = dep.args;
    ns = new NetNs();
    ns.writeEtc('coredns/Corefile.base', dep.corefile);
    ns.writeEtc('resolv.conf', 'nameserver 127.0.0.3\n');
    ns.writeEtc('clusterdns-test/cluster.json', CLUSTER);
    ns.writeEtc('clusterdns-test/cluster.Corefile', CLUSTER_COREFILE);
    ns.writeEtc('clusterdns-test/upstream.Corefile', UPSTREAM_COREFILE);
    await ns.start();
    cluster = ns.spawn([...NODE, '--conf', '/etc/clusterdns-test/cluster.Corefile']);
    upstream = ns.spawn([...NODE, '--conf', '/etc/clusterdns-test/upstream.Corefile']);
    expect(await until(() => cluster!.output().includes(' serving conf=') && upstream!.output().includes(' serving conf='), 30_000),
      `${cluster.output()}\n${upstream.output()}`).to.equal(true);
    nodeLocal = startNodeLocal();
    // Serving first, then the rules (node-cache's order): wait for the last one.
    expect(await until(() => nodeLocal!.output().includes(' serving conf=') && ruleCount('nft') === 24, 30_000), nodeLocal.output()).to.equal(true);
  });

  after(async () => {
    await ns?.stop();
  });

  it('runs the DaemonSet\'s args unchanged: -localip, -conf, -upstreamsvc, -pidfile', () => {
    expect(args).to.deep.equal(['-localip', `${LOCAL_IP},${DNS_SERVER_IP}`, '-conf', '/etc/Corefile', '-upstreamsvc', 'kube-dns-upstream', '-pidfile', '/tmp/node-cache.pid']);
    expect(sh('cat /tmp/node-cache.pid').stdout.trim()).to.equal(String(nodeLocal!.child.pid));
    // The served Corefile: placeholders filled with the Service IP and the resolv.conf path.
    const served = sh('cat /etc/Corefile').stdout;
    expect(served).to.contain('forward . 127.0.0.2 {').and.contain('forward . /etc/resolv.conf').and.not.contain('__PILLAR__');
  });

  it('holds every -localip on the nodelocaldns interface and adds node-cache\'s 24 NOTRACK/ACCEPT rules', () => {
    const addrs = sh('ip -o addr show dev nodelocaldns').stdout;
    expect(addrs).to.contain(`inet ${LOCAL_IP}/32`).and.contain(`inet ${DNS_SERVER_IP}/32`);
    const rules = sh('iptables-nft-save').stdout;
    for (const line of [
      `-A PREROUTING -d ${LOCAL_IP}/32 -p udp -m udp --dport 53 -m comment --comment "NodeLocal DNS Cache: skip conntrack" -j NOTRACK`,
      `-A PREROUTING -d ${LOCAL_IP}/32 -p tcp -m tcp --dport 53 -m comment --comment "NodeLocal DNS Cache: skip conntrack" -j NOTRACK`,
      `-A OUTPUT -s ${LOCAL_IP}/32 -p udp -m udp --sport 53 -m comment --comment "NodeLocal DNS Cache: skip conntrack" -j NOTRACK`,
      `-A OUTPUT -d ${LOCAL_IP}/32 -p tcp -m tcp --dport 8080 -m comment --comment "NodeLocal DNS Cache: skip conntrack" -j NOTRACK`,
      `-A INPUT -d ${DNS_SERVER_IP}/32 -p udp -m udp --dport 53 -m comment --comment "NodeLocal DNS Cache: allow DNS traffic" -j ACCEPT`,
      `-A OUTPUT -s ${DNS_SERVER_IP}/32 -p tcp -m tcp --sport 53 -m comment --comment "NodeLocal DNS Cache: allow DNS traffic" -j ACCEPT`,
    ]) expect(rules).to.contain(line);
    expect(ruleCount('nft')).to.equal(24);
    expect(ruleCount('legacy')).to.equal(0);
  });

  it('answers cluster names from the cluster DNS, fetched over TCP (force_tcp)', async () => {
    expect(dig(`@${LOCAL_IP}`, 'kubernetes.default.svc.cluster.local', 'A')).to.equal('10.96.0.1');
    const asked = '"A IN kubernetes.default.svc.cluster.local.';
    // The log line reaches us through a pipe, after the answer.
    await until(() => queriesFor(cluster!, asked).length > 0, 5000);
    const seen = queriesFor(cluster!, asked);
    expect(seen, cluster!.output()).to.have.length(1);
    expect(seen[0]).to.contain(' tcp ');
    // And on the kube-dns IP bound locally (iptables mode).
    expect(dig(`@${DNS_SERVER_IP}`, 'kubernetes.default.svc.cluster.local', 'A')).to.equal('10.96.0.1');
  });

  it('forwards other names to the resolv.conf nameservers, then answers them from cache', async () => {
    expect(dig(`@${LOCAL_IP}`, 'www.example.org', 'A')).to.equal('192.0.2.80');
    await until(() => queriesFor(upstream!, '"A IN www.example.org.').length > 0, 5000);
    expect(dig(`@${LOCAL_IP}`, 'www.example.org', 'A')).to.equal('192.0.2.80');
    expect(dig(`@${DNS_SERVER_IP}`, 'www.example.org', 'A')).to.equal('192.0.2.80');
    expect(queriesFor(upstream!, '"A IN www.example.org.'), upstream!.output()).to.have.length(1);
  });

  it('answers over TCP on the local IP', () => {
    expect(dig('+tcp', `@${LOCAL_IP}`, 'www.example.org', 'A')).to.equal('192.0.2.80');
    expect(dig('+tcp', `@${LOCAL_IP}`, 'kubernetes.default.svc.cluster.local', 'A')).to.equal('10.96.0.1');
  });

  it('serves health on the local IP at -health-port, metrics on :9253 and setup errors on :9353', () => {
    const get = (host: string, port: number, path: string) =>
      ns!.run(['bash', '-c', `exec 3<>/dev/tcp/${host}/${port}; printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3`]).stdout;
    const health = get(LOCAL_IP, 8080, '/health');
    expect(health).to.match(/^HTTP\/1\.1 200/).and.match(/OK$/);
    const metrics = get('127.0.0.1', 9253, '/metrics');
    expect(metrics).to.match(/^HTTP\/1\.1 200/).and.contain('coredns_cache_hits_total');
    const setup = get('127.0.0.1', 9353, '/metrics');
    expect(setup).to.contain('coredns_nodecache_setup_errors_total{errortype="iptables"} 0');
  });

  it('puts back a rule deleted by hand within -syncinterval', async () => {
    const del = sh(`iptables-nft -t raw -D PREROUTING -p udp -d ${LOCAL_IP} --dport 53 -j NOTRACK -m comment --comment "NodeLocal DNS Cache: skip conntrack"`);
    // The deletion took (exit 0); a sync may already have put the rule back before it could be
    // counted on a loaded machine, so what proves the repair is one more "added back" line.
    const addedBack = (): number => nodeLocal!.output().split('added back iptables rule').length - 1;
    const repairsBefore = addedBack();
    expect(del.code, del.out).to.equal(0);
    expect(await until(() => addedBack() > repairsBefore && ruleCount('nft') === 24, 15_000, 250), nodeLocal!.output()).to.equal(true);
  });

  it('puts back the interface removed by hand', async () => {
    expect(sh('ip link del nodelocaldns').code).to.equal(0);
    expect(await until(() => sh('ip -o addr show dev nodelocaldns').stdout.includes(LOCAL_IP), 15_000, 250), nodeLocal!.output()).to.equal(true);
  });

  it('removes the rules and the interface on SIGTERM and exits 0', async () => {
    nodeLocal!.child.kill('SIGTERM');
    expect(await nodeLocal!.exited, nodeLocal!.output()).to.equal(0);
    expect(ruleCount('nft')).to.equal(0);
    expect(sh('ip link show nodelocaldns').code).to.not.equal(0);
    expect(sh('test -e /tmp/node-cache.pid').code).to.not.equal(0);
  });

  it('uses iptables-legacy where that is the host\'s backend, and cleans it up too', async () => {
    const p = startNodeLocal({ CLUSTERDNS_IPTABLES: 'iptables-legacy' });
    expect(await until(() => ruleCount('legacy') === 24, 30_000), p.output()).to.equal(true);
    expect(ruleCount('nft')).to.equal(0);
    expect(dig(`@${LOCAL_IP}`, 'kubernetes.default.svc.cluster.local', 'A')).to.equal('10.96.0.1');
    p.child.kill('SIGTERM');
    expect(await p.exited, p.output()).to.equal(0);
    expect(ruleCount('legacy')).to.equal(0);
  });

  it('leaves the interface and rules in place with -skipteardown', async () => {
    const p = ns!.spawn([...NODE, 'node-local', ...args, '-skipteardown'], { KUBE_DNS_UPSTREAM_SERVICE_HOST: '127.0.0.2' });
    expect(await until(() => ruleCount('nft') === 24, 30_000), p.output()).to.equal(true);
    p.child.kill('SIGTERM');
    expect(await p.exited, p.output()).to.equal(0);
    expect(ruleCount('nft')).to.equal(24);
    expect(sh('ip -o addr show dev nodelocaldns').stdout).to.contain(LOCAL_IP);
  });
});
