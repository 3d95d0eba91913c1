// node-local's pieces that need no namespace: node-cache's flags, the
// Corefile template and its re-rendering. The namespace test
// (nodelocal-ns.test.ts) runs the whole thing.

import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSync } from '../src/nodelocal/config-sync.js';
import { renderCorefile, TemplateError } from '../src/nodelocal/corefile.js';
import { defaultNodeLocalFlags, FlagError, parseNodeLocalFlags, serviceHostEnv } from '../src/nodelocal/flags.js';
import { nodeLocalRules } from '../src/nodelocal/iptables.js';
import { SetupErrors } from '../src/nodelocal/metrics.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { createServer } from '../src/app.js';
import { setLogSink } from '../src/log.js';

const DAEMONSET_ARGS = ['-localip', '169.254.20.10,10.96.0.10', '-conf', '/etc/Corefile', '-upstreamsvc', 'kube-dns-upstream', '-pidfile', '/tmp/node-cache.pid'];

function flagError(argv: string[]): string {
  try {
    parseNodeLocalFlags(argv);
  } catch (err) {
    expect(err).to.be.instanceOf(FlagError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('node-local flags (node-cache\'s)', () => {
  it('accepts the NodeLocal DaemonSet\'s args and keeps node-cache\'s defaults for the rest', () => {
    const f = parseNodeLocalFlags(DAEMONSET_ARGS);
    expect(f.localIps).to.deep.equal(['169.254.20.10', '10.96.0.10']);
    expect(f.corefile).to.equal('/etc/Corefile');
    expect(f.upstreamSvc).to.equal('kube-dns-upstream');
    expect(f.pidfile).to.equal('/tmp/node-cache.pid');
    expect(f).to.include({
      setupInterface: true, setupIptables: true, skipTeardown: false, interfaceName: 'nodelocaldns', syncIntervalMs: 60_000,
      healthPort: 8080, dnsPort: 53, baseCorefile: '/etc/coredns/Corefile.base', kubednsCm: '', metricsListenAddress: '0.0.0.0:9353',
    });
  });

  it('accepts every documented flag in Go flag syntax (-f v, -f=v, --f, -bool, -bool=false)', () => {
    const f = parseNodeLocalFlags([
      '--localip=fd00::10', '-setupinterface=false', '-setupiptables=0', '-skipteardown', '-interfacename', 'nl0',
      '-syncinterval', '5', '-health-port=9090', '-basecorefile', '/x/base', '-corefile', '/x/out', '-kubednscm', '/x/kd',
      '-dns.port', '1053', '-metrics-listen-address', '127.0.0.1:0', '-reloadwithsignal', '-quiet',
    ]);
    expect(f).to.include({
      setupInterface: false, setupIptables: false, skipTeardown: true, interfaceName: 'nl0', syncIntervalMs: 5000, healthPort: 9090,
      baseCorefile: '/x/base', corefile: '/x/out', kubednsCm: '/x/kd', dnsPort: 1053, metricsListenAddress: '127.0.0.1:0',
      reloadWithSignal: true, quiet: true,
    });
    expect(f.localIps).to.deep.equal(['fd00::10']);
    // -conf is CoreDNS's name for the same file; the last one given wins, as with Go flags.
    expect(parseNodeLocalFlags(['-localip', '169.254.20.10', '-corefile', '/a', '-conf', '/b']).corefile).to.equal('/b');
    expect(parseNodeLocalFlags(['-localip', '169.254.20.10', '-syncinterval', '1m30s']).syncIntervalMs).to.equal(90_000);
  });

  it('refuses unknown flags by name, and bad values with node-cache\'s wording', () => {
    expect(flagError([...DAEMONSET_ARGS, '-cachesize', '10'])).to.contain('flag provided but not defined: -cachesize');
    expect(flagError([...DAEMONSET_ARGS, '--upstream-svc=x'])).to.contain('-upstream-svc');
    expect(flagError(['-conf', '/etc/Corefile'])).to.contain('invalid localip specified - ""');
    expect(flagError(['-localip', '169.254.20.10,nodelocal'])).to.contain('invalid localip specified - "nodelocal"');
    expect(flagError(['-localip', '169.254.20.10,fd00::10'])).to.contain('unexpected IP Family for localIP - "fd00::10"');
    expect(flagError(['-localip', '169.254.20.10', '-health-port', 'http'])).to.contain('invalid value "http" for flag -health-port');
    expect(flagError(['-localip', '169.254.20.10', '-dns.port', '70000'])).to.contain('-dns.port');
    expect(flagError(['-localip', '169.254.20.10', '-syncinterval', '0'])).to.contain('-syncinterval');
    expect(flagError(['-localip', '169.254.20.10', '-syncinterval', 'often'])).to.contain('-syncinterval');
    expect(flagError(['-localip', '169.254.20.10', '-skipteardown=maybe'])).to.contain('invalid boolean value "maybe" for -skipteardown');
    expect(flagError(['-localip'])).to.contain('flag needs an argument: -localip');
    // Go's flag would stop at "false" and silently ignore what follows: refused instead.
    expect(flagError(['-localip', '169.254.20.10', '-setupiptables', 'false'])).to.contain('unexpected argument "false"');
    expect(flagError(['-localip', '169.254.20.10', '-interfacename', 'a-name-longer-than-15'])).to.contain('-interfacename');
  });

  it('reads the upstream Service IP from <NAME>_SERVICE_HOST', () => {
    expect(serviceHostEnv('kube-dns-upstream')).to.equal('KUBE_DNS_UPSTREAM_SERVICE_HOST');
    expect(serviceHostEnv('kube-dns')).to.equal('KUBE_DNS_SERVICE_HOST');
  });

  it('clusterdns node-local exits 2 naming an unknown flag, 0 for -help', function () {
    this.timeout(60_000);
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'node-local', ...args], { encoding: 'utf8', timeout: 30_000 });
    const bad = cli([...DAEMONSET_ARGS, '-nosuchflag']);
    expect(bad.status, bad.stderr).to.equal(2);
    expect(bad.stderr).to.contain('flag provided but not defined: -nosuchflag');
    const help = cli(['-help']);
    expect(help.status, help.stderr).to.equal(0);
    for (const f of ['-localip', '-upstreamsvc', '-health-port', '-setupinterface', '-setupiptables', '-skipteardown', '-interfacename', '-syncinterval', '-basecorefile', '-kubednscm']) {
      expect(help.stdout).to.contain(`  ${f} `.trimEnd());
    }
  });
});

const BASE = `cluster.local:53 {
    errors
    cache {
            success 9984 30
            denial 9984 5
    }
    reload
    loop
    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__
    forward . __PILLAR__CLUSTER__DNS__ {
            force_tcp
    }
    prometheus :9253
    health __PILLAR__LOCAL__DNS__:8080
    }
.:53 {
    errors
    cache 30
    reload
    loop
    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__
    forward . __PILLAR__UPSTREAM__SERVERS__ {
            force_tcp
    }
    prometheus :9253
    }
`;

describe('node-local Corefile template', () => {
  const inputs = { base: BASE, localIps: ['169.254.20.10'], dnsPort: 53, clusterDnsIp: '10.96.0.11', kubeDns: null };

  it('fills the runtime placeholders as node-cache does', () => {
    const out = renderCorefile(inputs);
    expect(out).to.not.contain('__PILLAR__');
    expect(out).to.contain('forward . 10.96.0.11 {').and.contain('forward . /etc/resolv.conf {');
    // IPVS mode: no kube-dns IP to bind, its placeholder goes away.
    expect(out).to.contain('bind 169.254.20.10 \n').and.contain('health 169.254.20.10:8080');
  });

  it('the filled ConfigMap Corefile is accepted by every plugin (cache success/denial CAPACITY TTL included)', () => {
    const out = renderCorefile(inputs).replace('forward . /etc/resolv.conf', 'forward . 127.0.0.1');
    const server = createServer(parseCorefile(out, { file: 'Corefile' }));
    expect(server).to.not.equal(null);
  });

  it('uses kube-dns upstreamNameservers over UDP and adds its stubDomains', () => {
    const out = renderCorefile({ ...inputs, localIps: ['169.254.20.10', '10.96.0.10'], kubeDns: { upstreamNameservers: ['10.0.0.53', '10.0.0.54'], stubDomains: [['corp.example', ['10.1.0.1']], ['acme.local', ['10.2.0.1:5353']]], ignored: [] } });
    expect(out).to.contain('\n    forward . 10.0.0.53 10.0.0.54\n    prometheus');
    expect(out).to.contain('forward . 10.96.0.11 {\n            force_tcp');
    const acme = out.indexOf('acme.local:53 {');
    expect(acme).to.be.above(0).and.below(out.indexOf('corp.example:53 {'));
    expect(out.slice(acme)).to.contain('bind 169.254.20.10 10.96.0.10\n    forward . 10.2.0.1:5353\n');
  });

  it('says so when __PILLAR__CLUSTER__DNS__ cannot be filled', () => {
    expect(() => renderCorefile({ ...inputs, clusterDnsIp: null })).to.throw(TemplateError, '__PILLAR__CLUSTER__DNS__');
    // A Corefile that does not use it (the IP put in at install time) needs no Service.
    expect(renderCorefile({ ...inputs, base: 'cluster.local {\n forward . 10.96.0.11\n}\n', clusterDnsIp: null })).to.contain('10.96.0.11');
  });

  it('node-cache\'s rules: per local IP, NOTRACK both ways for UDP and TCP 53, ACCEPT in filter, health port exempted', () => {
    const rules = nodeLocalRules(['169.254.20.10'], 53, 8080);
    expect(rules).to.have.length(12);
    const text = rules.map((r) => `${r.table} ${r.chain} ${r.args.join(' ')}`);
    expect(text).to.include('raw PREROUTING -p udp -d 169.254.20.10 --dport 53 -j NOTRACK -m comment --comment NodeLocal DNS Cache: skip conntrack');
    expect(text).to.include('filter OUTPUT -p tcp -s 169.254.20.10 --sport 53 -j ACCEPT -m comment --comment NodeLocal DNS Cache: allow DNS traffic');
    expect(text).to.include('raw OUTPUT -p tcp -s 169.254.20.10 --sport 8080 -j NOTRACK -m comment --comment NodeLocal DNS Cache: skip conntrack');
  });
});

describe('node-local config sync', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-nodelocal-'));
    setLogSink(() => undefined);
  });
  afterEach(() => {
    setLogSink(null);
    rmSync(dir, { recursive: true, force: true });
  });

  it('rewrites -conf and reloads when the ConfigMap template or the kube-dns ConfigMap changes, and only then', async () => {
    const flags = { ...defaultNodeLocalFlags(), localIps: ['169.254.20.10'], baseCorefile: join(dir, 'Corefile.base'), corefile: join(dir, 'Corefile'), kubednsCm: join(dir, 'kube-dns') };
    mkdirSync(flags.kubednsCm);
    writeFileSync(flags.baseCorefile, BASE);
    const errors = new SetupErrors();
    const sync = new ConfigSync(flags, errors, { KUBE_DNS_SERVICE_HOST: '10.96.0.11' });
    expect(sync.render()).to.equal(true);
    expect(readFileSync(flags.corefile, 'utf8')).to.contain('forward . 10.96.0.11 {');
    const reloads: string[] = [];
    const reload = async (reason: string, force: boolean) => { reloads.push(`${reason}/${force}`); };
    await sync.tick(reload);
    expect(reloads).to.deep.equal([]);
    writeFileSync(flags.baseCorefile, BASE.replace('cache 30', 'cache 60'));
    await sync.tick(reload);
    expect(reloads).to.deep.equal(['node-local Corefile template changed/false']);
    expect(readFileSync(flags.corefile, 'utf8')).to.contain('cache 60');
    writeFileSync(join(flags.kubednsCm, 'upstreamNameservers'), '["10.0.0.53"]');
    await sync.tick(reload);
    expect(reloads).to.have.length(2);
    expect(readFileSync(flags.corefile, 'utf8')).to.contain('forward . 10.0.0.53\n');
    // A broken kube-dns ConfigMap is counted and left out, as node-cache does.
    writeFileSync(join(flags.kubednsCm, 'upstreamNameservers'), '[not json');
    await sync.tick(reload);
    expect(errors.get('configmap')).to.equal(1);
    expect(readFileSync(flags.corefile, 'utf8')).to.contain('forward . /etc/resolv.conf {');
    // A template that vanished keeps the running Corefile.
    rmSync(flags.baseCorefile);
    await sync.tick(reload);
    expect(errors.get('configmap')).to.equal(2);
    expect(readFileSync(flags.corefile, 'utf8')).to.contain('forward . /etc/resolv.conf {');
  });
});
