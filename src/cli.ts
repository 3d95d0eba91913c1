#!/usr/bin/env node
import { unlinkSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { createServer, reloaderFor, validateCorefile } from './app.js';
import { loadCorefile } from './corefile/parse.js';
import { CorefileError } from './corefile/errors.js';
import { log, LOG_FORMATS, logFormat, setLogFormat, type LogFormat } from './log.js';
import { serveClusterMetrics } from './metrics/cluster.js';
import { PLUGINS } from './plugins/index.js';
import { banner, explainBindError, nearestFlag, pluginList } from './startup.js';
import { packageVersion, revision } from './version.js';
import { isWorker, runPrimary } from './workers.js';

// Two V8 heap limits, both for a server that runs for months in a pod:
// - V8 grows the young generation to 2 x 16 MB after an allocation burst (the
//   first list of a large cluster) and keeps it; held at its initial
//   2 x 1 MB, RSS is ~30 MB lower with no measurable cost per query
//   (bench/sync.ts, bench/hotpath.ts).
// - After a full GC V8 lets the old generation grow to up to 4 x what
//   survived before the next one, and keeps those pages. Forwarded traffic
//   promotes short-lived objects, so a warm node-local cache (~20 MB live)
//   sat at 50 MB of old space and 124 MB RSS; at 1.5 x it is 22 MB and
//   97 MB, at no QPS cost measured (bench/nodelocal.ts).
// CLUSTERDNS_V8_FLAGS replaces this ('' keeps V8's defaults).
const v8Flags = process.env.CLUSTERDNS_V8_FLAGS ?? '--semi-space-growth-factor=1 --heap-growing-percent=50';
if (v8Flags) setFlagsFromString(v8Flags);

const HELP = `Usage: clusterdns [options]
       clusterdns convert-kubedns FILE [--domain DOMAIN]   print the Corefile for a kube-dns ConfigMap
       clusterdns explain [--conf FILE] NAME [TYPE] [--json]   why NAME is answered as it is
       clusterdns node-local -localip IP[,IP...] [node-cache flags]   run as NodeLocal DNSCache (-help for its flags)

  --conf FILE, -conf FILE        Corefile to load (default: ./Corefile)
  --port N, -dns.port N          port for server blocks that name none (default 53)
  --validate, -validate          check the Corefile, print every problem (FILE:LINE), exit 0/1
  --workers N                    serve from N processes sharing the sockets (default 1)
  --pidfile FILE, -pidfile FILE  write the process ID to FILE while serving
  --quiet, -quiet                no startup banner
  --plugins, -plugins            list the plugins compiled in
  --log-format F, -log.format F  operational logs as coredns (default) or json;
                                 also CLUSTERDNS_LOG_FORMAT
  --version, -version            print the version
  --help                         this text
`;

/** Every spelling the parser accepts: an unknown flag is matched against these. */
const FLAGS = ['--conf', '-conf', '--port', '-dns.port', '--dns.port', '--validate', '-validate', '--workers',
  '--pidfile', '-pidfile', '--quiet', '-quiet', '--plugins', '-plugins', '--log-format', '-log.format',
  '--version', '-version', '--help', '-help', '-h'];

interface Args { conf: string; port: number; validate: boolean; workers: number; pidfile: string | null; quiet: boolean }

function parseArgs(argv: string[]): Args | null {
  const args: Args = { conf: 'Corefile', port: 53, validate: false, workers: 1, pidfile: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === undefined) break;
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
      case '--validate': case '-validate': args.validate = true; break;
      case '--pidfile': case '-pidfile': args.pidfile = value(); break;
      case '--quiet': case '-quiet': args.quiet = true; break;
      case '--log-format': case '-log.format': case '--log.format': {
        const v = value();
        if (!(LOG_FORMATS as readonly string[]).includes(v)) throw new Error(`${flag}: "${v}" is not a log format; accepted: ${LOG_FORMATS.join(', ')}`);
        setLogFormat(v as LogFormat);
        break;
      }
      case '--plugins': case '-plugins': process.stdout.write(pluginList(PLUGINS)); return null;
      case '--workers': {
        const v = value();
        if (!/^[1-9]\d{0,2}$/.test(v)) throw new Error(`${flag}: "${v}" is not a worker count (1-999)`);
        args.workers = Number(v);
        break;
      }
      case '--version': case '-version':
        process.stdout.write(`clusterdns ${packageVersion()}\n${[`${process.platform}/${process.arch}`, `node ${process.version}`, revision()].filter(Boolean).join(', ')}\n`);
        return null;
      case '--help': case '-help': case '-h': process.stdout.write(HELP); return null;
      default: {
        const near = nearestFlag(flag, FLAGS);
        throw new Error(`unknown flag ${flag}${near ? `; did you mean ${near}?` : ''} (see --help)`);
      }
    }
  }
  return args;
}

async function main(): Promise<number> {
  if (process.argv[2] === 'convert-kubedns') {
    const { runConvertKubeDns } = await import('./convert-kubedns.js');
    return runConvertKubeDns(process.argv.slice(3));
  }
  if (process.argv[2] === 'explain') {
    const { runExplain } = await import('./explain/cli.js');
    const code = await runExplain(process.argv.slice(3), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
    // A watch or an upstream socket still closing must not hold the answer back.
    setTimeout(() => process.exit(), 2000).unref();
    return code;
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

  if (args.validate) {
    let problems: CorefileError[];
    try {
      problems = validateCorefile(loadCorefile(args.conf), { defaultPort: args.port, conf: args.conf });
    } catch (err) {
      // A syntax error (or an unreadable file) leaves the rest of the file without structure: it is the one problem.
      if (!(err instanceof CorefileError)) throw err;
      problems = [err];
    }
    if (problems.length === 0) {
      process.stdout.write(`${args.conf}: OK\n`);
      return 0;
    }
    for (const p of problems) process.stderr.write(`${p.message}\n`);
    process.stderr.write(`${args.conf}: ${problems.length} problem${problems.length > 1 ? 's' : ''}\n`);
    return 1;
  }
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
  if (args.workers > 1 && !isWorker()) {
    // The primary serves /metrics summed over the workers (each worker counts its own queries).
    const closeMetrics = await serveClusterMetrics(server);
    if (args.pidfile) writeFileSync(args.pidfile, `${process.pid}\n`);
    const code = await runPrimary(args.workers);
    if (args.pidfile) try { unlinkSync(args.pidfile); } catch { /* already gone */ }
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
    const hint = explainBindError(err);
    if (hint) log('error', 'server', hint);
    else log('error', 'server', 'cannot start', { err });
    await server.stop(0).catch(() => undefined);
    return 1;
  }
  // CoreDNS's banner (not in JSON mode: every line there is one JSON object).
  if (!args.quiet && !isWorker() && logFormat() === 'coredns') process.stdout.write(banner(server.currentBlocks()));
  log('info', 'server', 'serving', { conf: args.conf, version: packageVersion() });
  const pidfile = isWorker() ? null : args.pidfile;
  if (pidfile) {
    try {
      writeFileSync(pidfile, `${process.pid}\n`);
    } catch (err) {
      log('error', 'server', `cannot write the pidfile ${pidfile}`, { err });
      await server.stop(0).catch(() => undefined);
      return 1;
    }
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log('info', 'server', `${signal}: Shutting down servers then terminating`);
      reloaderFor(server)?.close();
      // health's lameduck runs inside shutdown(): /ready fails at once, DNS serves on meanwhile.
      server.shutdown().then(resolve, resolve);
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });
  if (pidfile) try { unlinkSync(pidfile); } catch { /* already gone */ }
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
