// `--workers N`: every worker counts its own queries. A scrape of a port
// the workers share would land on one worker at random and see counters
// jump; instead the primary serves /metrics and combines the workers'
// families, which it asks each worker for over the cluster IPC channel
// (JSON through process.send / worker.on('message')). node:cluster is
// loaded only by the primary, and only when --workers is given.

import type { Worker } from 'node:cluster';
import { log } from '../log.js';
import type { DnsServer } from '../server/server.js';
import { aggregateFamilies } from './aggregate.js';
import { CONTENT_TYPE, renderFamilies, type FamilySnapshot } from './exposition.js';
import { HttpEndpoints, reply } from './http.js';
import type { Aggregator, MetricKind, Sample } from './snapshot.js';

const REQUEST = 'clusterdns:metrics-request';
const RESPONSE = 'clusterdns:metrics-response';
/** A worker that has not answered by then is left out of the scrape (it may be dead or stuck). */
export const WORKER_TIMEOUT_MS = 3000;

/** JSON has no NaN or infinities: those travel as their String() form. */
interface WireSample { labels: Record<string, string>; value: number | string; metricName?: string }
interface WireFamily { name: string; help: string; type: MetricKind; aggregator: Aggregator; samples: WireSample[] }

let collector: (() => FamilySnapshot[]) | null = null;

/**
 * A cluster worker. Only a process with an IPC channel can be one, and a
 * server run by a kubelet or systemd has none: only then is node:cluster
 * looked at (Node loads it at startup in workers, so it costs them nothing).
 */
export function isClusterWorker(): boolean {
  if (typeof process.send !== 'function') return false;
  // The CommonJS exports object (what @types/node types as the namespace's default).
  const cluster: object = process.getBuiltinModule('node:cluster');
  return 'isWorker' in cluster && cluster.isWorker === true;
}

/** In a worker: answer the primary's metric requests from `collect`. False outside a worker. */
export function exportToPrimary(collect: () => FamilySnapshot[]): boolean {
  if (!isClusterWorker()) return false;
  if (collector === null) process.on('message', answer);
  collector = collect;
  return true;
}

function answer(msg: unknown): void {
  if (!isRecord(msg) || msg.type !== REQUEST || typeof msg.id !== 'number' || collector === null) return;
  const families: WireFamily[] = collector().map((f) => ({
    ...f,
    samples: f.samples.map((s) => ({ ...s, value: Number.isFinite(s.value) ? s.value : String(s.value) })),
  }));
  process.send?.({ type: RESPONSE, id: msg.id, families });
}

/**
 * In the primary: serve /metrics on every address a `prometheus` directive
 * of the (not started) server names, combined over the workers. Returns a
 * function that closes them.
 */
export async function serveClusterMetrics(server: DnsServer, timeoutMs = WORKER_TIMEOUT_MS): Promise<() => Promise<void>> {
  const http = new HttpEndpoints();
  const owner = {};
  const addresses = new Map<string, { host: string; port: number }>();
  for (const b of server.currentBlocks()) {
    for (const p of b.plugins) {
      const opts = (p as { opts?: { host?: unknown; port?: unknown } }).opts;
      if (p.name === 'prometheus' && typeof opts?.host === 'string' && typeof opts.port === 'number') {
        addresses.set(`${opts.host}|${opts.port}`, { host: opts.host, port: opts.port });
      }
    }
  }
  if (addresses.size === 0) return async () => {};
  const { default: cluster } = await import('node:cluster');
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const opened: Array<{ host: string; port: number }> = [];
  for (const a of addresses.values()) {
    try {
      await http.serve(a.host, a.port, '/metrics', owner, async (_req, res) => {
        const perWorker = await Promise.all(workers().map((w) => askWorker(w, timeoutMs)));
        reply(res, 200, renderFamilies(aggregateFamilies(perWorker)), CONTENT_TYPE);
      });
      opened.push(a);
    } catch (err) {
      // e.g. health or ready on the same address: the workers hold that port.
      log('error', 'prometheus', 'cannot serve the workers\' metrics', { address: `${a.host || '*'}:${a.port}`, err });
    }
  }
  return async () => { for (const a of opened) await http.release(a.host, a.port, '/metrics', owner); };
}

let nextId = 1;

/** One worker's families, or none if it does not answer within the timeout. */
function askWorker(w: Worker, timeoutMs: number): Promise<FamilySnapshot[]> {
  const id = nextId++;
  return new Promise((resolve) => {
    const done = (families: FamilySnapshot[]): void => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      resolve(families);
    };
    const onMessage = (msg: unknown): void => {
      if (!isRecord(msg) || msg.type !== RESPONSE || msg.id !== id) return;
      const families = Array.isArray(msg.families) ? msg.families.filter(isWireFamily).map(fromWire) : [];
      done(families);
    };
    const onExit = (): void => done([]);
    const timer = setTimeout(() => {
      log('warn', 'prometheus', 'a worker did not send its metrics in time; left out of this scrape', { pid: w.process.pid, timeoutMs });
      done([]);
    }, timeoutMs);
    w.on('message', onMessage);
    w.on('exit', onExit);
    try {
      w.send({ type: REQUEST, id });
    } catch {
      done([]); // the channel closed between the check and the send
    }
  });
}

function fromWire(f: WireFamily): FamilySnapshot {
  return { ...f, samples: f.samples.map((s): Sample => ({ ...s, value: Number(s.value) })) };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

const KINDS: readonly string[] = ['counter', 'gauge', 'histogram'] satisfies MetricKind[];
const AGGREGATORS: readonly string[] = ['sum', 'first', 'min', 'max', 'average', 'omit'] satisfies Aggregator[];

function isWireFamily(x: unknown): x is WireFamily {
  return isRecord(x) && typeof x.name === 'string' && typeof x.help === 'string'
    && typeof x.type === 'string' && KINDS.includes(x.type)
    && typeof x.aggregator === 'string' && AGGREGATORS.includes(x.aggregator)
    && Array.isArray(x.samples) && x.samples.every(isWireSample);
}

function isWireSample(x: unknown): x is WireSample {
  return isRecord(x) && (typeof x.value === 'number' || typeof x.value === 'string')
    && (x.metricName === undefined || typeof x.metricName === 'string')
    && isRecord(x.labels) && Object.values(x.labels).every((v) => typeof v === 'string');
}
