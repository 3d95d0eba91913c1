// The kubernetes plugin's `snapshot FILE` at scale: N services with M ready
// endpoints each (one EndpointSlice per service) go through the same tee the
// live source feeds; prints the time to write the file (serialize, fsync,
// rename), its size, and the time to load it back into a fresh store (read,
// checksum, parse, compact), median of --rounds.
//
//   npm run bench:snapshot [-- --services 10000 --endpoints 10 --rounds 5]
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kind, NamespaceRecord, ServiceRecord, SliceRecord } from '../src/plugins/kubernetes/objects.js';
import { encodeSnapshot, readSnapshot, SnapshotTee, writeSnapshotAtomically } from '../src/plugins/kubernetes/snapshot.js';
import { Store } from '../src/plugins/kubernetes/store.js';
import { numberFlag } from './lib/args.js';
import { median } from './lib/proc.js';

const SERVICES = numberFlag('services', 10_000);
const EPS = numberFlag('endpoints', 10);
const ROUNDS = numberFlag('rounds', 5);
const NAMESPACES = 100;
const REQUIRED: Kind[] = ['services', 'namespaces', 'endpointslices'];

const newStore = (): Store => new Store({ endpointPodNames: false, namespaces: null, namespaceLabels: null, labels: null, required: REQUIRED, ignoreEndpoints: false });

function cluster(): { namespaces: NamespaceRecord[]; services: ServiceRecord[]; slices: SliceRecord[] } {
  const namespaces: NamespaceRecord[] = [];
  for (let n = 0; n < NAMESPACES; n++) namespaces.push({ name: `ns-${n}`, labels: {} });
  const services: ServiceRecord[] = [];
  const slices: SliceRecord[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const namespace = `ns-${i % NAMESPACES}`;
    const name = `svc-${i}`;
    const headless = i % 5 === 0;
    const ports = [{ name: 'http', protocol: 'TCP', port: 80 }];
    services.push({
      namespace, name, kind: headless ? 'Headless' : 'ClusterIP', clusterIPs: headless ? [] : [`10.96.${(i >> 8) & 255}.${i & 255}`],
      externalName: '', ports, publishNotReadyAddresses: false, labels: { app: name },
    });
    const endpoints = [];
    for (let e = 0; e < EPS; e++) {
      const k = i * EPS + e;
      endpoints.push({ addresses: [`10.${64 + ((k >> 16) & 63)}.${(k >> 8) & 255}.${k & 255}`], ready: true, hostname: headless ? `${name}-${e}` : '', podName: `${name}-${e}` });
    }
    slices.push({ namespace, name: `${name}-abcde`, service: name, endpoints, ports });
  }
  return { namespaces, services, slices };
}

async function main(): Promise<void> {
  console.log(`# Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; ${SERVICES} services, ${SERVICES * EPS} endpoints, ${ROUNDS} rounds`);
  const dir = mkdtempSync(join(tmpdir(), 'clusterdns-bench-snapshot-'));
  const file = join(dir, 'dns.snapshot');
  try {
    const c = cluster();
    const tee = new SnapshotTee(newStore(), REQUIRED, () => undefined);
    tee.replace('namespaces', c.namespaces);
    tee.replace('services', c.services);
    tee.replace('endpointslices', c.slices);
    for (const k of REQUIRED) tee.markSynced(k);

    const writes: number[] = [];
    const loads: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t = performance.now();
      await writeSnapshotAtomically(file, encodeSnapshot(tee.body()));
      writes.push(performance.now() - t);

      t = performance.now();
      const read = await readSnapshot(file);
      if (!read.ok) throw new Error(read.problem);
      const store = newStore();
      for (const k of REQUIRED) {
        store.replace(k, read.snapshot.records[k] ?? []);
        store.markSynced(k);
      }
      loads.push(performance.now() - t);
      if (store.counts().services !== SERVICES) throw new Error(`loaded ${store.counts().services} services`);
    }
    const size = statSync(file).size;
    console.log(`write (serialize, fsync, rename): median ${median(writes).toFixed(0)} ms  [${writes.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`load (read, checksum, parse, store): median ${median(loads).toFixed(0)} ms  [${loads.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`file size: ${(size / 1e6).toFixed(1)} MB (${(size / (SERVICES * EPS)).toFixed(0)} bytes per endpoint)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
