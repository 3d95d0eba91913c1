// Two clusterdns servers A and B on loopback, each serving cluster.local
// from manifests and forwarding everything else to the other: the
// forwarding loop of issue 15. A `hopcount NAME` directive (before forward
// in the chain) counts, per server, the queries that reached it by name.

import type { PluginDefinition, Request } from '../../src/server/plugin.js';
import { capturePlugins, type CapturedPlugins } from './forward.js';
import { freePort, startCorefile, type Running } from './server.js';

export interface LoopPair {
  a: Running;
  b: Running;
  /** Queries per lower-case name that reached A's / B's chain. */
  hopsA: Map<string, number>;
  hopsB: Map<string, number>;
  captured: CapturedPlugins;
  stop(): Promise<void>;
}

/** Queries seen per server label ("a", "b") and name. */
function hopCounter(seen: Map<string, Map<string, number>>): PluginDefinition {
  return {
    name: 'hopcount',
    setup(d) {
      const label = d.args[0] ?? '';
      let m = seen.get(label);
      if (!m) { m = new Map(); seen.set(label, m); }
      const counts = m;
      return {
        name: 'hopcount',
        serve(req: Request, next) {
          counts.set(req.lname, (counts.get(req.lname) ?? 0) + 1);
          return next(req);
        },
      };
    },
  };
}

/** `extra` is inserted into each block before forward (e.g. `cache 30`). */
export async function startLoopPair(manifestDir: string, extra = ''): Promise<LoopPair> {
  const seen = new Map<string, Map<string, number>>();
  const captured = capturePlugins({ extra: [hopCounter(seen)] });
  const [pa, pb] = [await freePort(), await freePort()];
  const block = (label: string, other: number): string =>
    `. {\n    ${extra}\n    kubernetes cluster.local {\n        manifests ${manifestDir}\n    }\n    hopcount ${label}\n    forward . 127.0.0.1:${other}\n}\n`;
  const a = await startCorefile(block('a', pb), { forcePort: pa, plugins: captured.plugins });
  const b = await startCorefile(block('b', pa), { forcePort: pb, plugins: captured.plugins });
  const get = (l: string): Map<string, number> => {
    let m = seen.get(l);
    if (!m) { m = new Map(); seen.set(l, m); }
    return m;
  };
  return { a, b, hopsA: get('a'), hopsB: get('b'), captured, stop: async () => { await Promise.all([a.stop(), b.stop()]); } };
}
