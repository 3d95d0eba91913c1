import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { Fallthrough } from '../../corefile/fallthrough.js';
import { parseIntArg } from '../../corefile/options.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import { zoneArgs } from '../../corefile/zones.js';
import type { PluginDefinition, SetupContext } from '../../server/plugin.js';
import { KubernetesPlugin } from '../kubernetes/kubernetes.js';
import { ExternalPlugin, type ExternalOptions } from './external.js';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const OPTIONS: OptionTable<ExternalOptions> = {
  apex: {
    args: [1, 1], usage: 'apex LABEL',
    apply(e, o) {
      const label = (o.args[0] ?? '').toLowerCase();
      if (!LABEL.test(label)) throw configError(o, `k8s_external: apex "${o.args[0] ?? ''}" is not a DNS label`);
      e.apex = label;
    },
  },
  ttl: { args: [1, 1], usage: 'ttl SECONDS', apply(e, o) { e.ttl = parseIntArg(o.args[0] ?? '', o, 0, 3600, 'k8s_external ttl (seconds)'); } },
  headless: { args: [0, 0], usage: 'headless', apply(e) { e.headless = true; } },
  fallthrough: { args: [0, Infinity], usage: 'fallthrough [ZONES...]', apply(e, o) { e.fallthrough = Fallthrough.parse(o, 'k8s_external'); } },
};

export function parseExternal(d: Directive, block: SetupContext['block']): ExternalOptions {
  const zones = d.args.length > 0 ? zoneArgs(d.args, d, 'k8s_external') : [...block.zones];
  const e: ExternalOptions = { zones: zones.sort((a, b) => b.length - a.length), apex: 'dns', ttl: 5, headless: false, fallthrough: Fallthrough.never };
  walkOptions(d, 'k8s_external', OPTIONS, e);
  // CoreDNS fails at startup ("kubernetes plugin not loaded"); we say so at the line.
  if (!block.directives.some((x) => x.name === 'kubernetes')) {
    throw configError(d, 'k8s_external needs a kubernetes plugin in this server block: it answers from the kubernetes plugin\'s Services');
  }
  return e;
}

export const k8sExternalPlugin: PluginDefinition = {
  name: 'k8s_external',
  setup: (d, ctx) => {
    const o = parseExternal(d, ctx.block);
    return new ExternalPlugin(o, () => {
      const k = ctx.peer('kubernetes');
      // parseExternal checked the block has one; this is a bug if it fires.
      if (!(k instanceof KubernetesPlugin)) throw configError(d, 'k8s_external: no kubernetes plugin in this server block');
      return k;
    }, ctx.resolve);
  },
};
