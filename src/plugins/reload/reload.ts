import { log } from '../../log.js';
import type { Plugin } from '../../server/plugin.js';
import type { Services } from '../../services.js';

/** Asks the process's ReloadController to check the Corefile every `intervalMs` while this configuration serves. */
export class ReloadPlugin implements Plugin {
  readonly name = 'reload';

  constructor(readonly intervalMs: number, private readonly services: Services) {}

  start(): void {
    const r = this.services.reload;
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
    this.services.reload?.unwatch(this);
  }
}
