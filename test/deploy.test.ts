// Every manifest in deploy/ parses, and names, ports, probes and RBAC agree
// with each other and with the Corefile in the ConfigMap.

import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from '../src/app.js';
import type { Directive } from '../src/corefile/ast.js';
import { parseServerKey } from '../src/corefile/keys.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { parseHealth } from '../src/plugins/health/setup.js';
import { PLUGINS } from '../src/plugins/index.js';
import { parsePrometheus } from '../src/plugins/prometheus/setup.js';
import { parseReady } from '../src/plugins/ready/setup.js';

// Manifests are checked field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const DIR = 'deploy';

describe('deploy/ manifests', function () {
  // Importing client-node for its YAML loader takes seconds on a loaded machine.
  this.timeout(40_000);
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();
  const objects: Array<{ file: string; obj: Obj }> = [];
  const byKind = (kind: string): Obj[] => objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
  const one = (kind: string): Obj => {
    const list = byKind(kind);
    expect(list, kind).to.have.length(1);
    return list[0];
  };

  before(async () => {
    const { loadAllYaml } = await import('@kubernetes/client-node');
    for (const file of files) {
      for (const obj of loadAllYaml(readFileSync(join(DIR, file), 'utf8'))) objects.push({ file, obj });
    }
  });

  it('has every piece, each parsing with apiVersion, kind and name, namespaced in kube-system', () => {
    expect(files).to.include.members(['serviceaccount.yaml', 'clusterrole.yaml', 'clusterrolebinding.yaml', 'configmap.yaml', 'deployment.yaml', 'service.yaml', 'pdb.yaml']);
    const kinds = objects.map((o) => o.obj.kind).sort();
    expect(kinds).to.deep.equal(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    for (const { file, obj } of objects) {
      expect(obj.apiVersion, file).to.be.a('string');
      expect(obj.metadata?.name, file).to.be.a('string');
      if (!obj.kind.startsWith('Cluster')) expect(obj.metadata.namespace, file).to.equal('kube-system');
    }
    expect(readFileSync(join(DIR, 'README.md'), 'utf8')).to.match(/MIGRATING\.md[\s\S]*replicas[\s\S]*HorizontalPodAutoscaler[\s\S]*NodeLocal DNSCache/);
  });

  it('RBAC: the Deployment runs as the ServiceAccount the binding grants list/watch on exactly what the plugin watches', () => {
    const sa = one('ServiceAccount');
    const role = one('ClusterRole');
    const binding = one('ClusterRoleBinding');
    const pod = one('Deployment').spec.template.spec;
    expect(pod.serviceAccountName).to.equal(sa.metadata.name);
    expect(binding.roleRef).to.deep.include({ kind: 'ClusterRole', name: role.metadata.name, apiGroup: 'rbac.authorization.k8s.io' });
    expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    const granted = new Set<string>();
    for (const rule of role.rules) {
      expect(rule.verbs.slice().sort()).to.deep.equal(['list', 'watch'], 'read-only: list and watch only');
      for (const g of rule.apiGroups) for (const r of rule.resources) granted.add(`${g}/${r}`);
    }
    expect([...granted].sort()).to.deep.equal(['/namespaces', '/services', 'discovery.k8s.io/endpointslices']);
    // pods only for `pods verified`: present, commented out.
    expect(readFileSync(join(DIR, 'clusterrole.yaml'), 'utf8')).to.match(/pods verified[\s\S]*#\s+resources: \["pods"\]/);
  });

  it('the ConfigMap holds a Corefile that clusterdns accepts, and the Deployment mounts it where the image reads it', () => {
    const cm = one('ConfigMap');
    const text: string = cm.data.Corefile;
    const corefile = parseCorefile(text, { file: 'configmap.yaml:Corefile' });
    const missing = corefile.blocks.flatMap((b) => b.directives.map((d) => d.name)).filter((n) => !PLUGINS.some((p) => p.name === n));
    expect(missing, 'every directive of the kubeadm Corefile is a registered plugin').to.deep.equal([]);
    expect(() => createServer(corefile)).to.not.throw();
    const kubeadm = /^\.:53 \{[\s\S]*?^\}/m.exec(readFileSync('Corefile.example', 'utf8'))![0];
    const squash = (t: string) => t.replace(/\s+/g, ' ').trim();
    const withImports = kubeadm.replace(/\}\s*$/, '    import /etc/coredns/custom/*.override\n}\nimport /etc/coredns/custom/*.server\n');
    expect(squash(text)).to.equal(squash(withImports), 'the kubeadm default (Corefile.example) plus the coredns-custom imports of k3s and AKS');

    const pod = one('Deployment').spec.template.spec;
    const c = pod.containers[0];
    // CoreDNS's args, as kubeadm writes them; the CLI accepts them.
    expect(c.args).to.deep.equal(['-conf', '/etc/coredns/Corefile']);
    const mount = c.volumeMounts.find((m: Obj) => m.mountPath === '/etc/coredns');
    const vol = pod.volumes.find((v: Obj) => v.name === mount.name);
    expect(vol.configMap.name).to.equal(cm.metadata.name);
    expect(vol.configMap.items, 'the whole ConfigMap: Corefile, NodeHosts, any key').to.equal(undefined);
    expect(mount.readOnly).to.equal(true);
    // Every file the Corefile names under /etc/coredns is a key of the mounted ConfigMap or the custom mount.
    const named = [...text.matchAll(/\/etc\/coredns\/(\S+)/g)].map((m) => m[1]!);
    for (const n of named) {
      if (n.startsWith('custom/')) continue;
      expect(Object.keys(cm.data), `/etc/coredns/${n}`).to.include(n);
    }
    const custom = c.volumeMounts.find((m: Obj) => m.mountPath === '/etc/coredns/custom');
    const customVol = pod.volumes.find((v: Obj) => v.name === custom.name);
    expect(customVol.configMap).to.deep.equal({ name: 'coredns-custom', optional: true });
    expect(custom.readOnly).to.equal(true);
    expect(c.args[1]).to.equal(`${mount.mountPath}/Corefile`);
    expect(Object.keys(cm.data)).to.include('Corefile');
  });

  it('ports and probes agree with the Corefile, the Service and the PodDisruptionBudget', () => {
    const corefile = parseCorefile(one('ConfigMap').data.Corefile, { file: 'Corefile' });
    const all: Directive[] = corefile.blocks.flatMap((b) => b.directives);
    const find = (name: string): Directive => {
      const d = all.find((x) => x.name === name);
      expect(d, name).to.not.equal(undefined);
      return d!;
    };
    const health = parseHealth(find('health'));
    const ready = parseReady(find('ready'));
    const prom = parsePrometheus(find('prometheus'));
    const dnsPorts = new Set(corefile.blocks.flatMap((b) => b.keys.flatMap((k) => parseServerKey(k, b).map((x) => x.port ?? 53))));
    expect([...dnsPorts]).to.deep.equal([53]);
    expect(prom.host).to.equal('', 'metrics must listen on the pod IP for the Service');

    const dep = one('Deployment');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    const portOf = (n: number, proto: string) => c.ports.find((p: Obj) => p.containerPort === n && (p.protocol ?? 'TCP') === proto);
    expect(portOf(53, 'UDP')).to.not.equal(undefined);
    expect(portOf(53, 'TCP')).to.not.equal(undefined);
    expect(portOf(prom.port, 'TCP')).to.not.equal(undefined);
    expect(c.livenessProbe.httpGet).to.deep.include({ path: '/health', port: health.port });
    expect(c.readinessProbe.httpGet).to.deep.include({ path: '/ready', port: ready.port });

    const svc = one('Service');
    expect(svc.metadata.name).to.equal('kube-dns');
    const sp = svc.spec.ports.map((p: Obj) => `${p.port}/${p.protocol}->${p.targetPort}`).sort();
    expect(sp).to.deep.equal(['53/TCP->53', '53/UDP->53', `${prom.port}/TCP->${prom.port}`]);
    const podLabels = dep.spec.template.metadata.labels;
    const selects = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
    expect(selects(svc.spec.selector), 'the Service selects our pods').to.equal(true);
    expect(selects(dep.spec.selector.matchLabels)).to.equal(true);
    const pdb = one('PodDisruptionBudget');
    expect(selects(pdb.spec.selector.matchLabels)).to.equal(true);
    expect(pdb.spec.minAvailable).to.be.above(0).and.below(dep.spec.replicas);
  });

  it('the Deployment: 2 replicas across nodes, critical, locked down, draining longer than the lameduck', () => {
    const dep = one('Deployment');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(dep.spec.replicas).to.equal(2);
    expect(pod.priorityClassName).to.equal('system-cluster-critical');
    const anti = pod.affinity.podAntiAffinity;
    const terms = [...(anti.requiredDuringSchedulingIgnoredDuringExecution ?? []), ...(anti.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t: Obj) => t.podAffinityTerm)];
    expect(terms.some((t: Obj) => t.topologyKey === 'kubernetes.io/hostname' && Object.entries(t.labelSelector.matchLabels).every(([k, v]) => dep.spec.template.metadata.labels[k] === v))).to.equal(true);
    expect(c.securityContext, 'CoreDNS\'s container securityContext, the one the image supports').to.deep.equal(IMAGE_SECURITY_CONTEXT);
    expect(pod.securityContext.runAsNonRoot).to.equal(true);
    expect(pod.securityContext.runAsUser).to.equal(imageUser());
    expect(pod.securityContext.sysctls, 'port 53 comes from the capability, not a sysctl').to.equal(undefined);
    // Spread over zones and nodes, never blocking scheduling on a small cluster.
    const spread = pod.topologySpreadConstraints.map((t: Obj) => `${t.topologyKey}/${t.whenUnsatisfiable}`).sort();
    expect(spread).to.deep.equal(['kubernetes.io/hostname/ScheduleAnyway', 'topology.kubernetes.io/zone/ScheduleAnyway']);
    for (const t of pod.topologySpreadConstraints) expect(t.labelSelector.matchLabels).to.deep.equal(dep.spec.selector.matchLabels);
    // kubeadm's memory request; the limit leaves room above the ~70 MB idle RSS.
    expect(c.resources.requests.memory).to.equal('70Mi');
    // The Corefile forwards to /etc/resolv.conf: the node's, not ourselves.
    expect(pod.dnsPolicy).to.equal('Default');

    const health = parseHealth(parseCorefile(one('ConfigMap').data.Corefile, { file: 'C' }).blocks[0]!.directives.find((d) => d.name === 'health')!);
    expect(health.lameduckMs).to.be.above(0);
    expect(pod.terminationGracePeriodSeconds * 1000).to.be.above(health.lameduckMs + 5000, 'lameduck plus time for in-flight queries');

    expect(c.resources.requests.cpu).to.be.a('string');
    const limitMi = mebibytes(c.resources.limits.memory);
    const env = c.env.find((e: Obj) => e.name === 'NODE_OPTIONS');
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env.value)![1]);
    expect(heap / limitMi).to.be.within(0.6, 0.85, `--max-old-space-size=${heap} vs a ${limitMi}Mi limit`);
    expect(mebibytes(c.resources.requests.memory)).to.be.at.most(limitMi);
  });
});

/** What the image needs (Dockerfile: node with cap_net_bind_service=+ep), which is exactly CoreDNS's container securityContext. */
const IMAGE_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
};

/** The numeric USER of the Dockerfile's final stage. */
function imageUser(): number {
  const users = [...readFileSync('Dockerfile', 'utf8').matchAll(/^USER\s+(\d+)/gm)];
  return Number(users.at(-1)![1]);
}

function mebibytes(q: string): number {
  const m = /^(\d+)(Mi|Gi|M|G)$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  const n = Number(m[1]);
  return m[2] === 'Gi' ? n * 1024 : m[2] === 'G' ? (n * 1e9) / 2 ** 20 : m[2] === 'M' ? (n * 1e6) / 2 ** 20 : n;
}
