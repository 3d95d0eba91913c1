#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { createServer, reloaderFor } from './app.js';
import { loadCorefile } from './corefile/parse.js';
import { CorefileError } from './corefile/errors.js';
import { log } from './log.js';
import { serveClusterMetrics } from './metrics/cluster.js';
import { isWorker, runPrimary } from './workers.js';

// V8 grows the young generation to 2 x 16 MB after an allocation burst (the
// first list of a large cluster) and keeps it; held at its initial 2 x 1 MB,
// RSS is ~30 MB lower with no measurable cost per query (bench/sync.ts,
// bench/hotpath.ts). CLUSTERDNS_V8_FLAGS replaces this ('' keeps V8's defaults).
const v8Flags = process.env.CLUSTERDNS_V8_FLAGS ?? '--semi-space-growth-factor=1';
if (v8Flags) setFlagsFromString(v8Flags);

const HELP = `Usage: clusterdns [options]
       clusterdns convert-kubedns FILE [--domain DOMAIN]   print the Corefile for a kube-dns ConfigMap
       clusterdns node-local -localip IP[,IP...] [node-cache flags]   run as NodeLocal DNSCache (-help for its flags)

  --conf FILE, -conf FILE        Corefile to load (default: ./Corefile)
  --port N, -dns.port N          port for server blocks that name none (default 53)
  --validate                     check the Corefile, print problems, exit 0/1
  --workers N                    serve from N processes sharing the sockets (default 1)
  --version, -version            print the version
  --help                         this text
`;

interface Args { conf: string; port: number; validate: boolean; workers: number }

function packageVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, '..', 'package.json'), join(here, '..', '..', 'package.json')]) {
    try { return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version; } catch { /* try the next layout */ }
  }
  return 'unknown';
}

function parseArgs(argv: string[]): Args | null {
  const args: Args = { conf: 'Corefile', port: 53, validate: false, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--conf': case '-conf': args.conf = value(); break;
      case '--port': case '-dns.port': case '--dns.port': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < 0 || n > 65535) throw new Error(`${flag}: "${v}" is not a port (0-65535)`);
        args.port = n;
        break;
      }
      case '--validate': args.validate = true; break;
      case '--workers': {
        const v = value();
        if (!/^[1-9]\d{0,2}$/.test(v)) throw new Error(`${flag}: "${v}" is not a worker count (1-999)`);
        args.workers = Number(v);
        break;
      }
      case '--version': case '-version': process.stdout.write(`clusterdns ${packageVersion()}\n`); return null;
      case '--help': case '-help': case '-h': process.stdout.write(HELP); return null;
      default: throw new Error(`unknown flag ${a}; see --help`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  if (process.argv[2] === 'convert-kubedns') {
    const { runConvertKubeDns } = await import('./convert-kubedns.js');
    return runConvertKubeDns(process.argv.slice(3));
  }
  if (process.argv[2] === 'node-local') {
    const { runNodeLocal } = await import('./nodelocal/main.js');
    const code = await runNodeLocal(process.argv.slice(3), {
      version: packageVersion(), out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s),
    });
    // As below: a stuck socket must not keep a stopped cache alive.
    setTimeout(() => process.exit(), 2000).unref();
    return code;
  }
  let args: Args | null;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`clusterdns: ${(err as Error).message}\n`);
    return 2;
  }
  if (args === null) return 0;

  let server;
  try {
    const corefile = loadCorefile(args.conf);
    server = createServer(corefile, { defaultPort: args.port, conf: args.conf });
  } catch (err) {
    if (err instanceof CorefileError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (args.validate) {
    process.stdout.write(`${args.conf}: OK\n`);
    return 0;
  }
  if (args.workers > 1 && !isWorker()) {
    // The primary serves /metrics summed over the workers (each worker counts its own queries).
    const closeMetrics = await serveClusterMetrics(server);
    const code = await runPrimary(args.workers);
    await closeMetrics();
    return code;
  }
  // CoreDNS's reload signal: reload even if the Corefile's content is unchanged.
  // Installed before start: Node's default for SIGUSR1 would open the inspector.
  let stopping = false;
  process.on('SIGUSR1', () => {
    if (stopping) return;
    if (!server.started) { log('warn', 'reload', 'SIGUSR1 ignored: still starting'); return; }
    log('info', 'reload', 'SIGUSR1: reloading the Corefile', { conf: args.conf });
    void reloaderFor(server)?.reload('SIGUSR1', true);
  });
  try {
    await server.start();
  } catch (err) {
    log('error', 'server', 'cannot start', { err });
    await server.stop(0).catch(() => undefined);
    return 1;
  }
  log('info', 'server', 'serving', { conf: args.conf, version: packageVersion() });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log('info', 'server', 'shutting down', { signal });
      reloaderFor(server)?.close();
      // health's lameduck runs inside shutdown(): /ready fails at once, DNS serves on meanwhile.
      server.shutdown().then(resolve, resolve);
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });
  // A --workers worker: the IPC channel to the primary would hold the event loop open.
  if (isWorker()) process.disconnect?.();
  // Anything still holding the event loop (a stuck socket) must not keep a stopped server alive.
  setTimeout(() => process.exit(), 2000).unref();
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  log('error', 'server', 'fatal', { err, stack: err instanceof Error ? err.stack : undefined });
  process.exitCode = 1;
});
