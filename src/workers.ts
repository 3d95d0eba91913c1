import { log } from './log.js';
import { isClusterWorker } from './metrics/cluster.js';

/**
 * `--workers N`: N server processes on one machine. Node's cluster module
 * shares each UDP socket and TCP listener between the workers (the primary
 * holds them), so every worker answers on the same ports. Each worker syncs
 * its own store from the API: N watches, N stores.
 *
 * The primary only relays signals and waits; a worker that dies is not
 * replaced (the pod restarts, as with CoreDNS).
 */
export function isWorker(): boolean {
  // Not cluster.isWorker: node:cluster is loaded only when --workers is used.
  return isClusterWorker();
}

export async function runPrimary(workers: number): Promise<number> {
  const { default: cluster } = await import('node:cluster');
  const procs = Array.from({ length: workers }, () => cluster.fork());
  log('info', 'server', 'started workers', { workers, pids: procs.map((w) => w.process.pid).join(',') });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGUSR1'] as const) {
    process.on(sig, () => { for (const w of procs) if (!w.isDead()) w.process.kill(sig); });
  }
  let worst = 0;
  await Promise.all(procs.map((w) => new Promise<void>((resolve) => {
    w.on('exit', (code, signal) => {
      if (code !== 0) {
        worst = Math.max(worst, code ?? 1);
        log('error', 'server', 'worker exited', { pid: w.process.pid, code, signal });
        // One worker failing (bad Corefile at start, loop detected) stops the rest: same outcome as one process.
        for (const other of procs) if (!other.isDead()) other.process.kill('SIGTERM');
      }
      resolve();
    });
  })));
  return worst;
}
