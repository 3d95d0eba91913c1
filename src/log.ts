// Operational logs, one line per event, on stdout in CoreDNS's form:
//   [INFO] plugin/reload: Running configuration SHA512 = 4b5f…
//   [ERROR] plugin/errors: 2 example.org. A: no answer from 10.0.0.1:53
//   [WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API
// so log-based alerts and dashboards written for CoreDNS keep matching.
// Extra fields follow the message as ` key=value`. `-log.format json` (or
// CLUSTERDNS_LOG_FORMAT=json) prints one JSON object per line instead.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'coredns' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['coredns', 'json'];

type Sink = (line: string) => void;
const stdout: Sink = (line) => process.stdout.write(`${line}\n`);
let sink: Sink = stdout;
let format: LogFormat = process.env.CLUSTERDNS_LOG_FORMAT === 'json' ? 'json' : 'coredns';

/** CoreDNS's level words. */
const LEVEL_WORD: Record<Level, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };

/**
 * Sources that are the server itself, not a plugin: CoreDNS prints those
 * without a `plugin/NAME: ` prefix (`[INFO] SIGTERM: Shutting down servers…`).
 */
const CORE = new Set(['server', 'cli', 'workers']);

/** Tests capture log lines; the CLI leaves the default (stdout). */
export function setLogSink(s: Sink | null): void {
  sink = s ?? stdout;
}

export function setLogFormat(f: LogFormat): void {
  format = f;
}

export function logFormat(): LogFormat {
  return format;
}

function text(v: unknown): string {
  if (v instanceof Error) return v.message;
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

function quote(v: unknown): string {
  const s = text(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/** The line `log` would print, without printing it. */
export function formatLine(level: Level, source: string, msg: string, fields: Record<string, unknown> = {}): string {
  if (format === 'json') {
    const o: Record<string, unknown> = { ts: new Date().toISOString(), level: LEVEL_WORD[level].toLowerCase(), plugin: source, msg };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && !(k in o)) o[k] = v instanceof Error ? v.message : v;
    return JSON.stringify(o);
  }
  let line = `[${LEVEL_WORD[level]}] ${CORE.has(source) ? '' : `plugin/${source}: `}${msg}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) line += ` ${k}=${quote(v)}`;
  }
  // One event, one line: a multi-line value (a stack) stays on the line.
  return line.includes('\n') ? line.replace(/\r?\n/g, '\\n') : line;
}

export function log(level: Level, plugin: string, msg: string, fields: Record<string, unknown> = {}): void {
  // Debug lines are printed by CoreDNS's `debug` plugin only, which clusterdns does not have.
  if (level === 'debug') return;
  sink(formatLine(level, plugin, msg, fields));
}

/** Raw line (the `log` plugin prints CoreDNS's query format as is, in either format). */
export function logRaw(line: string): void {
  sink(line);
}
