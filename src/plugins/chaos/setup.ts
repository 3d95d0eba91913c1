import { configError } from '../../corefile/errors.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { packageVersion } from '../../version.js';
import { ChaosPlugin, trim255, type ChaosOptions } from './chaos.js';

/**
 * `chaos [VERSION] [AUTHORS...]`. As in CoreDNS, authors given on the line
 * replace the default list, lose duplicates and are sorted; the default
 * version is `clusterdns-<version>`.
 */
export function parseChaos(args: readonly string[]): ChaosOptions {
  const [version, ...authors] = args;
  return {
    version: trim255(version ?? `clusterdns-${packageVersion()}`),
    authors: [...new Set(authors)].map(trim255).sort(Buffer.compare),
  };
}

export const chaosPlugin: PluginDefinition = {
  name: 'chaos',
  setup: (d) => {
    const first = d.block?.[0];
    if (first !== undefined) throw configError(first, `chaos: unknown property "${first.name}"; chaos takes no block, usage: chaos [VERSION] [AUTHORS...]`);
    if (d.block !== null) throw configError(d, 'chaos takes no block; usage: chaos [VERSION] [AUTHORS...]');
    return new ChaosPlugin(parseChaos(d.args));
  },
};
