// The HTTP side of the API source: plain GETs with the request options
// KubeConfig produces (auth, TLS, proxy), bodies read as they stream in (a
// whole JSON document, a list split into items, a watch split into lines),
// and the API server's errors turned into ApiError with its Status reason.

import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from './client.js';
import { ListSplitter } from './jsonlist.js';

/** A non-2xx answer of the API server, with the Status reason when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    /** From a Retry-After header (429, 503): how long the server asked us to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Largest list page we accept (a page is `limit` objects, normally a few MB). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Largest single watch event (one object; the API server's own limit on an object is ~1.5 MB). */
const MAX_EVENT_BYTES = 64 * 1024 * 1024;
/** A Retry-After longer than this is not believed (a broken proxy, a typo): wait this long at most. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;


export type Obj = Record<string, unknown>;
export function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' ? (v as Obj) : {};
}
export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  const e = obj(err);
  const status = e.statusCode;
  if (typeof status === 'number') return `HTTP ${status}${str(e.message) ? ` ${str(e.message)}` : ''}`;
  const code = str(e.code);
  let msg = err instanceof Error ? err.message : String(err);
  // node-fetch: "request to <url with random timeoutSeconds> failed, reason: connect ECONNREFUSED ..."
  const m = /^request to \S+ failed, reason: (.*)$/s.exec(msg);
  if (m?.[1] !== undefined) msg = m[1];
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/**
 * Retry-After in ms: delta-seconds or an HTTP-date (RFC 9110 10.2.3);
 * undefined when absent, unparsable or zero (then our own backoff applies).
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms) || ms <= 0) return undefined;
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

export function retryAfterOf(err: unknown): number | undefined {
  return err instanceof ApiError ? err.retryAfterMs : undefined;
}

export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.statusCode;
  const s = obj(err).statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Where a 2xx body goes, chunk by chunk; end() gives the result. */
export interface BodyReader<T> {
  write(chunk: Buffer): void;
  end(): T;
}

/** The whole body, parsed as JSON at the end. */
function jsonReader(path: string): BodyReader<unknown> {
  const chunks: Buffer[] = [];
  return {
    write: (c) => { chunks.push(c); },
    end: () => {
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw new Error(`GET ${path}: response is not JSON`);
      }
    },
  };
}

/** A list body split into items as it streams in (jsonlist.ts). */
export function listReader(path: string, onItem: (item: unknown) => void): BodyReader<{ envelope: Obj; sawItems: boolean }> {
  const split = new ListSplitter(onItem);
  const bad = (err: unknown): Error => (err instanceof SyntaxError || /^(malformed JSON|not a JSON object)/.test(errorText(err))
    ? new Error(`GET ${path}: response is not a JSON list (${errorText(err)})`)
    : (err as Error));
  return {
    write: (c) => { try { split.write(c); } catch (err) { throw bad(err); } },
    end: () => { try { return split.end(); } catch (err) { throw bad(err); } },
  };
}

/** A watch body split into lines (one event each) as it streams in. */
export function lineReader(onLine: (line: string) => void): BodyReader<void> {
  let rest: Buffer[] = [];
  let restBytes = 0;
  return {
    write: (c) => {
      let start = 0;
      for (let nl = c.indexOf(0x0a); nl >= 0; nl = c.indexOf(0x0a, start)) {
        const part = c.subarray(start, nl);
        start = nl + 1;
        const line = rest.length ? Buffer.concat([...rest, part]).toString('utf8') : part.toString('utf8');
        rest = [];
        restBytes = 0;
        onLine(line);
      }
      if (start < c.length) {
        restBytes += c.length - start;
        if (restBytes > MAX_EVENT_BYTES) throw new Error(`watch event larger than ${MAX_EVENT_BYTES} bytes`);
        rest.push(c.subarray(start));
      }
    },
    end: () => {
      // The API server ends every event with a newline: a tail without one is a cut-off event.
      if (restBytes > 0) onLine(Buffer.concat(rest).toString('utf8'));
      rest = [];
    },
  };
}

/** What we keep of a non-2xx body: enough for the Status message. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * GET `path` from the current cluster with KubeConfig's request options
 * (bearer token / client cert / CA / proxy agent); a 2xx body goes to
 * `reader` as it arrives. Non-2xx answers throw ApiError carrying the Status
 * reason and Retry-After. `timeoutMs` 0: no inactivity timeout (watches
 * have their watchdog); `maxBytes`: largest body accepted.
 */
export async function get<T>(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
  signal: AbortSignal,
  timeoutMs: number,
  reader: BodyReader<T>,
  maxBytes = MAX_BODY_BYTES,
): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const o: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(o);
  const agent = o.agent;
  let req: http.ClientRequest | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      req = mod.request(
        url,
        { method: 'GET', agent, auth: o.auth, headers: { ...o.headers, accept: 'application/json' }, signal },
        (res) => {
          const code = res.statusCode ?? 0;
          const ok = code >= 200 && code < 300;
          const errChunks: Buffer[] = [];
          let size = 0;
          let ended = false;
          let failed = false;
          const fail = (err: unknown): void => {
            failed = true;
            reject(err);
            req?.destroy(err instanceof Error ? err : new Error(String(err)));
          };
          res.on('data', (c: Buffer) => {
            if (failed) return;
            size += c.length;
            if (size > maxBytes) return fail(new Error(`response larger than ${maxBytes} bytes`));
            if (!ok) {
              if (size <= MAX_ERROR_BODY_BYTES) errChunks.push(c);
              return;
            }
            try {
              reader.write(c);
            } catch (err) {
              fail(err);
            }
          });
          res.on('error', reject);
          res.on('close', () => {
            if (!ended) reject(new Error('connection closed mid-response'));
          });
          res.on('end', () => {
            ended = true;
            if (failed) return;
            if (ok) {
              try {
                resolve(reader.end());
              } catch (err) {
                reject(err);
              }
              return;
            }
            const text = Buffer.concat(errChunks).toString('utf8');
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              // Not a Status: the text itself is the message.
            }
            const st = obj(body);
            const reason = str(st.reason) || http.STATUS_CODES[code] || 'Unknown';
            const msg = str(st.message) || text.slice(0, 200);
            const header = res.headers['retry-after'];
            const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
            reject(new ApiError(code, reason, `HTTP ${code} ${reason}${msg ? `: ${msg}` : ''}`, retryAfterMs));
          });
        },
      );
      const r = req;
      if (timeoutMs > 0) r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end();
    });
  } finally {
    // Free this request's socket now (a no-op once the response ended). Not
    // the agent: KubeConfig may share one agent between all our requests.
    req?.destroy();
  }
}

/** GET `path` and parse the JSON body. */
export function getJson(kc: KubeConfig, path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs: number): Promise<unknown> {
  return get(kc, path, query, signal, timeoutMs, jsonReader(path));
}
