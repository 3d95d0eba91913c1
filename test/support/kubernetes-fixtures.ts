// Shared by the kubernetes-*.test.ts files: a demo cluster written as
// manifests into a temp folder, a tiny answering plugin for ExternalName
// targets and fallthrough, and a query helper that asks over UDP and TCP and
// insists both transports give the same answer.

import { expect } from 'chai';
import type { DecodedPacket } from 'dns-packet';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QTYPE, RCODE } from '../../src/dns/constants.js';
import { records, type RR } from '../../src/dns/reply.js';
import { PLUGINS } from '../../src/plugins/index.js';
import type { PluginDefinition, Request } from '../../src/server/plugin.js';
import { rcodeOf, tcpQuery, udpQuery } from './dns.js';
import { startCorefile, type Running } from './server.js';

export const CLUSTER: Record<string, string> = {
  'namespaces.yaml': `
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {team: demo}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {team: other}}
---
apiVersion: v1
kind: Namespace
metadata: {name: empty-ns}
---
`,
  'default.yaml': `
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default, labels: {component: apiserver}}
spec:
  clusterIP: 10.96.0.1
  ports: [{name: https, port: 443, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: 1kubernetes, namespace: default}
spec:
  clusterIP: 10.96.0.2
  ports: [{name: https, port: 443, protocol: TCP}]
`,
  'demo/web.yaml': `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo, labels: {app: web}}
spec:
  clusterIP: 10.96.1.10
  ports:
    - {name: http, port: 80, protocol: TCP}
    - {name: https, port: 443, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-a1, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
  - addresses: [10.1.0.1]
    conditions: {ready: true}
    targetRef: {kind: Pod, name: web-a, namespace: demo}
  - addresses: [10.1.0.2]
    targetRef: {kind: Pod, name: web-b, namespace: demo}
  - addresses: [10.1.0.3]
    conditions: {ready: false}
    targetRef: {kind: Pod, name: web-c, namespace: demo}
  - addresses: [10.1.0.4]
    conditions: {ready: true}
    targetRef: {kind: Pod, name: ${'p'.repeat(64)}, namespace: demo}
ports: [{name: http, port: 8080, protocol: TCP}, {name: https, port: 8443, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-b2, namespace: demo, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
  - addresses: [10.1.0.2]
    conditions: {ready: true}
    targetRef: {kind: Pod, name: web-b, namespace: demo}
ports: [{name: http, port: 8080, protocol: TCP}, {name: https, port: 8443, protocol: TCP}]
`,
  'demo/db.yaml': `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo, labels: {app: db}}
spec:
  clusterIP: None
  ports: [{name: postgres, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-x, namespace: demo, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
endpoints:
  - {addresses: [10.1.1.10], hostname: db-0, conditions: {ready: true}, targetRef: {kind: Pod, name: db-0}}
  - {addresses: [10.1.1.11], hostname: db-1, conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}
  - {addresses: [10.1.1.12], hostname: db-2, conditions: {ready: false}, targetRef: {kind: Pod, name: db-2}}
ports: [{name: postgres, port: 5432, protocol: TCP}]
`,
  'demo/more.json': JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'plain', namespace: 'demo' }, spec: { clusterIP: '10.96.1.11', ports: [{ port: 8080, protocol: 'TCP' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'lonely', namespace: 'demo' }, spec: { clusterIP: '10.96.1.12', ports: [{ name: 'http', port: 80 }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nothing', namespace: 'demo' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } },
      {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'nothing-1', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'nothing' } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.1.4.1'], conditions: { ready: false } }], ports: [{ name: 'http', port: 80 }],
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'pna', namespace: 'demo' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true, ports: [{ name: 'http', port: 80 }] } },
      {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'pna-1', namespace: 'demo', labels: { 'kubernetes.io/service-name': 'pna' } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.1.3.1'], conditions: { ready: false } }], ports: [{ name: 'http', port: 80 }],
      },
    ],
  }),
  'demo/external.yaml': `
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: demo}
spec: {type: ExternalName, externalName: www.example.test}
---
apiVersion: v1
kind: Service
metadata: {name: alias, namespace: demo}
spec: {type: ExternalName, externalName: web.demo.svc.cluster.local.}
---
apiVersion: v1
kind: Service
metadata: {name: gone, namespace: demo}
spec: {type: ExternalName, externalName: nx.example.test}
---
apiVersion: v1
kind: Service
metadata: {name: loop-a, namespace: demo}
spec: {type: ExternalName, externalName: loop-b.demo.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: loop-b, namespace: demo}
spec: {type: ExternalName, externalName: loop-a.demo.svc.cluster.local}
`,
  'demo/dual.yaml': `
apiVersion: v1
kind: Service
metadata: {name: dual, namespace: demo}
spec:
  clusterIP: 10.96.1.20
  clusterIPs: [10.96.1.20, "fd00::1:20"]
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dual-v4, namespace: demo, labels: {kubernetes.io/service-name: dual}}
addressType: IPv4
endpoints: [{addresses: [10.1.2.1]}]
ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dual-v6, namespace: demo, labels: {kubernetes.io/service-name: dual}}
addressType: IPv6
endpoints: [{addresses: ["fd00::2:1"]}]
ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: six, namespace: demo}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: six-1, namespace: demo, labels: {kubernetes.io/service-name: six}}
addressType: IPv6
endpoints: [{addresses: ["fd00::"]}, {addresses: ["::5"]}]
`,
  // The same endpoint IP in services of two namespaces: two PTRs.
  'other/shared.yaml': `
apiVersion: v1
kind: Service
metadata: {name: multi-a, namespace: demo}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-a, namespace: demo, labels: {kubernetes.io/service-name: multi-a}}
addressType: IPv4
endpoints: [{addresses: [10.1.9.9], hostname: x}]
---
apiVersion: v1
kind: Service
metadata: {name: multi-b, namespace: other}
spec: {clusterIP: None}
---
apiVersion: v1
kind: Endpoints
metadata: {name: multi-b, namespace: other}
subsets:
  - addresses: [{ip: 10.1.9.9}]
    ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: other, labels: {app: web}}
spec:
  clusterIP: 10.96.2.10
  ports: [{name: http, port: 80, protocol: TCP}]
---
`,
  // A namespace known only because an object lives in it.
  'implied.yaml': `
# leading comment document
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: implied}
spec: {clusterIP: 10.96.3.1, ports: [{name: http, port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored, namespace: implied}
---
`,
  'pods.yaml': `
apiVersion: v1
kind: PodList
items:
  - {apiVersion: v1, kind: Pod, metadata: {name: web-a, namespace: demo}, status: {podIP: 10.1.0.1, podIPs: [{ip: 10.1.0.1}, {ip: "fd00::a"}]}}
  - {apiVersion: v1, kind: Pod, metadata: {name: web-b, namespace: demo}, status: {podIP: 10.1.0.2}}
`,
};

/**
 * Manifest YAML of a headless Service (port http/80) and one EndpointSlice
 * `<name>-1` holding these IPv4 addresses, all ready: for answers too big
 * for one packet and the like.
 */
export function headlessYaml(ns: string, name: string, addresses: readonly string[]): string {
  return `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {clusterIP: None, ports: [{name: http, port: 80, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: ${ns}, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
endpoints:
${addresses.map((ip) => `  - {addresses: [${ip}], conditions: {ready: true}}`).join('\n')}
ports: [{name: http, port: 80, protocol: TCP}]
`;
}

export function writeCluster(files: Record<string, string> = CLUSTER): string {
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-k8s-'));
  for (const [name, text] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * `fixed`: answers every name it is asked with A 192.0.2.1 / AAAA
 * 2001:db8::1 / PTR fell.through.example, except names starting "nx"
 * (NXDOMAIN). Runs after kubernetes in the chain, so it also shows what
 * fell through.
 */
export const fixedPlugin: PluginDefinition = {
  name: 'fixed',
  setup: () => ({
    name: 'fixed',
    serve(req: Request) {
      if (req.lname.startsWith('nx')) return records(RCODE.NXDOMAIN, 'fixed', true);
      const answer: RR[] = [];
      if (req.type === QTYPE.A) answer.push({ name: req.lname, type: 'A', ttl: 60, data: '192.0.2.1' } as RR);
      if (req.type === QTYPE.AAAA) answer.push({ name: req.lname, type: 'AAAA', ttl: 60, data: '2001:db8::1' } as RR);
      if (req.type === QTYPE.PTR) answer.push({ name: req.lname, type: 'PTR', ttl: 60, data: 'fell.through.example' } as RR);
      return records(RCODE.NOERROR, 'fixed', true, answer);
    },
  }),
};

export const TEST_PLUGINS = [...PLUGINS, fixedPlugin];

export function start(corefile: string): Promise<Running> {
  return startCorefile(corefile, { plugins: TEST_PLUGINS });
}

export interface Answer {
  rcode: string;
  aa: boolean;
  answer: string[];
  authority: string[];
  additional: string[];
  /** TTLs of the answer section, in order. */
  ttls: number[];
  raw: DecodedPacket;
}

function lines(rrs: DecodedPacket['answers']): string[] {
  return (rrs ?? []).filter((r) => r.type !== 'OPT').map((r) => {
    const d = (r as { data: unknown }).data;
    let text: string;
    if (r.type === 'TXT') text = (d as Buffer[]).map((b) => `"${b.toString()}"`).join(' ');
    else if (r.type === 'SRV') { const s = d as { priority: number; weight: number; port: number; target: string }; text = `${s.priority} ${s.weight} ${s.port} ${s.target}`; }
    else if (r.type === 'SOA') { const s = d as { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }; text = `${s.mname} ${s.rname} SERIAL ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`; }
    else text = String(d);
    return `${r.name} ${(r as { ttl?: number }).ttl} ${r.type} ${text}`;
  });
}

function view(p: DecodedPacket): Answer {
  return {
    rcode: rcodeOf(p),
    aa: (p as unknown as { flag_aa: boolean }).flag_aa,
    answer: lines(p.answers),
    authority: lines(p.authorities),
    additional: lines(p.additionals),
    ttls: (p.answers ?? []).map((r) => (r as { ttl?: number }).ttl ?? -1),
    raw: p,
  };
}

/** Asks over UDP and TCP; both must agree (apart from the ID). */
export async function ask(port: number, name: string, type: string): Promise<Answer> {
  const [u, t] = await Promise.all([udpQuery(port, name, type, { edns: 1232 }), tcpQuery(port, name, type)]);
  const uv = view(u);
  const tv = view(t);
  const strip = ({ raw: _r, ...rest }: Answer) => rest;
  expect(strip(tv), `TCP and UDP differ for ${name} ${type}`).to.deep.equal(strip(uv));
  return uv;
}

/** Polls `fn` (usually an ask()) until `ok` holds or `ms` pass; the last value and the time taken. */
export async function untilAnswer<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<{ value: T; elapsed: number }> {
  const t0 = Date.now();
  for (;;) {
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      // ask() sends UDP and TCP at once: a poll can straddle the change being
      // waited for (one answered before it, one after). Ask again; a lasting
      // disagreement still fails.
      if (Date.now() - t0 > ms) throw err;
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    const elapsed = Date.now() - t0;
    if (ok(value) || elapsed > ms) return { value, elapsed };
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The zone's SOA line: record TTL min(ttl, 300), minimum field = ttl. */
export const SOA_CLUSTER = (ttl: number) => `cluster.local ${Math.min(ttl, 300)} SOA ns.dns.cluster.local hostmaster.cluster.local SERIAL 7200 1800 86400 ${ttl}`;

/** NXDOMAIN with the zone's SOA in authority, AA set. */
export function expectNx(a: Answer, soa = SOA_CLUSTER(30)): void {
  expect(a.rcode, 'rcode').to.equal('NXDOMAIN');
  expect(a.aa, 'AA').to.equal(true);
  expect(a.answer).to.deep.equal([]);
  expect(a.authority).to.deep.equal([soa]);
}

/** NOERROR, no answer, the zone's SOA in authority, AA set. */
export function expectNodata(a: Answer, soa = SOA_CLUSTER(30)): void {
  expect(a.rcode, 'rcode').to.equal('NOERROR');
  expect(a.aa, 'AA').to.equal(true);
  expect(a.answer).to.deep.equal([]);
  expect(a.authority).to.deep.equal([soa]);
}

/** NOERROR, AA, exactly these answer lines (order-insensitive), no authority. */
export function expectAnswer(a: Answer, answer: string[], additional?: string[]): void {
  expect(a.rcode, 'rcode').to.equal('NOERROR');
  expect(a.aa, 'AA').to.equal(true);
  expect([...a.answer].sort()).to.deep.equal([...answer].sort());
  expect(a.authority).to.deep.equal([]);
  if (additional) expect([...a.additional].sort()).to.deep.equal([...additional].sort());
}

/**
 * One row of a case table in CoreDNS's style (test.Case): the question and
 * the whole reply. Answer and additional compare as sets; authority exactly;
 * additional only when given. Every reply must be authoritative.
 */
export interface Case {
  qname: string;
  qtype: string;
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  answer: string[];
  authority: string[];
  additional?: string[];
}

/** NOERROR with these answer lines (and this additional section, when given). */
export const answerCase = (qname: string, qtype: string, answer: string[], additional?: string[]): Case =>
  ({ qname, qtype, rcode: 'NOERROR', answer, authority: [], ...(additional ? { additional } : {}) });
/** NXDOMAIN with the zone's SOA. */
export const nxCase = (qname: string, qtype: string, soa = SOA_CLUSTER(30)): Case => ({ qname, qtype, rcode: 'NXDOMAIN', answer: [], authority: [soa] });
/** NOERROR, no answer, the zone's SOA. */
export const nodataCase = (qname: string, qtype: string, soa = SOA_CLUSTER(30)): Case => ({ qname, qtype, rcode: 'NOERROR', answer: [], authority: [soa] });

/** Asks every row over UDP and TCP (ask() insists they agree) and checks the whole reply. */
export async function runCases(port: number, cases: readonly Case[]): Promise<void> {
  for (const c of cases) {
    const a = await ask(port, c.qname, c.qtype);
    const what = `${c.qname} ${c.qtype}`;
    expect(a.rcode, `${what}: rcode`).to.equal(c.rcode);
    expect(a.aa, `${what}: AA`).to.equal(true);
    expect([...a.answer].sort(), `${what}: answer`).to.deep.equal([...c.answer].sort());
    expect(a.authority, `${what}: authority`).to.deep.equal(c.authority);
    if (c.additional) expect([...a.additional].sort(), `${what}: additional`).to.deep.equal([...c.additional].sort());
  }
}
