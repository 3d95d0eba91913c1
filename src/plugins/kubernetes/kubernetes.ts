import { networkInterfaces } from 'node:os';
import type { Fallthrough } from '../../corefile/fallthrough.js';
import { zoneText } from '../../corefile/zones.js';
import { RCODE } from '../../dns/constants.js';
import { canonicalIP, isSubdomain } from '../../dns/names.js';
import { sectionsOf } from '../../dns/relay.js';
import { records, type Reply, type RR } from '../../dns/reply.js';
import { log } from '../../log.js';
import type { Placement, PluginSample } from '../../metrics/plugins.js';
import type { Handler, Plugin, PluginExplanation, Request, SetupContext } from '../../server/plugin.js';
import { Answerer, type Computed } from './answer.js';
import { explainClusterName } from './explain.js';
import { kubernetesSamples } from './families.js';
import type { Kind } from './objects.js';
import { ManifestSource } from './manifests.js';
import type { KubernetesOptions } from './setup.js';
import type { ApiSourceOptions, Source } from './source.js';
import type { Histogram, ServiceKind } from './metrics.js';
import { Store } from './store.js';
import { ApiSource } from './api-source.js';
import { readSnapshot, SnapshotTee, SnapshotWriter } from './snapshot.js';
import { transferRecords } from './xfr.js';

/** CNAME hops we follow inside our own zones before giving up (CoreDNS: 8). */
const MAX_CHAIN = 8;
/** How long an ExternalName chase through the server may take before we answer the CNAME alone. */
const CHASE_TIMEOUT_MS = 2000;

export class KubernetesPlugin implements Plugin {
  readonly name = 'kubernetes';
  /** The store the live source (API or manifests) fills. */
  readonly store: Store;
  /** The store answers come from: `store`, or one loaded from the snapshot until `store` syncs. */
  private serving: Store;
  private answers: Answerer;
  /** Plugin zones, longest first, so the first match is the most specific. */
  private readonly zones: string[];
  private readonly fallthrough: Fallthrough;
  private source: Source | null = null;
  private nsAddrs: string[] = [];
  private tee: SnapshotTee | null = null;
  private readonly snapshotWriter: SnapshotWriter | null;
  /** Unix ms the served snapshot was written; 0 when answers come from live data. */
  private snapshotWrittenAt = 0;

  constructor(readonly opts: KubernetesOptions, private readonly ctx: Pick<SetupContext, 'resolve'>) {
    this.store = this.newStore();
    this.serving = this.store;
    this.zones = [...opts.zones].sort((a, b) => b.length - a.length);
    this.fallthrough = opts.fallthrough;
    this.nsAddrs = opts.bindAddresses ?? localAddresses();
    this.answers = this.answererFor(this.store);
    const file = opts.snapshot;
    this.snapshotWriter = file === null ? null : new SnapshotWriter(file, () => this.tee);
  }

  private requiredKinds(): Kind[] {
    const required: Kind[] = ['services', 'namespaces'];
    if (!this.opts.noEndpoints) required.push('endpointslices');
    if (this.opts.pods === 'verified') required.push('pods');
    return required;
  }

  private newStore(): Store {
    const o = this.opts;
    return new Store({
      endpointPodNames: o.endpointPodNames,
      namespaces: o.namespaces,
      namespaceLabels: o.namespaceLabels,
      labels: o.labels,
      required: this.requiredKinds(),
      ignoreEndpoints: o.noEndpoints,
    });
  }

  private answererFor(store: Store): Answerer {
    const o = this.opts;
    return new Answerer(store, {
      primaryZone: o.primaryZone,
      ttl: o.ttl,
      pods: o.pods,
      ignoreEmptyService: o.ignoreEmptyService,
      nsAddresses: () => this.nsAddrs,
    }, o.reverseZones);
  }

  /** The store answers come from (live data, or the snapshot until it syncs): k8s_external reads it. */
  get answering(): Store {
    return this.serving;
  }

  /** Where this server is reachable (the addresses of the zone's NS record), for k8s_external's ns1 glue. */
  nameserverAddresses(): readonly string[] {
    return this.nsAddrs;
  }

  /** Transfer source (the `transfer` plugin): a forward zone of ours, from the store answers come from. */
  transfer(zone: string): Iterable<RR> | null {
    if (!this.opts.zones.includes(zone) || this.opts.reverseZones.includes(zone)) return null;
    return transferRecords(this.serving, this.answers, zone);
  }

  /** Seconds since the served snapshot was written; null while answers come from live data. */
  snapshotAge(): number | null {
    return this.snapshotWrittenAt === 0 ? null : Math.max(0, (Date.now() - this.snapshotWrittenAt) / 1000);
  }

  // ---- lifecycle --------------------------------------------------------

  async start(): Promise<void> {
    this.source = this.makeSource();
    const writer = this.snapshotWriter;
    if (writer !== null) this.tee = new SnapshotTee(this.store, this.requiredKinds(), () => writer.changed());
    this.source.start(this.tee ?? this.store);
    const timeout = this.opts.startupTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.store.whenSynced().then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeout); }),
    ]);
    clearTimeout(timer);
    if (timedOut && (await this.serveSnapshot())) return;
    if (timedOut) {
      log('warn', 'kubernetes', 'starting server with unsynced Kubernetes data; names not yet known get SERVFAIL', {
        waited: `${timeout / 1000}s`, synced: this.store.syncedKindsList().join(',') || 'none', ...this.source.describe(),
      });
    } else {
      log('info', 'kubernetes', 'synced', { zones: this.opts.zones.map(zoneText).join(','), ...this.store.counts() });
    }
  }

  async stop(): Promise<void> {
    const s = this.source;
    this.source = null;
    if (s) await s.stop();
    await this.snapshotWriter?.stop();
  }

  /** Per service_kind, read by src/metrics/plugins.ts (coredns_kubernetes_dns_programming_duration_seconds). */
  get programmingDurations(): ReadonlyMap<ServiceKind, Histogram> {
    return this.store.programming.histograms;
  }

  ready(): boolean {
    return this.serving.synced;
  }

  /**
   * The live source did not sync within startup_timeout: answer from the
   * snapshot, if there is a sound one, until the live store has every kind,
   * then switch to it in one step (never a mix of the two).
   */
  private async serveSnapshot(): Promise<boolean> {
    const file = this.opts.snapshot;
    if (file === null) return false;
    const started = performance.now();
    const read = await readSnapshot(file);
    if (!read.ok) {
      log('warn', 'kubernetes', 'snapshot not used', { file, reason: read.problem });
      return false;
    }
    const { records, writtenAt } = read.snapshot;
    const missing = this.requiredKinds().filter((k) => records[k] === undefined);
    if (missing.length > 0) {
      log('warn', 'kubernetes', 'snapshot not used', { file, reason: `it holds no ${missing.join(', ')} (written with other options)` });
      return false;
    }
    const loaded = this.newStore();
    for (const kind of this.requiredKinds()) {
      loaded.replace(kind, records[kind] ?? []);
      loaded.markSynced(kind);
    }
    if (this.store.synced) { // the live list won the race while the file was read
      log('info', 'kubernetes', 'synced', this.store.counts());
      return true;
    }
    this.serving = loaded;
    this.answers = this.answererFor(loaded);
    this.snapshotWrittenAt = writtenAt;
    log('warn', 'kubernetes', 'API not synced; serving the snapshot until it is', {
      file, age: `${Math.round((Date.now() - writtenAt) / 1000)}s`, bytes: read.bytes,
      ms: Math.round(performance.now() - started), ...loaded.counts(),
    });
    void this.store.whenSynced().then(() => {
      this.serving = this.store;
      this.answers = this.answererFor(this.store);
      this.snapshotWrittenAt = 0;
      log('info', 'kubernetes', 'synced; live data replaced the snapshot', this.store.counts());
    });
    return true;
  }

  collectMetrics(at: Placement): PluginSample[] {
    return kubernetesSamples({
      counts: this.store.counts(),
      synced: this.store.syncedKindsList(),
      invalid: this.store.invalidCounts(),
      perKind: this.source?.counters?.() ?? {},
      programmingDurations: this.programmingDurations,
      snapshotAge: this.snapshotAge(),
    }, at);
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
      if (!this.serving.synced) return this.answers.zone(zone).servfail;
      return r;
    }
    if (c.chase !== null) return this.chase(c, c.chase, lname, req.type);
    return r;
  }

  /** `explain`: the objects behind a cluster name, and what was left out (explain.ts). */
  explain(lname: string, qtype: number): PluginExplanation | null {
    return explainClusterName(this.serving, this.opts, lname, qtype);
  }

  /**
   * The search path of the pod asking `lname` from `clientIP`, for autopath
   * (CoreDNS's Kubernetes.AutoPath): `<ns>.svc.<zone>`, `svc.<zone>`,
   * `<zone>`, then "" (the bare name). Null when the name is outside our
   * zones, pods are not verified, or no pod has that IP: no autopathing.
   * CoreDNS also appends the host's /etc/resolv.conf search list; we do
   * not (the server's own resolv.conf says nothing about the pod's).
   */
  searchPath(clientIP: string, lname: string): string[] | null {
    if (this.opts.pods !== 'verified') return null;
    const zone = this.zoneOf(lname);
    if (zone === null) return null;
    const ip = canonicalIP(clientIP.startsWith('::ffff:') && clientIP.includes('.') ? clientIP.slice(7) : clientIP);
    if (ip === null) return null;
    const ns = this.serving.podNamespaceAt(ip);
    if (ns === undefined) return null;
    const under = (s: string): string => (zone === '' ? s : `${s}.${zone}`);
    return zone === '' ? [under(`${ns}.svc`), under('svc'), ''] : [under(`${ns}.svc`), under('svc'), zone, ''];
  }

  private fallsThrough(lname: string): boolean {
    return this.fallthrough.matches(lname);
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
  private chase(first: Computed, firstTarget: string, lname: string, qtype: number): Reply | Promise<Reply> {
    const answer: RR[] = [...first.reply.answer];
    const seen = new Set([lname]);
    let target = firstTarget;
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
        const sections = r.kind === 'relay' ? sectionsOf(r.wire, r.by) : r;
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
  return records(RCODE.NOERROR, 'kubernetes', true, answer);
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
