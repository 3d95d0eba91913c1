// One line per event, logfmt-style (key=value), so logs grep and parse alike.

export type Level = 'debug' | 'info' | 'warn' | 'error';

type Sink = (line: string) => void;
let sink: Sink = (line) => process.stderr.write(`${line}\n`);
let debugOn = false;

/** Tests capture log lines; the CLI leaves the default (stderr). */
export function setLogSink(s: Sink | null): void {
  sink = s ?? ((line) => process.stderr.write(`${line}\n`));
}

export function setDebug(on: boolean): void {
  debugOn = on;
}

function quote(v: unknown): string {
  const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s ?? '') ? s! : JSON.stringify(s ?? '');
}

export function log(level: Level, plugin: string, msg: string, fields: Record<string, unknown> = {}): void {
  if (level === 'debug' && !debugOn) return;
  let line = `${new Date().toISOString()} level=${level} plugin=${plugin} msg=${quote(msg)}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) line += ` ${k}=${quote(v)}`;
  }
  sink(line);
}

/** Raw line (the `log` plugin prints CoreDNS's query format as is). */
export function logRaw(line: string): void {
  sink(line);
}
