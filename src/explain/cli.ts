// `clusterdns explain --conf FILE NAME [TYPE] [--json]`: loads the Corefile,
// starts the plugins that answer queries (kubernetes waits for its sync, up
// to startup_timeout), runs one question through the real chain and prints
// why it is answered as it is. No DNS or HTTP listener is opened: side
// servers (health, ready, prometheus, explain) are not started.

import { CorefileError } from '../corefile/errors.js';
import { loadCorefile } from '../corefile/parse.js';
import { setLogSink } from '../log.js';
import { PLUGINS } from '../plugins/index.js';
import { buildBlocks, type Block } from '../server/build.js';
import { Services } from '../services.js';
import { resolverFor, traceQuery } from './chain.js';
import { parseType } from './records.js';
import { formatReport } from './report.js';

export interface ExplainIO {
  out(s: string): void;
  err(s: string): void;
}

export const EXPLAIN_USAGE = 'Usage: clusterdns explain [--conf FILE] NAME [TYPE] [--json]\n';

interface ExplainArgs { conf: string; name: string; type: number; json: boolean }

function parseArgs(argv: string[]): ExplainArgs {
  const args: ExplainArgs = { conf: 'Corefile', name: '', type: 1, json: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.indexOf('=');
    const flag = a.startsWith('-') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      const v = a.startsWith('-') && eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--conf': case '-conf': args.conf = value(); break;
      case '--json': case '-json': args.json = true; break;
      default:
        if (a.startsWith('-') && a.length > 1) throw new Error(`unknown flag ${a}`);
        positional.push(a);
    }
  }
  const [name, type, ...extra] = positional;
  if (name === undefined || name === '') throw new Error('a NAME to explain is needed');
  if (extra.length > 0) throw new Error(`unexpected argument ${extra[0] ?? ''}`);
  args.name = name;
  if (type !== undefined) {
    const t = parseType(type);
    if (t === null) throw new Error(`"${type}" is not a record type (A, AAAA, SRV, PTR, TXT, ... or TYPEnnn)`);
    args.type = t;
  }
  return args;
}

/** Exit status: 0 when the question ran (whatever its rcode), 1 for a Corefile error, 2 for bad arguments. */
export async function runExplain(argv: string[], io: ExplainIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { io.out(EXPLAIN_USAGE); return 0; }
  let args: ExplainArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    io.err(`clusterdns explain: ${(err as Error).message}\n${EXPLAIN_USAGE}`);
    return 2;
  }
  // Operational logs (sync, warnings) go to stderr: stdout holds only the report.
  setLogSink((line) => io.err(`${line}\n`));
  let blocks: Block[] = [];
  try {
    blocks = buildBlocks(loadCorefile(args.conf), {
      plugins: PLUGINS, defaultPort: 53, services: new Services(), resolve: resolverFor(() => blocks),
    });
  } catch (err) {
    if (!(err instanceof CorefileError)) throw err;
    io.err(`${err.message}\n`);
    return 1;
  }
  try {
    // Only plugins in the query path: side servers would bind ports.
    for (const b of blocks) for (const p of b.plugins) if (p.serve && p.start) await p.start();
    const report = await traceQuery(blocks, args.name, args.type);
    io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return 0;
  } finally {
    for (const b of blocks) {
      for (const p of b.plugins) {
        if (!p.serve) continue;
        try { await p.stop?.(); } catch { /* stopping after the report: nothing left to tell */ }
      }
    }
  }
}
