// Helpers for the operational tests (health, ready, metrics, reload,
// shutdown): plain HTTP GETs, a plugin whose readiness a test controls, and
// a query loop that records every query that went unanswered.

import http from 'node:http';
import { RCODE } from '../../src/dns/constants.js';
import type { PluginDefinition } from '../../src/server/plugin.js';
import { queryBytes, udpRaw } from './dns.js';

/** GET (or HEAD/POST) on 127.0.0.1, no keep-alive. */
export function httpGet(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.setTimeout(3000, () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the status, or 0 when nothing listens. */
export async function statusOf(port: number, path: string): Promise<number> {
  try { return (await httpGet(port, path)).status; } catch { return 0; }
}

/**
 * `gate NAME`: a test plugin that reports readiness as `gates.get(NAME)`
 * says (false until set). It answers nothing (calls next).
 */
export const gates = new Map<string, boolean>();
/** Instances of `gate` started and stopped, in order, as "start NAME" / "stop NAME". */
export const gateEvents: string[] = [];

export const gatePlugin: PluginDefinition = {
  name: 'gate',
  multiple: true,
  setup(d) {
    const id = d.args[0] ?? 'gate';
    return {
      name: `gate-${id}`,
      serve: (req, next) => next(req),
      ready: () => gates.get(id) === true,
      start: () => { gateEvents.push(`start ${id}`); },
      stop: () => { gateEvents.push(`stop ${id}`); },
    };
  },
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface LoopResult { sent: number; failed: string[]; rcodes: Map<number, number> }

/**
 * Sends UDP queries for `name` back to back (`concurrency` in flight) until
 * stop() is called; a query with no answer within 1 s, or with an rcode
 * not in `ok`, is a failure.
 */
export function queryLoop(port: number, name: string, ok: number[] = [RCODE.NOERROR], concurrency = 4): { stop(): Promise<LoopResult> } {
  let running = true;
  const res: LoopResult = { sent: 0, failed: [], rcodes: new Map() };
  const worker = async (): Promise<void> => {
    while (running) {
      res.sent++;
      const a = await udpRaw(port, queryBytes(name, 'A'), 1000);
      if (a === null) { res.failed.push(`timeout at ${new Date().toISOString()}`); continue; }
      const rcode = a[3]! & 0xf;
      res.rcodes.set(rcode, (res.rcodes.get(rcode) ?? 0) + 1);
      if (!ok.includes(rcode)) res.failed.push(`rcode ${rcode}`);
      await sleep(2);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return res;
    },
  };
}

/** Polls `f` every 20 ms until it returns true or `ms` pass. */
export async function until(f: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await sleep(20);
  }
  return f();
}
