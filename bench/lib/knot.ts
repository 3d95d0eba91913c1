import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A knotd configuration serving the given zones from `dir` on 127.0.0.1:port, one worker. */
export function writeKnotConfig(dir: string, port: number, zones: Array<{ name: string; text: string }>): string {
  mkdirSync(join(dir, 'db'), { recursive: true });
  for (const z of zones) writeFileSync(join(dir, `${z.name}.zone`), z.text);
  const conf = `server:
    listen: 127.0.0.1@${port}
    rundir: "${dir}"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "${join(dir, 'db')}"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "${dir}"
    semantic-checks: off
    zonefile-sync: -1
    journal-content: none
zone:
${zones.map((z) => `  - domain: ${z.name}\n    file: "${z.name}.zone"`).join('\n')}
`;
  const path = join(dir, 'knot.conf');
  writeFileSync(path, conf);
  return path;
}
