import { networkInterfaces } from 'node:os';
import { RCODE } from '../../dns/constants.js';
import { canonicalIP, isSubdomain } from '../../dns/names.js';
import { sectionsOf } from '../../dns/relay.js';
import type { Reply, RR } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Handler, Plugin, PluginExplanation, Request, SetupContext } from '../../server/plugin.js';
import { Answerer, type Computed } from './answer.js';
import { explainClusterName } from './explain.js';
import type { Kind } from './objects.js';
import { ManifestSource } from './manifests.js';
import type { KubernetesOptions } from './setup.js';
import type { ApiSourceOptions, Source } from './source.js';
import { Store } from './store.js';
import { ApiSource } from './watch.js';

/** CNAME hops we follow inside our own zones before giving up (CoreDNS: 8). */
const MAX_CHAIN = 8;
/** How long an ExternalName chase through the server may take before we answer the CNAME alone. */
const CHASE_TIMEOUT_MS = 2000;

export class KubernetesPlugin implements Plugin {
  readonly name = 'kubernetes';
  readonly store: Store;
  private readonly answers: Answerer;
  /** Plugin zones, longest first, so the first match is the most specific. */
  private readonly zones: string[];
  private readonly fallthrough: string[] | null;
  private source: Source | null = null;
  private nsAddrs: string[] = [];

  constructor(readonly opts: KubernetesOptions, private readonly ctx: Pick<SetupContext, 'resolve'>) {
    const required: Kind[] = ['services', 'namespaces'];
    if (!opts.noEndpoints) required.push('endpointslices');
    if (opts.pods === 'verified') required.push('pods');
    this.store = new Store({
      endpointPodNames: opts.endpointPodNames,
      namespaces: opts.namespaces,
      namespaceLabels: opts.namespaceLabels,
      labels: opts.labels,
      required,
      ignoreEndpoints: opts.noEndpoints,
    });
    this.zones = [...opts.zones].sort((a, b) => b.length - a.length);
    this.fallthrough = opts.fallthrough;
    this.nsAddrs = opts.bindAddresses ?? localAddresses();
    this.answers = new Answerer(this.store, {
      primaryZone: opts.primaryZone,
      ttl: opts.ttl,
      pods: opts.pods,
      ignoreEmptyService: opts.ignoreEmptyService,
      nsAddresses: () => this.nsAddrs,
    }, opts.reverseZones);
  }

  // ---- lifecycle --------------------------------------------------------

  async start(): Promise<void> {
    this.source = this.makeSource();
    this.source.start(this.store);
    const timeout = this.opts.startupTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.store.whenSynced().then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeout); }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      log('warn', 'kubernetes', 'starting server with unsynced Kubernetes data; names not yet known get SERVFAIL', {
        waited: `${timeout / 1000}s`, synced: this.store.syncedKindsList().join(',') || 'none', ...this.source.describe(),
      });
    } else {
      log('info', 'kubernetes', 'synced', { zones: this.opts.zones.map((z) => z || '.').join(','), ...this.store.counts() });
    }
  }

  async stop(): Promise<void> {
    const s = this.source;
    this.source = null;
    if (s) await s.stop();
  }

  ready(): boolean {
    return this.store.synced;
  }

  /** Both sources load @kubernetes/client-node (~0.8 s) only once they run. */
  private makeSource(): Source {
    if (this.opts.manifests.length > 0) return new ManifestSource(this.opts.manifests);
    const api: ApiSourceOptions = {
      endpoint: this.opts.endpoint,
      kubeconfig: this.opts.kubeconfig,
      tls: this.opts.tls,
      labelSelector: this.opts.labels?.text,
      watchPods: this.opts.pods === 'verified',
      watchEndpoints: !this.opts.noEndpoints,
    };
    return new ApiSource(api);
  }

  // ---- queries ----------------------------------------------------------

  serve(req: Request, next: Handler): Reply | Promise<Reply> {
    const lname = req.lname;
    let zone: string | null = null;
    for (const z of this.zones) {
      if (isSubdomain(lname, z)) { zone = z; break; }
    }
    if (zone === null) return next(req);
    const c = this.answers.lookup(lname, req.type, zone);
    const r = c.reply;
    if (r.rcode === RCODE.NXDOMAIN) {
      if (this.fallsThrough(lname)) return next(req);
      if (!this.store.synced) return this.answers.zone(zone).servfail;
      return r;
    }
    if (c.chase !== null) return this.chase(c, lname, req.type);
    return r;
  }

  /** `explain`: the objects behind a cluster name, and what was left out (explain.ts). */
  explain(lname: string, qtype: number): PluginExplanation | null {
    return explainClusterName(this.store, this.opts, lname, qtype);
  }

  private fallsThrough(lname: string): boolean {
    const f = this.fallthrough;
    if (f === null) return false;
    for (const z of f) if (isSubdomain(lname, z)) return true;
    return false;
  }

  private zoneOf(lname: string): string | null {
    for (const z of this.zones) if (isSubdomain(lname, z)) return z;
    return null;
  }

  /**
   * ExternalName A/AAAA: the CNAME, then the target's records. Targets in
   * our zones are answered from the store (following ExternalName chains);
   * others go through the server (forward). A failed chase answers the
   * CNAME alone; the client's resolver can still follow it.
   */
  private chase(first: Computed, lname: string, qtype: number): Reply | Promise<Reply> {
    const answer: RR[] = [...first.reply.answer];
    const seen = new Set([lname]);
    let target = first.chase!;
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      if (seen.has(target)) break;
      seen.add(target);
      const zone = this.zoneOf(target);
      if (zone === null) return this.chaseOutside(answer, target, qtype);
      const c = this.answers.lookup(target, qtype, zone);
      if (c.reply.rcode !== RCODE.NOERROR) break;
      answer.push(...c.reply.answer);
      if (c.chase === null) break;
      target = c.chase;
    }
    return done(answer);
  }

  private async chaseOutside(answer: RR[], target: string, qtype: number): Promise<Reply> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = await Promise.race([
        Promise.resolve().then(() => this.ctx.resolve(target, qtype)),
        new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), CHASE_TIMEOUT_MS); }),
      ]);
      if (r !== null) {
        const sections = r.wire ? sectionsOf(r.wire) : r;
        if (sections.rcode === RCODE.NOERROR) {
          for (const rr of sections.answer) {
            if (rr.type === 'A' || rr.type === 'AAAA' || rr.type === 'CNAME') answer.push(rr);
          }
        }
      }
    } catch (err) {
      log('debug', 'kubernetes', 'ExternalName target did not resolve', { target, err });
    } finally {
      clearTimeout(timer);
    }
    return done(answer);
  }
}

function done(answer: RR[]): Reply {
  return { rcode: RCODE.NOERROR, aa: true, answer, authority: [], additional: [], by: 'kubernetes' };
}

/**
 * Where this server is reachable when it binds every interface: the first
 * non-internal IPv4 and IPv6 (not link-local) addresses, as CoreDNS uses the
 * pod's IPs. Loopback only when nothing else exists (then it is the truth).
 */
export function localAddresses(): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  const internal: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const ip = canonicalIP(a.address);
      if (ip === null) continue;
      if (a.internal) { internal.push(ip); continue; }
      if (a.family === 'IPv4') v4.push(ip);
      else if (!ip.startsWith('fe80:')) v6.push(ip);
    }
  }
  const out = [...v4.slice(0, 1), ...v6.slice(0, 1)];
  return out.length > 0 ? out : internal.slice(0, 2);
}
