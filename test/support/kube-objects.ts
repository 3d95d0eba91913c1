// Kubernetes objects for the fake API server (kube-api.ts): their shape
// and builders for the kinds clusterdns watches.

export type Kind = 'services' | 'endpointslices' | 'endpoints' | 'namespaces' | 'pods';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A Service; `status` for a LoadBalancer's `{loadBalancer: {ingress: [...]}}`. */
export function service(ns: string, name: string, spec: Record<string, unknown>, labels?: Record<string, string>, status?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, ...(labels ? { labels: { ...labels } } : {}) },
    spec: { ...spec },
    ...(status ? { status: { ...status } } : {}),
  };
}

export function endpointSlice(
  ns: string,
  name: string,
  serviceName: string,
  addressType: 'IPv4' | 'IPv6',
  endpoints: unknown[],
  ports: unknown[],
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: ns,
      labels: { 'kubernetes.io/service-name': serviceName, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    addressType,
    endpoints,
    ports,
  };
}

/** v1 Endpoints (for clients that fall back when EndpointSlices are not served). */
export function endpoints(ns: string, name: string, subsets: unknown[]): KubeObject {
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: ns }, subsets };
}

export function namespace(name: string, labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    // The real API server always sets this label on namespaces.
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function pod(ns: string, name: string, ip: string | string[]): KubeObject {
  const ips = Array.isArray(ip) ? ip : [ip];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.9' }] },
    status: { phase: 'Running', ...(ips.length ? { podIP: ips[0], podIPs: ips.map((x) => ({ ip: x })) } : {}) },
  };
}
