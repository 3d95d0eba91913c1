// A `--workers` worker for test/metrics-cluster.test.ts: exports one counter
// and one gauge with the values its environment gives, or (SILENT) never
// answers the primary, as a stuck worker would.

import { exportToPrimary, isClusterWorker } from '../../src/metrics/cluster.js';

const value = Number(process.env.WORKER_VALUE ?? '0');
if (process.env.SILENT === '1') {
  setInterval(() => {}, 60_000); // alive, deaf
} else {
  exportToPrimary(() => [
    { name: 'test_queries_total', help: 'Queries.', type: 'counter', aggregator: 'sum', samples: [{ labels: { zone: 'a.' }, value }] },
    { name: 'test_objects', help: 'Objects.', type: 'gauge', aggregator: 'max', samples: [{ labels: {}, value }] },
    { name: 'test_odd', help: 'Not a number.', type: 'gauge', aggregator: 'first', samples: [{ labels: {}, value: NaN }] },
  ]);
}
process.send?.({ ready: true, worker: isClusterWorker() });
