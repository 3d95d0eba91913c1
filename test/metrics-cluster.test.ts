// `--workers N`: the primary's /metrics combines what each worker sends over
// the cluster IPC channel. Real forked workers; a worker that never answers
// is left out after the timeout instead of hanging the scrape.

import { expect } from 'chai';
import cluster, { type Worker } from 'node:cluster';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { isClusterWorker, serveClusterMetrics } from '../src/metrics/cluster.js';
import { httpGet } from './support/ops.js';
import { freePort } from './support/server.js';

function fork(env: Record<string, string>): Promise<{ worker: Worker; isWorker: unknown }> {
  const worker = cluster.fork(env);
  return new Promise((resolve, reject) => {
    worker.once('message', (msg: { worker?: unknown }) => resolve({ worker, isWorker: msg.worker }));
    worker.once('exit', (code) => reject(new Error(`test worker exited with ${code}`)));
  });
}

describe('metrics with --workers', function () {
  this.timeout(20_000);
  const workers: Worker[] = [];
  before(() => {
    setLogSink(() => {});
    cluster.setupPrimary({ exec: 'test/support/metrics-worker.ts', execArgv: ['--import', 'tsx'], silent: true });
  });
  after(() => {
    setLogSink(null);
    for (const w of workers) w.process.kill('SIGKILL');
  });

  it('the primary sums two workers\' counters, takes the max of a max gauge, and leaves out a worker that does not answer', async () => {
    expect(isClusterWorker()).to.equal(false, 'the test process is no worker');
    const started = await Promise.all([fork({ WORKER_VALUE: '5' }), fork({ WORKER_VALUE: '7' }), fork({ SILENT: '1' })]);
    workers.push(...started.map((s) => s.worker));
    expect(started.map((s) => s.isWorker)).to.deep.equal([true, true, true], 'a forked worker knows it is one');
    const mp = await freePort();
    const server = createServer(parseCorefile(`.:${await freePort()} {\n  prometheus 127.0.0.1:${mp}\n  whoami\n}\n`, { file: 'Corefile' }));
    const close = await serveClusterMetrics(server, 500);
    try {
      const res = await httpGet(mp, '/metrics');
      expect(res.status).to.equal(200);
      expect(res.body).to.equal([
        '# HELP test_queries_total Queries.',
        '# TYPE test_queries_total counter',
        'test_queries_total{zone="a."} 12',
        '',
        '# HELP test_objects Objects.',
        '# TYPE test_objects gauge',
        'test_objects 7',
        '',
        '# HELP test_odd Not a number.',
        '# TYPE test_odd gauge',
        'test_odd NaN',
        '',
      ].join('\n'));
    } finally {
      await close();
    }
  });
});
