import type { Directive } from '../../corefile/ast.js';
import { configError } from '../../corefile/errors.js';
import { expectArgs, parseDuration, parseHostPort } from '../../corefile/options.js';
import { walkOptions, type OptionTable } from '../../corefile/walk.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { HealthPlugin } from './health.js';

export interface HealthOptions {
  /** "" = every interface. */
  host: string;
  port: number;
  /** How long DNS keeps serving after SIGTERM before listeners close. */
  lameduckMs: number;
}

export const HEALTH_DEFAULT_PORT = 8080;

export function parseHealth(d: Directive): HealthOptions {
  expectArgs(d, 0, 1, 'health [ADDRESS] { lameduck DURATION }');
  const { host, port } = d.args[0] === undefined ? { host: '', port: HEALTH_DEFAULT_PORT } : parseHostPort(d.args[0], HEALTH_DEFAULT_PORT, d);
  const opts: HealthOptions = { host, port, lameduckMs: 0 };
  walkOptions(d, 'health', HEALTH_OPTIONS, opts);
  return opts;
}

const HEALTH_OPTIONS: OptionTable<HealthOptions> = {
  lameduck: {
    args: [1, 1], usage: 'lameduck DURATION',
    apply(h, o) {
      const [text = ''] = o.args;
      h.lameduckMs = parseDuration(text, o);
      if (h.lameduckMs > 3_600_000) throw configError(o, `health: lameduck ${text} is longer than 1h`);
    },
  },
};

export const healthPlugin: PluginDefinition = {
  name: 'health',
  setup: (d, ctx) => new HealthPlugin(parseHealth(d), ctx.services.http),
};
