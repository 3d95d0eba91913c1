import { spawn } from 'node:child_process';

export interface PerfResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  avgLatencyMs: number;
  /** Only with verbose runs: the 99th percentile of per-query latency. */
  p99Ms?: number;
}

export interface PerfOptions {
  port: number;
  file: string;
  seconds: number;
  clients: number;
  outstanding: number;
  mode?: 'udp' | 'tcp';
  /** Limit the rate (for latency runs at a fixed load). */
  maxQps?: number;
  /** Record per-query latency (costs dnsperf some speed: use for latency runs only). */
  verbose?: boolean;
  core?: string;
}

/** Runs dnsperf (bounded by -l) against 127.0.0.1 and parses its summary. */
export function dnsperf(o: PerfOptions): Promise<PerfResult> {
  const args = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.file, '-l', String(o.seconds),
    '-c', String(o.clients), '-q', String(o.outstanding), '-m', o.mode ?? 'udp', '-t', '2'];
  if (o.maxQps) args.push('-Q', String(o.maxQps));
  if (o.verbose) args.push('-v');
  const cmd = o.core ? 'taskset' : 'dnsperf';
  const full = o.core ? ['-c', o.core, 'dnsperf', ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, full, { stdio: ['ignore', 'pipe', 'pipe'] });
    let summary = '';
    const lat: number[] = [];
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // Verbose lines: "> NOERROR name TYPE 0.000123"
        if (o.verbose && line.startsWith('> ')) {
          const v = Number(line.slice(line.lastIndexOf(' ') + 1));
          if (Number.isFinite(v)) lat.push(v * 1000);
        } else summary += `${line}\n`;
      }
    });
    child.stderr.on('data', (d: Buffer) => { summary += d.toString(); });
    child.on('error', reject);
    child.on('exit', () => {
      const num = (re: RegExp): number => Number(summary.match(re)?.[1] ?? NaN);
      const res: PerfResult = {
        qps: num(/Queries per second:\s+([\d.]+)/),
        sent: num(/Queries sent:\s+(\d+)/),
        completed: num(/Queries completed:\s+(\d+)/),
        lost: num(/Queries lost:\s+(\d+)/),
        avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
      };
      if (lat.length > 0) {
        lat.sort((a, b) => a - b);
        res.p99Ms = lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))];
      }
      if (!Number.isFinite(res.qps)) reject(new Error(`dnsperf output not understood:\n${summary.slice(-1500)}`));
      else resolve(res);
    });
  });
}
