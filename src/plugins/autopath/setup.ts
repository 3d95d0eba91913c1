import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs } from '../../corefile/options.js';
import { walkOptions } from '../../corefile/walk.js';
import { zoneArgs } from '../../corefile/zones.js';
import type { PluginDefinition, SetupContext } from '../../server/plugin.js';
import { KubernetesPlugin } from '../kubernetes/kubernetes.js';
import { AutopathPlugin } from './autopath.js';
import { AUTOPATH_FAMILIES } from './families.js';
import { readSearchList, type SearchPathFor } from './search.js';

const USAGE = 'autopath [ZONE...] RESOLV-CONF (a resolv.conf path, or @kubernetes)';

export type AutopathSource = { kind: 'file'; search: string[] } | { kind: 'plugin'; name: 'kubernetes' };

export interface AutopathOptions {
  zones: string[];
  source: AutopathSource;
}

export function parseAutopath(d: Directive, block: SetupContext['block']): AutopathOptions {
  expectArgs(d, 1, Infinity, USAGE);
  walkOptions(d, 'autopath', {}, null);
  const resolv = d.args[d.args.length - 1] ?? '';
  const zoneList = d.args.slice(0, -1);
  const zones = zoneList.length > 0 ? zoneArgs(zoneList, d, 'autopath') : [...block.zones];
  if (!resolv.startsWith('@')) {
    let search: string[];
    try {
      search = readSearchList(resolv);
    } catch (err) {
      throw configError(d, `autopath: cannot read the resolv.conf "${resolv}": ${(err as Error).message}`);
    }
    return { zones, source: { kind: 'file', search } };
  }
  const name = resolv.slice(1);
  if (name !== 'kubernetes') {
    throw configError(d, `autopath: "${resolv}": only @kubernetes provides per-client search paths in clusterdns`);
  }
  checkKubernetes(d, block.directives);
  return { zones, source: { kind: 'plugin', name } };
}

/**
 * `@kubernetes` finds the asking pod by its source IP in the kubernetes
 * plugin's Pod store, which only `pods verified` keeps. CoreDNS silently
 * never autopaths without it; we refuse to start instead.
 */
function checkKubernetes(d: Directive, directives: readonly Directive[]): void {
  const k = directives.find((x) => x.name === 'kubernetes');
  if (k === undefined) {
    throw configError(d, 'autopath @kubernetes needs a kubernetes plugin in this server block: the search path comes from its Pod store');
  }
  const pods = (k.block ?? []).find((o) => o.name === 'pods');
  if (pods?.args[0] !== 'verified') {
    const now = pods === undefined ? 'pods is not set (disabled)' : `it says "pods ${pods.args.join(' ')}"`;
    throw configError(d, `autopath @kubernetes needs "pods verified" in the kubernetes block at ${k.file}:${k.line} (${now}): ` +
      'autopath finds the asking pod\'s namespace by its IP, and only "pods verified" watches Pods');
  }
}

export const autopathPlugin: PluginDefinition = {
  name: 'autopath',
  metrics: AUTOPATH_FAMILIES,
  setup: (d, ctx) => {
    const o = parseAutopath(d, ctx.block);
    const src = o.source;
    if (src.kind === 'file') {
      const search = src.search.length === 0 ? null : src.search;
      return new AutopathPlugin(o.zones, () => () => search);
    }
    // The kubernetes plugin is built with the rest of the block: look it up at start.
    return new AutopathPlugin(o.zones, (): SearchPathFor => {
      const k = ctx.peer(src.name);
      // parseAutopath checked the block has one; this is a bug if it fires.
      if (!(k instanceof KubernetesPlugin)) throw configError(d, `autopath: no ${src.name} plugin in this server block`);
      return (ip, lname) => k.searchPath(ip, lname);
    });
  },
};
