// The fake API server's state types and helpers shared by the server
// (kube-api.ts) and its watch streams (kube-watch-stream.ts).

import type { FieldRequirement, LabelSelector } from './kube-selectors.js';
import type { Kind } from './kube-objects.js';
import type { WatchStream } from './kube-watch-stream.js';

export interface KindInfo {
  kind: string;
  listKind: string;
  apiVersion: string;
  /** '' = core group (/api/v1), else /apis/<group>/v1 */
  group: string;
  namespaced: boolean;
  singular: string;
  shortNames?: string[];
}

export const KINDS: Record<Kind, KindInfo> = {
  services: { kind: 'Service', listKind: 'ServiceList', apiVersion: 'v1', group: '', namespaced: true, singular: 'service', shortNames: ['svc'] },
  endpoints: { kind: 'Endpoints', listKind: 'EndpointsList', apiVersion: 'v1', group: '', namespaced: true, singular: 'endpoints', shortNames: ['ep'] },
  namespaces: { kind: 'Namespace', listKind: 'NamespaceList', apiVersion: 'v1', group: '', namespaced: false, singular: 'namespace', shortNames: ['ns'] },
  pods: { kind: 'Pod', listKind: 'PodList', apiVersion: 'v1', group: '', namespaced: true, singular: 'pod', shortNames: ['po'] },
  endpointslices: {
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    apiVersion: 'discovery.k8s.io/v1',
    group: 'discovery.k8s.io',
    namespaced: true,
    singular: 'endpointslice',
  },
};
export const ALL_KINDS = Object.keys(KINDS) as Kind[];
export const DISCOVERY_GROUP = 'discovery.k8s.io';

/** One stored version of an object. Never mutated once created. */
export interface Entry {
  readonly ns: string | undefined;
  readonly name: string;
  /** Sort key, like the etcd key suffix: "ns/name", or "name" when cluster-scoped. */
  readonly key: string;
  readonly uid: string;
  readonly created: string;
  readonly labels: Readonly<Record<string, string>> | undefined;
  /**
   * JSON of the object WITHOUT kind/apiVersion: that is how items appear in
   * a real list response. Watch events prepend kind/apiVersion.
   */
  readonly body: string;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface HistoryEvent {
  readonly type: EventType;
  readonly rv: number;
  /** New state; for DELETED, the last state stamped with the deletion RV. */
  readonly entry: Entry;
  /** Previous state for MODIFIED (needed for selector transitions). */
  readonly prev?: Entry;
  /** Cached unfiltered event line, shared by every watcher without selectors. */
  line?: string;
}

export interface KindState {
  readonly name: Kind;
  readonly info: KindInfo;
  /** Prefix of fullJson(): `{"kind":"Service","apiVersion":"v1",` */
  readonly head: string;
  readonly objects: Map<string, Entry>;
  /** Entries sorted by key; rebuilt lazily after a change (never mutated, so snapshots can share it). */
  sorted: Entry[] | null;
  /** Ring of recent events in RV order: live part is history[historyStart..]. */
  history: HistoryEvent[];
  historyStart: number;
  /** Highest RV whose event was dropped: a watch from an older RV cannot be served. */
  compactedRv: number;
  readonly watchers: Set<WatchStream>;
}

export interface Filter {
  ns: string | undefined;
  labels: LabelSelector;
  fields: FieldRequirement[];
}

export interface FailRule {
  verb: 'list' | 'watch';
  kind: Kind | '*';
  status: number;
  remaining: number;
  /** Retry-After header value, if any. */
  retryAfter: string | undefined;
}

export interface ListSnapshot {
  kind: Kind;
  rv: number;
  entries: Entry[];
}

export const MAX_LOG = 1000;
export const MAX_SNAPSHOTS = 64;
/** Roughly how many bytes to gather before each res.write of a list/replay. */
export const CHUNK_BYTES = 64 * 1024;

export const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function statusObject(code: number, message: string, reason = REASONS[code] ?? 'Unknown', details?: Record<string, unknown>): Record<string, unknown> {
  const s: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason };
  if (details) s.details = details;
  s.code = code;
  return s;
}

export let nowSecond = -1;
export let nowString = '';
/**
 * RFC 3339 without fractional seconds, as the API server writes timestamps.
 * Cached per second: formatting a Date costs more than the rest of an upsert.
 */
export function now(): string {
  const sec = Math.floor(Date.now() / 1000);
  if (sec !== nowSecond) {
    nowSecond = sec;
    nowString = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return nowString;
}

export function keyOf(ns: string | undefined, name: string): string {
  return ns === undefined ? name : `${ns}/${name}`;
}

export function fullJson(st: KindState, entry: Entry): string {
  // body always starts with `{"metadata":`, so splicing the head in is safe.
  return st.head + entry.body.slice(1);
}

export function eventLine(type: string, objectJson: string): string {
  return `{"type":"${type}","object":${objectJson}}\n`;
}


export class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
    readonly details?: Record<string, unknown>,
    readonly retryAfter?: string,
  ) {
    super(message);
  }
}

export function withResourceVersion(body: string, rv: number): string {
  const o = JSON.parse(body) as { metadata: Record<string, unknown> };
  o.metadata.resourceVersion = String(rv);
  return JSON.stringify(o);
}

export function lowerBound(entries: Entry[], key: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function lowerBoundRv(h: HistoryEvent[], start: number, rv: number): number {
  let lo = start;
  let hi = h.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (h[mid]!.rv < rv) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ContinueToken {
  id: string;
  pos: number;
  rv: number;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'fake.k8s.io/v1', ...t })).toString('base64url');
}

export function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (typeof t.id === 'string' && typeof t.pos === 'number' && typeof t.rv === 'number') return { id: t.id, pos: t.pos, rv: t.rv };
  } catch {
    // fall through
  }
  throw new HttpError(400, `invalid continue token: ${s}`);
}
