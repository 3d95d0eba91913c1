import { log } from '../../log.js';
import type { Plugin } from '../../server/plugin.js';
import { reloaderOf } from './controller.js';

/** Asks the process's ReloadController to check the Corefile every `intervalMs` while this configuration serves. */
export class ReloadPlugin implements Plugin {
  readonly name = 'reload';

  constructor(readonly intervalMs: number, private readonly shared: Map<string, unknown>) {}

  start(): void {
    const r = reloaderOf(this.shared);
    if (!r) {
      log('warn', 'reload', 'no reload controller in this process; the Corefile is not watched');
      return;
    }
    r.watch(this, this.intervalMs);
    // CoreDNS's line at every start and reload; alerts and runbooks key on it.
    const hash = r.configurationHash;
    if (hash) log('info', 'reload', `Running configuration SHA512 = ${hash}`);
  }

  stop(): void {
    reloaderOf(this.shared)?.unwatch(this);
  }
}
