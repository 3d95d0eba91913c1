// The version comes from package.json, the one place a release changes it:
// --version, the startup banner, coredns_build_info and the logs all read it here.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/** package.json's version; "unknown" only if the file is missing (a broken install). */
export function packageVersion(): string {
  if (cached !== null) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // src/version.ts under tsx, dist/src/version.js when built: package.json is one or two levels up.
  for (const p of [join(here, '..', 'package.json'), join(here, '..', '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'clusterdns' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch { /* try the next layout */ }
  }
  return (cached = 'unknown');
}

/** The source revision the image was built from (the Dockerfile's REVISION build argument), or ''. */
export function revision(): string {
  return process.env.CLUSTERDNS_REVISION ?? '';
}
