import { log } from '../log.js';
import type { Block } from './build.js';
import { adopt, closeSockets, groupListeners, listenerKey, overlaps, type Listener } from './listeners.js';
import type { Plugin } from './plugin.js';
import { ZoneTable } from './route.js';

export interface ReloadOptions {
  /** How long a new configuration may take to become ready (when the running one is). */
  readyTimeoutMs?: number;
  /** How long in-flight queries of the old configuration get before its plugins stop. */
  drainMs?: number;
}

/** What a reload needs of the running server. */
export interface ReloadHost {
  readonly listeners: Listener[];
  open(l: Listener): Promise<void>;
  notReady(blocks?: readonly Block[]): string[];
  closing(): boolean;
}

/** The listeners after the swap, and those the swap closed. */
export interface Swapped {
  listeners: Listener[];
  opened: Listener[];
  removed: Listener[];
}

const key = listenerKey;

/**
 * Everything of a reload before the swap: the new plugins start (and, when
 * the running configuration is ready, must become ready too, so a reload
 * never flips readiness); listeners on new addresses open. Then, in one
 * synchronous step, listeners that stay are re-pointed at the new zone
 * tables and dropped ones are emptied (their sockets close after). On any
 * failure before the swap the new plugins stop, what was opened closes,
 * and the error is thrown: the old configuration keeps serving.
 */
export async function prepareAndSwap(host: ReloadHost, blocks: Block[], opts: ReloadOptions): Promise<Swapped> {
  const next = groupListeners(blocks);
  const current = new Map(host.listeners.map((l) => [key(l), l]));
  const readyBefore = host.notReady().length === 0;
  const started: Plugin[] = [];
  const opened: Listener[] = [];
  // Old listeners whose port a new one cannot share (a wildcard and a
  // specific address on one port): they close just before the new ones
  // open, so that port is down for that moment.
  const dropped = [...current.values()].filter((c) => !next.some((l) => key(l) === key(c)));
  const yielding = dropped.filter((c) => next.some((l) => !current.has(key(l)) && overlaps(c, l)));
  let yielded = false;
  try {
    for (const b of blocks) {
      for (const p of b.plugins) {
        started.push(p);
        if (p.start) await p.start();
      }
    }
    if (readyBefore) await untilReady(host, blocks, opts.readyTimeoutMs ?? 30_000);
    if (host.closing()) throw new Error('the server is shutting down');
    if (yielding.length > 0) {
      log('info', 'server', 'reload moves a port between a wildcard and a specific address: closing the old listener first', {
        closing: yielding.map((l) => `${l.address || '*'}:${l.port}`).join(','),
      });
      yielded = true;
      await closeSockets(yielding);
    }
    for (const l of next) {
      if (current.has(key(l))) continue;
      opened.push(l);
      await host.open(l);
    }
    if (host.closing()) throw new Error('the server is shutting down');
  } catch (err) {
    await closeSockets(opened);
    if (yielded) await reopen(host, yielding);
    await stopPlugins(started);
    throw err;
  }

  // The swap: synchronous, so every query sees either the old or the new configuration.
  const listeners: Listener[] = [];
  for (const l of next) {
    const cur = current.get(key(l));
    if (cur) {
      adopt(cur, l);
      current.delete(key(l));
      listeners.push(cur);
    } else {
      listeners.push(l);
    }
  }
  const removed = [...current.values()];
  // TCP connections still open on a dropped address get REFUSED until they close.
  for (const l of removed) l.zones = new ZoneTable();
  return { listeners, opened, removed };
}

/** A failed reload puts back the listeners it closed to make room; what cannot be reopened is logged. */
async function reopen(host: ReloadHost, listeners: Listener[]): Promise<void> {
  for (const l of listeners) {
    try {
      await host.open(l);
    } catch (err) {
      await closeSockets([l]);
      log('error', 'server', 'cannot reopen a listener after a failed reload', { address: l.address || '*', port: l.port, err });
    }
  }
}

async function untilReady(host: ReloadHost, blocks: readonly Block[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const waiting = host.notReady(blocks);
    if (waiting.length === 0) return;
    if (Date.now() >= until || host.closing()) {
      throw new Error(`the new configuration was not ready within ${timeoutMs / 1000}s (waiting for ${waiting.join(', ')})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Stops plugins one by one; a failing stop() is logged and does not stop the others. */
export async function stopPlugins(plugins: Plugin[]): Promise<void> {
  for (const p of plugins) {
    if (!p.stop) continue;
    try { await p.stop(); } catch (err) { log('error', 'server', 'plugin stop failed', { plugin: p.name, err }); }
  }
}
