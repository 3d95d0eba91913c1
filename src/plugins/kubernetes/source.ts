import type { StoreSink } from './objects.js';

/** How the API watch connects and what it asks for (from the Corefile block). */
export interface ApiSourceOptions {
  /** `endpoint URL`: API server address; with no kubeconfig, no auth and TLS verification off for http. */
  endpoint?: string;
  /** `kubeconfig PATH [CONTEXT]` */
  kubeconfig?: { path: string; context?: string };
  /** `tls CERT KEY CACERT` */
  tls?: { cert: string; key: string; ca: string };
  /** `labels SELECTOR`: sent as labelSelector for services and endpointslices. */
  labelSelector?: string;
  /** Watch Pods too (only `pods verified` needs them). */
  watchPods: boolean;
  /** Don't watch endpoints at all (`noendpoints`). */
  watchEndpoints: boolean;
}

/** What the API watch counts per kind (the clusterdns_kubernetes_* metrics). */
export interface KindCounters { relists: number; watchRestarts: number; events: number; undecodable?: number; lastEventAt: number; synced: boolean }

/** Something that fills the store: the API watch, or manifest files. */
export interface Source {
  /** Begins syncing into `sink`; returns at once (the store reports when synced). */
  start(sink: StoreSink): void;
  stop(): Promise<void>;
  /** Human-readable state for logs/metrics (e.g. per-kind "watching", "backoff 2s"). */
  describe(): Record<string, string>;
  /** Per-kind counters, if this source keeps them (the API watch does). */
  counters?(): Record<string, KindCounters>;
}
