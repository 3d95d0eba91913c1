// Reading one large manifests file: N Service documents in one YAML stream
// (16,000 documents are ~2.2 MB). Prints parse time, objects, and the
// process's peak RSS. Also times the refusal of an alias bomb.
//
//   node --import tsx bench/manifests.ts [--docs 16000]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readObjects } from '../src/plugins/kubernetes/manifests.js';
import { numberFlag } from './lib/args.js';

const DOCS = numberFlag('docs', 16_000);

const doc = (i: number): string => `---
apiVersion: v1
kind: Service
metadata:
  name: svc-${i}
  namespace: ns-${i % 100}
spec:
  clusterIP: 10.${96 + ((i >> 16) & 3)}.${(i >> 8) & 255}.${i & 255}
  ports:
  - {name: http, port: 80}
`;

/** Nine anchors, each a List of ten of the previous: 10^9 Services (894 bytes) if expanded. */
function aliasBomb(): string {
  const lines = ['apiVersion: v1', 'kind: List', 'x0: &a0 {apiVersion: v1, kind: Service, metadata: {name: s}, spec: {clusterIP: 10.0.0.1}}'];
  for (let i = 1; i <= 9; i++) lines.push(`x${i}: &a${i} {kind: List, items: [${Array(10).fill(`*a${i - 1}`).join(', ')}]}`);
  lines.push(`items: [${Array(10).fill('*a9').join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

const dir = mkdtempSync(join(tmpdir(), 'clusterdns-bench-manifests-'));
try {
  const big = join(dir, 'big.yaml');
  let text = '';
  for (let i = 0; i < DOCS; i++) text += doc(i);
  writeFileSync(big, text);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const objs = await readObjects(big);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(`${DOCS} documents, ${(text.length / 1e6).toFixed(2)} MB: ${objs.length} objects in ${ms.toFixed(0)} ms; peak RSS ${(peak / 1e6).toFixed(0)} MB (${(rss0 / 1e6).toFixed(0)} MB before)`);

  const bomb = join(dir, 'bomb.yaml');
  const b = aliasBomb();
  writeFileSync(bomb, b);
  const t1 = performance.now();
  try {
    const o = await readObjects(bomb);
    console.log(`alias bomb (${b.length} bytes): accepted, ${o.length} objects (!)`);
  } catch (err) {
    console.log(`alias bomb (${b.length} bytes): refused in ${(performance.now() - t1).toFixed(0)} ms: ${(err as Error).message}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
