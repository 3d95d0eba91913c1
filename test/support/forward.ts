// Test helper: the plugin list with `forward` (and optionally `loop`)
// wrapped so a test can reach the ForwardPlugin instances it built and
// read their counters and health.

import { PLUGINS } from '../../src/plugins/index.js';
import type { ForwardPlugin } from '../../src/plugins/forward/forward.js';
import type { PluginDefinition } from '../../src/server/plugin.js';
import { setLogSink } from '../../src/log.js';
import type { Running } from './server.js';
import { startUpstream, type Upstream } from './upstream.js';

export interface CapturedPlugins {
  plugins: PluginDefinition[];
  /** ForwardPlugin instances in the order blocks were built. */
  forwards: ForwardPlugin[];
}

/**
 * PLUGINS with forward captured; `extra` definitions are inserted just
 * before `loop` (so they run before forward, like kubernetes or hosts),
 * `replace` swaps definitions by name.
 */
export function capturePlugins(opts: { extra?: PluginDefinition[]; replace?: PluginDefinition[]; after?: PluginDefinition[] } = {}): CapturedPlugins {
  const forwards: ForwardPlugin[] = [];
  const out: PluginDefinition[] = [];
  for (const base of PLUGINS) {
    const def = opts.replace?.find((r) => r.name === base.name) ?? base;
    if (def.name === 'loop') out.push(...(opts.extra ?? []));
    if (def.name === 'forward') {
      out.push({
        ...def,
        setup(d, ctx) {
          const p = def.setup(d, ctx);
          if (p) forwards.push(p as ForwardPlugin);
          return p;
        },
      });
    } else {
      out.push(def);
    }
  }
  out.push(...(opts.after ?? []));
  return { plugins: out, forwards };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until true or `ms` passed; returns the last value. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(10);
  }
  return cond();
}

/**
 * The hooks every forwarding suite needs, registered in the calling
 * describe(): captured log lines, and servers and upstreams that are
 * stopped after each test.
 */
export function forwardRig(opts: { clearLogs?: boolean } = {}): {
  logs: string[];
  servers: Running[];
  upstreams: Upstream[];
  upstream: (...args: Parameters<typeof startUpstream>) => Promise<Upstream>;
} {
  const logs: string[] = [];
  const servers: Running[] = [];
  const upstreams: Upstream[] = [];
  before(() => setLogSink((l) => logs.push(l)));
  after(() => setLogSink(null));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await Promise.all(upstreams.splice(0).map((u) => u.stop()));
    if (opts.clearLogs) logs.length = 0;
  });
  const upstream = async (...args: Parameters<typeof startUpstream>): Promise<Upstream> => {
    const u = await startUpstream(...args);
    upstreams.push(u);
    return u;
  };
  return { logs, servers, upstreams, upstream };
}
