import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { parseServerKey } from '../../corefile/keys.js';
import { expectArgs, noBlock, parseDuration, parseIntArg, unknownOption } from '../../corefile/options.js';
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
  /** null: off; otherwise zones whose would-be NXDOMAIN go to the next plugin ("" = all). */
  fallthrough: string[] | null;
  ignoreEmptyService: boolean;
  startupTimeoutMs: number;
  /** Absolute paths of manifest files/folders; empty = use the API. */
  manifests: string[];
  /** Addresses from the block's `bind` when specific; null = discover from the interfaces. */
  bindAddresses: string[] | null;
}

const OPTIONS = [
  'endpoint', 'tls', 'kubeconfig', 'namespaces', 'labels', 'namespace_labels', 'pods', 'endpoint_pod_names',
  'ttl', 'noendpoints', 'fallthrough', 'ignore', 'startup_timeout', 'manifests',
];
const OBSOLETE: Record<string, string> = {
  upstream: 'upstream was removed from CoreDNS (CNAME targets are always resolved through the server); delete the line',
  resyncperiod: 'resyncperiod was removed from CoreDNS (watches need no resync); delete the line',
  transfer: 'zone transfers are not supported by clusterdns; delete the line',
  autopath: 'autopath is a separate CoreDNS plugin, not supported by clusterdns',
  multicluster: 'multicluster is not supported by clusterdns',
};
const POD_MODES: PodMode[] = ['disabled', 'insecure', 'verified'];
const NS_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ZONE_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** "Cluster.Local." -> "cluster.local", "." -> "", CIDR -> its reverse zone(s). */
function parseZones(arg: string, at: Directive, what: string): string[] {
  if (arg.includes('/')) {
    const keys = parseServerKey(arg, at);
    if (keys.some((k) => k.port !== null) || arg.includes('://')) throw configError(at, `kubernetes: ${what} "${arg}" must be a zone name or CIDR, without scheme or port`);
    return keys.map((k) => (k.zone === '.' ? '' : k.zone));
  }
  let z = arg.toLowerCase();
  if (z === '.') return [''];
  if (z.endsWith('.')) z = z.slice(0, -1);
  if (z === '' || z.length > 253 || !z.split('.').every((l) => ZONE_LABEL.test(l))) {
    throw configError(at, `kubernetes: invalid ${what} "${arg}": expected a domain name such as cluster.local, or a CIDR such as 10.0.0.0/8`);
  }
  return [z];
}

const show = (z: string): string => (z === '' ? '.' : z);

export function parseKubernetes(d: Directive, block: Pick<BlockInfo, 'zones' | 'directives'>): KubernetesOptions {
  const blockZones = block.zones.map((z) => (z === '.' ? '' : z));
  let zones: string[];
  if (d.args.length > 0) {
    zones = [];
    for (const a of d.args) for (const z of parseZones(a, d, 'zone')) if (!zones.includes(z)) zones.push(z);
    for (const z of zones) {
      if (!blockZones.some((bz) => isSubdomain(z, bz))) {
        throw configError(d, `kubernetes: zone ${show(z)} is not within this server block's zones (${blockZones.map(show).join(', ')})`);
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
    fallthrough: null,
    ignoreEmptyService: false,
    startupTimeoutMs: 5000,
    manifests: [],
    bindAddresses: bindAddresses(block.directives),
  };

  const base = dirname(d.file);
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const seen = new Set<string>();

  for (const o of d.block ?? []) {
    if (OBSOLETE[o.name]) throw configError(o, `kubernetes: ${OBSOLETE[o.name]}`);
    if (!OPTIONS.includes(o.name)) throw unknownOption(o, 'kubernetes', OPTIONS);
    if (seen.has(o.name)) throw configError(o, `kubernetes: ${o.name} is given twice; it may appear once`);
    seen.add(o.name);
    noBlock(o);
    switch (o.name) {
      case 'endpoint': {
        expectArgs(o, 1, 1, 'endpoint URL');
        const url = o.args[0]!;
        let u: URL;
        try { u = new URL(url); } catch { throw configError(o, `kubernetes: endpoint "${url}" is not a URL; expected e.g. https://10.0.0.1:6443`); }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw configError(o, `kubernetes: endpoint "${url}" must be http:// or https://`);
        opts.endpoint = url;
        break;
      }
      case 'tls':
        expectArgs(o, 3, 3, 'tls CERT KEY CACERT');
        opts.tls = { cert: path(o.args[0]!), key: path(o.args[1]!), ca: path(o.args[2]!) };
        break;
      case 'kubeconfig': {
        expectArgs(o, 1, 2, 'kubeconfig KUBECONFIG [CONTEXT]');
        const kubeconfig = { path: path(o.args[0]!), context: o.args[1] };
        const problem = kubeconfigProblem(kubeconfig.path, kubeconfig.context);
        if (problem) throw configError(o, `kubernetes: kubeconfig ${kubeconfig.path}: ${problem}`);
        opts.kubeconfig = kubeconfig;
        break;
      }
      case 'namespaces':
        expectArgs(o, 1, Infinity, 'namespaces NAMESPACE...');
        for (const ns of o.args) {
          if (!NS_NAME.test(ns)) throw configError(o, `kubernetes: "${ns}" is not a namespace name (lower-case letters, digits and '-', at most 63)`);
        }
        opts.namespaces = new Set(o.args);
        break;
      case 'labels':
      case 'namespace_labels': {
        expectArgs(o, 1, Infinity, `${o.name} EXPRESSION`);
        const text = o.args.join(' ');
        let sel: LabelSelector;
        try { sel = parseSelector(text); } catch (e) {
          throw configError(o, `kubernetes: ${o.name}: invalid label selector "${text}": ${(e as Error).message}`);
        }
        if (o.name === 'labels') opts.labels = sel; else opts.namespaceLabels = sel;
        break;
      }
      case 'pods': {
        expectArgs(o, 1, 1, 'pods disabled|insecure|verified');
        const m = o.args[0] as PodMode;
        if (!POD_MODES.includes(m)) throw configError(o, `kubernetes: unknown pods mode "${o.args[0]}"; accepted: ${POD_MODES.join(', ')}`);
        opts.pods = m;
        break;
      }
      case 'endpoint_pod_names':
        expectArgs(o, 0, 0, 'endpoint_pod_names');
        opts.endpointPodNames = true;
        break;
      case 'ttl':
        expectArgs(o, 1, 1, 'ttl TTL');
        opts.ttl = parseIntArg(o.args[0]!, o, 0, 3600, 'ttl');
        break;
      case 'noendpoints':
        expectArgs(o, 0, 0, 'noendpoints');
        opts.noEndpoints = true;
        break;
      case 'fallthrough': {
        const fz: string[] = [];
        for (const a of o.args) for (const z of parseZones(a, o, 'fallthrough zone')) fz.push(z);
        opts.fallthrough = fz.length > 0 ? fz : [''];
        break;
      }
      case 'ignore':
        expectArgs(o, 1, 1, 'ignore empty_service');
        if (o.args[0] !== 'empty_service') throw configError(o, `kubernetes: ignore "${o.args[0]}": only empty_service is accepted`);
        opts.ignoreEmptyService = true;
        break;
      case 'startup_timeout':
        expectArgs(o, 1, 1, 'startup_timeout DURATION');
        opts.startupTimeoutMs = parseDuration(o.args[0]!, o);
        break;
      case 'manifests':
        expectArgs(o, 1, Infinity, 'manifests PATH...');
        for (const p of o.args) {
          const abs = path(p);
          if (!existsSync(abs)) throw configError(o, `kubernetes: manifests path ${abs} does not exist`);
          opts.manifests.push(abs);
        }
        break;
    }
  }
  if (opts.manifests.length > 0) {
    const conflicting = ['endpoint', 'kubeconfig', 'tls'].filter((n) => seen.has(n));
    if (conflicting.length > 0) {
      const o = (d.block ?? []).find((x) => x.name === 'manifests')!;
      throw configError(o, `kubernetes: manifests replaces the API connection; remove ${conflicting.join(', ')} or manifests`);
    }
  }
  return opts;
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
