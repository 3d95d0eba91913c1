// Reloading the Corefile: on SIGUSR1 (always) and, when the serving
// configuration has a `reload` directive, every INTERVAL±JITTER when the
// file's content changed. A Corefile that fails to parse, to validate or to
// start is logged and counted (coredns_reload_failed_total); the running
// configuration keeps serving.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Corefile, SourceFile } from '../../corefile/ast.js';
import { parseCorefile } from '../../corefile/parse.js';
import { log } from '../../log.js';
import type { Metrics } from '../../metrics/registry.js';
import type { Block } from '../../server/build.js';
import type { DnsServer } from '../../server/server.js';

export class ReloadController {
  /**
   * SHA-512 over the Corefile and the files it imports, as last loaded or
   * tried (a broken configuration is tried once per change).
   */
  private hash: string | null = null;
  /** SHA-512 of the Corefile's own text, as CoreDNS prints it (runbooks compare it with `sha512sum Corefile`). */
  private printed: string | null = null;

  /** SHA-512 (hex) of the Corefile last loaded or tried, if known. */
  get configurationHash(): string | null {
    return this.printed;
  }
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Check intervals asked for by `reload` plugins; the newest one applies. */
  private readonly schedules: Array<{ owner: object; intervalMs: number }> = [];

  constructor(
    private readonly server: DnsServer,
    private readonly build: (corefile: Corefile) => Block[],
    private readonly metrics: () => Metrics,
    /** The Corefile's path; without one there is nothing to reload from. */
    readonly conf: string | undefined,
    /** The configuration now serving, as parsed from `conf`. */
    serving?: Corefile,
  ) {
    if (serving?.files) {
      this.hash = digestFiles(serving.files);
      const main = serving.files[0];
      if (main) this.printed = sha512(main.text);
    }
  }

  /**
   * Reloads from the Corefile if its content changed, or in any case with
   * `force` (SIGUSR1). Never throws; resolves true when a new configuration
   * serves. Calls are serialized.
   */
  reload(reason: string, force = false): Promise<boolean> {
    const run = this.chain.then(() => this.attempt(reason, force));
    this.chain = run.catch(() => false);
    return run;
  }

  /** Check every `intervalMs` (the `reload` plugin of the serving configuration calls this). */
  watch(owner: object, intervalMs: number): void {
    this.unschedule(owner);
    this.schedules.push({ owner, intervalMs });
    this.reschedule();
  }

  unwatch(owner: object): void {
    this.unschedule(owner);
    this.reschedule();
  }

  private unschedule(owner: object): void {
    const i = this.schedules.findIndex((s) => s.owner === owner);
    if (i >= 0) this.schedules.splice(i, 1);
  }

  private reschedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const s = this.schedules[this.schedules.length - 1];
    if (!s || !this.conf) return;
    this.timer = setInterval(() => { void this.reload('Corefile changed'); }, s.intervalMs);
    this.timer.unref();
  }

  private async attempt(reason: string, force: boolean): Promise<boolean> {
    const conf = this.conf;
    if (!conf) {
      log('warn', 'reload', 'no Corefile path to reload from', { reason });
      return false;
    }
    // Not yet serving (a slow first sync) or shutting down: check again at the next tick.
    if (!this.server.started || this.server.draining) return false;
    let text: string;
    try {
      text = readFileSync(conf, 'utf8');
    } catch (err) {
      // A ConfigMap update swaps a symlink: a missed read is retried at the next tick.
      log(force ? 'error' : 'warn', 'reload', 'cannot read the Corefile', { conf, err });
      if (force) this.metrics().reloadFailed.inc();
      return false;
    }
    // Parsed before hashing: imported files are part of the configuration.
    let corefile: Corefile | null = null;
    let parseError: unknown = null;
    try {
      corefile = parseCorefile(text, { file: conf });
    } catch (err) {
      parseError = err;
    }
    const hash = corefile?.files ? digestFiles(corefile.files) : digestFiles([{ path: conf, text }], String(parseError));
    if (!force && hash === this.hash) return false;
    this.hash = hash;
    this.printed = sha512(text);
    const started = Date.now();
    log('info', 'server', 'Reloading', { reason });
    try {
      if (!corefile) throw parseError;
      const blocks = this.build(corefile);
      await this.server.reload(blocks);
    } catch (err) {
      this.metrics().reloadFailed.inc();
      log('error', 'reload', 'Corefile changed but reload failed; the running configuration keeps serving', { reason, conf, err });
      return false;
    }
    log('info', 'server', 'Reloading complete', { reason, conf, ms: Date.now() - started });
    return true;
  }

  /** Stops the periodic checks (process shutdown). */
  close(): void {
    this.schedules.length = 0;
    this.reschedule();
  }
}

function sha512(text: string): string {
  return createHash('sha512').update(text).digest('hex');
}

/** One digest over every file (path and content), plus why parsing failed, if it did. */
function digestFiles(files: SourceFile[], failure = ''): string {
  const h = createHash('sha512');
  for (const f of files) h.update(`${f.path}\0${f.text.length}\0`).update(f.text);
  return h.update(failure).digest('hex');
}
