// What the command line tells a user at their first contact: the startup
// banner, -plugins, the nearest flag to a mistyped one, and how to fix a
// port 53 that cannot be bound.

import { internalZone, ROOT_ZONE } from './corefile/zones.js';
import type { Block } from './server/build.js';
import type { PluginDefinition } from './server/plugin.js';
import { packageVersion, revision } from './version.js';

/** CoreDNS's startup banner: the server keys, then the version, then the platform. */
export function banner(blocks: readonly Block[]): string {
  const keys = new Set<string>();
  for (const b of blocks) {
    for (const k of b.keys) {
      const z = internalZone(k.zone);
      keys.add(`${z === ROOT_ZONE ? '.' : `${z.replace(/\.$/, '')}.`}:${k.port}`);
    }
  }
  const platform = [`${process.platform}/${process.arch}`, `node ${process.version}`, revision()].filter(Boolean).join(', ');
  return `${[...keys].join('\n')}\nclusterdns-${packageVersion()}\n${platform}\n`;
}

/** `-plugins`: what is compiled in, in CoreDNS's layout. */
export function pluginList(plugins: readonly PluginDefinition[]): string {
  const names = plugins.map((p) => `  dns.${p.name}`).sort();
  return `Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n${names.join('\n')}\n`;
}

function distance(a: string, b: string): number {
  // Levenshtein, one row at a time; `left` and `diag` carry cur[j - 1] and prev[j - 1].
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let last = b.length;
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let left = i;
    let diag = i - 1;
    prev.slice(1).forEach((up, k) => {
      left = Math.min(up + 1, left + 1, diag + (a[i - 1] === b[k] ? 0 : 1));
      diag = up;
      cur.push(left);
    });
    prev = cur;
    last = left;
  }
  return last;
}

/** The known flag closest to `flag` (dashes ignored), if it is close enough to be a typo. */
export function nearestFlag(flag: string, known: readonly string[]): string | null {
  const bare = (f: string) => f.replace(/^-+/, '');
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    // Whole spellings: -vallidate is nearer -validate than --validate.
    const d = distance(flag, k);
    if (d < bestD) { best = k; bestD = d; }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(bare(flag).length / 3)) ? best : null;
}

interface BindError { code?: string; syscall?: string; address?: string; port?: number }

/**
 * A bind refused for want of privilege, explained with the three ways out;
 * null for any other error (reported as it is).
 */
export function explainBindError(err: unknown): string | null {
  const e = err as BindError;
  if (!e || (e.code !== 'EACCES' && e.code !== 'EPERM') || e.syscall !== 'bind') return null;
  const where = `${e.address?.includes(':') ? `[${e.address}]` : e.address ?? '*'}:${e.port ?? '?'}`;
  return `cannot bind ${where}: permission denied. Ports below 1024 need one of: `
    + 'the CAP_NET_BIND_SERVICE capability (the clusterdns image\'s node binary carries it as a file capability; '
    + 'the container must keep it: securityContext.capabilities.add: ["NET_BIND_SERVICE"], as CoreDNS\'s Deployment does; '
    + 'outside the image: setcap cap_net_bind_service=+ep "$(command -v node)"), '
    + 'or the sysctl net.ipv4.ip_unprivileged_port_start=0 (a pod securityContext.sysctls entry), '
    + 'or a port of 1024 or above (-dns.port 1053, or a port in the server key such as .:1053)';
}
