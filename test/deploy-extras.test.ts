// deploy/'s in-place path (only the image of kubeadm's CoreDNS Deployment
// changes), the monitoring objects and the autoscaler: each parses, and each
// agrees with the Deployment, the image and the metrics clusterdns exports.

import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { familiesOf } from '../src/metrics/plugins.js';
import { PLUGINS } from '../src/plugins/index.js';

// Manifests are checked field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

/** A strategic merge patch of containers (merged by name) and plain maps: what kubectl patch does for these fields. */
function strategicMerge(base: Obj, patch: Obj): Obj {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const out = base.map((b: Obj) => {
      const p = patch.find((x: Obj) => x?.name !== undefined && x.name === b?.name);
      return p ? strategicMerge(b, p) : b;
    });
    return out.concat(patch.filter((p: Obj) => !base.some((b: Obj) => b?.name === p?.name)));
  }
  if (base && patch && typeof base === 'object' && typeof patch === 'object') {
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k], v) : v;
    return out;
  }
  return patch;
}

describe('deploy/: in place of CoreDNS, monitoring, autoscaling', function () {
  this.timeout(40_000);
  let load: (text: string) => Obj[];
  const all: Array<{ file: string; obj: Obj }> = [];

  before(async () => {
    const { loadAllYaml } = await import('@kubernetes/client-node');
    load = (t) => loadAllYaml(t) as Obj[];
    for (const file of yamlFiles('deploy')) for (const obj of load(readFileSync(file, 'utf8'))) all.push({ file, obj });
  });

  it('every object in deploy/ (subfolders too) parses with apiVersion, kind and a name', () => {
    expect(all.length).to.be.at.least(15);
    for (const { file, obj } of all) {
      if (file.includes('in-place')) continue; // a patch, not an object
      expect(obj.apiVersion, file).to.be.a('string');
      expect(obj.kind, file).to.be.a('string');
      expect(obj.metadata?.name, file).to.be.a('string');
    }
  });

  it('exactly one Deployment carries k8s-app=kube-dns, named coredns (what kubeadm upgrade looks for)', () => {
    const dns = all.filter(({ obj }) => obj.kind === 'Deployment' && obj.metadata?.labels?.['k8s-app'] === 'kube-dns');
    expect(dns.map(({ obj }) => obj.metadata.name)).to.deep.equal(['coredns']);
    for (const { obj } of all.filter(({ obj }) => obj.kind === 'Deployment')) {
      const podLabels = obj.spec.template.metadata.labels ?? {};
      if (obj.metadata.name !== 'coredns') expect(podLabels['k8s-app'], obj.metadata.name).to.not.equal('kube-dns');
    }
  });

  it("the in-place patch changes only the image of kubeadm's CoreDNS Deployment, which then runs as the image needs", () => {
    const kubeadm = load(readFileSync('test/fixtures/kubeadm-coredns-deployment.yaml', 'utf8'))[0];
    const patch = load(readFileSync('deploy/in-place/coredns-image-patch.yaml', 'utf8'))[0];
    const ours = all.find(({ obj }) => obj.kind === 'Deployment' && obj.metadata.name === 'coredns')!.obj;
    const patched = strategicMerge(kubeadm, patch);
    const c = patched.spec.template.spec.containers[0];
    const k = kubeadm.spec.template.spec.containers[0];
    expect(c.image).to.equal(ours.spec.template.spec.containers[0].image);
    // Nothing else of the container changes: args, mounts, probes, ports, resources, securityContext.
    expect({ ...c, image: '' }).to.deep.equal({ ...k, image: '' });
    expect(patched.metadata).to.deep.equal(kubeadm.metadata);
    expect(patched.spec.selector).to.deep.equal(kubeadm.spec.selector);
    // What the image needs, kubeadm already gives: CoreDNS's args, the Corefile mount, CoreDNS's securityContext.
    expect(c.args).to.deep.equal(['-conf', '/etc/coredns/Corefile']);
    expect(c.securityContext).to.deep.equal(ours.spec.template.spec.containers[0].securityContext);
    expect(c.volumeMounts.find((m: Obj) => m.mountPath === '/etc/coredns')).to.not.equal(undefined);
    expect(patched.spec.template.spec.dnsPolicy).to.equal('Default');
    // The Dockerfile's CMD is the same args, so the image also runs without any.
    expect(readFileSync('Dockerfile', 'utf8')).to.match(/^CMD \["-conf", "\/etc\/coredns\/Corefile"\]$/m);
  });

  it('ServiceMonitor scrapes the Service\'s metrics port; every alert queries a metric clusterdns exports', () => {
    const svc = all.find(({ obj }) => obj.kind === 'Service' && obj.metadata.name === 'kube-dns')!.obj;
    const sm = all.find(({ obj }) => obj.kind === 'ServiceMonitor')!.obj;
    expect(Object.entries(sm.spec.selector.matchLabels).every(([key, v]) => svc.metadata.labels[key] === v)).to.equal(true);
    expect(svc.spec.ports.map((p: Obj) => p.name)).to.include(sm.spec.endpoints[0].port);
    const rule = all.find(({ obj }) => obj.kind === 'PrometheusRule')!.obj;
    const rules: Obj[] = rule.spec.groups.flatMap((g: Obj) => g.rules);
    const names = rules.map((r) => r.alert);
    for (const a of ['CoreDNSDown', 'CoreDNSLatencyHigh', 'CoreDNSErrorsHigh', 'CoreDNSForwardLatencyHigh', 'CoreDNSForwardHealthcheckFailureCount', 'CoreDNSPanics']) expect(names).to.include(a);
    // Metric names in the expressions, checked against the registry's own
    // metrics and the families the plugins declare.
    const registry = readFileSync('src/metrics/registry.ts', 'utf8');
    const pluginFamilies = Object.keys(familiesOf(PLUGINS));
    for (const r of rules) {
      for (const m of r.expr.matchAll(/\b(coredns_[a-z_]+?)(_bucket)?\{/g)) {
        const name = m[1] ?? '';
        expect(registry.includes(`'${name}'`) || pluginFamilies.includes(name), `${r.alert}: ${name}`).to.equal(true);
      }
      expect(r.expr, r.alert).to.contain(`job="${svc.metadata.labels[sm.spec.jobLabel]}"`);
    }
  });

  it('the autoscaler resizes Deployment/coredns, keeps two replicas, and may do so', () => {
    const cpa = all.find(({ obj }) => obj.kind === 'Deployment' && obj.metadata.name === 'kube-dns-autoscaler')!.obj;
    const cmd: string[] = cpa.spec.template.spec.containers[0].command;
    expect(cmd).to.include('--target=Deployment/coredns');
    const cmName = /--configmap=(\S+)/.exec(cmd.join(' '))![1];
    const params = all.find(({ obj }) => obj.kind === 'ConfigMap' && obj.metadata.name === cmName)!.obj;
    const linear = JSON.parse(params.data.linear);
    expect(linear.min).to.be.at.least(2);
    expect(linear.preventSinglePointFailure).to.equal(true);
    const role = all.find(({ obj }) => obj.kind === 'ClusterRole' && obj.metadata.name === 'system:kube-dns-autoscaler')!.obj;
    expect(role.rules.some((r: Obj) => r.apiGroups.includes('apps') && r.resources.includes('deployments/scale') && r.verbs.includes('update'))).to.equal(true);
    expect(cpa.spec.template.spec.serviceAccountName).to.equal(all.find(({ obj }) => obj.kind === 'ClusterRoleBinding' && obj.roleRef.name === role.metadata.name)!.obj.subjects[0].name);
  });
});
