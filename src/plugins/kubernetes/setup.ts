import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { parseServerKey } from '../../corefile/keys.js';
import { Fallthrough } from '../../corefile/fallthrough.js';
import { parseDuration, parseIntArg } from '../../corefile/options.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import { internalZone, zoneText } from '../../corefile/zones.js';
import { canonicalIP, isSubdomain } from '../../dns/names.js';
import { KUBERNETES_FAMILIES } from './families.js';
import type { BlockInfo, PluginDefinition } from '../../server/plugin.js';
import type { PodMode } from './answer.js';
import { kubeconfigProblem } from './kubeconfig.js';
import { KubernetesPlugin } from './kubernetes.js';
import { isReverseZone } from './names.js';
import { parseSelector, type LabelSelector } from './selector.js';

export interface KubernetesOptions {
  /** Zones the plugin answers for, lower-case, no trailing dot, "" for the root. */
  zones: string[];
  /** The reverse zones among `zones` (PTR answers). */
  reverseZones: string[];
  /** The first forward zone: the domain of PTR targets. */
  primaryZone: string;
  endpoint?: string;
  tls?: { cert: string; key: string; ca: string };
  kubeconfig?: { path: string; context?: string };
  namespaces: Set<string> | null;
  labels: LabelSelector | null;
  namespaceLabels: LabelSelector | null;
  pods: PodMode;
  endpointPodNames: boolean;
  ttl: number;
  noEndpoints: boolean;
  /** Names whose would-be NXDOMAIN go to the next plugin. */
  fallthrough: Fallthrough;
  ignoreEmptyService: boolean;
  startupTimeoutMs: number;
  /** Absolute paths of manifest files/folders; empty = use the API. */
  manifests: string[];
  /** `snapshot FILE` (clusterdns extension): absolute path, or null. */
  snapshot: string | null;
  /** Addresses from the block's `bind` when specific; null = discover from the interfaces. */
  bindAddresses: string[] | null;
}

const OBSOLETE: Record<string, string> = {
  upstream: 'it was removed from CoreDNS (CNAME targets are always resolved through the server); delete the line',
  resyncperiod: 'it was removed from CoreDNS (watches need no resync); delete the line',
  transfer: 'it moved to the transfer plugin (as in CoreDNS): write `transfer ZONE { to ADDRESS }` in the server block instead',
  autopath: 'autopath is a separate CoreDNS plugin, which clusterdns does not implement',
  multicluster: 'clusterdns does not implement it',
};
const POD_MODES: PodMode[] = ['disabled', 'insecure', 'verified'];
const NS_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ZONE_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** "Cluster.Local." -> "cluster.local", "." -> "", CIDR -> its reverse zone(s). */
function parseZones(arg: string, at: Directive, what: string): string[] {
  if (arg.includes('/')) {
    const keys = parseServerKey(arg, at);
    if (keys.some((k) => k.port !== null) || arg.includes('://')) throw configError(at, `kubernetes: ${what} "${arg}" must be a zone name or CIDR, without scheme or port`);
    return keys.map((k) => internalZone(k.zone));
  }
  let z = arg.toLowerCase();
  if (z === '.') return [''];
  if (z.endsWith('.')) z = z.slice(0, -1);
  if (z === '' || z.length > 253 || !z.split('.').every((l) => ZONE_LABEL.test(l))) {
    throw configError(at, `kubernetes: invalid ${what} "${arg}": expected a domain name such as cluster.local, or a CIDR such as 10.0.0.0/8`);
  }
  return [z];
}

export function parseKubernetes(d: Directive, block: Pick<BlockInfo, 'zones' | 'directives'>): KubernetesOptions {
  const blockZones = block.zones.map(internalZone);
  let zones: string[];
  if (d.args.length > 0) {
    zones = [];
    for (const a of d.args) for (const z of parseZones(a, d, 'zone')) if (!zones.includes(z)) zones.push(z);
    for (const z of zones) {
      if (!blockZones.some((bz) => isSubdomain(z, bz))) {
        throw configError(d, `kubernetes: zone ${zoneText(z)} is not within this server block's zones (${blockZones.map(zoneText).join(', ')})`);
      }
    }
  } else {
    zones = [...blockZones];
  }
  const reverseZones = zones.filter(isReverseZone);
  const primaryZone = zones.find((z) => !isReverseZone(z)) ?? 'cluster.local';

  const opts: KubernetesOptions = {
    zones,
    reverseZones,
    primaryZone,
    namespaces: null,
    labels: null,
    namespaceLabels: null,
    pods: 'disabled',
    endpointPodNames: false,
    ttl: 5,
    noEndpoints: false,
    fallthrough: Fallthrough.never,
    ignoreEmptyService: false,
    startupTimeoutMs: 5000,
    manifests: [],
    snapshot: null,
    bindAddresses: bindAddresses(block.directives),
  };

  const seen = walkOptions(d, 'kubernetes', kubernetesOptions(dirname(d.file)), opts, { unsupported: OBSOLETE });
  const manifestsLine = d.block?.find((x) => x.name === 'manifests');
  const conflicting = ['endpoint', 'kubeconfig', 'tls'].filter((n) => seen.has(n));
  if (manifestsLine && conflicting.length > 0) {
    throw configError(manifestsLine, `kubernetes: manifests replaces the API connection; remove ${conflicting.join(', ')} or manifests`);
  }
  return opts;
}

/** The option table; relative paths are taken from the Corefile's folder `base`. */
function kubernetesOptions(base: string): OptionTable<KubernetesOptions> {
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const selector = (o: Directive): LabelSelector => {
    const text = o.args.join(' ');
    try { return parseSelector(text); } catch (e) {
      throw configError(o, `kubernetes: ${o.name}: invalid label selector "${text}": ${(e as Error).message}`);
    }
  };
  return {
    endpoint: {
      args: [1, 1], usage: 'endpoint URL',
      apply(k, o) {
        const url = o.args[0] ?? '';
        let u: URL;
        try { u = new URL(url); } catch { throw configError(o, `kubernetes: endpoint "${url}" is not a URL; expected e.g. https://10.0.0.1:6443`); }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw configError(o, `kubernetes: endpoint "${url}" must be http:// or https://`);
        k.endpoint = url;
      },
    },
    tls: {
      args: [3, 3], usage: 'tls CERT KEY CACERT',
      apply(k, o) {
        const [cert = '', key = '', ca = ''] = o.args;
        k.tls = { cert: path(cert), key: path(key), ca: path(ca) };
      },
    },
    kubeconfig: {
      args: [1, 2], usage: 'kubeconfig KUBECONFIG [CONTEXT]',
      apply(k, o) {
        const kubeconfig = { path: path(o.args[0] ?? ''), context: o.args[1] };
        const problem = kubeconfigProblem(kubeconfig.path, kubeconfig.context);
        if (problem) throw configError(o, `kubernetes: kubeconfig ${kubeconfig.path}: ${problem}`);
        k.kubeconfig = kubeconfig;
      },
    },
    namespaces: {
      args: [1, Infinity], usage: 'namespaces NAMESPACE...',
      apply(k, o) {
        for (const ns of o.args) {
          if (!NS_NAME.test(ns)) throw configError(o, `kubernetes: "${ns}" is not a namespace name (lower-case letters, digits and '-', at most 63)`);
        }
        k.namespaces = new Set(o.args);
      },
    },
    labels: { args: [1, Infinity], usage: 'labels EXPRESSION', apply(k, o) { k.labels = selector(o); } },
    namespace_labels: { args: [1, Infinity], usage: 'namespace_labels EXPRESSION', apply(k, o) { k.namespaceLabels = selector(o); } },
    pods: {
      args: [1, 1], usage: 'pods disabled|insecure|verified',
      apply(k, o) {
        const m = POD_MODES.find((p) => p === o.args[0]);
        if (m === undefined) throw configError(o, `kubernetes: unknown pods mode "${o.args[0]}"; accepted: ${POD_MODES.join(', ')}`);
        k.pods = m;
      },
    },
    endpoint_pod_names: { args: [0, 0], usage: 'endpoint_pod_names', apply(k) { k.endpointPodNames = true; } },
    ttl: { args: [1, 1], usage: 'ttl TTL', apply(k, o) { k.ttl = parseIntArg(o.args[0] ?? '', o, 0, 3600, 'ttl'); } },
    noendpoints: { args: [0, 0], usage: 'noendpoints', apply(k) { k.noEndpoints = true; } },
    fallthrough: { args: [0, Infinity], usage: 'fallthrough [ZONES...]', apply(k, o) { k.fallthrough = Fallthrough.parse(o, 'kubernetes'); } },
    ignore: {
      args: [1, 1], usage: 'ignore empty_service',
      apply(k, o) {
        if (o.args[0] !== 'empty_service') throw configError(o, `kubernetes: ignore "${o.args[0]}": only empty_service is accepted`);
        k.ignoreEmptyService = true;
      },
    },
    startup_timeout: {
      args: [1, 1], usage: 'startup_timeout DURATION',
      apply(k, o) { k.startupTimeoutMs = parseDuration(o.args[0] ?? '', o); },
    },
    snapshot: {
      args: [1, 1], usage: 'snapshot FILE',
      apply(k, o) {
        const abs = path(o.args[0] ?? '');
        if (!existsSync(dirname(abs))) throw configError(o, `kubernetes: snapshot folder ${dirname(abs)} does not exist`);
        k.snapshot = abs;
      },
    },
    manifests: {
      args: [1, Infinity], usage: 'manifests PATH...',
      apply(k, o) {
        for (const p of o.args) {
          const abs = path(p);
          if (!existsSync(abs)) throw configError(o, `kubernetes: manifests path ${abs} does not exist`);
          k.manifests.push(abs);
        }
      },
    },
  };
}

/** Addresses of the block's `bind` lines, if every one is a specific address. */
function bindAddresses(directives: Directive[]): string[] | null {
  const out: string[] = [];
  for (const d of directives) {
    if (d.name !== 'bind') continue;
    for (const a of d.args) {
      const ip = isIP(a) ? canonicalIP(a) : null;
      if (ip === null || ip === '0.0.0.0' || ip === '::') return null;
      if (!out.includes(ip)) out.push(ip);
    }
  }
  return out.length > 0 ? out : null;
}

export const kubernetesPlugin: PluginDefinition = {
  name: 'kubernetes',
  metrics: KUBERNETES_FAMILIES,
  setup: (d, ctx) => new KubernetesPlugin(parseKubernetes(d, ctx.block), ctx),
};
