import { FakeKubeApi, endpointSlice, namespace, service } from '../../test/support/kube-api.js';

/** A synthetic cluster: the same records go to the fake API (for clusterdns) and a zone file (for knotd). */
export interface ClusterSpec {
  services: number;
  namespaces: number;
  headless: number;
  endpointsPerHeadless: number;
}

export interface BenchService {
  ns: string;
  name: string;
  headless: boolean;
  /** Cluster IP, or the endpoint IPs for headless services. */
  ips: string[];
}

/** npm run bench's cluster: 1,000 services, 50 of them headless with 10 endpoints each. */
export const BENCH_CLUSTER: ClusterSpec = { services: 1000, namespaces: 10, headless: 50, endpointsPerHeadless: 10 };

/** The test API server, started and holding `spec`'s cluster. */
export async function startClusterApi(spec: ClusterSpec = BENCH_CLUSTER): Promise<{ api: FakeKubeApi; svcs: BenchService[] }> {
  const svcs = clusterServices(spec);
  const api = new FakeKubeApi();
  await api.start(0);
  loadApi(api, spec, svcs);
  return { api, svcs };
}

export function clusterServices(spec: ClusterSpec): BenchService[] {
  const out: BenchService[] = [];
  let ep = 0;
  for (let i = 0; i < spec.services; i++) {
    const ns = `ns${i % spec.namespaces}`;
    const headless = i < spec.headless;
    const ips: string[] = [];
    if (headless) {
      for (let e = 0; e < spec.endpointsPerHeadless; e++, ep++) ips.push(`10.244.${(ep >> 8) & 255}.${ep & 255}`);
    } else {
      ips.push(`10.96.${(i >> 8) & 255}.${i & 255}`);
    }
    out.push({ ns, name: `svc${i}`, headless, ips });
  }
  return out;
}

/** Loads the services into a fake API server (one EndpointSlice per service). */
export function loadApi(api: FakeKubeApi, spec: ClusterSpec, svcs: BenchService[]): void {
  for (let n = 0; n < spec.namespaces; n++) api.upsert('namespaces', namespace(`ns${n}`));
  api.upsert('namespaces', namespace('default'));
  for (const s of svcs) {
    const ports = [{ name: 'http', protocol: 'TCP', port: 80 }];
    api.upsert('services', service(s.ns, s.name, s.headless
      ? { clusterIP: 'None', clusterIPs: ['None'], ports }
      : { clusterIP: s.ips[0], clusterIPs: s.ips, ports, type: 'ClusterIP' }));
    const eps = (s.headless ? s.ips : [`10.245.${s.name.length}.${Number(s.name.slice(3)) & 255}`]).map((ip) => ({ addresses: [ip], conditions: { ready: true } }));
    api.upsert('endpointslices', endpointSlice(s.ns, `${s.name}-abc`, s.name, 'IPv4', eps, [{ name: 'http', protocol: 'TCP', port: 8080 }]));
  }
}

const dashed = (ip: string): string => ip.replace(/\./g, '-');

/** The same records as an authoritative zone (what CoreDNS's answers would be, statically). */
export function zoneFile(svcs: BenchService[], zone = 'cluster.local'): { forward: string; reverse: string } {
  const soa = `@ 30 IN SOA ns.dns.${zone}. hostmaster.${zone}. 1 7200 1800 86400 30\n@ 30 IN NS ns.dns.${zone}.\nns.dns 30 IN A 127.0.0.1\n`;
  let fwd = `$ORIGIN ${zone}.\n${soa}dns-version 28800 IN TXT "1.1.0"\n`;
  let rev = `$ORIGIN 10.in-addr.arpa.\n@ 30 IN SOA ns.dns.${zone}. hostmaster.${zone}. 1 7200 1800 86400 30\n@ 30 IN NS ns.dns.${zone}.\n`;
  const ptr = (ip: string, target: string): void => {
    const [, b, c, d] = ip.split('.');
    rev += `${d}.${c}.${b} 30 IN PTR ${target}.\n`;
  };
  for (const s of svcs) {
    const owner = `${s.name}.${s.ns}.svc`;
    const full = `${owner}.${zone}`;
    for (const ip of s.ips) fwd += `${owner} 30 IN A ${ip}\n`;
    if (s.headless) {
      const w = Math.floor(100 / s.ips.length);
      for (const ip of s.ips) {
        fwd += `${dashed(ip)}.${owner} 30 IN A ${ip}\n`;
        fwd += `_http._tcp.${owner} 30 IN SRV 0 ${w} 8080 ${dashed(ip)}.${full}.\n`;
        ptr(ip, `${dashed(ip)}.${full}`);
      }
    } else {
      fwd += `_http._tcp.${owner} 30 IN SRV 0 100 80 ${full}.\n`;
      ptr(s.ips[0]!, full);
    }
  }
  return { forward: fwd, reverse: rev };
}

/** The mix: 70% A, 10% SRV, 5% PTR, 10% AAAA (NODATA), 5% search-path NXDOMAIN. */
export function queryFile(svcs: BenchService[], count = 10_000, zone = 'cluster.local'): string {
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = svcs[rnd(svcs.length)]!;
    const name = `${s.name}.${s.ns}.svc.${zone}`;
    const r = rnd(100);
    if (r < 70) lines.push(`${name} A`);
    else if (r < 80) lines.push(`_http._tcp.${name} SRV`);
    else if (r < 85) lines.push(`${s.ips[0]!.split('.').reverse().join('.')}.in-addr.arpa PTR`);
    else if (r < 95) lines.push(`${name} AAAA`);
    else lines.push(`${s.name}.${s.ns}.svc.${zone}.${s.ns}.svc.${zone} A`);
  }
  return `${lines.join('\n')}\n`;
}

/** AKS's two template blocks (test/fixtures/aks-Corefile), for a server block. */
export const AKS_TEMPLATES = `    template ANY ANY internal.cloudapp.net {
        match "^(?:[^.]+\\.){4,}internal\\.cloudapp\\.net\\.$"
        rcode NXDOMAIN
        fallthrough
    }
    template ANY ANY reddog.microsoft.com {
        rcode NXDOMAIN
    }`;

/**
 * Cluster names through a chain a customised cluster runs (issue 12's check): a rewrite rule,
 * AKS's two template blocks and autopath (with pods verified, which it needs) in front of
 * kubernetes, in one block as AKS has it.
 */
export function pluginsChainCorefile(port: number, kubeconfig: string, forwardPort: number): string {
  return `.:${port} {
    bind 127.0.0.1
    rewrite name suffix .corp.example.com. .svc.cluster.local. answer auto
${AKS_TEMPLATES}
    autopath @kubernetes
    kubernetes cluster.local in-addr.arpa {
        kubeconfig ${kubeconfig}
        pods verified
        fallthrough in-addr.arpa
    }
    forward . 127.0.0.1:${forwardPort}
}
`;
}
